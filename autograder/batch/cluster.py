"""Grade a class on Dask distributed: a LocalCluster on this machine, or an existing cluster.

    grade                                  # a LocalCluster on this machine (three workers per core), nothing to start
    grade --scheduler tcp://HOST:8786      # (or DASK_SCHEDULER_ADDRESS) an existing Dask cluster

One Dask task per notebook. What travels is bytes, so workers need no shared
filesystem with the machine that runs ``grade``:

- the batch's template course (hidden tests, gradebook) and pristine kit go to
  every worker once, as one content-addressed tar archive inside a
  ``WorkerPlugin`` (``GradingPlugin``), unpacked under the worker's own
  directory and checked against the kit manifest taken before grading began;
- each task carries one clean hand-in's bytes; its result comes back whole:
  score, reason, the autograded notebook, the feedback page and the log.

Each Dask worker keeps one grading process (``autograder/batch/worker.py``: the warm
CrewAI process, the bwrap sandbox, the per-notebook limits) for the whole batch.
The guarantees of the pool this replaces hold per task:

- a notebook over its time budget: the grading process is killed (with its
  sandbox), the notebook gets a ``failed`` row that says so, the next
  notebook gets a new grading process;
- a notebook that kills its grading process is tried once more on a new one;
  killing it twice fails it, with a reason, and it is not retried;
- a Dask worker that is lost (killed, out of memory, its machine gone): Dask
  reschedules its notebooks on the others; a notebook whose workers died too
  often (``KilledWorker``, the scheduler's ``allowed-failures``) gets a
  ``failed`` row with the reason;
- no grading process can start (a broken kit, no sandbox on the worker), or
  no Dask worker at all: every notebook gets a ``failed`` row that says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import CancelledError
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from distributed.diagnostics.plugin import WorkerPlugin

from autograder.grading.result import NotebookResult, failed_result, grader_failure
from autograder.grading.settings import Settings

READY_TIMEOUT = 180.0  # seconds a grading process may take to import and warm up
START_ATTEMPTS = 3  # grading processes a Dask worker starts in a row before it fails notebooks instead
WORKERS_TIMEOUT = 120.0  # seconds to wait for the first worker of an existing cluster
CONNECT_TIMEOUT = 30.0  # seconds to reach the scheduler of an existing cluster


class ClusterError(Exception):
    """Grading cannot run on the cluster named (no scheduler answers there)."""


@dataclass
class Job:
    """One notebook to grade, self-contained: the hand-in travels as bytes."""

    student: str
    notebook: str
    data: bytes  # the clean copy intake made
    max_score: float
    budget: float  # seconds the notebook may take in all

    @property
    def key(self) -> str:
        return f"{self.student}/{self.notebook}"


# --- what travels: the template course and the kit, as one archive --------------------------

def pack(template: Path, kit: Path) -> tuple[bytes, str]:
    """``template/`` and ``kit/`` as one tar.gz (sorted, no times or owners) and its sha256."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for label, base in (("template", template), ("kit", kit)):
            for path in sorted(base.rglob("*")):
                # The kit's bytecode is part of the kit (autograder/grading/kit.py: checked against its source).
                if path.is_symlink() or (label == "template" and "__pycache__" in path.parts):
                    continue
                info = tar.gettarinfo(str(path), arcname=f"{label}/{path.relative_to(base).as_posix()}")
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                info.mode = 0o755 if path.is_dir() else 0o644
                if path.is_dir():
                    tar.addfile(info)
                else:
                    with open(path, "rb") as handle:
                        tar.addfile(info, handle)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def _extract_plain(tar: tarfile.TarFile, dest: Path) -> None:
    """Only plain files and folders inside ``dest``: what pack() makes. Checked here because the
    ``filter=`` argument that does it for us came in 3.11.4 and Debian 12's Python is 3.11.2."""
    members = tar.getmembers()
    for member in members:
        parts = Path(member.name).parts
        if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in parts:
            raise ValueError(f"the course archive holds {member.name!r}, which is not a plain file inside it")
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, members=members, filter="data")
    else:
        tar.extractall(dest, members=members)


