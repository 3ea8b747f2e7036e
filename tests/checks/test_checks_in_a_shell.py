"""The checks as a notebook's cells meet them: an IPython shell in a process of its own.

``tests/checks/test_checks.py`` calls the checks directly; what a kernel did before a test cell
(its cells, its earlier crews) only shows when cells run in a shell. Each "kernel" here
is a new Python process running IPython's shell (the hooks JupyterLab's kernel runs,
top-level ``await`` included), so a fresh kernel is really fresh.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import nbformat

from tests.helpers import ROOT

RELEASE = ROOT / "release" / "crew_processes"
SOURCE = ROOT / "source" / "crew_processes"

# Runs the cells given as JSON on stdin in one IPython shell; prints, for each cell, what a learner
# sees of it: the ✔ line it printed, or its error's message.
SHELL = r'''
import contextlib, io, json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
seen = []
for source in json.load(sys.stdin):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = shell.run_cell(source)
    error = result.error_in_exec or result.error_before_exec
    seen.append(f"{type(error).__name__}: {error}" if error else out.getvalue())
print("\n" + json.dumps(seen))
'''


def cells(notebook: str, ids: list[str], answers: dict[str, str]) -> list[str]:
    """The released cells with these ids, in this order; an answer cell's id may name a source of its own."""
    released = {c.id: c.source for c in nbformat.read(RELEASE / notebook, as_version=4).cells}
    return [answers.get(i) or released[i] for i in ids]


def run_kernels(*kernels: list[str]) -> list[list[str]]:
    """Each list of cells in a fresh kernel of its own (side by side); what each cell showed."""
    env = {**os.environ, "COURSE_ROOT": str(ROOT), "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}

    def one(sources: list[str]) -> list[str]:
        done = subprocess.run([sys.executable, "-c", SHELL], input=json.dumps(sources), capture_output=True,
                              text=True, env=env, cwd=ROOT, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, kernels))


def solution(cell_id: str) -> str:
    cell = next(c for c in nbformat.read(SOURCE / "01_sequential.ipynb", as_version=4).cells if c.id == cell_id)
    return "\n".join(line for line in cell.source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


# Three ways to fill 1.4's `orders`, as a learner writes them.
FRESH = solution("seq_orders")
REUSED = """orders = []
crew = build_crew()
for attempt in range(3):
    await crew.kickoff_async()
    orders.append(course.last_run().order())
"""
ONE_RUN = """orders = []
fresh = build_crew()
await fresh.kickoff_async()
for attempt in range(3):
    orders.append(course.last_run().order())
"""
# Before 1.4: the notebook's cells down to 1.1's test, which imports the checks (as Run All does).
TOP = ["setup", "seq_build", "seq_run", "test_seq_crew"]
TEST = "test_seq_determinism"


def test_orders_get_one_verdict_in_a_fresh_kernel_and_after_earlier_crews():
    """Learner point 1 of issue 23: the same cells, the same verdict, whatever the kernel ran before."""
    answers = {"seq_build": solution("seq_build")}

    def sequence(*orders_cells: str) -> list[str]:
        ids, extra = list(TOP), {}
        for number, source in enumerate(orders_cells):
            ids += [f"orders{number}", TEST]
            extra[f"orders{number}"] = source
        return cells("01_sequential.ipynb", ids, {**answers, **extra})

    variants = {"fresh": FRESH, "reused": REUSED, "one run": ONE_RUN}
    # A used kernel: fresh crews filled `orders` before (a right answer, tested), then each variant.
    used_order = ["one run", "reused", "fresh", "one run"]
    results = run_kernels(*[sequence(v) for v in variants.values()],
                          sequence(FRESH, *[variants[v] for v in used_order]))
    alone = {name: shown[-1] for name, shown in zip(variants, results)}
    used = results[-1]
    assert used[len(TOP) + 1].startswith("\u2714 3 runs, one order"), used[len(TOP) + 1]
    for number, name in enumerate(used_order, start=1):
        assert used[len(TOP) + 2 * number + 1] == alone[name], (name, used[len(TOP) + 2 * number + 1], alone[name])
    assert alone["fresh"].startswith("\u2714 3 runs, one order"), alone["fresh"]
    assert "reused a crew object" in alone["reused"] and "fresh = build_crew()" in alone["reused"], alone["reused"]
    assert "not filled from runs made in this notebook" in alone["one run"], alone["one run"]
    assert "ran your crew 1 time" in alone["one run"], alone["one run"]
