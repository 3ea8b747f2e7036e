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

import io
import logging
import os
import shutil
import tempfile
import traceback
from pathlib import Path

from traitlets.config import Config

from autograder import paths
from autograder.grading import execute as execute_mod
from autograder.grading import feedback_pages
from autograder.grading import kit as kit_mod
from autograder.grading.cellmeta import is_test_cell
from autograder.paths import ROOT

# The kit's integrity module, which test cells run before each test: newest layout first.
GUARD_FILES = ("autograder/checks/kit_integrity.py", "autograder/checks/integrity.py", "autograder/integrity.py")


def guard_file(kit_dir: Path) -> str | None:
    """The kit's integrity module (relative path), wherever this version of the kit keeps it."""
    return next((rel for rel in GUARD_FILES if (Path(kit_dir) / rel).is_file()), None)


def course_config(root: Path, assignment: str | None = paths.ASSIGNMENT, student: str | None = None,
                  notebook: str | None = None, course_id: str = paths.COURSE_ID, own_gradebook: bool = True) -> Config:
    """nbgrader's CourseDirectory for a course folder (``own_gradebook``: its own sqlite gradebook;
    False leaves ``db_url`` to the instructor's configuration)."""
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = course_id
    c.CourseDirectory.ignore = list(paths.IGNORE)
    named = {"assignment_id": assignment, "student_id": student, "notebook_id": notebook}
    for trait, value in named.items():
        if value is not None:
            c.CourseDirectory[trait] = value
    if own_gradebook:
        c.CourseDirectory.db_url = f"sqlite:///{Path(root) / 'gradebook.db'}"
    return c


def autograde_pipeline(c: Config, execute_step: type, first: tuple[type, ...] = ()) -> None:
    """nbgrader's autograde steps with the course's: unknown metadata dropped, deleted test cells
    restored and graded (``add_missing_cells``), and ``execute_step`` in place of ``Execute``."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, OverwriteCells

    from autograder.grading.cellmeta import DropUnknownCellMetadata, OverwriteReleasedCells

    c.OverwriteCells.add_missing_cells = True  # OverwriteReleasedCells inherits it
    sanitize = list(first)
    for step in Autograde.class_traits()["sanitize_preprocessors"].default():
        sanitize += [DropUnknownCellMetadata, OverwriteReleasedCells] if step is OverwriteCells else [step]
    c.Autograde.sanitize_preprocessors = sanitize
    c.Autograde.autograde_preprocessors = [
        execute_step if step is Execute else step
        for step in Autograde.class_traits()["autograde_preprocessors"].default()]


def grading_limits(c: Config, cell_timeout: int = paths.CELL_TIMEOUT, iopub_timeout: int = paths.IOPUB_TIMEOUT,
                   startup_timeout: int = paths.STARTUP_TIMEOUT, max_cell_output: int = paths.MAX_CELL_OUTPUT) -> None:
    # Configured on GradingExecute, so `--GradingExecute.timeout=N` on the command line works too.
    c.GradingExecute.timeout = cell_timeout
    c.GradingExecute.iopub_timeout = iopub_timeout
    c.GradingExecute.startup_timeout = startup_timeout
    c.GradingExecute.max_cell_output = max_cell_output
    c.GradingExecute.max_notebook_output = max_cell_output * 10


def kernel_env(pythonpath: str, home: str, ipython: str, storage: str) -> dict[str, str]:
    """What a graded kernel's environment holds besides the sandbox's allowlist (sandbox.base_env)."""
    return {"PYTHONPATH": pythonpath, "HOME": home, "IPYTHONDIR": ipython, "COURSE_STORAGE_DIR": storage,
            "PYTHONNOUSERSITE": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def private_kernel_env(kit_dir: Path, folder: Path) -> dict[str, str]:
    """Without a sandbox: the private kit first on the path, HOME and the rest in ``folder``."""
    for name in (".home", ".storage", ".ipython"):
        (folder / name).mkdir(exist_ok=True)
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return kernel_env(os.pathsep.join([str(kit_dir), *inherited]), str(folder / ".home"),
                      str(folder / ".ipython"), str(folder / ".storage"))


def run_converter(app) -> tuple[bool, str, str]:
    """Run an nbgrader converter; (ok, log text, error text)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    app.log.addHandler(handler)
    try:
        app.start()
        return True, buffer.getvalue(), ""
    except BaseException as err:  # noqa: BLE001  nbgrader raises whatever its steps raise
        if isinstance(err, KeyboardInterrupt):
            raise
        return False, buffer.getvalue(), "".join(traceback.format_exception_only(type(err), err)).strip()
    finally:
        app.log.removeHandler(handler)


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
            self.kernel_env = {**self.kernel_env, **private_kernel_env(kit_dir, private)}
            guard = guard_file(kit_dir)
            self.guard_module = str(kit_dir / guard) if guard else ""
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
            if is_test_cell(cell):
                cell.setdefault("outputs", []).append(execute_mod._error_output(
                    "GradingIntegrityError",
                    "This test does not count: code in this notebook changed the course kit on disk "
                    f"({'; '.join(changed[:3])})."))


def _feedback_exporter():
    """nbgrader's HTML feedback exporter (templates cached) that also shortens paths in the page itself."""
    base = feedback_pages.exporter_class()

    class CourseFeedbackExporter(base):
        def from_notebook_node(self, nb, resources=None, **kw):
            output, resources = super().from_notebook_node(nb, resources, **kw)
            roots = [tuple(pair) for pair in self.config.SanitizeOutputs.get("roots", [])]
            return feedback_pages.shorten_paths(output, roots or feedback_pages.path_roots()), resources

    return CourseFeedbackExporter


def configure(c, root: str | os.PathLike) -> None:
    """Set the course's nbgrader configuration on ``c`` (the ``get_config()`` of nbgrader_config.py)."""
    from autograder.records.late import ApplyDueDate

    root = str(Path(root).resolve())
    c.merge(course_config(Path(root), assignment=None, own_gradebook=False))  # the commands name the assignment
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"
    # ApplyDueDate: the configured due date into the gradebook, for AssignLatePenalties.
    autograde_pipeline(c, CourseExecute, first=(ApplyDueDate,))
    grading_limits(c)

    # generate_feedback: no hidden test, a test's error as one line, no absolute path.
    c.GenerateFeedback.preprocessors = feedback_pages.feedback_steps()
    c.SanitizeOutputs.roots = [list(pair) for pair in feedback_pages.path_roots(extra=[(root, "")])]
    c.GenerateFeedback.exporter_class = _feedback_exporter()


def load_course_config(course_dir: str | os.PathLike):
    """The configuration nbgrader's commands read in ``course_dir`` (its nbgrader_config.py), for ``grade``."""
    from traitlets.config.loader import PyFileConfigLoader

    path = Path(course_dir) / "nbgrader_config.py"
    if not path.is_file():
        return Config()
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
