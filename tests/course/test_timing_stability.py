"""Timed runs are not stalled by the garbage collector scanning CrewAI's import-time objects."""

from __future__ import annotations

import subprocess
import sys


def test_import_course_freezes_the_objects_crewai_leaves_for_the_kernels_life():
    code = "import gc, course; print(gc.get_freeze_count(), len(gc.get_objects()))"
    frozen, scanned = map(int, subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                              text=True, timeout=120).stdout.split())
    # Measured: ~395,000 objects after the import; a full collection then scans only what came later.
    assert frozen > 100_000 and scanned < frozen / 10
