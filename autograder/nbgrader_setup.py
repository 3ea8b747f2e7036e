"""The course's protections for nbgrader's own commands, set up from ``nbgrader_config.py``.

Instructors may grade with stock ``nbgrader autograde`` / ``generate_feedback``
instead of the course's ``grade``. Stock nbgrader 0.9.6 then writes every
hidden test into the learner's feedback (``ClearHiddenTests`` is not in
``GenerateFeedback``'s default steps), shows absolute server paths and the
failing line of a test in tracebacks, lets a dead kernel or an uninterruptible
loop fail a whole student, crashes on unknown cell metadata once
``add_missing_cells`` is on, and runs every kernel with the instructor's HOME
and the shared course kit. ``configure`` registers the steps the course's
``grade`` already uses (``execute.GradingExecute``,
``cellmeta.DropUnknownCellMetadata``, ``feedback_pages.SanitizeOutputs``) in
nbgrader's own pipelines, so the same code protects both paths.

``CourseExecute`` adds what ``grade`` does around ``GradingExecute`` in its
worker and that a stock command has no other place for: a private HOME,
IPython dir and course-storage dir per notebook, a private copy of the course
kit first on the kernel's path (a change to it voids the notebook's tests),
and no run at all for a notebook without graded cells.

What the stock path does not give (the fast ``grade`` does): parallel
workers, a private gradebook per notebook (a notebook's code can reach the
course's ``gradebook.db``), a grade for a student whose notebook is not
valid JSON (nbgrader fails that student), a status and reason per notebook.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from autograder import execute as execute_mod
from autograder import feedback_pages
from autograder import kit as kit_mod
from autograder.paths import ROOT
from autograder.workspace import COURSE_ID, IGNORE

# The same limits as `python -m autograder grade` (its defaults).
CELL_TIMEOUT = 60
IOPUB_TIMEOUT = 4
STARTUP_TIMEOUT = 60
MAX_CELL_OUTPUT = 200_000


def _guard_path(kit_dir: Path) -> str:
    """The kit's integrity module, with its ``problems()`` (autograder/checks/ since the restructuring)."""
    for rel in ("autograder/checks/kit_integrity.py", "autograder/checks/integrity.py", "autograder/integrity.py"):
        if (kit_dir / rel).is_file():
            return str(kit_dir / rel)
    return ""


def _has_graded_cells(nb) -> bool:
    return any(cell.get("metadata", {}).get("nbgrader", {}).get("grade") for cell in nb.cells)


