"""One batch, start to end: submissions folder -> grades.csv, feedback pages, summary.

The steps, each in its own module: a template course from the current source
(batch/template.py), a pristine kit snapshot (grading/kit.py), intake of every
hand-in (batch/intake.py), grading on Dask (batch/cluster.py -> batch/worker.py ->
grading/notebook.py), records written atomically (records/). ``BatchOptions`` holds
every option of a run. Only ``BatchError`` means that grading could not run; anything a
submission does ends as a ``failed`` row with a reason.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.batch import cluster, intake
from autograder.batch import template as course_template
from autograder.records import course_records, report
from autograder.grading import kit
from autograder.grading import sandbox as sandbox_mod
from autograder.batch.template import max_scores, template_notebooks
from autograder.grading.result import NotebookResult, failed_result, ungraded_result
from autograder.grading.settings import Settings
from autograder.paths import ASSIGNMENT, BUILD, RELEASE, ROOT, SOURCE


class BatchError(Exception):
    """Grading could not run at all; the message says why and what to do."""


@dataclass
class BatchResult:
    results: list[NotebookResult]
    out: Path
    summary: str
    seconds: float
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (bench)
    # Students the grader itself failed on: their earlier results were kept; `grade` exits non-zero.
    incomplete: list[str] = field(default_factory=list)


NO_SANDBOX_NOTE = ("Graded without a sandbox (--no-sandbox): the notebook's code ran with the grader's "
                   "rights.")


def _readable_by_all(folder: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(folder):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)


def _refuse_overlaps(submissions: Path, out: Path, source_root: Path) -> None:
    """--out is replaced as a whole: it must not hold, or be held by, anything that is not ours."""
    if out == submissions or submissions in out.parents or out in submissions.parents:
        raise BatchError(f"--out {out} overlaps the submissions folder {submissions}; grading never writes "
                         "into (or around) the learners' folder. Choose another --out.")
    protected = {ROOT, SOURCE, RELEASE, ROOT / "course", ROOT / "autograder", source_root}
    for path in protected:
        if out == path or out in path.parents or path in out.parents and path != ROOT:
            raise BatchError(f"--out {out} overlaps {path}, part of the course; its feedback/ and autograded/ "
                             "would replace the course's own. Choose a folder of its own, e.g. grades/.")
    if any((out / name).exists() for name in ("gradebook.db", "nbgrader_config.py", "source", "release")):
        raise BatchError(f"--out {out} looks like an nbgrader course folder (it holds gradebook.db, source/ or "
                         "release/); grading would replace its feedback/ and autograded/. Choose another --out.")


class _Lock:
    def __init__(self, handle) -> None:
        self.handle = handle

    def close(self) -> None:
        try:
            self.handle.close()  # closing releases the lock (so does the process ending)
        except OSError:
            pass


def _lock_out(out: Path) -> _Lock:
    """One run at a time per --out: a second run would replace the first one's results half-way."""
    import fcntl

    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / ".grading.lock", "a+")
    except OSError as err:
        raise BatchError(f"--out {out} cannot be written ({err}). Choose another --out.") from err
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise BatchError(f"Another grading run ({holder}) is writing into {out} right now. Wait for it to "
                         "finish, or choose another --out.") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    return _Lock(handle)


