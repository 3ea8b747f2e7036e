"""Grade one student's notebooks with nbgrader, one notebook at a time, each in its own course folder.

Each notebook is autograded by nbgrader's own ``Autograde`` converter (sanitize,
restore locked cells from the gradebook, execute, save grades) in a private
course folder holding a fresh copy of the template gradebook. So:

- one notebook that cannot be graded does not take the student's other
  notebooks down (stock nbgrader removes the student's whole folder);
- whatever a notebook's code does to its gradebook or its kit copy touches
  that notebook only, and is detected by comparing with the template;
- grades never depend on the order students are graded in, and re-running
  gives the same result.

Everything here runs in one process (the worker) and is also callable from
tests.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import sqlite3
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from traitlets.config import Config

from autograder import execute as execute_mod
from autograder import feedback_pages as feedback_mod
from autograder import kit as kit_mod
from autograder import procs
from autograder import witness_rules

# The gradebook tables that define the assignment. A notebook's code that
# changes them (to turn a test into `pass`, raise points...) is tampering.
DEFINITION_TABLES = ("course", "assignment", "notebook", "base_cell", "grade_cells", "solution_cells",
                     "task_cells", "source_cell")


@dataclass
class Settings:
    """How to grade; the same for every student of a batch."""

    template: str  # course folder with source/<assignment>, gradebook.db, release/<assignment>
    kit: str  # pristine copy of course/ and autograder/
    work: str  # where per-notebook course folders are made
    assignment: str = "crew_processes"
    course_id: str = "crew-processes"
    cell_timeout: int = 60
    iopub_timeout: int = 4
    startup_timeout: int = 60
    max_cell_output: int = 200_000
    kernel: str = "fresh"  # "fresh" (a new python per notebook) or "fork" (see autograder/forkkernel.py)
    keep_work: bool = False
    kit_manifest: dict = field(default_factory=dict)  # the kit as it was before any learner code ran
    run_ungraded: bool = False  # also execute notebooks that have no graded cell (0 points)
    sandbox: bool = True  # every kernel in a bwrap sandbox (autograder/sandbox.py); False: --no-sandbox
    limits: dict = field(default_factory=dict)  # sandbox.Limits as a dict (defaults when empty)
    shared_runs: bool = True  # test cells share the grader's crew runs; False: each runs its own (bench)
    witness: bool = True  # the model answers from the grader and confirms each test (autograder/witness.py)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Settings":
        return cls(**json.loads(text))


@dataclass
class NotebookResult:
    student_id: str
    notebook: str
    score: float
    max_score: float
    status: str  # "graded" or "failed"
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    feedback_html: str | None = None  # the file's text, sanitized
    autograded: str | None = None  # the autograded notebook's JSON
    log: str = ""
    seconds: float = 0.0
    cells: dict[str, list[float]] = field(default_factory=dict)  # grade_id -> [score, max_score]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step (bench, logs)
    # Set after grading by autograder/late.py (score is then after the penalty).
    submitted_at: str = ""  # UTC, "YYYY-MM-DD HH:MM:SS"; "" when unknown
    seconds_late: float = 0.0
    late_penalty: float = 0.0
    source: str = ""  # the folder or .zip in the submissions folder this came from
    # True when the grader itself failed (no worker, a lost scheduler, a grader bug): the row says
    # nothing about the learner's work, so it never replaces an earlier result (course_records.write).
    grader_failed: bool = False

    feedback_path: str | None = None
    autograded_path: str | None = None
    log_path: str | None = None

    def saved(self, folder: Path) -> dict:
        """Move the bulky texts into files in ``folder``; return JSON-able data (worker -> pool)."""
        folder.mkdir(parents=True, exist_ok=True)
        for key, suffix in (("feedback_html", ".html"), ("autograded", ".ipynb"), ("log", ".log")):
            text = getattr(self, key)
            if text:
                path = folder / f"{self.notebook}{suffix}"
                path.write_text(text, encoding="utf-8")
                setattr(self, key.replace("_html", "") + "_path", str(path))
            setattr(self, key, None if key != "log" else "")
        return asdict(self)

    @classmethod
    def from_saved(cls, data: dict) -> "NotebookResult":
        return cls(**data)


# --- the template's facts -------------------------------------------------------------------

def template_notebooks(template: Path, assignment: str) -> list[str]:
    return sorted(p.stem for p in (template / "source" / assignment).glob("*.ipynb"))


def max_scores(template: Path, assignment: str) -> dict[str, float]:
    """Each notebook's maximum score, as the template gradebook defines it."""
    with sqlite3.connect(template / "gradebook.db") as db:
        rows = db.execute(
            "SELECT n.name, COALESCE(SUM(g.max_score), 0) FROM notebook n "
            "JOIN assignment a ON n.assignment_id = a.id "
            "LEFT JOIN base_cell b ON b.notebook_id = n.id AND b.type = 'GradeCell' "
            "LEFT JOIN grade_cells g ON g.id = b.id WHERE a.name = ? GROUP BY n.name",
            (assignment,)).fetchall()
    return {name: float(total) for name, total in rows}


