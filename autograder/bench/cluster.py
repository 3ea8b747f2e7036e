"""`make bench`, Dask section: the local default against a loopback cluster, and a projection.

    python -m autograder.bench.cluster [--students N] [--workers N] [--rounds N]

The same class (bench.make_class: the sample class's well-behaved students) is graded by
``grade``'s default (a LocalCluster on this machine) and through ``--scheduler`` on a cluster
of the same number of worker processes started on 127.0.0.1 with Dask's own entry points,
alternating (local, loopback, local, loopback...) so that load from anything else on the
machine falls on both alike. Printed per run: seconds, the fixed start-up (until every
worker's grading process is warm) and the cost of one graded notebook in worker-seconds; then
a projection for a MOOC term, 10,000 students x 4 graded notebooks, on N workers, from the
measured per-notebook cost (the start-up is paid once per worker, in parallel).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.batch import run as batch
from autograder.bench.grading import make_class
from autograder.paths import ROOT, with_venv_on_path

TERM_STUDENTS, TERM_NOTEBOOKS = 10_000, 4


class _Loopback:
    """A scheduler and ``workers`` worker processes on 127.0.0.1 (stopped at the end)."""

    def __init__(self, base: Path, workers: int) -> None:
        self.base, self.count, self.procs, self.address = base, workers, [], ""

    def __enter__(self) -> "_Loopback":
        try:
            return self._start()
        except BaseException:
            self.__exit__()  # nothing started is left behind
            raise

    def _start(self) -> "_Loopback":
        env = with_venv_on_path()
        self.base.mkdir(parents=True, exist_ok=True)
        info = self.base / "scheduler.json"
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(info)], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True))
        deadline = time.monotonic() + 120
        while not self.address and time.monotonic() < deadline and self.procs[0].poll() is None:
            try:
                self.address = json.loads(info.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        for n in range(self.count):
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--nthreads", "1",
                 "--no-dashboard", "--host", "127.0.0.1", "--local-directory", str(self.base / f"w{n}")],
                cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))
        if not self.address:
            raise SystemExit("the loopback scheduler did not start")
        from distributed import Client

        with Client(self.address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(self.count, timeout=180)
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except OSError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def per_notebook(result: batch.BatchResult, seconds: float, workers: int) -> tuple[float, float, int]:
    """(fixed start-up s, worker-seconds per graded notebook, graded notebooks) of one run."""
    fixed = result.timings.get("prepare", 0.0) + result.timings.get("workers ready", 0.0)
    graded = [r for r in result.results if r.timings]  # notebooks that were run (not 0-point ones)
    return fixed, max(0.0, seconds - fixed) * workers / max(1, len(graded)), len(graded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None, help="workers (default: grade's, three per core)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ["PATH"] = with_venv_on_path()["PATH"]
    workers = args.workers or batch.default_workers()
    runs: dict[str, list] = {"local cluster (default)": [], "loopback cluster": []}
    with tempfile.TemporaryDirectory(prefix="bench-dask-", dir=str(ROOT / "build") if (ROOT / "build").is_dir() else None) as tmp:
        work = Path(tmp)
        klass = work / "class"
        ids = make_class(klass, args.students)
        print(f"Class: {len(ids)} students, {workers} workers, {os.cpu_count()} cores.", flush=True)
        started = time.monotonic()
        with _Loopback(work / "dask", workers) as loopback:
            print(f"loopback cluster up in {time.monotonic() - started:.1f} s (not counted below: it runs already)",
                  flush=True)
            for n in range(args.rounds):
                for label, scheduler in (("local cluster (default)", None), ("loopback cluster", loopback.address)):
                    print(f"{label}, round {n + 1} ...", flush=True)
                    began = time.monotonic()
                    res = batch.grade_submissions(klass, work / f"out-{n}-{bool(scheduler)}", workers,
                                                  work_root=work / "grading", scheduler=scheduler,
                                                  progress_stream=open(os.devnull, "w"))
                    runs[label].append((res, time.monotonic() - began))
                    print(f"  {runs[label][-1][1]:.1f} s", flush=True)
    print()
    print(f"{'':26}{'seconds':>9}{'start-up':>10}{'s/notebook':>12}  (worker-seconds per graded notebook)")
    means = {}
    for label, pairs in runs.items():
        rows = [(total, *per_notebook(res, total, workers)) for res, total in pairs]
        for total, fixed, cost, count in rows:
            print(f"{label:26}{total:9.1f}{fixed:10.1f}{cost:12.2f}  ({count} graded notebooks)")
        means[label] = [sum(r[i] for r in rows) / len(rows) for i in range(3)]
    local, remote = means["local cluster (default)"], means["loopback cluster"]
    print(f"\nloopback cluster vs local default: {remote[0] / local[0]:.2f}x the time "
          f"({remote[0] - local[0]:+.1f} s per run; start-up {remote[1] - local[1]:+.1f} s, "
          f"{remote[2] - local[2]:+.2f} s per notebook)")
    cost = local[2]
    total = TERM_STUDENTS * TERM_NOTEBOOKS
    print(f"\nProjection, {TERM_STUDENTS:,} students x {TERM_NOTEBOOKS} graded notebooks = {total:,} notebooks at "
          f"{cost:.2f} worker-seconds each ({total * cost / 3600:.0f} worker-hours), start-up {local[1]:.0f} s:")
    for n in (2, 16, 64, 256):
        print(f"  {n:4d} workers: {(local[1] + total * cost / n) / 3600:6.1f} h")
    print("(a worker is not a core: the notebooks wait on the scripted model part of the time, which is why "
          "grade runs three workers per core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
