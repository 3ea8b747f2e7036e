"""Benchmark (not a test): Run All time of each source notebook, as a learner's Run All.

The source notebooks hold the reference answers and the hidden tests, so this
is the heaviest version of each notebook. Kernel start-up is reported apart:
JupyterLab starts the kernel when the notebook opens, before Run All.
"""

from __future__ import annotations

import time

import nbformat
from nbclient import NotebookClient

from autograder.paths import ASSIGNMENT, SOURCE

LIMITS = {"00_tour": 30.0}  # seconds; every exercise: 10 s
DEFAULT_LIMIT = 10.0


def run_all(path) -> tuple[float, float]:
    """(kernel start seconds, Run All seconds) for one notebook."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    with client.setup_kernel():
        ready = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        done = time.perf_counter()
    return ready - started, done - ready


def main() -> None:
    print("== Notebooks: Run All (reference answers and hidden tests) ==")
    for path in sorted((SOURCE / ASSIGNMENT).glob("*.ipynb")):
        kernel, cells = run_all(path)
        limit = LIMITS.get(path.stem, DEFAULT_LIMIT)
        verdict = "ok" if cells < limit else "OVER"
        print(f"{path.stem:<18} Run All {cells:5.1f} s (limit {limit:.0f} s, {verdict}); kernel start {kernel:.1f} s")


if __name__ == "__main__":
    main()