def definition_digest(db_path: Path) -> str:
    """A digest of the tables that define the assignment (not the grades)."""
    import hashlib

    digest = hashlib.sha256()
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        for table in DEFINITION_TABLES:
            try:
                rows = db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            except sqlite3.DatabaseError:
                rows = [("missing table",)]
            digest.update(table.encode())
            digest.update(repr(rows).encode())
    return digest.hexdigest()


def locked_cells(template: Path, assignment: str, notebook: str) -> dict[str, dict]:
    """The locked cells of a notebook as the learner received them: {grade_id: {source, points}}."""
    released = nbformat.read(str(template / "release" / assignment / f"{notebook}.ipynb"), as_version=4)
    cells = {}
    for cell in released.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("locked") and meta.get("grade_id"):
            cells[meta["grade_id"]] = {"source": cell.source, "points": meta.get("points") if meta.get("grade") else None}
    return cells


def tampered_locked_cells(submitted: nbformat.NotebookNode, locked: dict[str, dict]) -> list[str]:
    """Locked cells the learner deleted or edited, or whose points they changed (nbgrader restores them)."""
    seen: dict[str, nbformat.NotebookNode] = {}
    for cell in submitted.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id and grade_id not in seen:
            seen[grade_id] = cell
    notes = []
    for grade_id, original in locked.items():
        cell = seen.get(grade_id)
        if cell is None:
            notes.append(f"locked cell '{grade_id}' was deleted (the original was put back and graded)")
            continue
        if cell.get("source", "") != original["source"]:
            notes.append(f"locked cell '{grade_id}' was edited (the original was put back and graded)")
        points = cell.get("metadata", {}).get("nbgrader", {}).get("points")
        if original["points"] is not None and points is not None:
            try:
                if float(points) != float(original["points"]):
                    notes.append(f"the points of '{grade_id}' were changed (the original points were used)")
            except (TypeError, ValueError):
                notes.append(f"the points of '{grade_id}' were changed (the original points were used)")
    return notes


# --- one notebook ---------------------------------------------------------------------------

_KIT: dict[str, dict[str, bytes]] = {}


class KitError(Exception):
    """The kit snapshot does not match the manifest taken before grading began."""


def kit_files(settings: Settings) -> dict[str, bytes]:
    """The pristine kit, read once per process and checked against the batch's manifest."""
    if settings.kit not in _KIT:
        files = kit_mod.load(Path(settings.kit))
        if settings.kit_manifest and kit_mod.manifest_of(files) != settings.kit_manifest:
            raise KitError("the kit snapshot changed before this worker read it: " + "; ".join(
                kit_mod.differences(settings.kit_manifest, kit_mod.manifest_of(files))[:3]))
        _KIT[settings.kit] = files
    return _KIT[settings.kit]


