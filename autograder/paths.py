"""Where things live. Every path the autograder uses is derived here."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("COURSE_ROOT") or Path(__file__).resolve().parents[1]).resolve()
ASSIGNMENT = "crew_processes"
COURSE_ID = "crew-processes"
# What nbgrader never copies between its folders (its CourseDirectory.ignore), in every course folder.
IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", "*.egg-info", ".DS_Store")

# Grading limits, the same for `grade` and for nbgrader's own commands (nbgrader_setup.py).
CELL_TIMEOUT = 60  # seconds one cell may run
IOPUB_TIMEOUT = 4
STARTUP_TIMEOUT = 60  # seconds a kernel may take to start
MAX_CELL_OUTPUT = 200_000  # characters one cell may print (ten times that for the notebook)

# Set in a graded kernel's environment; read by autograder/checks/common.py: "0" turns shared runs off.
SHARED_RUNS_ENV = "COURSE_SHARED_RUNS"
SOURCE = ROOT / "source"
RELEASE = ROOT / "release"
SAMPLE_CLASS = ROOT / "autograder" / "sample_class"
DEFAULT_OUT = ROOT / "grades"
BUILD = ROOT / "build"

# What a graded kernel imports from the repo: the course and the kernel side of the grader,
# nothing of the host's (grading, batch, records). Each notebook gets a private, pristine copy
# of these first on its path (see autograder/grading/kit.py).
KIT_PARTS = ("course", "autograder/__init__.py", "autograder/paths.py", "autograder/checks", "autograder/kernel")

# Inside the sandbox (autograder/grading/sandbox.py): where things are mounted.
SANDBOX_HOME = "/home/learner"  # the kernel's HOME and working folder's parent
SANDBOX_KIT = "/opt/course-kit"  # the pristine kit, read-only
SANDBOX_WITNESS = "/opt/course-witness"  # the model's witness socket folder, read-only
KERNEL_SOCKETS = "/tmp/.kernel-sockets"  # the kernel binds its ZMQ sockets here
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
