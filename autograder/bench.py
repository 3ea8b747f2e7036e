"""`make bench`: stock serial nbgrader against `grade`, side by side, on the same class.

    python -m autograder.bench [--students N] [--workers N] [--skip-stock]

The class is made of the sample class's well-behaved students (correct,
partial, wrong, untouched: no endless loops, which would only measure the
time limit), repeated to N students. Stock: a course folder with those
submissions, ``nbgrader autograde`` then ``nbgrader generate_feedback``, one
process, one student after another, a fresh kernel per notebook (what an
instructor runs by hand). Ours: ``python -m autograder grade`` with its
defaults. Both produce grades and feedback for every notebook.

Printed: seconds, the ratio, seconds per student, the time a class of 200
would take (fixed start-up cost + 200 x the measured cost per student), and
the sandbox's cost per notebook: the same class graded with and without it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import batch, intake
from autograder.paths import ASSIGNMENT, ROOT, SAMPLE_CLASS, SOURCE, with_venv_on_path

WELL_BEHAVED = ("ada_perfect", "cleo_partial", "dev_wrong_ideas", "ben_untouched", "gus_hardcoder", "ivy_zipped")
STOCK_CONFIG = '''c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "crew-processes"
c.CourseDirectory.db_assignments = [dict(name="{assignment}")]
'''


def make_class(dest: Path, students: int) -> list[str]:
    """``dest/<id>/<assignment>/*.ipynb`` for ``students`` students cycled from the sample class."""
    notebooks = sorted(p.stem for p in (SOURCE / ASSIGNMENT).glob("*.ipynb"))
    pool = dict(intake.list_students(SAMPLE_CLASS))
    ids = []
    for n in range(students):
        base = WELL_BEHAVED[n % len(WELL_BEHAVED)]
        sid = f"{base}-{n // len(WELL_BEHAVED) + 1:02d}"
        taken = intake.take_in(sid, pool[base], notebooks, dest / sid / ASSIGNMENT, ASSIGNMENT)
        assert taken.gradable == notebooks, (base, taken.notebooks)
        ids.append(sid)
    return ids


def run_stock(work: Path, klass: Path) -> float:
    """Seconds for stock `nbgrader autograde` + `generate_feedback` on every student, serially."""
    course = work / "stock"
    shutil.copytree(SOURCE / ASSIGNMENT, course / "source" / ASSIGNMENT)
    shutil.copytree(klass, course / "submitted")
    (course / "nbgrader_config.py").write_text(STOCK_CONFIG.format(root=str(course), assignment=ASSIGNMENT))
    env = with_venv_on_path()
    nbgrader = [str(Path(sys.executable).parent / "nbgrader")]

    def run(*args: str) -> None:
        done = subprocess.run([*nbgrader, *args], cwd=course, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"stock nbgrader {args[0]} failed:\n{done.stderr[-3000:]}")

    run("generate_assignment", ASSIGNMENT, "--force")  # set-up, not timed: stock needs a gradebook first
    started = time.monotonic()
    run("autograde", ASSIGNMENT, "--force")
    run("generate_feedback", ASSIGNMENT, "--force")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None, help="grade's workers (default: one per core)")
    parser.add_argument("--skip-stock", action="store_true", help="measure only `grade` (quick)")
    parser.add_argument("--skip-no-sandbox", action="store_true", help="do not also grade without the sandbox")
    parser.add_argument("--skip-witness", action="store_true", help="do not measure the model's witness (issue 11)")
    args = parser.parse_args(argv)
    os.environ["PATH"] = with_venv_on_path()["PATH"]
    workers = args.workers or batch.default_workers()
    with tempfile.TemporaryDirectory(prefix="bench-", dir=str(ROOT / "build") if (ROOT / "build").is_dir() else None) as tmp:
        work = Path(tmp)
        klass = work / "class"
        ids = make_class(klass, args.students)
        print(f"Class: {len(ids)} students x {len(list((SOURCE / ASSIGNMENT).glob('*.ipynb')))} notebooks, "
              f"{os.cpu_count()} cores.", flush=True)
        stock = None
        if not args.skip_stock:
            print("Stock nbgrader (autograde + generate_feedback, serial) ...", flush=True)
            stock = run_stock(work, klass)
            print(f"  {stock:.1f} s", flush=True)
        # Sandbox and no sandbox alternate (twice each when compared), so that load from
        # anything else on the machine falls on both alike.
        runs: dict[str, list] = {"sandbox": [], "no sandbox": []}
        order = [("sandbox", True)] if args.skip_no_sandbox else [("sandbox", True), ("no sandbox", False)] * 2
        for label, sandboxed in order:
            print(f"grade ({workers} workers, {batch.default_kernel()} kernels, {label}) ...", flush=True)
            started = time.monotonic()
            res = batch.grade_submissions(klass, work / f"out-{sandboxed}", workers, work_root=work / "grading",
                                          sandbox=sandboxed, progress_stream=open(os.devnull, "w"))
            runs[label].append((res, time.monotonic() - started))
            print(f"  {runs[label][-1][1]:.1f} s", flush=True)
        result, ours = runs["sandbox"][0]
        witness_runs = [] if args.skip_witness else witness_cost(klass, work, workers)

    n = len(ids)
    fixed = result.timings.get("prepare", 0.0) + result.timings.get("workers ready", 0.0)
    per_student = max(0.0, ours - fixed) / n
    print()
    print(f"{'':28}{'seconds':>9}{'s/student':>11}")
    if stock is not None:
        print(f"{'stock nbgrader (serial)':28}{stock:9.1f}{stock / n:11.1f}")
    print(f"{f'grade ({workers} workers)':28}{ours:9.1f}{ours / n:11.1f}")
    if stock is not None:
        print(f"\nratio: {stock / ours:.2f}x faster than stock")
    print(f"grade's fixed start-up: {fixed:.1f} s (template {result.timings.get('prepare', 0):.1f} s, "
          f"workers ready {result.timings.get('workers ready', 0):.1f} s); then {per_student:.1f} s per student")
    projection = fixed + 200 * per_student
    print(f"projection for 200 students: {projection / 60:.1f} min with grade"
          + (f", {200 * stock / n / 60:.1f} min with stock nbgrader" if stock is not None else ""))
    if runs["no sandbox"]:
        print("\nThe sandbox's cost, per graded notebook (same class, alternating runs, means):")
        print(f"{'':16}{'grade s/notebook':>18}{'autograde':>11}{'kernel start':>14}{'kernel CPU':>12}")
        means = {}
        for label, pairs in runs.items():
            graded = [r for res, _ in pairs for r in res.results if r.timings]
            n = max(1, len(graded))
            wall = sum(max(0.0, total - res.timings.get("prepare", 0.0) - res.timings.get("workers ready", 0.0))
                       * workers / max(1, len([r for r in res.results if r.timings])) for res, total in pairs) / len(pairs)
            means[label] = [wall] + [sum(r.timings.get(k, 0.0) for r in graded) / n
                                     for k in ("autograde (all)", "kernel start", "kernel cpu")]
            print(f"{label:16}" + "".join(f"{v:{w}.2f}" for v, w in zip(means[label], (18, 11, 14, 12))))
        on, off = means["sandbox"], means["no sandbox"]
        print(f"sandbox cost: {on[1] - off[1]:+.2f} s per notebook's autograde ({100 * (on[1] - off[1]) / off[1]:+.0f}%), "
              f"{on[3] - off[3]:+.2f} s of kernel CPU ({100 * (on[3] - off[3]) / max(off[3], 1e-9):+.0f}%)")
    if witness_runs:
        print_witness_cost(witness_runs)
    kernel_cpu = [r.timings.get("kernel cpu", 0.0) for r in result.results if r.timings]
    if kernel_cpu:
        print(f"(learner-notebook CPU inside kernels: {sum(kernel_cpu) / n:.1f} s per student, "
              f"i.e. {sum(kernel_cpu) / n / workers * 200 / 60:.1f} min for 200 on {workers} workers "
              "before any grading overhead)")
    return 0


# --- the model's witness (issue 11) ---------------------------------------------------------

def witness_cost(klass: Path, work: Path, workers: int, rounds: int = 2) -> list[tuple[bool, object]]:
    """The same class graded with the witness on and off (sandbox on both), alternating ``rounds`` times."""
    found = []
    for round_ in range(rounds):
        for on in (True, False):
            print(f"grade (witness {'on' if on else 'off'}, round {round_ + 1}) ...", flush=True)
            res = batch.grade_submissions(klass, work / f"out-witness-{on}", workers, work_root=work / "grading",
                                          witness=on, progress_stream=open(os.devnull, "w"))
            found.append((on, res))
    return found


def print_witness_cost(found: list[tuple[bool, object]]) -> None:
    print("\nThe witness's cost, per graded notebook (same class, sandbox on, alternating runs, means):")
    keys = ("autograde (all)", "kernel cpu", "witness cpu", "witness judge", "witness calls")
    print(f"{'':14}{'autograde':>11}{'kernel CPU':>12}{'witness CPU':>13}{'judging':>9}{'calls':>7}{'score':>7}")
    means = {}
    for on in (True, False):
        graded = [r for flag, res in found if flag is on for r in res.results if r.timings]
        n = max(1, len(graded))
        means[on] = [sum(r.timings.get(k, 0.0) for r in graded) / n for k in keys]
        score = sum(r.score for r in graded) / max(1, len([1 for flag, _ in found if flag is on]))
        print(f"{'witness ' + ('on' if on else 'off'):14}" + "".join(
            f"{v:{w}.{p}f}" for v, w, p in zip(means[on], (11, 12, 13, 9, 7), (2, 2, 3, 3, 0))) + f"{score:7.0f}")
    on, off = means[True], means[False]
    print(f"witness cost: {on[0] - off[0]:+.2f} s per notebook's autograde ({100 * (on[0] - off[0]) / max(off[0], 1e-9):+.0f}%), "
          f"{on[1] - off[1]:+.2f} s of kernel CPU ({100 * (on[1] - off[1]) / max(off[1], 1e-9):+.0f}%); "
          f"in the grader {on[2]:.3f} s CPU answering {on[4]:.0f} calls and {on[3]:.3f} s judging")


if __name__ == "__main__":
    sys.exit(main())
