"""A real Dask cluster on 127.0.0.1 for a test: one scheduler and N worker processes, started with
Dask's own command-line entry points and stopped (killed if need be) at the end.

The scheduler runs with the course's packages made unimportable (``autograder`` and ``course``
set to None in sys.modules): grading on it proves that the scheduler needs Dask only, never the
course's code (docs/deploy.md). Workers run without a nanny by default, so a killed worker stays
dead and its notebooks must go to the others; with ``nanny=True`` a killed worker is restarted.
``config`` sets Dask settings of the scheduler and workers through their DASK_* variables.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from autograder.paths import ROOT
from tests.helpers.processes import Service

SCHEDULER = ("import sys; sys.modules['autograder'] = None; sys.modules['course'] = None; "
             "from distributed.cli.dask_scheduler import main; main()")


def _env(config: dict[str, str] | None, tmp: Path) -> dict[str, str]:
    # TMPDIR in the test's folder: a worker the test kills cannot remove its crew-course-<pid>
    # storage, and the scheduler makes dask-scratch-space there; neither may be left in /tmp.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               TMPDIR=str(tmp))
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env.update(config or {})
    return env


class Cluster(Service):
    def __init__(self, base: Path, workers: int = 2, nanny: bool = False,
                 config: dict[str, str] | None = None) -> None:
        self.base = base
        self.count = workers
        self.nanny = nanny
        self.config = config
        self.scheduler: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}
        self.address = ""
        self.tmp = base / "tmp"

    def _log(self, name: str):
        return open(self.base / f"{name}.log", "ab")

    def start(self) -> "Cluster":
        self.base.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(exist_ok=True)
        info = self.base / "scheduler.json"
        self.scheduler = subprocess.Popen(
            [sys.executable, "-c", SCHEDULER, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(info)], cwd=str(self.base), env=_env(self.config, self.tmp), stdout=subprocess.DEVNULL,
            stderr=self._log("scheduler"), start_new_session=True)
        deadline = time.monotonic() + 120
        while not self.address and time.monotonic() < deadline and self.scheduler.poll() is None:
            try:
                self.address = json.loads(info.read_text())["address"]
            except (OSError, ValueError, KeyError):  # not written yet, or half-written
                time.sleep(0.2)
        if not self.address:
            raise RuntimeError("the scheduler did not start: " + (self.base / "scheduler.log").read_text()[-2000:])
        for n in range(1, self.count + 1):
            self.add_worker(f"w{n}")
        self.wait_for(self.count)
        return self

    def add_worker(self, name: str) -> None:
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--nthreads", "1",
             "--nanny" if self.nanny else "--no-nanny", "--no-dashboard", "--name", name, "--host", "127.0.0.1",
             "--local-directory", str(self.base / name)],
            cwd=str(ROOT), env=_env(self.config, self.tmp), stdout=subprocess.DEVNULL, stderr=self._log(name), start_new_session=True)

    def wait_for(self, n: int, timeout: float = 180) -> None:
        from distributed import Client

        if n > 0:
            with Client(self.address, timeout=30, set_as_default=False) as client:
                client.wait_for_workers(n, timeout=timeout)

    def kill(self, name: str) -> None:
        """SIGKILL one worker process, as a machine that vanishes would."""
        proc = self.workers[name]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def kill_scheduler(self) -> None:
        """SIGKILL the scheduler: the cluster is gone for every client and worker."""
        assert self.scheduler is not None
        os.kill(self.scheduler.pid, signal.SIGKILL)
        self.scheduler.wait(timeout=30)

    def stop(self) -> None:
        procs = [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + 20
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                proc.wait(timeout=10)