def unpack(data: bytes, digest: str, dest: Path) -> Path:
    """The archive under ``dest/<digest>`` (once per worker and archive); refuses one that does not match."""
    if hashlib.sha256(data).hexdigest() != digest:
        raise ValueError("the course archive arrived damaged (its sha256 does not match)")
    target = dest / digest
    if (target / ".complete").exists():
        return target
    partial = dest / f"{digest}.partial-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        _extract_plain(tar, partial)
    for dirpath, dirnames, filenames in os.walk(partial):  # the sandbox's uid reads the kit
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    (partial / ".complete").write_text(digest)
    try:
        partial.rename(target)
    except OSError:  # another process of this machine unpacked it first
        shutil.rmtree(partial, ignore_errors=True)
    return target


WARM_SLOT = "warm-slot-"


@contextlib.contextmanager
def warm_slot(folder: Path):
    """Hold one of the machine's warm-up turns (one per core) while a grading process starts.

    A warm-up is two CrewAI imports, almost all CPU: six at once on two cores took 19 s before
    the first could grade, one per core 6 s (issue 23.6). The turns are locks on files in the
    run's folder, which every worker of this machine shares; a lock dies with its process.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    handles = [open(folder / f"{WARM_SLOT}{n}", "a") for n in range(max(1, cores))]
    try:
        held = None
        while held is None:
            for handle in handles:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue
                held = handle
                break
            else:
                time.sleep(0.05)  # every turn taken: look again soon (a warm-up takes seconds)
        yield
    finally:
        for handle in handles:
            handle.close()  # closing releases the lock


def _leave_run_folder(folder: Path) -> None:
    """Remove the run's folder in /dev/shm once its last worker is done (its turns' files with it)."""
    try:
        if any(not p.name.startswith(WARM_SLOT) for p in folder.iterdir()):
            return
        for slot in folder.glob(f"{WARM_SLOT}*"):
            slot.unlink(missing_ok=True)
        folder.rmdir()
    except OSError:
        pass


def _scratch(run: str, worker: str, fallback: Path) -> Path:
    """Where a worker's per-notebook course folders go: memory-backed when the machine has room.

    A notebook run commits to several SQLite files (its gradebook, CrewAI's kickoff store);
    on a tmpfs those commits cost nothing, on a disk each one waits for the disk.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        try:
            free = shutil.disk_usage(shm).free
        except OSError:
            free = 0
        if free > 2 * 2**30:
            return shm / f"crew-grading-{run}" / worker
    return fallback


# --- on each Dask worker ----------------------------------------------------------------------

class GradingPlugin(WorkerPlugin):
    """Per Dask worker: the unpacked course, and one grading process kept warm for the whole batch."""

    def __init__(self, archive: bytes, digest: str, settings: dict, run: str) -> None:
        self.archive = archive
        self.digest = digest
        self.settings = settings
        self.run = run

    # Dask calls setup in the worker's event loop: nothing slow here, the warm-up runs in a thread.
    def setup(self, worker) -> None:
        # Made here, not in __init__ (a lock does not pickle); first, because Dask calls teardown
        # even when setup raised part-way, and teardown must find them.
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.scratch: Path | None = None
        self.tmp: Path | None = None
        base = Path(worker.local_directory) / "crew-grading"
        self.home = unpack(self.archive, self.digest, base)
        self.archive = b""  # unpacked: no second copy in the worker's memory
        self.scratch = _scratch(self.run, hashlib.sha256(str(worker.address).encode()).hexdigest()[:12],
                                base / f"scratch-{self.run}")
        self.intake = base / f"intake-{self.run}"
        settings = Settings(**{**self.settings, "template": str(self.home / "template"),
                               "kit": str(self.home / "kit"), "work": str(self.scratch)})
        self.settings_path = base / f"settings-{self.run}.json"
        self.settings_path.write_text(settings.to_json())
        self.log_path = base / f"grading-{self.run}.log"
        self.where = f"{worker.name} ({worker.address})"
        self.buffer = b""
        self.failed_starts: list[str] = []
        self.warm = threading.Thread(target=self._warm_up, name="crew-grading-warm-up", daemon=True)
        self.warm.start()

    def teardown(self, worker) -> None:
        with self.lock:
            self._stop()
        if self.scratch is None:  # setup failed before it made any folder; Dask reports why
            return
        shutil.rmtree(self.scratch, ignore_errors=True)
        _leave_run_folder(self.scratch.parent)
        shutil.rmtree(self.intake, ignore_errors=True)

    def _warm_up(self) -> None:
        # The first task waits on the lock until this is done; warm-ups take turns, one per core.
        with self.lock, warm_slot(self.scratch.parent):
            self._ensure()

    # The grading process ------------------------------------------------------------------
    def _start(self) -> str | None:
        """Start a grading process and wait for it to say ready; None when it did, else why not."""
        from autograder.paths import ROOT, with_venv_on_path

        env = with_venv_on_path()
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
        # The process is killed, never asked to exit (its atexit clean-up never runs), so what it
        # and its kernels put in the temp dir goes in a folder of ours, removed when it stops.
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="tmp-", dir=self.scratch))
        env["TMPDIR"] = str(self.tmp)
        log = open(self.log_path, "ab")
        try:
            proc = subprocess.Popen([sys.executable, "-m", "autograder.batch.worker", str(self.settings_path)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=str(ROOT),
                                    env=env, start_new_session=True)
        finally:
            log.close()
        self.proc, self.buffer = proc, b""
        message = self._read(time.monotonic() + READY_TIMEOUT)
        if isinstance(message, dict) and "ready" in message:
            return None
        self._stop()
        return self._log_tail() or ("the grading process did not answer" if message == "timeout"
                                    else "the grading process ended at start")

    def _ensure(self) -> str | None:
        if self.proc is not None and self.proc.poll() is None:
            return None
        self.proc = None
        if len(self.failed_starts) >= START_ATTEMPTS:
            return self.failed_starts[-1]
        while len(self.failed_starts) < START_ATTEMPTS:
            why = self._start()
            if why is None:
                self.failed_starts.clear()
                return None
            self.failed_starts.append(why)
        return self.failed_starts[-1]

    def _read(self, deadline: float):
        """The next protocol message; "timeout" past ``deadline``; None when the process is gone."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    try:
                        return json.loads(line)
                    except ValueError:
                        continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                if not selector.select(timeout=min(left, 1.0)):
                    continue
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return None
                self.buffer += chunk

    def _stop(self) -> None:
        """Kill the grading process with everything below it (kernels, the sandbox)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        from autograder.grading import procs

        tree = procs.descendants(proc.pid) | {proc.pid}
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        procs.kill_tree(tree)
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except (OSError, AttributeError):
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    # One task ---------------------------------------------------------------------------------
    def grade(self, job: dict) -> dict:
        with self.lock:
            return self._grade(Job(**job))

    def _grade(self, job: Job) -> dict:
        path = self.intake / job.student / f"{job.notebook}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(job.data)
        try:
            for attempt in (1, 2):
                why = self._ensure()
                if why is not None:
                    tail = " ".join(why.split())[-300:]
                    return asdict(grader_failure(
                        job.student, job.notebook, job.max_score,
                        "The grader could not start a worker process to grade this notebook (not the learner's "
                        f"doing; on {self.where}, last log: {tail}). Run the grade command again."))
                assert self.proc is not None and self.proc.stdin is not None
                request = {"student": job.student, "notebook": job.notebook, "path": str(path),
                           "max_score": job.max_score}
                try:
                    self.proc.stdin.write((json.dumps(request) + "\n").encode())
                    self.proc.stdin.flush()
                    message = self._read(time.monotonic() + job.budget)
                except OSError:
                    message = None
                if isinstance(message, dict) and "result" in message:
                    return message["result"]
                self._stop()
                if message == "timeout":
                    return _failed(job, (
                        f"Grading this notebook took longer than {job.budget:.0f} s in all, so the grader stopped "
                        "it (its kernel did not respond to the per-cell time limit). It scores 0. Look for a "
                        "cell that never finishes: Kernel > Restart and Run All on your machine."))
            return _failed(job, (
                "The grader's worker process died twice while grading this notebook (the notebook's code may "
                "exhaust the machine's memory or kill its parent process). It scores 0; run it top to bottom "
                "on your machine to find the cell that crashes."))
        finally:
            path.unlink(missing_ok=True)


def _failed(job: Job, reason: str) -> dict:
    return asdict(failed_result(job.student, job.notebook, job.max_score, reason))


def _task():
    """The Dask task: grade one notebook on this worker's grading process.

    Made here, as a local function, so that it travels by value (cloudpickle) and its job as plain
    data: Dask's scheduler unpickles the task graph, and this way it needs Dask only, never the
    course's code (tests/helpers/dask_loopback.py starts one that cannot import it).
    """
    def grade_notebook_on_worker(plugin_name: str, job: dict) -> dict:
        from distributed import get_worker

        return get_worker().plugins[plugin_name].grade(job)

    return grade_notebook_on_worker


# --- on the machine that runs `grade` ---------------------------------------------------------

def _local_cluster(workers: int, local_directory: Path):
    """``workers`` Dask workers in this process, each driving a grading process of its own.

    The processes that do the work, and that a notebook can harm, are the grading processes
    (one per worker, as the home-made pool had one worker process each). The Dask workers
    only wait on them, so here they are threads of ``grade``'s own process (``processes=False``):
    no second Python per worker to start and to import Dask in, which measured 10-15 s more
    start-up on 2 shared cores than the pool it replaced (docs/autograder.md, Performance). On a
    real cluster each Dask worker is a process of its own, and the scheduler handles its loss.
    """
    import dask
    from distributed import LocalCluster

    # One task at a time per worker: no second notebook waits behind one that may take its time.
    # The scheduler's scratch space (its lock files) in the run's folder, not left in the temp dir.
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0,
                          "temporary-directory": str(local_directory)}):
        # No dashboard; the scheduler's small HTTP server (health checks) on a free loopback port.
        # TCP on loopback, not Dask's in-process transport: that one names itself by the machine's
        # address, which it finds by opening a socket towards a public one (the course is offline).
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=False, protocol="tcp://",
                            host="127.0.0.1", dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                            local_directory=str(local_directory), memory_limit=0, silence_logs=logging.ERROR)


