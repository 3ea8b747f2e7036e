"""Grade a class in parallel: a few long-lived workers, a queue of students, a watchdog.

Stock ``nbgrader autograde`` grades one student after another in one process.
Here N workers (``autograder/worker.py``) take students from a queue, so a slow
or hostile submission delays only its own worker. The pool guarantees that
every notebook handed to it comes back with a result:

- a notebook that runs past its time budget gets its worker killed (with
  every process below it), a ``failed`` result that says so, and the rest of
  that student's notebooks go back in the queue for a fresh worker;
- a worker that dies is replaced; its student's unfinished notebooks are tried
  once more, and a notebook that kills a worker twice is failed, not retried;
- if no worker can start at all, every notebook left gets a ``failed`` row that says so.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from autograder import procs
from autograder.grading import NotebookResult, failed_result
from autograder.paths import ROOT, with_venv_on_path

READY_TIMEOUT = 180.0


class PoolError(Exception):
    """Grading itself cannot run (no worker starts)."""


@dataclass
class Task:
    student: str
    notebooks: dict[str, str | None]  # name -> clean copy, None when intake refused it
    problems: dict[str, str] = field(default_factory=dict)
    maxima: dict[str, float] = field(default_factory=dict)
    budget: dict[str, float] = field(default_factory=dict)  # seconds allowed per notebook

    def message(self) -> str:
        return json.dumps({"student": self.student, "notebooks": self.notebooks,
                           "problems": self.problems, "maxima": self.maxima}) + "\n"


class _Worker:
    def __init__(self, number: int, settings_path: Path, results_dir: Path, log_path: Path) -> None:
        self.number = number
        self.log_path = log_path
        self.log = open(log_path, "ab")
        env = with_venv_on_path()
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.worker", str(settings_path), str(results_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, cwd=str(ROOT), env=env,
            start_new_session=True)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buffer = b""
        self.ready = False
        self.started = time.monotonic()
        self.task: Task | None = None
        self.remaining: list[str] = []
        self.deadline = float("inf")

    def lines(self) -> list[dict] | None:
        """Complete protocol messages read so far; None at end of file (the worker is gone)."""
        try:
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return []
        if not chunk:
            return None
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\n")
        messages = []
        for line in complete:
            try:
                messages.append(json.loads(line))
            except ValueError:
                continue
        return messages

    def send(self, task: Task) -> None:
        self.task = task
        self.remaining = [name for name in sorted(task.notebooks)]
        self._arm()
        assert self.proc.stdin is not None
        self.proc.stdin.write(task.message().encode())
        self.proc.stdin.flush()

    def _arm(self) -> None:
        if self.task and self.remaining:
            self.deadline = time.monotonic() + self.task.budget.get(self.remaining[0], 600.0)
        else:
            self.deadline = float("inf")

    def finished(self, notebook: str) -> None:
        if notebook in self.remaining:
            self.remaining.remove(notebook)
        self._arm()

    def kill(self) -> None:
        tree = procs.descendants(self.proc.pid) | {self.proc.pid}
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        procs.kill_tree(tree)
        self.close()

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


def grade(tasks: list[Task], settings_path: Path, results_dir: Path, logs_dir: Path, workers: int,
          on_result: Callable[[NotebookResult], None] | None = None,
          stats: dict | None = None) -> list[NotebookResult]:
    """Grade every task; one result per notebook of every task, whatever happens.

    ``stats`` (optional) receives "workers ready": seconds until the first workers could take work.
    """
    began = time.monotonic()
    procs.become_subreaper()  # kernels of a killed worker come back here to be killed too
    logs_dir.mkdir(parents=True, exist_ok=True)
    results: list[NotebookResult] = []
    queue: deque[Task] = deque(t for t in tasks if t.notebooks)
    crashes: dict[tuple[str, str], int] = {}
    expected = sum(len(t.notebooks) for t in queue)
    if not queue:
        return results
    count = max(1, min(workers, len(queue)))
    selector = selectors.DefaultSelector()
    pool: list[_Worker] = []
    numbers = iter(range(1, 10_000))
    failures_to_start: list[str] = []

    def emit(result: NotebookResult) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    def start() -> None:
        number = next(numbers)
        worker = _Worker(number, settings_path, results_dir, logs_dir / f"worker-{number}.log")
        pool.append(worker)
        selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)

    def retire(worker: _Worker, killed: bool) -> None:
        selector.unregister(worker.proc.stdout)
        pool.remove(worker)
        if killed:
            worker.kill()
        else:
            worker.close()

    def give_back(worker: _Worker, why_failed: str | None) -> None:
        """The worker's student goes back in the queue, minus the notebook that was running."""
        task = worker.task
        if task is None or not worker.remaining:
            return
        current, *rest = worker.remaining
        key = (task.student, current)
        crashes[key] = crashes.get(key, 0) + 1
        if why_failed is not None or crashes[key] >= 2:
            reason = why_failed or (
                "The grader's worker process died twice while grading this notebook (the notebook's code "
                "may exhaust the machine's memory or kill its parent process). It scores 0; run it top to "
                "bottom on your machine to find the cell that crashes.")
            emit(failed_result(task.student, current, task.maxima.get(current, 0.0), reason))
            todo = rest
        else:
            todo = [current, *rest]
        if todo:
            queue.appendleft(Task(task.student, {n: task.notebooks[n] for n in todo}, task.problems,
                                  task.maxima, task.budget))

    try:
        while len(results) < expected:
            if len(failures_to_start) >= 3 and not any(w.ready for w in pool):
                # No worker starts: every notebook still queued gets a row that says so, and the
                # batch ends with its grades.csv instead of dying without one.
                tail = " ".join((failures_to_start[-1] or "no log").split())[-300:]
                while queue:
                    task = queue.popleft()
                    for name in sorted(task.notebooks):
                        emit(failed_result(task.student, name, task.maxima.get(name, 0.0), (
                            "The grader could not start a worker process to grade this notebook (not the "
                            f"learner's doing; last worker log: {tail}). Run the grade command again.")))
                if len(results) >= expected:
                    break
                failures_to_start.clear()
            busy = sum(1 for w in pool if w.task is not None)
            while len(pool) < min(count, len(queue) + busy):
                start()
            for worker in list(pool):
                if worker.ready and worker.task is None and queue:
                    worker.send(queue.popleft())
            now = time.monotonic()
            timeout = min([w.deadline - now for w in pool] + [1.0])
            for key, _ in selector.select(timeout=max(0.05, timeout)):
                worker: _Worker = key.data
                messages = worker.lines()
                if messages is None:  # the worker is gone
                    if not worker.ready:
                        failures_to_start.append(worker.log_tail())
                        retire(worker, killed=False)
                        continue
                    give_back(worker, None)
                    retire(worker, killed=False)
                    continue
                for message in messages:
                    if "ready" in message:
                        worker.ready = True
                        if stats is not None and "workers ready" not in stats and sum(w.ready for w in pool) >= count:
                            stats["workers ready"] = time.monotonic() - began
                    elif "result" in message:
                        result = NotebookResult.from_saved(message["result"])
                        worker.finished(result.notebook)
                        emit(result)
                    elif "done" in message:
                        worker.task = None
                        worker.remaining = []
                        worker.deadline = float("inf")
            now = time.monotonic()
            for worker in list(pool):
                if not worker.ready and now - worker.started > READY_TIMEOUT:
                    failures_to_start.append(worker.log_tail() or "the worker did not answer")
                    retire(worker, killed=True)
                elif worker.task is not None and now > worker.deadline:
                    task = worker.task
                    budget = task.budget.get(worker.remaining[0], 0) if worker.remaining else 0
                    give_back(worker, (
                        f"Grading this notebook took longer than {budget:.0f} s in all, so the grader stopped it "
                        "(its kernel did not respond to the per-cell time limit). It scores 0. Look for a cell "
                        "that never finishes: Kernel > Restart and Run All on your machine."))
                    retire(worker, killed=True)
    finally:
        for worker in list(pool):
            try:
                if worker.proc.stdin:
                    worker.proc.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + 10
        for worker in list(pool):
            try:
                worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            if worker.proc.poll() is None:
                worker.kill()
            else:
                worker.close()
        selector.close()
    return results