def _term_as_interrupt():
    """SIGTERM ends a run as Ctrl-C does: workers stopped, the build folder (hand-ins, hidden tests) removed."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


WORKERS_PER_CORE = 3
MEMORY_PER_WORKER = 2**30  # a worker grading the sample class holds about 0.5 GiB: room for a hungrier notebook


def _say(stream):
    """One line about the cluster, on the progress stream (stderr by default)."""
    def say(text: str) -> None:
        target = stream or sys.stderr
        target.write(text + "\n")
        target.flush()
    return say


def default_workers() -> int:
    """Three workers per core, as far as memory allows (one per GiB available).

    A graded notebook's worker waits most of its time (the model's latency in the learner's runs,
    kernel start, round trips): 1.1 s of CPU in 2.6 s per notebook once grading got cheaper (issue
    14), so two per core left a quarter of the cores idle. Measured on 2 cores, 8 students,
    alternating: 4 workers 3.0-3.2 s per student with 77% of the cores busy, 6 workers 2.65-2.8 s
    with 88% (start-up 20 -> 30 s: each worker warms its own CrewAI process).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(WORKERS_PER_CORE * cores, _available_memory() // MEMORY_PER_WORKER))


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 8 * 2**30


def default_kernel() -> str:
    """"fork" (kernels forked from a warm process) where it works, else a fresh python per notebook."""
    try:
        from autograder.grading import warm_kernels as forkkernel
    except ImportError:
        return "fresh"
    return "fork" if forkkernel.available() else "fresh"


def _budget(path: Path | None, settings: Settings) -> float:
    """Seconds a notebook may take in all before its worker's grading process is killed."""
    cells = 20
    if path is not None:
        try:
            cells = sum(1 for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code")
        except Exception:
            pass
    per_cell = settings.cell_timeout + settings.iopub_timeout + 5
    return settings.startup_timeout + 60 + per_cell * (cells + 2)


@dataclass
class BatchOptions:
    """How to grade a class: every option of ``grade`` (and of the tests and benchmarks that call it)."""

    workers: int | None = None  # local cluster size (default_workers()); ignored with ``scheduler``
    source_root: Path = SOURCE
    kit_root: Path = ROOT
    assignment: str = ASSIGNMENT
    cell_timeout: int = 60
    kernel: str | None = None  # "fork" / "fresh"; default_kernel() when None
    work_root: Path | None = None
    keep_work: bool = False
    progress_stream: object = None
    notebook_budget: float | None = None
    course_config: object = None  # the course's nbgrader config: due date and late policy
    gradebook_url: str | None = None  # records every result there (autograder/records/gradebook.py)
    course_dir: Path | None = None  # also gets the graded notebooks and feedback, for the formgrader
    students: list[str] | None = None  # regrade only those, merged into an existing out (records/regrade.py)
    sandbox: bool = True
    limits: "sandbox_mod.Limits | None" = None
    shared_runs: bool = True  # False: every test cell runs the learner's crew afresh (make bench compares)
    witness: bool = True
    scheduler: str | None = None  # an existing Dask cluster's scheduler (tcp://HOST:PORT)


def grade_submissions(submissions: Path, out: Path, workers: int | None = None, *,
                      options: BatchOptions | None = None, **fields) -> BatchResult:
    """Grade a class on Dask (autograder/batch/cluster.py): a local cluster of ``workers`` workers, or the
    existing cluster at ``scheduler``. ``options`` holds every setting; ``fields`` override some of them
    (``grade_submissions(folder, out, cell_timeout=10)``)."""
    options = dataclasses.replace(options or BatchOptions(), **fields)
    if workers is not None:
        options.workers = workers
    return _Batch(Path(submissions).resolve(), Path(out).resolve(), options).run()


class _Batch:
    """One run: check, open (lock, work folder, cluster), prepare, grade, write; always cleaned up."""

    def __init__(self, submissions: Path, out: Path, options: BatchOptions) -> None:
        self.submissions, self.out, self.o = submissions, out, options
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}

    def run(self) -> BatchResult:
        self._check()
        lock = _lock_out(self.out)
        o = self.o
        self.work = Path(o.work_root or BUILD / "grading").resolve() / f"run-{os.getpid()}-{int(time.time())}"
        self.work.mkdir(parents=True, exist_ok=True)
        restore_term = _term_as_interrupt()
        # Dask's workers start (or the scheduler is reached) while the template is built and the
        # hand-ins are taken in.
        self.connection = cluster.Connection(o.scheduler, self._cluster_size(), self.work / "dask")
        try:
            return self._finish(self._grade(self._prepare()))
        finally:
            self.connection.close()
            restore_term()
            lock.close()
            if not o.keep_work:
                shutil.rmtree(self.work, ignore_errors=True)
                # A local cluster's per-notebook folders (autograder/batch/cluster.py), should a worker not have.
                shutil.rmtree(Path("/dev/shm") / f"crew-grading-{self.work.name}", ignore_errors=True)

    def _cluster_size(self) -> int:
        """Workers for the local cluster: the default, but no more than there may be notebooks to grade.

        Each worker warms a grading process of its own (two CrewAI imports, about 5 s of CPU), so a
        regrade of one student on six workers spent 19 s warming four idle ones before any notebook
        (issue 23.6). Counted before the hand-ins are taken in, from the entries and the assignment's
        notebooks, so the cluster still starts while the template is built.
        """
        o = self.o
        wanted = o.workers or default_workers()
        notebooks = len(list((Path(o.source_root) / o.assignment).glob("*.ipynb"))) or 1
        try:
            students = len(o.students) if o.students else len(intake.list_students(self.submissions))
        except intake.IntakeError:
            return wanted  # said by the intake, in its own words
        return max(1, min(wanted, students * notebooks))

    def _check(self) -> None:
        if self.o.sandbox and not self.o.scheduler:  # on a cluster, each worker checks its own machine
            problem = sandbox_mod.problem()
            if problem:
                raise BatchError(f"No sandbox can be built on this machine: {problem}. Every notebook's code "
                                 "would run with your rights, able to read the hidden tests and other students' "
                                 "work. Fix that (README: instructors), or pass --no-sandbox to grade without one "
                                 "(said in the summary and in every row).")
        if not self.submissions.is_dir():
            raise BatchError(f"The submissions folder {self.submissions} does not exist. Pass the folder that "
                             "holds one folder or .zip per student.")
        _refuse_overlaps(self.submissions, self.out, Path(self.o.source_root).resolve())

    def _prepare(self) -> list[cluster.Job]:
        """The template course, the pristine kit, the hand-ins taken in; the jobs for the cluster."""
        o, work, clock = self.o, self.work, time.monotonic()
        try:
            self.template = course_template.build_template(o.source_root, work / "template", o.assignment)
        except course_template.TemplateError as err:
            raise BatchError(str(err)) from err
        kit_dir = work / "kit"
        kit_manifest = kit.snapshot(kit_dir, o.kit_root)
        if o.sandbox:
            _readable_by_all(kit_dir)  # the sandbox's uid reads it (mounted read-only)
        self.repo_kit_before = kit.manifest(o.kit_root)
        self.intakes = self._take_in(template_notebooks(self.template, o.assignment))
        # template, kit and work are set again on each worker, where the archive of both is unpacked.
        self.settings = Settings(template=str(self.template), kit=str(kit_dir), work=str(work / "notebooks"),
                                 assignment=o.assignment, cell_timeout=o.cell_timeout,
                                 kernel=o.kernel or default_kernel(), keep_work=o.keep_work,
                                 kit_manifest=kit_manifest, sandbox=o.sandbox,
                                 limits=(o.limits or sandbox_mod.Limits()).to_dict(), shared_runs=o.shared_runs,
                                 witness=o.witness)
        (work / "settings.json").write_text(self.settings.to_json())
        jobs = self._jobs(max_scores(self.template, o.assignment))
        self.timings["prepare"] = time.monotonic() - clock
        return jobs

    def _take_in(self, notebooks: list[str]) -> list:
        self.ignored: list[str] = []
        try:
            intakes = intake.take_in_class(self.submissions, notebooks, self.work / "intake", self.o.assignment,
                                           self.ignored)
            return course_records.only(intakes, self.o.students) if self.o.students else intakes
        except (intake.IntakeError, course_records.RecordsError) as err:
            raise BatchError(str(err)) from err

    def _jobs(self, maxima: dict[str, float]) -> list[cluster.Job]:
        """A job per gradable notebook; a row at once for one that cannot be graded or has nothing to score."""
        self.results: list[NotebookResult] = []
        jobs = []
        for student in self.intakes:
            for name, item in sorted(student.notebooks.items()):
                if item.path is None:
                    self.results.append(failed_result(student.student_id, name, maxima.get(name, 0.0),
                                                      item.problem or f"{name}.ipynb could not be graded."))
                elif maxima.get(name, 1.0) == 0 and not self.settings.run_ungraded:
                    self.results.append(ungraded_result(student.student_id, name))  # nothing to score: not run
                else:
                    path = Path(item.path)
                    jobs.append(cluster.Job(student.student_id, name, path.read_bytes(), maxima.get(name, 0.0),
                                            self.o.notebook_budget or _budget(path, self.settings)))
        return jobs

    def _grade(self, jobs: list[cluster.Job]) -> list[NotebookResult]:
        o, clock = self.o, time.monotonic()
        self.handed, late_students = course_records.handed_times(self.intakes, self.submissions, o.course_config,
                                                                 o.assignment)
        progress = report.Progress({s.student_id: len(s.notebooks) for s in self.intakes}, o.progress_stream,
                                   late=late_students)
        for r in self.results:
            progress.update(r)
        try:
            graded = cluster.grade(jobs, self.settings, template=self.template, kit=Path(self.settings.kit),
                                   workers=o.workers or default_workers(), run=self.work.name,
                                   on_result=progress.update, stats=self.timings, say=_say(o.progress_stream),
                                   connection=self.connection)
        except cluster.ClusterError as err:
            raise BatchError(f"Grading could not run: {err}") from err
        finally:
            progress.close()
        for r in graded:  # the texts that came back as bytes go to files, as report.write_outputs expects
            r.saved(self.work / "results" / r.student_id)
        self.timings["grading"] = time.monotonic() - clock
        return self.results + graded

    def _finish(self, results: list[NotebookResult]) -> BatchResult:
        o, clock = self.o, time.monotonic()
        course_records.apply_late_policy(results, self.handed, o.course_config, o.assignment)
        warnings = self._kit_warnings()
        self._annotate(results)
        seconds = time.monotonic() - self.started
        try:
            summary = course_records.write(self.out, results, o.assignment, self._summary(results, seconds, warnings),
                                           self.template, students=o.students, gradebook_url=o.gradebook_url,
                                           course_dir=o.course_dir, handed=self.handed, intakes=self.intakes,
                                           submissions=self.submissions, course_config=o.course_config)
        except course_records.RecordsError as err:
            raise BatchError(str(err)) from err
        self.timings["write"] = time.monotonic() - clock
        (self.work / "done.json").write_text(json.dumps({"students": len(self.intakes), "notebooks": len(results)}))
        return BatchResult(results=results, out=self.out, summary=summary, seconds=seconds, warnings=warnings,
                           timings=self.timings, incomplete=sorted(course_records.held_students(results)))

    def _kit_warnings(self) -> list[str]:
        changed = kit.differences(self.repo_kit_before, kit.manifest(self.o.kit_root))
        if not changed:
            return []
        return ["The course kit in the repository changed while this batch ran (" + "; ".join(changed[:5]) + "). "
                "Grading was not affected (every notebook used a private copy), but check the change: "
                f"`git status {' '.join(sorted({c.split('/')[0] for c in changed}))}` and "
                "`git checkout -- <file>` to undo one a submission made."]

    def _annotate(self, results: list[NotebookResult]) -> None:
        """Each row's source, the file that stood for a renamed notebook, and a missing sandbox."""
        origins = {s.student_id: s.origin for s in self.intakes}
        renamed = {(s.student_id, name): item.found_at for s in self.intakes for name, item in s.notebooks.items()
                   if item.renamed and item.path is not None}
        for r in results:
            r.source = origins.get(r.student_id, "")
            if (r.student_id, r.notebook) in renamed:  # the row says which file stood for the notebook
                said = f"Graded {renamed[(r.student_id, r.notebook)]} as {r.notebook}.ipynb (renamed)."
                r.reason = f"{said} {r.reason}" if r.reason else said
            if not self.o.sandbox:
                r.reason = (r.reason + " " if r.reason else "") + NO_SANDBOX_NOTE

    def _summary(self, results: list[NotebookResult], seconds: float, warnings: list[str]) -> str:
        summary = report.summary_table(results, seconds)
        summary += ("\nSandbox: each notebook's kernel ran in a bwrap sandbox (no network, read-only system "
                    "and kit, private folders, limits).\n" if self.o.sandbox else
                    f"\nSandbox: OFF. {NO_SANDBOX_NOTE}\n")
        notes = [f"{s.student_id}: {note}" for s in self.intakes for note in s.notes]
        if notes:
            summary += "\nIntake notes:\n" + "".join(f"  {n}\n" for n in notes)
        if self.ignored:  # the instructor's own files (a README, a list of names): one line, not a note each
            summary += f"\nNot hand-ins, not graded (neither a folder nor a .zip): {', '.join(self.ignored)}\n"
        if warnings:
            summary += "\nWarnings:\n" + "".join(f"  {w}\n" for w in warnings)
        return summary