class _LostSchedulerNoise(logging.Filter):
    """Dask's client says a lost scheduler in its own words: "Failed to reconnect to scheduler
    after 30.00 seconds, closing client", then two raw ``CancelledError`` tracebacks as it closes
    (issue 23.2). The batch says it once, in each row it could not grade and in the INCOMPLETE
    summary, so these records are dropped while a ``Connection`` is open; any other error of
    Dask's is still shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        closing = record.exc_info is not None and isinstance(record.exc_info[1], (CancelledError, asyncio.CancelledError))
        return not (closing or record.getMessage().startswith("Failed to reconnect to scheduler"))


class Connection:
    """The cluster ``grade`` works on, reached (or started) in a thread of its own.

    ``batch`` opens it before it builds the template course and takes in the hand-ins, so that
    Dask's worker processes start while that runs (a few seconds that would otherwise come
    first). ``scheduler`` None: a LocalCluster of ``workers`` processes, closed with ``close``.
    """

    def __init__(self, scheduler: str | None, workers: int, local_directory: Path | None = None) -> None:
        self.scheduler, self.workers = scheduler, max(1, workers)
        self.local_directory = Path(local_directory or Path.cwd() / "dask-worker-space")
        self.cluster = self.client = None
        self.error: BaseException | None = None
        self.began = time.monotonic()
        self.quiet = _LostSchedulerNoise()
        logging.getLogger("distributed.client").addFilter(self.quiet)
        self.thread = threading.Thread(target=self._connect, name="dask-connect", daemon=True)
        self.thread.start()

    def _connect(self) -> None:
        from distributed import Client

        try:
            if self.scheduler:
                self.client = Client(self.scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            else:
                self.local_directory.mkdir(parents=True, exist_ok=True)
                self.cluster = _local_cluster(self.workers, self.local_directory)
                self.client = Client(self.cluster, set_as_default=False)
        except BaseException as err:  # noqa: BLE001  said by wait(), in the caller's thread
            self.error = err

    def wait(self):
        """The client; ClusterError when no scheduler answers; None when no local worker could start."""
        self.thread.join()
        if self.error is not None and self.scheduler:
            raise ClusterError(f"no Dask scheduler answers at {self.scheduler} ({self.error}). Start one "
                               "(docs/deploy.md) or leave out --scheduler to grade on this machine.")
        return self.client

    def close(self) -> None:
        self.thread.join()
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None
        logging.getLogger("distributed.client").removeFilter(self.quiet)


def grade(jobs: list[Job], settings: Settings, *, template: Path, kit: Path, workers: int,
          scheduler: str | None = None, run: str = "", local_directory: Path | None = None,
          on_result: Callable[[NotebookResult], None] | None = None, stats: dict | None = None,
          say: Callable[[str], None] | None = None, connection: Connection | None = None) -> list[NotebookResult]:
    """Grade every job on Dask; one result per job, whatever happens to the workers.

    On ``connection`` (closed at the end), else on a new one to ``scheduler`` (None: a
    LocalCluster of ``workers`` processes). ``stats`` receives "workers ready" (seconds from this
    call until the first notebook began to be graded: what is left of the start-up) and "cluster": the
    number of workers. ``say`` gets one-line notes about the cluster.
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    began = time.monotonic()
    results: list[NotebookResult] = []
    say = say or (lambda text: None)

    def emit(result: NotebookResult) -> None:
        results.append(result)
        if stats is not None and result.timings:  # a graded one: when its grading began, after this call
            first = time.monotonic() - result.seconds - began
            stats["workers ready"] = min(stats.get("workers ready", first), first)
        if on_result:
            on_result(result)

    def fail_all(todo, reason: str) -> list[NotebookResult]:
        for job in todo:
            emit(grader_failure(job.student, job.notebook, job.max_score, reason))
        return results

    connection = connection or Connection(scheduler, min(workers, max(1, len(jobs))), local_directory)
    scheduler = connection.scheduler
    run = run or f"{os.getpid()}-{int(time.time())}"
    plugin_name = f"crew-grading-{run}"
    client = None
    try:
        if not jobs:
            return results
        client = connection.wait()
        if client is None:  # no worker process could start: rows, not a crash
            err = connection.error
            return fail_all(jobs, "The grader could not start a worker process to grade this notebook (not "
                                  f"the learner's doing: {type(err).__name__}: {err}). Run the grade command again.")
        settings_data = json.loads(settings.to_json())
        archive, digest = pack(template, kit)
        client.register_plugin(GradingPlugin(archive, digest, settings_data, run), name=plugin_name)
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT if scheduler else READY_TIMEOUT)
        except TimeoutError:
            return fail_all(jobs, f"No Dask worker joined the cluster at {scheduler or 'this machine'} within "
                                  f"{WORKERS_TIMEOUT:.0f} s, so this notebook was not graded (not the learner's "
                                  "doing). Start workers (docs/deploy.md) and run the grade command again.")
        # No wait for every worker to be warm: each task waits for its own worker's grading process,
        # so the first notebooks are graded while the other workers still warm up (issue 23.6).
        count = len(client.scheduler_info().get("workers", {}))
        if stats is not None:
            stats["cluster"] = count
        say(f"Dask: {count} worker(s) at {scheduler or 'a local cluster'}.")
        futures = {}
        task = _task()
        for job in jobs:
            future = client.submit(task, plugin_name, asdict(job), key=f"grade-{run}-{job.key}", pure=False)
            futures[future] = job
        try:
            _collect(futures, client, emit)
        except Exception as err:  # noqa: BLE001  the scheduler went away: no result is coming
            return fail_all(list(futures.values()), _lost(scheduler, err))
        return results
    finally:
        if client is not None:
            try:
                client.unregister_worker_plugin(plugin_name)  # stops the grading processes there
            except Exception:  # noqa: BLE001  the cluster may be gone already
                pass
        connection.close()


