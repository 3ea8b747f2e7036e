"""Where things live. Every path the autograder uses is derived here."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("COURSE_ROOT") or Path(__file__).resolve().parents[1]).resolve()
ASSIGNMENT = "crew_processes"
SOURCE = ROOT / "source"
RELEASE = ROOT / "release"
SAMPLE_CLASS = ROOT / "autograder" / "sample_class"
DEFAULT_OUT = ROOT / "grades"
BUILD = ROOT / "build"

# The packages a graded kernel imports from the repo. Each notebook gets a
# private, pristine copy of them first on its path (see autograder/kit.py).
KIT_PACKAGES = ("course", "autograder")
# Never copied into a kernel's kit: big, or not needed by a kernel.
KIT_IGNORE = ("__pycache__", "*.pyc", "sample_class", ".ipynb_checkpoints")


def venv_bin() -> str:
    """The interpreter's bin/: nbgrader runs `alembic` from PATH, so it must be there."""
    import sys

    return str(Path(sys.executable).parent)


def with_venv_on_path(env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if env is None else env)
    parts = env.get("PATH", "").split(os.pathsep)
    if venv_bin() not in parts:
        env["PATH"] = os.pathsep.join([venv_bin(), *[p for p in parts if p]])
    return env