def _config(settings: Settings, root: Path, student: str, notebook: str, kernel_env: dict) -> Config:
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = settings.course_id
    c.CourseDirectory.assignment_id = settings.assignment
    c.CourseDirectory.student_id = student
    c.CourseDirectory.notebook_id = notebook
    c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.egg-info", ".DS_Store"]
    # A deleted test cell must come back and be graded, not score 0 "needs manual grading".
    c.OverwriteCells.add_missing_cells = True
    # nbgrader leaves its outputs read-only (444) and the grader rewrites the autograded notebook
    # (hidden tests scrubbed): root may write a 444 file, any other instructor may not.
    c.Autograde.permissions = 644
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from nbgrader.preprocessors import OverwriteCells

    from autograder.cellmeta import DropUnknownCellMetadata, OverwriteReleasedCells

    sanitize = []
    for step in Autograde.class_traits()["sanitize_preprocessors"].default():
        if step is OverwriteCells:
            sanitize += [DropUnknownCellMetadata, OverwriteReleasedCells]
        else:
            sanitize.append(step)
    c.Autograde.sanitize_preprocessors = sanitize
    steps = [execute_mod.GradingExecute if step is Execute else step
             for step in Autograde.class_traits()["autograde_preprocessors"].default()]
    c.Autograde.autograde_preprocessors = steps
    c.GradingExecute.timeout = settings.cell_timeout
    c.GradingExecute.iopub_timeout = settings.iopub_timeout
    c.GradingExecute.startup_timeout = settings.startup_timeout
    c.GradingExecute.max_cell_output = settings.max_cell_output
    c.GradingExecute.max_notebook_output = settings.max_cell_output * 10
    c.GradingExecute.kernel_env = kernel_env
    c.GradingExecute.witness_socket = witness_rules.kernel_socket(settings)
    c.GradingExecute.answer_names = witness_rules.answer_names() if c.GradingExecute.witness_socket else {}
    guard = _guard_file(Path(settings.kit))
    if settings.sandbox:
        from autograder import sandbox

        # The kernel reads the kit at its read-only place inside the sandbox.
        c.GradingExecute.guard_module = f"{sandbox.KIT}/{guard}" if guard else ""
    else:
        c.GradingExecute.guard_module = str(root / ".kit" / guard) if guard else ""
    if settings.kernel == "fork" or settings.sandbox:
        from autograder import forkkernel

        c.GradingExecute.kernel_manager_class = forkkernel.ForkKernelManager
    return c


GUARD_FILES = ("autograder/checks/kit_integrity.py", "autograder/integrity.py")  # newest layout first


def _guard_file(kit: Path) -> str | None:
    """The kit's integrity module (relative path), wherever this version of the kit keeps it."""
    return next((rel for rel in GUARD_FILES if (kit / rel).exists()), None)


# Read by autograder/checks/common.py (SHARING_SWITCH) in the kernel: "0" turns shared runs off.
SHARED_RUNS_ENV = "COURSE_SHARED_RUNS"


