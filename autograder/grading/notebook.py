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

Grading a notebook is an ordered list of steps, each taking the notebook's
``Job`` and returning it, as nbgrader's preprocessors pass ``(nb, resources)``:
prepare -> execute (nbgrader, with the witness running) -> clean up processes
-> read scores -> confirm (the witness) -> tamper check -> verdict -> feedback.
A ``NotebookGrader`` holds what lasts between notebooks in one worker: the
settings, the pristine kit it read, and the warm-kernel server.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from traitlets.config import Config

from autograder import nbgrader_setup
from autograder.grading import confirm, procs, tamper, verdict, witness_rules
from autograder.grading import execute as execute_mod
from autograder.grading import feedback_pages
from autograder.grading import kit as kit_mod
from autograder.grading.result import NotebookResult, failed_result, grader_failure, ungraded_result
from autograder.grading.settings import Settings
from autograder.paths import SANDBOX_KIT, SHARED_RUNS_ENV


class KitError(Exception):
    """The kit snapshot does not match the manifest taken before grading began."""


class CourseAutograde:
    """nbgrader's Autograde that keeps what its execute step reported (made a subclass on first use:
    importing nbgrader's converters is slow, and this module is imported by the batch too)."""

    @staticmethod
    def new(config: Config):
        from nbgrader.converters import Autograde
        from nbgrader.coursedir import CourseDirectory

        class _Autograde(Autograde):
            execution_report = None

            def write_single_notebook(self, output, resources):
                # The execute step leaves its report in resources (execute.REPORT_KEY).
                self.execution_report = resources.get(execute_mod.REPORT_KEY, self.execution_report)
                return super().write_single_notebook(output, resources)

        app = _Autograde(coursedir=CourseDirectory(config=config), config=config)
        app.force = True
        app.create_student = True
        return app


@dataclass
class Job:
    """One notebook on its way through the steps."""

    student: str
    notebook: str
    submitted: Path
    result: NotebookResult
    root: Path = Path()
    kernel_env: dict = field(default_factory=dict)
    config: Config | None = None
    started: float = field(default_factory=time.monotonic)
    cpu_started: float = field(default_factory=time.process_time)
    ok: bool = False
    log: str = ""
    error: str = ""
    report: execute_mod.ExecutionReport = field(default_factory=execute_mod.ExecutionReport)
    witness: object = None
    used: dict = field(default_factory=dict)  # what the sandbox's reset measured
    left: int = 0  # processes the notebook left behind
    score: float = 0.0
    grades: list[dict] = field(default_factory=list)
    gradebook_changed: bool = False
    before: set = field(default_factory=set)  # the grading process's descendants before the kernel started
    assignment: str = ""

    @property
    def autograded(self) -> Path:
        return self.root / "autograded" / self.student / self.assignment / f"{self.notebook}.ipynb"

    @property
    def gradebook_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"