def _lost(scheduler: str | None, err: BaseException) -> str:
    return (f"The Dask scheduler at {scheduler or 'this machine'} stopped answering before this notebook was "
            f"graded ({type(err).__name__}), so it was not graded (not the learner's doing). Start the "
            "scheduler again (docs/deploy.md) and run the same grade command: earlier results are kept until then.")


def _collect(futures: dict, client, emit: Callable[[NotebookResult], None]) -> None:
    """Each finished future's result, as it comes; ``futures`` keeps those not yet done."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    for future in as_completed(list(futures), loop=client.loop):
        job = futures[future]
        try:
            result = NotebookResult(**future.result())
        except KilledWorker as err:
            result = failed_result(job.student, job.notebook, job.max_score, (
                "The grader's Dask workers died each time they graded this notebook "
                f"({' '.join(str(err).split())[:200]}), so it was not tried again. It scores 0 (not "
                "necessarily the learner's doing: run the grade command again; if it repeats, run the notebook "
                "top to bottom on your machine to find a cell that exhausts memory)."))
        except Exception as err:  # noqa: BLE001  a grader bug on one notebook never loses the others
            # Nothing here cancels a future: a cancelled one, or a client no longer running, means
            # the scheduler is gone, and every notebook still out with it (the caller says so).
            if isinstance(err, CancelledError) or client.status != "running":
                raise
            result = grader_failure(job.student, job.notebook, job.max_score, (
                f"The grader itself failed on this notebook ({type(err).__name__}: {err}). This is not the "
                "learner's fault: run the grade command again, and report it if it repeats."))
        del futures[future]
        emit(result)
