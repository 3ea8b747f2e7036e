"""`make bench`, learner section: each notebook's kernel start, Run All and Validate, cold and warm kernels side by side.

    python -m autograder.bench.notebooks [--rounds N]

What a learner waits for in `make lab`, on a correct learner's notebooks (the sample
class's ada_perfect): opening a notebook starts its kernel; Run All runs every cell in it;
Validate (nbgrader's Validator, which the server's Validate handler runs) starts a kernel
of its own and runs the notebook again. "cold" is a kernel started as a new Python (the lab
before issue 23's learner point 6, and ``make lab LAB_ARGS=--cold-kernels``); "warm" is one
forked from the lab's warm process (autograder/lab/warm_kernels.py), started once before the
rounds as the lab starts it with the first notebook opened. Rounds alternate cold and warm
so that both see the same machine. Issue 23 asks, on 2 idle cores: each exercise's Validate
and Run All under 5 s, the tour's Run All under 15 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader.validator import Validator
from traitlets.config import Config

from autograder.lab import launcher, warm_kernels
from autograder.paths import ROOT

NOTEBOOKS = ROOT / "autograder" / "sample_class" / "ada_perfect" / "crew_processes"
TARGETS = {"00_tour": 15.0}  # seconds, Run All and Validate; every exercise: 5 s
DEFAULT_TARGET = 5.0
KINDS = {"cold": "jupyter_client.manager.AsyncKernelManager", "warm": f"{warm_kernels.__name__}.WarmKernelManager"}


def run_all(path: Path, manager: str) -> tuple[float, float]:
    """(kernel start seconds, Run All seconds) for one notebook, in a kernel ``manager`` starts."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", kernel_manager_class=manager,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    with client.setup_kernel():
        ready = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        done = time.perf_counter()
    return ready - started, done - ready


def validate(path: Path, manager: str) -> tuple[float, int]:
    """(seconds, failed tests) of one Validate, as the server's handler runs it."""
    config = Config({"Execute": {"kernel_manager_class": manager}})
    started = time.perf_counter()
    result = Validator(config=config).validate(str(path))
    return time.perf_counter() - started, len(result.get("failed", []))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of cold and warm")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    (ROOT / "build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-lab-", dir=str(ROOT / "build")) as tmp:
        work = Path(tmp)
        os.environ.update(launcher.environment(work))  # the lab's environment: its kernels inherit it
        folder = work / "crew_processes"
        shutil.copytree(NOTEBOOKS, folder)
        began = time.perf_counter()
        if warm_kernels.LabWarmProcess.get(_Log()) is None:
            print("No warm process on this machine: nothing to compare.")
            return 1
        print(f"== Learner's lab: warm process started in {time.perf_counter() - began:.1f} s (once per lab) ==")
        found = _measure(sorted(folder.glob("*.ipynb")), args.rounds)
    _print(found, args.rounds)
    return 0


def _measure(paths: list[Path], rounds: int) -> dict[tuple[str, str], list[tuple[float, float, float]]]:
    found: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for _ in range(rounds):
        for path in paths:
            for kind, manager in KINDS.items():
                kernel, cells = run_all(path, manager)
                seconds, failed = validate(path, manager)
                if failed:
                    raise SystemExit(f"{path.name}: Validate failed {failed} test(s) with {kind} kernels")
                found.setdefault((path.stem, kind), []).append((kernel, cells, seconds))
    return found


def _print(found: dict, rounds: int) -> None:
    print(f"{'':28}{'kernel start s':>15}{'Run All s':>11}{'Validate s':>12}{'target s':>10}")
    for (stem, kind), runs in found.items():
        kernel, cells, seconds = (sum(r[i] for r in runs) / len(runs) for i in range(3))
        target = TARGETS.get(stem, DEFAULT_TARGET)
        verdict = "" if kind == "cold" else ("  ok" if max(cells, seconds) < target else "  OVER")
        print(f"{stem + ', ' + kind:28}{kernel:15.2f}{cells:11.2f}{seconds:12.2f}{target:10.0f}{verdict}")
    for stem in dict.fromkeys(s for s, _ in found):
        cold, warm = (sum(r[2] for r in found[stem, kind]) for kind in KINDS)
        print(f"{stem}: Validate warm vs cold {cold / max(warm, 1e-9):.2f}x faster")
    print(f"(means of {rounds} alternating rounds; Run All after the kernel started, as in JupyterLab, "
          "where the kernel starts when the notebook opens; Validate includes its own kernel's start)")


class _Log:
    """What LabWarmProcess logs to, printed here."""

    def warning(self, message: str, *args) -> None:
        print(message % args)


if __name__ == "__main__":
    raise SystemExit(main())