class NotebookGrader:
    """Grades notebooks one after another in one process (a worker, or a test)."""

    def __init__(self, settings: Settings, server=None) -> None:
        self.settings = settings
        self.server = server  # a warm_kernels.WarmKernelServer when settings.warm_kernels
        self._kit: dict[str, bytes] | None = None

    def kit_files(self) -> dict[str, bytes]:
        """The pristine kit, read once per process and checked against the batch's manifest."""
        if self._kit is None:
            files = kit_mod.load(Path(self.settings.kit))
            manifest = self.settings.kit_manifest
            if manifest and kit_mod.manifest_of(files) != manifest:
                raise KitError("the kit snapshot changed before this worker read it: " + "; ".join(
                    kit_mod.differences(manifest, kit_mod.manifest_of(files))[:3]))
            self._kit = files
        return self._kit

    # --- a student ---------------------------------------------------------------------------

    def grade_student(self, student: str, notebooks: dict[str, str | None], problems: dict[str, str],
                      maxima: dict[str, float], progress=None) -> list[NotebookResult]:
        """Every notebook of one student: ``notebooks`` maps name -> clean copy (None when not gradable)."""
        results = []
        for name in sorted(notebooks):
            results.append(self._one(student, name, notebooks[name], problems, maxima.get(name, 0.0),
                                     maxima.get(name, 1.0)))
            if progress:
                progress(results[-1])
        return results

    def _one(self, student, name, path, problems, max_score, points) -> NotebookResult:
        if path is None:
            return failed_result(student, name, max_score, problems.get(name, f"{name}.ipynb could not be graded."))
        if points == 0 and not self.settings.run_ungraded:
            return ungraded_result(student, name)
        try:
            return self.grade_notebook(student, name, Path(path), max_score)
        except Exception as err:  # never lose the other notebooks to one grader bug
            return grader_failure(student, name, max_score, verdict.grader_bug(err))

    # --- a notebook --------------------------------------------------------------------------

    def grade_notebook(self, student: str, notebook: str, submitted: Path, max_score: float) -> NotebookResult:
        for attempt in (0, 1):
            job = Job(student, notebook, submitted, assignment=self.settings.assignment,
                      result=NotebookResult(student_id=student, notebook=notebook, score=0.0,
                                            max_score=max_score, status="failed"))
            try:
                job = self.clean_up(self.execute(self.prepare(job)))
                if job.report.stop_kind == "startup" and attempt == 0:
                    continue  # not the learner's doing (no cell of theirs ran): once more, on a fresh folder
                if not job.ok or not job.autograded.exists():
                    job.result.reason = verdict.nbgrader_failure(job.error, job.log)
                    job.result.seconds = time.monotonic() - job.started
                    return job.result
                return self.feedback(self.judge(self.confirm(self.read_scores(job)))).result
            finally:
                if not self.settings.keep_work:
                    shutil.rmtree(job.root, ignore_errors=True)
        raise AssertionError("unreachable")

    def prepare(self, job: Job) -> Job:
        """A private course folder for the notebook, the kernel's environment and nbgrader's config."""
        settings, template = self.settings, Path(self.settings.template)
        # One course folder per grading process, emptied for each notebook: its gradebook keeps one
        # URL, so nbgrader's SQL stays compiled from one notebook to the next (_reuse_engines).
        job.root = Path(settings.work) / (f"{job.student}/{job.notebook}" if settings.keep_work else "notebook")
        if job.root.exists():
            shutil.rmtree(job.root)
        job.root.mkdir(parents=True)
        shutil.copy2(template / "gradebook.db", job.root / "gradebook.db")
        shutil.copytree(template / "source" / settings.assignment, job.root / "source" / settings.assignment,
                        ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__"))
        dest = job.root / "submitted" / job.student / settings.assignment
        dest.mkdir(parents=True)
        shutil.copy2(job.submitted, dest / f"{job.notebook}.ipynb")
        job.kernel_env = self._kernel_env(job.root)
        job.result.notes.extend(self._locked_cell_notes(job))
        job.config = self._config(job)
        return job

    def _kernel_env(self, root: Path) -> dict[str, str]:
        if self.settings.sandbox:
            from autograder.grading import sandbox

            # Inside the sandbox: the pristine kit read-only, everything else on the sandbox's tmpfs.
            env = nbgrader_setup.kernel_env(sandbox.KIT, sandbox.HOME, f"{sandbox.HOME}/.ipython",
                                            f"{sandbox.HOME}/.storage")
        else:
            kit_mod.write(self.kit_files(), root / ".kit")
            env = nbgrader_setup.private_kernel_env(root / ".kit", root)
        env[SHARED_RUNS_ENV] = "1" if self.settings.shared_runs else "0"
        return env

    def _locked_cell_notes(self, job: Job) -> list[str]:
        try:
            submitted = nbformat.read(str(job.submitted), as_version=4)
            return tamper.tampered_locked_cells(
                submitted, tamper.locked_cells(Path(self.settings.template), self.settings.assignment, job.notebook))
        except Exception:  # intake has read it already; this only feeds the notes
            return []

    def _config(self, job: Job) -> Config:
        settings = self.settings
        c = nbgrader_setup.course_config(job.root, settings.assignment, job.student, job.notebook, settings.course_id)
        # nbgrader leaves its outputs read-only (444) and the grader rewrites the autograded notebook
        # (hidden tests scrubbed): root may write a 444 file, any other instructor may not.
        c.Autograde.permissions = 644
        nbgrader_setup.autograde_pipeline(c, execute_mod.GradingExecute)
        nbgrader_setup.grading_limits(c, settings.cell_timeout, settings.iopub_timeout, settings.startup_timeout,
                                      settings.max_cell_output)
        c.GradingExecute.kernel_env = job.kernel_env
        c.GradingExecute.witness_socket = confirm.kernel_socket(settings)
        c.GradingExecute.answer_names = witness_rules.answer_names() if c.GradingExecute.witness_socket else {}
        guard = nbgrader_setup.guard_file(Path(settings.kit))
        # In the sandbox the kernel reads the kit at its read-only place.
        kit_seen = Path(SANDBOX_KIT) if settings.sandbox else job.root / ".kit"
        c.GradingExecute.guard_module = str(kit_seen / guard) if guard else ""
        if self.server is not None:
            c.GradingExecute.kernel_manager_class = self.server.manager_class()
        return c

    def execute(self, job: Job) -> Job:
        """nbgrader's autograde, with the model's witness running for exactly as long as the kernel."""
        job.before = procs.descendants()
        app = CourseAutograde.new(job.config)
        job.witness = confirm.start(self.settings)
        try:
            job.ok, job.log, job.error = nbgrader_setup.run_converter(app)
        finally:
            confirm.stop(job.witness)  # the kernel is gone: nothing more reaches the model
        job.report = app.execution_report or execute_mod.ExecutionReport()
        job.result.log = job.log + (f"\n{job.error}\n" if job.error else "")
        job.result.timings = {k: round(v, 3) for k, v in job.report.timings.items()}
        job.result.timings["autograde (all)"] = round(time.monotonic() - job.started, 3)
        return job

    def clean_up(self, job: Job) -> Job:
        """End every process the notebook left, in its sandbox and on the host."""
        job.used = self.server.end_of_notebook() if self.server is not None else {}
        keep: set[int] = set()
        server = self.server.pid() if self.server is not None and self.settings.kernel == "fork" else None
        if server and self.settings.sandbox:
            keep = procs.descendants(server) | {server}
        leftovers = procs.kill_new_descendants(job.before, keep)
        job.left = max(len(leftovers), int(job.used.get("killed", 0)))
        if job.left:
            job.result.notes.append(verdict.left_processes(job.left))
        job.gradebook_changed = tamper.gradebook_changed(job.root / "gradebook.db",
                                                         Path(self.settings.template) / "gradebook.db")
        return job

    def read_scores(self, job: Job) -> Job:
        # Whatever the kernel printed, no output of the graded notebook shows a hidden test.
        executed = nbformat.read(str(job.autograded), as_version=4)
        nbformat.write(feedback_pages.scrub_hidden_tests(executed), str(job.autograded))
        try:
            job.score, job.grades = _gradebook_scores(job, self.settings)
        except Exception as err:  # a gradebook the notebook's code broke
            job.score, job.grades, job.gradebook_changed = 0.0, [], True
            job.result.log += f"\nreading the gradebook failed: {err}\n"
        return job

    def confirm(self, job: Job) -> Job:
        """A test scores only when the model, outside the kernel, saw the work it reports."""
        if job.witness is not None and job.grades:
            job.result.notes.extend(confirm.conclude(job.witness, job.report, job.grades, job.gradebook_url,
                                                     self.settings, job.student, job.notebook, job.autograded))
            job.score, job.grades = _gradebook_scores(job, self.settings)
            job.result.timings.update(job.witness.cost())
        return job

    def judge(self, job: Job) -> Job:
        outputs = tamper.outputs_text(job.autograded) if self.settings.sandbox else ""
        evidence = verdict.Evidence(report=job.report, grades=job.grades, kit_changes=self._kit_changes(job),
                                    refused_writes=tamper.refused_writes(outputs),
                                    gradebook_changed=job.gradebook_changed,
                                    limit_hits=self._limit_hits(job, outputs), cell_timeout=self.settings.cell_timeout)
        verdict.decide(job.result, job.score, evidence)
        if verdict.tampering(evidence):
            try:
                _zero_grades(job, self.settings, job.result.reason)
            except Exception:
                pass
        return job

    def _kit_changes(self, job: Job) -> list[str]:
        if self.settings.sandbox:
            return []  # the kit is mounted read-only: there is no private copy that could change
        before = self.settings.kit_manifest or kit_mod.manifest_of(self.kit_files())
        return kit_mod.differences(before, kit_mod.manifest(job.root / ".kit", bytecode=True))

    def _limit_hits(self, job: Job, outputs: str) -> list[str]:
        if not self.settings.sandbox:
            return []
        from autograder.grading import sandbox

        return sandbox.limit_notes(outputs, sandbox.Limits.from_dict(self.settings.limits),
                                   exit_signal=job.used.get("exit_signal"), used=job.used.get("used"), killed=job.left)

    def feedback(self, job: Job) -> Job:
        """nbgrader's feedback page, sanitized, with the row's status on top."""
        from nbgrader.converters import GenerateFeedback
        from nbgrader.coursedir import CourseDirectory

        job.result.autograded = job.autograded.read_text(encoding="utf-8")
        roots = self._path_roots(job.root)
        config = feedback_pages.feedback_config(job.config, roots)
        app = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
        app.force = True
        ok, log, error = nbgrader_setup.run_converter(app)
        html_path = job.root / "feedback" / job.student / self.settings.assignment / f"{job.notebook}.html"
        html = html_path.read_text(encoding="utf-8") if ok and html_path.exists() else None
        if html is None:
            job.result.log += f"\nfeedback failed: {error}\n{log}"
        job.result.feedback_html = feedback_pages.finish(html, job.result, roots)
        job.result.seconds = time.monotonic() - job.started
        job.result.timings["grader cpu"] = round(time.process_time() - job.cpu_started, 3)  # nbgrader, feedback
        return job

    def _path_roots(self, root: Path) -> list[tuple[str, str]]:
        return feedback_pages.path_roots(extra=[(str(root / ".kit"), ""), (str(root), ""), (self.settings.work, ""),
                                                (self.settings.template, "")])


def _gradebook_scores(job: Job, settings: Settings) -> tuple[float, list[dict]]:
    from nbgrader.api import Gradebook

    with Gradebook(job.gradebook_url, settings.course_id) as gb:
        nb = gb.find_submission_notebook(job.notebook, settings.assignment, job.student)
        grades = [{"name": g.name, "score": float(g.score or 0), "max_score": float(g.max_score),
                   "needs_manual_grade": g.needs_manual_grade, "auto_score": g.auto_score} for g in nb.grades]
        return float(nb.score), grades


def _zero_grades(job: Job, settings: Settings, comment: str) -> None:
    """Record a 0 for every graded cell, as a manual score the formgrader shows and keeps."""
    from nbgrader.api import Gradebook

    with Gradebook(job.gradebook_url, settings.course_id) as gb:
        nb = gb.find_submission_notebook(job.notebook, settings.assignment, job.student)
        for grade in nb.grades:
            grade.manual_score = 0
            grade.needs_manual_grade = False
        for c in nb.comments:
            c.manual_comment = comment
        gb.db.commit()


def preload() -> None:
    """Import everything grading needs now, before any learner's code runs on this machine."""
    from nbconvert.exporters import HTMLExporter, NotebookExporter  # noqa: F401
    from nbgrader.api import Gradebook  # noqa: F401
    from nbgrader.converters import Autograde, GenerateFeedback  # noqa: F401
    from nbgrader.coursedir import CourseDirectory  # noqa: F401

    from autograder.grading import cellmeta  # noqa: F401

    _reuse_engines()


def _reuse_engines() -> None:
    """nbgrader opens its gradebook a dozen times per notebook, each time with a new SQLAlchemy engine,
    whose cache of compiled SQL starts empty: compiling the same queries again was a third of the
    grading process's CPU per notebook. Here an engine is kept per database URL for the process's
    life (the grading process only; a notebook's gradebook has one URL, see NotebookGrader.prepare).
    Safe across notebooks: nbgrader disposes of the engine when it closes a gradebook, so the next
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
