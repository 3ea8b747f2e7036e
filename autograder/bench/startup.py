"""`make bench`, start-up section: how long `grade` takes before its first notebook, old and new side by side.

    python -m autograder.bench.startup [--today REF] [--rounds N] [--workers N]

Two cases an instructor meets every week: a class of 8 students, and a regrade of one student
(``--student``) into that class's results. Each is run by the grader as it was at ``--today``
(checked out into a temporary worktree, its own code and default workers) and by this grader,
alternating, each in a fresh Python as ``grade`` runs (so imports count). Printed per case:
the start-up (from the Python's start to the first notebook's grading beginning: imports, the
template, the cluster and its warm grading processes) and the whole run, means of the rounds.
Issue 23.6 asks for a start-up of at most 10 s on 2 idle cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.bench.grading import TODAY_REF, checkout, drop_checkout, make_class, tree_env
from autograder.paths import ROOT

# Run in the tree under test: the batch of either layout, timed from the Python's own start.
RUN_SCRIPT = """
import json, os, sys, time
from pathlib import Path
try:
    from autograder.batch import run as batch  # the packages of issue 22
except ImportError:
    from autograder import batch  # the flat layout before them
klass, out, work, workers, students = sys.argv[1:6]
called = time.monotonic()
res = batch.grade_submissions(Path(klass), Path(out), int(workers) or None, work_root=Path(work),
                              progress_stream=open(os.devnull, "w"), students=json.loads(students) or None)
print(json.dumps({"called": called, "timings": res.timings, "graded": sum(1 for r in res.results if r.timings),
                  "reasons": sorted({r.reason[:200] for r in res.results})[:3]}))
"""


def run_grade(tree: Path, klass: Path, out: Path, work: Path, workers: int, students: list[str]) -> dict:
    """One `grade` in a fresh Python of ``tree``: {"startup": s, "total": s}."""
    env = tree_env(tree)
    launched = time.monotonic()
    done = subprocess.run([sys.executable, "-c", RUN_SCRIPT, str(klass), str(out), str(work), str(workers),
                           json.dumps(students)], cwd=tree, env=env, capture_output=True, text=True)
    ended = time.monotonic()
    if done.returncode != 0:
        raise SystemExit(f"grade in {tree} failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    if data.get("graded", 1) == 0:
        raise SystemExit(f"grade in {tree} graded no notebook: {data.get('reasons')}")
    timings = data["timings"]
    # Both layouts report "prepare" (template, kit, intake) and "workers ready" (from the cluster
    # call to the first grading: before issue 23.6 every worker had to be warm by then). Linux's
    # monotonic clock is one for every process, so the child's "called" is on this one's scale.
    startup = data["called"] - launched + timings.get("prepare", 0.0) + timings.get("workers ready", 0.0)
    return {"startup": startup, "total": ended - launched, "workers": timings.get("cluster")}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench.startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--today", default=TODAY_REF, help="git ref of the grader to compare with")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of old and new")
    parser.add_argument("--workers", type=int, default=0, help="grade's workers (default: each grader's own)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="bench-startup-", dir=str(ROOT / "build")) as tmp:
        work = Path(tmp)
        ids = make_class(work / "class", 8)
        old = checkout(args.today, work / "old-tree")
        if old is None:
            print("No checkout of the old grader: nothing to compare with.")
            return 1
        trees = {f"old ({args.today})": old, "new": ROOT}
        cases = {"class of 8": [], f"regrade of 1 ({ids[0]})": [ids[0]]}
        found = {(case, label): [] for case in cases for label in trees}
        try:
            for round_number in range(args.rounds):
                for case, students in cases.items():
                    for label, tree in trees.items():
                        slug = label.split()[0]
                        print(f"{case}, {label}, round {round_number + 1} ...", flush=True)
                        found[case, label].append(run_grade(tree, work / "class", work / f"out-{slug}",
                                                            work / "grading", args.workers, students))
        finally:
            drop_checkout(old)
    _print(found, args.rounds)
    return 0


def _print(found: dict, rounds: int) -> None:
    print(f"\n{'':34}{'start-up s':>11}{'total s':>9}{'workers':>9}")
    for (case, label), runs in found.items():
        startup = sum(r["startup"] for r in runs) / len(runs)
        total = sum(r["total"] for r in runs) / len(runs)
        print(f"{case + ', ' + label:34}{startup:11.1f}{total:9.1f}{str(runs[0]['workers']):>9}")
    print(f"(means of {rounds} alternating rounds; start-up: from the Python's start to the first notebook's "
          "grading beginning. Issue 23.6: at most 10 s on 2 idle cores.)")
    for case in dict.fromkeys(c for c, _ in found):
        old, new = (sum(r["startup"] for r in found[case, label]) for label in
                    [lbl for c, lbl in found if c == case])
        print(f"{case}: start-up new vs old {old / max(new, 1e-9):.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
