"""One batch, start to end: submissions folder -> grades.csv, feedback pages, summary.

The steps, each in its own module: a template course from the current source
(workspace), a pristine kit snapshot (kit), intake of every hand-in (intake),
grading on Dask (cluster -> worker -> grading), outputs written atomically
(report). Only ``BatchError`` means that grading could not run; anything a
submission does ends as a ``failed`` row with a reason.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import cluster, course_records, intake, kit, report, workspace
from autograder import sandbox as sandbox_mod
from autograder.grading import (NotebookResult, Settings, failed_result, max_scores, template_notebooks,
                               ungraded_result)
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
        from autograder import forkkernel
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


def grade_submissions(submissions: Path, out: Path, workers: int | None = None, *,
                      source_root: Path = SOURCE, kit_root: Path = ROOT, assignment: str = ASSIGNMENT,
                      cell_timeout: int = 60, kernel: str | None = None, work_root: Path | None = None,
                      keep_work: bool = False, progress_stream=None,
                      notebook_budget: float | None = None, course_config=None,
                      gradebook_url: str | None = None, course_dir: Path | None = None,
                      students: list[str] | None = None, sandbox: bool = True,
                      limits: "sandbox_mod.Limits | None" = None, shared_runs: bool = True,
                      witness: bool = True, scheduler: str | None = None) -> BatchResult:
    """Grade a class on Dask (autograder/cluster.py): a local cluster of ``workers`` workers, or the
    existing cluster whose scheduler is at ``scheduler`` (tcp://HOST:PORT). ``course_config`` (the
    course's nbgrader config) gives the due date and late policy;
    ``gradebook_url`` records every result there (autograder/gradebook.py), ``course_dir`` also gets the
    graded notebooks and feedback for the formgrader; ``students`` regrades only those and merges them
    into an existing ``out`` (autograder/regrade.py). ``shared_runs=False``: every test cell runs the
    learner's crew afresh, as before the runs were shared (make bench compares both)."""
    started = time.monotonic()
    if sandbox and not scheduler:  # on a cluster, each worker checks its own machine
        problem = sandbox_mod.problem()
        if problem:
            raise BatchError(f"No sandbox can be built on this machine: {problem}. Every notebook's code would "
                             "run with your rights, able to read the hidden tests and other students' work. "
                             "Fix that (README: instructors), or pass --no-sandbox to grade without one "
                             "(said in the summary and in every row).")
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    if not submissions.is_dir():
        raise BatchError(f"The submissions folder {submissions} does not exist. Pass the folder that holds one "
                         "folder or .zip per student.")
    _refuse_overlaps(submissions, out, Path(source_root).resolve())
    lock = _lock_out(out)
    work = Path(work_root or BUILD / "grading").resolve() / f"run-{os.getpid()}-{int(time.time())}"
    work.mkdir(parents=True, exist_ok=True)
    restore_term = _term_as_interrupt()
    # Dask's workers start (or the scheduler is reached) while the template is built and the
    # hand-ins are taken in.
    connection = cluster.Connection(scheduler, workers or default_workers(), work / "dask")
    try:
        timings: dict[str, float] = {}
        clock = time.monotonic()
        try:
            template = workspace.build_template(source_root, work / "template", assignment)
        except workspace.TemplateError as err:
            raise BatchError(str(err)) from err
        kit_dir = work / "kit"
        kit_manifest = kit.snapshot(kit_dir, kit_root)
        if sandbox:
            _readable_by_all(kit_dir)  # the sandbox's uid reads it (mounted read-only)
        repo_kit_before = kit.manifest(kit_root)
        notebooks = template_notebooks(template, assignment)
        maxima = max_scores(template, assignment)
        ignored: list[str] = []
        try:
            intakes = intake.take_in_class(submissions, notebooks, work / "intake", assignment, ignored)
        except intake.IntakeError as err:
            raise BatchError(str(err)) from err
        if students:
            try:
                intakes = course_records.only(intakes, students)
            except course_records.RecordsError as err:
                raise BatchError(str(err)) from err
        origins = {s.student_id: s.origin for s in intakes}

        # template, kit and work are set again on each worker, where the archive of both is unpacked.
        settings = Settings(template=str(template), kit=str(kit_dir), work=str(work / "notebooks"),
                            assignment=assignment, cell_timeout=cell_timeout, kernel=kernel or default_kernel(),
                            keep_work=keep_work, kit_manifest=kit_manifest, sandbox=sandbox,
                            limits=(limits or sandbox_mod.Limits()).to_dict(), shared_runs=shared_runs,
                            witness=witness)
        settings_path = work / "settings.json"
        settings_path.write_text(settings.to_json())

        results: list[NotebookResult] = []
        jobs = []
        for student in intakes:
            for name, item in sorted(student.notebooks.items()):
                if item.path is None:
                    results.append(failed_result(student.student_id, name, maxima.get(name, 0.0),
                                                 item.problem or f"{name}.ipynb could not be graded."))
                elif maxima.get(name, 1.0) == 0 and not settings.run_ungraded:
                    results.append(ungraded_result(student.student_id, name))  # nothing to score: not run
                else:
                    path = Path(item.path)
                    jobs.append(cluster.Job(student.student_id, name, path.read_bytes(), maxima.get(name, 0.0),
                                            notebook_budget or _budget(path, settings)))

        timings["prepare"] = time.monotonic() - clock
        clock = time.monotonic()
        handed, late_students = course_records.handed_times(intakes, submissions, course_config, assignment)
        progress = report.Progress({s.student_id: len(s.notebooks) for s in intakes}, progress_stream,
                                   late=late_students)
        for r in results:
            progress.update(r)
        graded: list[NotebookResult] = []
        try:
            graded = cluster.grade(jobs, settings, template=template, kit=kit_dir, workers=workers or default_workers(),
                                   run=work.name, on_result=progress.update, stats=timings,
                                   say=_say(progress_stream), connection=connection)
        except cluster.ClusterError as err:
            raise BatchError(f"Grading could not run: {err}") from err
        finally:
            progress.close()
        for r in graded:  # the texts that came back as bytes go to files, as report.write_outputs expects
            r.saved(work / "results" / r.student_id)
        results += graded

        timings["grading"] = time.monotonic() - clock
        clock = time.monotonic()
        course_records.apply_late_policy(results, handed, course_config, assignment)
        warnings = []
        changed = kit.differences(repo_kit_before, kit.manifest(kit_root))
        if changed:
            warnings.append(
                "The course kit in the repository changed while this batch ran (" + "; ".join(changed[:5]) + "). "
                "Grading was not affected (every notebook used a private copy), but check the change: "
                f"`git status {' '.join(sorted({c.split('/')[0] for c in changed}))}` and "
                "`git checkout -- <file>` to undo one a submission made.")
        notes = [f"{s.student_id}: {note}" for s in intakes for note in s.notes]
        renamed = {(s.student_id, name): item.found_at for s in intakes for name, item in s.notebooks.items()
                   if item.renamed and item.path is not None}
        for r in results:
            r.source = origins.get(r.student_id, "")
            if (r.student_id, r.notebook) in renamed:  # the row says which file stood for the notebook
                said = f"Graded {renamed[(r.student_id, r.notebook)]} as {r.notebook}.ipynb (renamed)."
                r.reason = f"{said} {r.reason}" if r.reason else said
        if not sandbox:
            for r in results:
                r.reason = (r.reason + " " if r.reason else "") + NO_SANDBOX_NOTE
        seconds = time.monotonic() - started
        summary = report.summary_table(results, seconds)
        summary += ("\nSandbox: each notebook's kernel ran in a bwrap sandbox (no network, read-only system "
                    "and kit, private folders, limits).\n" if sandbox else
                    f"\nSandbox: OFF. {NO_SANDBOX_NOTE}\n")
        if notes:
            summary += "\nIntake notes:\n" + "".join(f"  {n}\n" for n in notes)
        if ignored:  # the instructor's own files (a README, a list of names): one line, not a note each
            summary += f"\nNot hand-ins, not graded (neither a folder nor a .zip): {', '.join(ignored)}\n"
        if warnings:
            summary += "\nWarnings:\n" + "".join(f"  {w}\n" for w in warnings)
        try:
            summary = course_records.write(out, results, assignment, summary, template, students=students,
                                           gradebook_url=gradebook_url, course_dir=course_dir, handed=handed,
                                           intakes=intakes, submissions=submissions,
                                           course_config=course_config)
        except course_records.RecordsError as err:
            raise BatchError(str(err)) from err
        timings["write"] = time.monotonic() - clock
        (work / "done.json").write_text(json.dumps({"students": len(intakes), "notebooks": len(results)}))
        return BatchResult(results=results, out=out, summary=summary, seconds=seconds, warnings=warnings,
                           timings=timings, incomplete=sorted(course_records.held_students(results)))
    finally:
        connection.close()
        restore_term()
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
            # A local cluster's per-notebook folders (autograder/cluster.py), should a worker not have.
            shutil.rmtree(Path("/dev/shm") / f"crew-grading-{work.name}", ignore_errors=True)
        lock.close()