def _prepare(settings: Settings, root: Path, student: str, notebook: str, submitted: Path) -> dict[str, str]:
    """A private course folder for one notebook; returns the kernel's environment."""
    template = Path(settings.template)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copy2(template / "gradebook.db", root / "gradebook.db")
    shutil.copytree(template / "source" / settings.assignment, root / "source" / settings.assignment,
                    ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__"))
    dest = root / "submitted" / student / settings.assignment
    dest.mkdir(parents=True)
    shutil.copy2(submitted, dest / f"{notebook}.ipynb")
    if settings.sandbox:
        from autograder import sandbox

        # Inside the sandbox: the pristine kit read-only, everything else on the sandbox's tmpfs.
        return {
            "PYTHONPATH": sandbox.KIT,
            "HOME": sandbox.HOME,
            "IPYTHONDIR": f"{sandbox.HOME}/.ipython",
            "COURSE_STORAGE_DIR": f"{sandbox.HOME}/.storage",
            "PYTHONNOUSERSITE": "1",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "COURSE_GRADING": "1",
        }
    kit_dir = root / ".kit"
    kit_mod.write(kit_files(settings), kit_dir)
    for name in (".home", ".storage", ".ipython"):
        (root / name).mkdir()
    pythonpath = os.pathsep.join([str(kit_dir), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    return {
        "PYTHONPATH": pythonpath,
        "HOME": str(root / ".home"),
        "IPYTHONDIR": str(root / ".ipython"),
        "COURSE_STORAGE_DIR": str(root / ".storage"),
        "PYTHONNOUSERSITE": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "COURSE_GRADING": "1",
    }


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


def _gradebook_scores(root: Path, settings: Settings, student: str, notebook: str) -> tuple[float, float, list[dict]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", settings.course_id) as gb:
        nb = gb.find_submission_notebook(notebook, settings.assignment, student)
        grades = [{"name": g.name, "score": float(g.score or 0), "max_score": float(g.max_score),
                   "needs_manual_grade": g.needs_manual_grade, "auto_score": g.auto_score} for g in nb.grades]
        return float(nb.score), float(nb.max_score), grades


def _zero_grades(root: Path, settings: Settings, student: str, notebook: str, comment: str) -> None:
    """Record a 0 for every graded cell, as a manual score the formgrader shows and keeps."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", settings.course_id) as gb:
        nb = gb.find_submission_notebook(notebook, settings.assignment, student)
        for grade in nb.grades:
            grade.manual_score = 0
            grade.needs_manual_grade = False
        for c in nb.comments:
            c.manual_comment = comment
        gb.db.commit()


def grade_notebook(settings: Settings, student: str, notebook: str, submitted: Path,
                   max_score: float, attempt: int = 0) -> NotebookResult:
    from nbgrader.converters import Autograde, GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    started, cpu_started = time.monotonic(), time.process_time()
    # One course folder per grading process, emptied for each notebook: its gradebook keeps one
    # URL, so nbgrader's SQL stays compiled from one notebook to the next (_reuse_engines).
    root = Path(settings.work) / (f"{student}/{notebook}" if settings.keep_work else "notebook")
    kernel_env = _prepare(settings, root, student, notebook, submitted)
    kernel_env[SHARED_RUNS_ENV] = "1" if settings.shared_runs else "0"
    result = NotebookResult(student_id=student, notebook=notebook, score=0.0, max_score=max_score, status="failed")

    try:
        submitted_nb = nbformat.read(str(submitted), as_version=4)
        result.notes.extend(tampered_locked_cells(
            submitted_nb, locked_cells(Path(settings.template), settings.assignment, notebook)))
    except Exception:  # intake has read it already; this only feeds the notes
        pass

    config = _config(settings, root, student, notebook, kernel_env)
    execute_mod.REPORTS.pop((student, notebook), None)
    before = procs.descendants()
    app = Autograde(coursedir=CourseDirectory(config=config), config=config)
    app.force = True
    app.create_student = True
    witness = witness_rules.start(settings)
    try:
        ok, log, error = run_converter(app)
    finally:
        witness_rules.stop(witness)  # the kernel is gone: nothing more reaches the model
    used = _end_of_notebook(settings)
    keep = set()
    if settings.sandbox and settings.kernel == "fork":
        from autograder import forkkernel

        server = forkkernel.server_pid()
        keep = procs.descendants(server) | {server} if server else set()
    leftovers = procs.kill_new_descendants(before, keep)
    result.log = log + (f"\n{error}\n" if error else "")
    report = execute_mod.REPORTS.pop((student, notebook), execute_mod.ExecutionReport())
    result.timings = {k: round(v, 3) for k, v in report.timings.items()}
    result.timings["autograde (all)"] = round(time.monotonic() - started, 3)
    left = max(len(leftovers), int(used.get("killed", 0)))
    if left:
        result.notes.append(f"left {left} background process(es) running, which the grader stopped")

    # In the sandbox the kit is mounted read-only: there is no private copy that could change.
    kit_changes = [] if settings.sandbox else kit_mod.differences(
        settings.kit_manifest or kit_mod.manifest_of(kit_files(settings)), kit_mod.manifest(root / ".kit", bytecode=True))
    template_digest = definition_digest(Path(settings.template) / "gradebook.db")
    gradebook_changed = False
    try:
        gradebook_changed = definition_digest(root / "gradebook.db") != template_digest
    except sqlite3.DatabaseError:
        gradebook_changed = True

    if report.stop_kind == "startup" and attempt == 0:
        # Not the learner's doing (no cell of theirs ran): one more try on a fresh folder.
        return grade_notebook(settings, student, notebook, submitted, max_score, attempt=1)

    autograded = root / "autograded" / student / settings.assignment / f"{notebook}.ipynb"
    if not ok or not autograded.exists():
        result.reason = _nbgrader_failure(error, log)
        result.seconds = time.monotonic() - started
        _cleanup(settings, root)
        return result

    # Whatever the kernel printed, no output of the graded notebook shows a hidden test.
    executed = nbformat.read(str(autograded), as_version=4)
    nbformat.write(feedback_mod.scrub_hidden_tests(executed), str(autograded))
    try:
        score, total, grades = _gradebook_scores(root, settings, student, notebook)
    except Exception as err:  # a gradebook the notebook's code broke
        score, total, grades = 0.0, max_score, []
        gradebook_changed = True
        result.log += f"\nreading the gradebook failed: {err}\n"
    if witness is not None and grades:
        # A test scores only when the model, outside the kernel, saw the work it reports.
        result.notes.extend(witness_rules.conclude(witness, report, grades, f"sqlite:///{root / 'gradebook.db'}",
                                                   settings, student, notebook, autograded))
        score, total, grades = _gradebook_scores(root, settings, student, notebook)
        result.timings.update(witness.cost())

    result.score, result.max_score, result.status = score, max_score, "graded"
    result.cells = {g["name"]: [g["score"], g["max_score"]] for g in grades}
    tamper = []
    outputs = _outputs_text(autograded) if settings.sandbox else ""
    if kit_changes:
        tamper.append("changed the course kit while it was graded (" + "; ".join(kit_changes[:3]) + ")")
    refused = _refused_writes(outputs)
    if refused:
        # The sandbox made the write fail, so it changed nothing: the notebook is graded on its answers.
        # Only the kernel's own output shows the attempt (a kernel can hide it), so it is reported, never
        # scored: a score must not depend on what the kernel chooses to show (issue 20).
        result.notes.append("tried to rewrite the course kit or the Python environment (" + "; ".join(refused[:3])
                            + "); the sandbox refused, so nothing changed and it was graded on its answers")
    if gradebook_changed:
        tamper.append("changed the grader's gradebook while it was graded")
    if report.tampered:
        tamper.append("replaced parts of the course or the grader before a test ran ("
                      + "; ".join(report.tampered[:3]) + ")")
    if tamper:
        result.status, result.score = "failed", 0.0
        result.cells = {name: [0.0, pair[1]] for name, pair in result.cells.items()}
        result.reason = ("This notebook's code " + " and ".join(tamper) + ", which would fake results, so it scores 0. "
                         "Remove any code that changes the course kit, the grader or its data (files or functions), "
                         "then hand it in again.")
        try:
            _zero_grades(root, settings, student, notebook, result.reason)
        except Exception:
            pass
    elif report.stop_kind in ("died", "hung"):
        result.status = "failed"
        result.reason = (f"Grading stopped at {report.stopped_at}: {report.stop_detail} "
                         f"{report.cells_not_run} later cell(s) did not run, so their tests score 0; "
                         f"tests before it kept their points ({_fmt(score)} of {_fmt(max_score)}). "
                         "Run the notebook top to bottom (Kernel > Restart and Run All) to find the problem.")
    elif report.stop_kind == "startup":
        result.status, result.score = "failed", 0.0
        result.reason = (f"{report.stop_detail} This is a problem of the grading machine, not of the submission: "
                         "run the grade command again.")

    if settings.sandbox:
        from autograder import sandbox

        limits = sandbox.Limits.from_dict(settings.limits)
        hit = sandbox.limit_notes(outputs, limits, exit_signal=used.get("exit_signal"),
                                  used=used.get("used"), killed=left)
        result.notes.extend(hit)
        if hit and result.status == "failed" and not tamper:
            result.reason += " Limits hit: " + "; ".join(hit) + "."
    if report.interrupted:
        result.notes.append(f"{_join(report.interrupted)} ran longer than {settings.cell_timeout} s and was stopped")
    if report.truncated:
        result.notes.append(f"the output of {_join(report.truncated)} was cut (too long)")
    if report.network:
        hosts = sorted({a.split(" ", 1)[-1] for a in report.network})
        result.notes.append("tried to reach the network (" + ", ".join(hosts[:3]) + "), which the course refuses")
    manual = [g["name"] for g in grades if g["needs_manual_grade"]]
    if manual and result.status == "graded":
        result.notes.append(f"{len(manual)} cell(s) need manual grading in the formgrader ({', '.join(manual[:3])})")
    if result.status == "graded" and result.notes:
        result.reason = "Graded. Note: " + "; ".join(result.notes) + "."

    result.autograded = autograded.read_text(encoding="utf-8")
    fb_config = feedback_mod.feedback_config(config, _path_roots(settings, root))
    fb_app = GenerateFeedback(coursedir=CourseDirectory(config=fb_config), config=fb_config)
    fb_app.force = True
    fb_ok, fb_log, fb_error = run_converter(fb_app)
    html_path = root / "feedback" / student / settings.assignment / f"{notebook}.html"
    if fb_ok and html_path.exists():
        html = html_path.read_text(encoding="utf-8")
    else:
        result.log += f"\nfeedback failed: {fb_error}\n{fb_log}"
        html = None
    result.feedback_html = feedback_mod.finish(html, result, _path_roots(settings, root))
    result.seconds = time.monotonic() - started
    result.timings["grader cpu"] = round(time.process_time() - cpu_started, 3)  # this process: nbgrader, feedback
    _cleanup(settings, root)
    return result


def _end_of_notebook(settings: Settings) -> dict:
    """End what the notebook left in its sandbox; how the kernel ended and what it used."""
    if not (settings.sandbox or settings.kernel == "fork"):
        return {}
    from autograder import forkkernel

    used = forkkernel.reset()
    code = forkkernel.last_exit()
    if code is not None and code < 0:
        used["exit_signal"] = -code
    if settings.kernel == "fresh":
        forkkernel.stop_server()  # a fresh kernel's sandbox ends with its notebook
    return used


def _refused_writes(outputs: str) -> list[str]:
    """Files of the kit or the venv a notebook tried to write, as the failed writes' errors name them."""
    import re
    import sys

    from autograder import sandbox

    places = [sandbox.KIT, os.path.realpath(sys.prefix)]
    found = []
    for match in re.finditer(r"Read-only file system: '([^']+)'", outputs):
        path = match.group(1)
        if any(path == p or path.startswith(p + "/") for p in places):
            shown = path.replace(sandbox.KIT + "/", "")
            if shown not in found:
                found.append(shown)
    return found


def _outputs_text(notebook_path: Path) -> str:
    """Every output of the executed notebook as text (what hit a limit shows up there)."""
    try:
        nb = nbformat.read(str(notebook_path), as_version=4)
    except Exception:
        return ""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(str(out.get("ename", "")) + " " + str(out.get("evalue", "")) + " " + str(out.get("text", "")))
    return "\n".join(parts)[:1_000_000]


def _path_roots(settings: Settings, root: Path) -> list[tuple[str, str]]:
    return feedback_mod.path_roots(extra=[(str(root / ".kit"), ""), (str(root), ""), (settings.work, ""),
                                          (settings.template, "")])


def _cleanup(settings: Settings, root: Path) -> None:
    if not settings.keep_work:
        shutil.rmtree(root, ignore_errors=True)


def _fmt(x: float) -> str:
    return f"{x:g}"


def _join(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:2]) + f" and {len(items) - 2} more"


def _nbgrader_failure(error: str, log: str) -> str:
    text = error or next((line for line in reversed(log.splitlines()) if line.startswith("[ERROR]")), "")
    text = text.replace("[ERROR] ", "").strip().splitlines()[-1] if text.strip() else "no details"
    return (f"nbgrader could not grade this notebook ({text[:300]}). This usually means its grading "
            "information (cell metadata) was damaged: start again from the released notebook, copy your "
            "answers into it, and hand it in again.")


def failed_result(student: str, notebook: str, max_score: float, reason: str) -> NotebookResult:
    result = NotebookResult(student_id=student, notebook=notebook, score=0.0, max_score=max_score,
                            status="failed", reason=reason)
    result.feedback_html = feedback_mod.finish(None, result, [])
    return result


def grader_failure(student: str, notebook: str, max_score: float, reason: str) -> NotebookResult:
    """A row for a notebook the grader could not grade through no fault of the learner's."""
    result = failed_result(student, notebook, max_score, reason)
    result.grader_failed = True
    return result


def ungraded_result(student: str, notebook: str) -> NotebookResult:
    """A notebook without graded cells: nothing to score, so its cells are not run (it would only cost time)."""
    result = NotebookResult(student_id=student, notebook=notebook, score=0.0, max_score=0.0, status="graded",
                            reason="This notebook has no graded cells, so the grader did not run it.")
    result.feedback_html = feedback_mod.finish(None, result, [])
    return result


def preload() -> None:
    """Import everything grading needs now, before any learner's code runs on this machine."""
    from nbconvert.exporters import HTMLExporter, NotebookExporter  # noqa: F401
    from nbgrader.api import Gradebook  # noqa: F401
    from nbgrader.converters import Autograde, GenerateFeedback  # noqa: F401
    from nbgrader.coursedir import CourseDirectory  # noqa: F401

    from autograder import cellmeta  # noqa: F401

    _reuse_engines()


def _reuse_engines() -> None:
    """nbgrader opens its gradebook a dozen times per notebook, each time with a new SQLAlchemy engine,
    whose cache of compiled SQL starts empty: compiling the same queries again was a third of the
    grading process's CPU per notebook. Here an engine is kept per database URL for the process's
    life (the grading process only; a notebook's gradebook has one URL, see grade_notebook). Safe
    across notebooks: nbgrader disposes of the engine when it closes a gradebook, so the next
    connection opens the file that is there now.
    """
    import nbgrader.api
    import sqlalchemy

    if getattr(nbgrader.api.create_engine, "reuses_engines", False):
        return
    engines: dict[tuple, object] = {}

    def create_engine(url, *args, **kwargs):
        key = (str(url), args, tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = sqlalchemy.create_engine(url, *args, **kwargs)
        return engines[key]

    create_engine.reuses_engines = True  # type: ignore[attr-defined]
    nbgrader.api.create_engine = create_engine


def grade_student(settings: Settings, student: str, notebooks: dict[str, str | None],
                  problems: dict[str, str], maxima: dict[str, float], progress=None) -> list[NotebookResult]:
    """Every notebook of one student: ``notebooks`` maps name -> clean copy (None when not gradable)."""
    results = []
    for name in sorted(notebooks):
        path = notebooks[name]
        if path is None:
            results.append(failed_result(student, name, maxima.get(name, 0.0),
                                         problems.get(name, f"{name}.ipynb could not be graded.")))
        elif maxima.get(name, 1.0) == 0 and not settings.run_ungraded:
            results.append(ungraded_result(student, name))
        else:
            try:
                results.append(grade_notebook(settings, student, name, Path(path), maxima.get(name, 0.0)))
            except Exception as err:  # never lose the other notebooks to one grader bug
                results.append(grader_failure(
                    student, name, maxima.get(name, 0.0),
                    f"The grader itself failed on this notebook ({type(err).__name__}: {err}). "
                    "This is not the learner's fault: run the grade command again, and report it if it repeats."))
        if progress:
            progress(results[-1])
    return results
