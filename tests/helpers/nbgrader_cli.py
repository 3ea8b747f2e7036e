"""Test helper: one nbgrader command, run in a course directory as an instructor runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def nbgrader(course: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` from this venv, in ``course``, without the repo's COURSE_ROOT (a real course has none)."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("COURSE_ROOT", None)
    return subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=timeout)
