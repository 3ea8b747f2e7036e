"""The template course every grading starts from: source notebooks, their release, a gradebook.

nbgrader restores test cells (hidden ones included) from the gradebook, not
from ``source/``: a gradebook made from an older source would grade with old
tests. So each batch makes its own template from the current source with
``generate_assignment`` (into a build folder: the repo's ``release/`` and
``gradebook.db`` are not touched), and every notebook is graded against a
fresh copy of it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from traitlets.config import Config

from autograder.paths import ASSIGNMENT, with_venv_on_path

COURSE_ID = "crew-processes"
IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.egg-info", ".DS_Store"]


class TemplateError(Exception):
    """The source assignment cannot be turned into a gradebook: nothing can be graded."""


def source_digest(source_assignment: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(source_assignment.rglob("*")):
        if path.is_file() and not any(part in (".ipynb_checkpoints", "__pycache__") for part in path.parts):
            digest.update(path.relative_to(source_assignment).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def nbgrader_config(root: Path, assignment: str = ASSIGNMENT) -> Config:
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.assignment_id = assignment
    c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    c.CourseDirectory.ignore = IGNORE
    c.GenerateAssignment.create_assignment = True
    return c


def generate(root: Path, assignment: str = ASSIGNMENT) -> str:
    """Run nbgrader's generate_assignment in ``root`` (in this process); returns its log."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    # nbgrader creates the gradebook by running `alembic` from PATH.
    os.environ["PATH"] = with_venv_on_path()["PATH"]
    config = nbgrader_config(root, assignment)
    app = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
    app.force = True
    from autograder.grading import run_converter  # one way to run an nbgrader app and keep its log

    ok, log, error = run_converter(app)
    if not ok:
        lines = [line for line in log.splitlines() if "ERROR" in line or "CRITICAL" in line]
        raise TemplateError(
            f"nbgrader could not generate the assignment from {root / 'source' / assignment}: "
            + ("; ".join(lines[-3:]) or error))
    return log


def build_template(source_root: Path, dest: Path, assignment: str = ASSIGNMENT) -> Path:
    """A course folder in ``dest`` with source/, release/ and gradebook.db for ``assignment``.

    ``source_root`` is a folder holding ``<assignment>/`` (the repo's ``source/``).
    """
    src = Path(source_root) / assignment
    notebooks = sorted(src.glob("*.ipynb")) if src.is_dir() else []
    if not notebooks:
        raise TemplateError(f"No source notebooks in {src}: there is nothing to grade against.")
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "source").mkdir(parents=True)
    shutil.copytree(src, dest / "source" / assignment, ignore=shutil.ignore_patterns(*IGNORE))
    generate(dest, assignment)
    if not (dest / "gradebook.db").exists():
        raise TemplateError("nbgrader generate_assignment made no gradebook.")
    return dest
