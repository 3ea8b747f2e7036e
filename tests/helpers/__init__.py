"""What the tests share: the repository's root, a synthetic assignment, the standard adversary, services a test
starts (a Dask cluster, a PostgreSQL server), nbgrader's command line, the golden digest, the browser driver."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: tests/helpers/ -> tests/ -> root