class CourseExecute(execute_mod.GradingExecute):
    """GradingExecute with a private environment and kit per notebook (see the module docstring)."""

    _kit_files: dict[str, bytes] | None = None

    @classmethod
    def _pristine_kit(cls) -> dict[str, bytes]:
        # Read once per nbgrader process, before any learner's code ran.
        if cls._kit_files is None:
            staging = Path(tempfile.mkdtemp(prefix="crew-kit-"))
            try:
                kit_mod.snapshot(staging / "kit", ROOT)
                cls._kit_files = kit_mod.load(staging / "kit")
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return cls._kit_files

    def preprocess(self, nb, resources=None, km=None):
        if not _has_graded_cells(nb):
            return nb, resources  # nothing to score: `grade` does not run such a notebook either
        files = self._pristine_kit()
        private = Path(tempfile.mkdtemp(prefix="crew-nbgrader-"))
        saved = (dict(self.kernel_env), self.guard_module)
        try:
            kit_dir = private / "kit"
            kit_mod.write(files, kit_dir)
            for name in ("home", "ipython", "storage"):
                (private / name).mkdir()
            paths = [str(kit_dir), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
            self.kernel_env = {**self.kernel_env, "PYTHONPATH": os.pathsep.join(paths),
                               "HOME": str(private / "home"), "IPYTHONDIR": str(private / "ipython"),
                               "COURSE_STORAGE_DIR": str(private / "storage"), "PYTHONNOUSERSITE": "1",
                               "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                               "COURSE_GRADING": "1"}
            self.guard_module = _guard_path(kit_dir)
            nb, resources = super().preprocess(nb, resources, km)
            changed = kit_mod.differences(kit_mod.manifest_of(files), kit_mod.manifest(kit_dir, bytecode=True))
            if changed:
                self._void_all_tests(nb, changed)
        finally:
            self.kernel_env, self.guard_module = saved
            shutil.rmtree(private, ignore_errors=True)
        return nb, resources

    def _void_all_tests(self, nb, changed: list[str]) -> None:
        """The kit was rewritten on disk: no test of this notebook can be trusted, so none scores."""
        for cell in nb.cells:
            if execute_mod.is_test_cell(cell):
                cell.setdefault("outputs", []).append(execute_mod._error_output(
                    "GradingIntegrityError",
                    "This test does not count: code in this notebook changed the course kit on disk "
                    f"({'; '.join(changed[:3])})."))


def _feedback_exporter():
    """nbgrader's HTML feedback exporter (templates cached) that also shortens paths in the page itself."""
    base = feedback_pages._exporter_class()

    class CourseFeedbackExporter(base):
        def from_notebook_node(self, nb, resources=None, **kw):
            output, resources = super().from_notebook_node(nb, resources, **kw)
            roots = [tuple(pair) for pair in self.config.SanitizeOutputs.get("roots", [])]
            return feedback_pages.shorten_paths(output, roots or feedback_pages.path_roots()), resources

    return CourseFeedbackExporter


def configure(c, root: str | os.PathLike) -> None:
    """Set the course's nbgrader configuration on ``c`` (the ``get_config()`` of nbgrader_config.py)."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, OverwriteCells

    from autograder.cellmeta import DropUnknownCellMetadata, OverwriteReleasedCells

    root = str(Path(root).resolve())
    c.CourseDirectory.root = root
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"
    c.CourseDirectory.ignore = list(IGNORE)

    # autograde: unknown metadata dropped, then deleted test cells restored and graded.
    c.OverwriteCells.add_missing_cells = True  # OverwriteReleasedCells inherits it
    from autograder.late import ApplyDueDate

    sanitize = [ApplyDueDate]  # the configured due date into the gradebook, for AssignLatePenalties
    for step in Autograde.class_traits()["sanitize_preprocessors"].default():
        if step is OverwriteCells:
            sanitize += [DropUnknownCellMetadata, OverwriteReleasedCells]
        else:
            sanitize.append(step)
    c.Autograde.sanitize_preprocessors = sanitize
    c.Autograde.autograde_preprocessors = [
        CourseExecute if step is Execute else step
        for step in Autograde.class_traits()["autograde_preprocessors"].default()]
    # Configured on GradingExecute, so `--GradingExecute.timeout=N` on the command line works too.
    c.GradingExecute.timeout = CELL_TIMEOUT
    c.GradingExecute.iopub_timeout = IOPUB_TIMEOUT
    c.GradingExecute.startup_timeout = STARTUP_TIMEOUT
    c.GradingExecute.max_cell_output = MAX_CELL_OUTPUT
    c.GradingExecute.max_notebook_output = MAX_CELL_OUTPUT * 10

    # generate_feedback: no hidden test, a test's error as one line, no absolute path.
    c.GenerateFeedback.preprocessors = feedback_pages.feedback_steps()
    c.SanitizeOutputs.roots = [list(pair) for pair in feedback_pages.path_roots(extra=[(root, "")])]
    c.GenerateFeedback.exporter_class = _feedback_exporter()


def load_course_config(course_dir: str | os.PathLike):
    """The configuration nbgrader's commands read in ``course_dir`` (its nbgrader_config.py), for ``grade``."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = Path(course_dir) / "nbgrader_config.py"
    if not path.is_file():
        return Config()
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
