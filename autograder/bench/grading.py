"""`make bench`: stock serial nbgrader against `grade`, side by side, on the same class.

    python -m autograder.bench.grading [--students N] [--workers N] [--today REF] [--skip-stock]

The class is made of the sample class's well-behaved students (correct,
partial, wrong, untouched: no endless loops, which would only measure the
time limit), repeated to N students. Stock: a course folder with those
submissions, ``nbgrader autograde`` then ``nbgrader generate_feedback``, one
process, one student after another, a fresh kernel per notebook (what an
instructor runs by hand). Ours: ``python -m autograder grade`` with its
defaults. Both produce grades and feedback for every notebook.

Ours runs twice, alternating: "today", the grader as it was at ``--today``
(a git ref, checked out into a temporary worktree and run with its own code
and its own default workers; ``--today none``, or no git: this grader with
every test cell kicking off the learner's crews afresh, ``shared_runs=False``)
and "new", this grader with its defaults.

Printed: seconds, seconds per student, CPU seconds per student, the time a
class of 200 would take (fixed start-up cost + 200 x the measured cost per
student), the ratios, the load average, where a graded notebook's time goes
(the learner's own cells, the floor, against the grader's work), and the
sandbox's cost per notebook: the same class graded with and without it. CPU
is read from a cgroup holding the bench and everything it starts (``CpuMeter``),
so it does not depend on other work on the machine; wall times do.
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

from autograder.batch import run as batch, intake
from autograder.paths import ASSIGNMENT, ROOT, SAMPLE_CLASS, SOURCE, with_venv_on_path

WELL_BEHAVED = ("ada_perfect", "cleo_partial", "dev_wrong_ideas", "ben_untouched", "gus_hardcoder", "ivy_zipped")
STOCK_CONFIG = '''c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "crew-processes"
c.CourseDirectory.db_assignments = [dict(name="{assignment}")]
'''


class CpuMeter:
    """CPU seconds used by this process and everything it starts (Dask workers, grading processes, sandboxes,
    kernels), read from a cgroup of its own, sampled over time so that a run's phases can be told apart.

    Wall times depend on whatever else runs on the machine; these do not. None where no cgroup can be
    made (not root, no cpuacct controller): the bench then reports wall times only.
    """

    V1, V2 = Path("/sys/fs/cgroup/cpuacct"), Path("/sys/fs/cgroup")

    def __init__(self) -> None:
        import threading

        self.read = self._join()
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        if self.read is not None:
            self._thread = threading.Thread(target=self._sample, name="cpu-meter", daemon=True)
            self._thread.start()

    def _join(self):
        name = f"crew-bench-{os.getpid()}"
        for base, usage, scale in ((self.V1, "cpuacct.usage", 1e-9), (self.V2, "cpu.stat", None)):
            group = base / name
            try:
                if not (base / ("cpuacct.usage" if base == self.V1 else "cgroup.controllers")).exists():
                    continue
                group.mkdir(exist_ok=True)
                (group / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                continue
            path = group / usage
            if scale:
                return lambda: int(path.read_text()) * scale
            return lambda: next(int(line.split()[1]) for line in path.read_text().splitlines()
                                if line.startswith("usage_usec")) * 1e-6
        return None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self.read()))
            self._stop.wait(0.2)

    def between(self, start: float, end: float) -> float | None:
        """CPU seconds between two monotonic times (nearest samples)."""
        if self.read is None or not self.samples:
            return None
        at = lambda t: min(self.samples, key=lambda sample: abs(sample[0] - t))[1]  # noqa: E731
        return at(end) - at(start)

    def close(self) -> None:
        self._stop.set()


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
    return started, time.monotonic()


# --- "today": the pipeline as it was before this round of work, from git history ----------------------

TODAY_REF = "2a4cea3"  # main before autograder/ was rebuilt into packages (issue 22): "no slower" is measured against it
# Fixes of what a grader produces (not of its speed) laid on today's checkout, so that both pipelines
# do the same work: the faster of two graders must not be the one that skips some. A patch per fix,
# written for today's layout (``today_fixes/<ref>-<name>.patch``), and why.
TODAY_FIXES = {
    "figures": "its graded kernels showed every figure as text ('<Figure size 1000x475 with 1 Axes>'), so its "
               "feedback drew no picture (fixed in 1b99520); drawing one costs about 0.06 s of kernel CPU",
}
FIXES_DIR = Path(__file__).with_name("today_fixes")
TODAY_SCRIPT = """
import json, os, sys, time
from pathlib import Path
try:
    from autograder.batch import run as batch  # the packages of issue 22
except ImportError:
    from autograder import batch  # the flat layout before them
klass, out, work, workers = sys.argv[1:5]
started = time.monotonic()
res = batch.grade_submissions(Path(klass), Path(out), int(workers) or None, work_root=Path(work),
                              progress_stream=open(os.devnull, "w"))
print(json.dumps({"started": started, "timings": res.timings,
                  "results": [{"timings": r.timings, "seconds": r.seconds} for r in res.results]}))
"""


def checkout(ref: str, dest: Path) -> Path | None:
    """A worktree of ``ref`` at ``dest`` with the ``TODAY_FIXES`` written for it (None, said why, when git
    or the ref is not there)."""
    done = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(dest), ref],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  (no checkout of {ref}: {done.stderr.strip()[:200]}; 'today' is grade with shared runs off)")
        return None
    for fix, why in TODAY_FIXES.items():
        _apply_fix(dest, ref, fix, why)
    return dest


def _apply_fix(tree: Path, ref: str, fix: str, why: str) -> None:
    """Lay the patch of ``fix`` written for ``ref`` on its checkout, if there is one; say so, and why."""
    patch = FIXES_DIR / f"{ref}-{fix}.patch"
    if not patch.exists():
        return
    done = subprocess.run(["git", "-C", str(tree), "apply", str(patch)], capture_output=True, text=True)
    if done.returncode == 0:
        print(f"  ({ref} gets the fix '{fix}' so that both pipelines do the same work: {why})")
    else:
        print(f"  (the fix '{fix}' does not apply to {ref}: {done.stderr.strip()[:200]}; today may do less work: "
              f"{why})")


def drop_checkout(dest: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(dest)], capture_output=True)


def tree_env(tree: Path) -> dict[str, str]:
    """The environment for a grader of another checkout: its code, and its root (``make bench`` sets
    COURSE_ROOT to this one, which the other grader would otherwise take for its own)."""
    env = with_venv_on_path()
    env["PYTHONPATH"] = str(tree)
    env["COURSE_ROOT"] = str(tree)
    return env


def run_today(tree: Path, klass: Path, out: Path, work: Path, workers: int):
    """grade_submissions of the checked-out tree, in a python of its own (same environment, its own code)."""
    import json
    from types import SimpleNamespace

    done = subprocess.run([sys.executable, "-c", TODAY_SCRIPT, str(klass), str(out), str(work), str(workers)],
                          cwd=tree, env=tree_env(tree), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"today's pipeline ({TODAY_REF}) failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    results = [SimpleNamespace(**r) for r in data["results"]]
    return SimpleNamespace(timings=data["timings"], results=results), data["started"]


def feedback_pictures(out: Path) -> int:
    """The pictures on a run's feedback pages: two pipelines doing the same work draw as many."""
    return sum(page.read_text(encoding="utf-8").count("data:image/png;base64,")
               for page in (out / "feedback").rglob("*.html"))


def _graded(res) -> list:
    return [r for r in res.results if r.timings]


def _per_student(res, students: int) -> float:
    """Seconds per student once every worker grades: the seconds its notebooks held a worker, over the
    workers. Not the run's time after its first worker was ready: since issue 23 (instructor 6) the new
    grader starts the other workers while the first grade, so that would charge it their start-up."""
    workers = res.timings.get("cluster") or 1
    return sum(r.seconds for r in res.results) / workers / students


def _fixed(res, total: float, students: int) -> float:
    """The rest of the run: template, intake, workers' start-up and the ramp until all of them grade."""
    return max(0.0, total - _per_student(res, students) * students)


def floor(res) -> dict[str, float]:
    """Where a graded notebook's time goes (means over the run's graded notebooks).

    The kernel's CPU split three ways: the learner's own cells (the floor: a grader cannot
    make them cheaper), the test cells (the checks and their crew runs) and the guard before
    each test cell; then the grader's wall time outside the kernel: starting the kernel,
    nbgrader's steps around the run, and the feedback page.
    """
    graded = _graded(res)
    n = max(1, len(graded))

    def mean(get) -> float:
        return sum(get(r) for r in graded) / n

    def cells(r) -> float:
        return sum(v for k, v in r.timings.items() if k.startswith(("cell ", "the cell ")))

    return {
        "learner cpu": mean(lambda r: r.timings.get("kernel cpu", 0.0) - r.timings.get("test cpu", 0.0)
                            - r.timings.get("guard cpu", 0.0) - r.timings.get("start cpu", 0.0)),
        "start cpu": mean(lambda r: r.timings.get("start cpu", 0.0)),
        "tests cpu": mean(lambda r: r.timings.get("test cpu", 0.0)),
        "guard cpu": mean(lambda r: r.timings.get("guard cpu", 0.0)),
        "kernel start": mean(lambda r: r.timings.get("kernel start", 0.0)),
        "cells wall": mean(cells),
        "nbgrader": mean(lambda r: r.timings.get("autograde (all)", 0.0) - r.timings.get("kernel start", 0.0)
                         - cells(r)),
        "feedback": mean(lambda r: max(0.0, r.seconds - r.timings.get("autograde (all)", 0.0))),
        "grader cpu": mean(lambda r: r.timings.get("grader cpu", 0.0)),
        "notebook": mean(lambda r: r.seconds),
    }


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=6, help="class size (6: each well-behaved sample student once)")
    parser.add_argument("--today", default=TODAY_REF, help="git ref of 'today's pipeline' ('none': this grader "
                        "with shared runs off)")
    parser.add_argument("--workers", type=int, default=None, help="grade's workers (default: three per core)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of today's and the new pipeline")
    parser.add_argument("--skip-stock", action="store_true", help="do not run stock nbgrader (quick)")
    parser.add_argument("--skip-no-sandbox", action="store_true", help="do not also grade without the sandbox")
    parser.add_argument("--skip-witness", action="store_true", help="do not measure the model's witness (issue 11)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    os.environ["PATH"] = with_venv_on_path()["PATH"]
    workers = args.workers or batch.default_workers()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-", dir=str(ROOT / "build") if (ROOT / "build").is_dir() else None) as tmp:
        work = Path(tmp)
        klass = work / "class"
        ids = make_class(klass, args.students)
        print(f"Class: {len(ids)} students x {len(list((SOURCE / ASSIGNMENT).glob('*.ipynb')))} notebooks, "
              f"{os.cpu_count()} cores, load average {load_before[0]:.2f}.", flush=True)
        meter = CpuMeter()
        stock = _measure_stock(work, klass, meter) if not args.skip_stock else None
        runs, tree = _measure_pipelines(args, work, klass, workers, meter)
        witness_runs = [] if args.skip_witness else witness_cost(klass, work, workers)
        meter.close()
    n = len(ids)
    _print_totals(args, runs, stock, n, workers, tree)
    print(f"load average: {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after (2 cores shared with other work)")
    _print_per_notebook(runs)
    if "no sandbox" in runs:
        _print_sandbox_cost(runs)
    if witness_runs:
        print_witness_cost(witness_runs)
    return 0


def _measure_stock(work: Path, klass: Path, meter) -> tuple[float, float | None]:
    print("Stock nbgrader (autograde + generate_feedback, serial) ...", flush=True)
    began, ended = run_stock(work, klass)
    print(f"  {ended - began:.1f} s", flush=True)
    return ended - began, meter.between(began, ended)


def _measure_pipelines(args, work: Path, klass: Path, workers: int, meter) -> tuple[dict[str, list], object]:
    """Each pipeline ``args.rounds`` times, alternating (ABBA): {label: [(result, seconds, cpu seconds)]}."""
    tree = None if args.today == "none" else checkout(args.today, work / "today-tree")
    # The pipelines alternate, so that load from anything else on the machine falls on all alike.
    # "today": the grader as it was at --today (its own code, from git); without a checkout, this
    # grader with every test cell running the learner's crews afresh (shared_runs=False).
    pipelines = {"new": dict(sandbox=True, shared_runs=True), "today": dict(sandbox=True, shared_runs=False)}
    if not args.skip_no_sandbox:
        pipelines["no sandbox"] = dict(sandbox=False, shared_runs=True)
    runs: dict[str, list] = {label: [] for label in pipelines}
    try:
        for round_number in range(args.rounds):
            # ABBA: each pipeline goes first as often as the other (the first run of a bench meets a
            # cold file cache, and the one after it a machine still busy ending the last).
            order = list(pipelines.items())
            for label, options in (order if round_number % 2 == 0 else order[::-1]):
                what = f"{args.today} from git, its default workers" if label == "today" and tree else f"{workers} workers"
                print(f"grade, {label} ({what}, round {round_number + 1}) ...", flush=True)
                started = time.monotonic()
                out = work / f"out-{label.replace(' ', '-')}"
                if label == "today" and tree:
                    # With its own default number of workers unless --workers says otherwise.
                    res, started = run_today(tree, klass, out, work / "grading", args.workers or 0)
                else:
                    res = batch.grade_submissions(klass, out, workers,
                                                  work_root=work / "grading",
                                                  progress_stream=open(os.devnull, "w"), **options)
                ended = time.monotonic()
                # CPU of the whole run, start-up included: since issue 23 (instructor 6) the new grader
                # starts its workers as they are needed, so CPU counted from its first worker's start
                # would charge it the others' start-up that today's pays before.
                runs[label].append((res, ended - started, meter.between(started, ended)))
                cpu = runs[label][-1][2]
                print(f"  {runs[label][-1][1]:.1f} s" + (f", {cpu:.1f} CPU s" if cpu is not None else "")
                      + f" ({feedback_pictures(out)} pictures in its feedback pages)", flush=True)
    finally:
        if tree:
            drop_checkout(tree)
    return runs, tree


def _shown(value, width, digits=2):
    return f"{value:{width}.{digits}f}" if value is not None else f"{'n/a':>{width}}"


def _print_totals(args, runs: dict[str, list], stock, n: int, workers: int, tree) -> None:
    per = {label: sum(_per_student(res, n) for res, _, _ in trio) / len(trio) for label, trio in runs.items()}
    fixed = {label: sum(_fixed(res, total, n) for res, total, _ in trio) / len(trio) for label, trio in runs.items()}
    total = {label: sum(t for _, t, _ in trio) / len(trio) for label, trio in runs.items()}
    cpu = {label: (sum(c for _, _, c in trio) / len(trio) / n if all(c is not None for _, _, c in trio) else None)
           for label, trio in runs.items()}
    print()
    print(f"{'':40}{'seconds':>9}{'s/student':>11}{'CPU s/student':>15}{'200 students':>14}")
    if stock is not None:
        seconds, stock_cpu = stock
        print(f"{'stock nbgrader (serial)':40}{seconds:9.1f}{seconds / n:11.1f}"
              f"{_shown(stock_cpu / n if stock_cpu is not None else None, 15, 1)}{200 * seconds / n / 60:11.1f} min")
    for label in ("today", "new"):
        name = f"grade, {label} ({args.today if label == 'today' and tree else f'{workers} workers'})"
        if label == "today" and tree:
            name = f"grade, today ({args.today}, {runs['today'][0][0].timings.get('cluster', '?')} workers)"
        projection = fixed[label] + 200 * per[label]
        print(f"{name:40}{total[label]:9.1f}{per[label]:11.2f}{_shown(cpu[label], 15)}{projection / 60:11.1f} min")
    print(f"(grade's s/student: the seconds its notebooks held a worker, over the workers; the rest of a run is "
          f"its start-up ({fixed['new']:.1f} s new, {fixed['today']:.1f} s today), which 200 students pay once; "
          f"means of {args.rounds} alternating rounds. CPU s/student: the CPU of "
          "every process of the whole run, start-up included, read from a cgroup; other load on the machine does "
          f"not change it.)")
    print(f"\nnew vs today, the whole class: {total['today'] / max(total['new'], 1e-9):.2f}x in time"
          + (f", {cpu['today'] / cpu['new']:.2f}x in CPU" if cpu["today"] and cpu["new"] else "")
          + f"; per student once every worker grades: {per['today'] / max(per['new'], 1e-9):.2f}x")
    if stock is not None:
        seconds, stock_cpu = stock
        print(f"new vs stock nbgrader: {seconds / n / max(per['new'], 1e-9):.1f}x per student, "
              f"{(200 * seconds / n) / (fixed['new'] + 200 * per['new']):.1f}x for 200 students "
              f"(today: {seconds / n / max(per['today'], 1e-9):.1f}x per student)"
              + (f"; in CPU {stock_cpu / n / cpu['new']:.1f}x" if stock_cpu and cpu["new"] else ""))


def _print_per_notebook(runs: dict[str, list]) -> None:
    print("\nPer graded notebook (means): the floor is the learner's own cells; the rest is grading's.")
    columns = ("learner cpu", "tests cpu", "guard cpu", "start cpu", "grader cpu", "kernel start", "cells wall",
               "nbgrader", "feedback", "notebook")
    print(f"{'':12}" + "".join(f"{c:>13}" for c in columns))
    for label in ("today", "new"):
        parts = [floor(res) for res, _, _ in runs[label]]
        means = {c: sum(p[c] for p in parts) / len(parts) for c in columns}
        print(f"{label:12}" + "".join(f"{means[c]:13.2f}" for c in columns))
    print("(learner/tests/guard/start cpu: the kernel's CPU seconds in the learner's cells, the test cells, the guard "
          "and its start; grader cpu: the worker's own (nbgrader, feedback, talking to the kernel); the rest wall "
          "seconds; notebook: start to feedback written, in one worker)")


def _print_sandbox_cost(runs: dict[str, list]) -> None:
    print("\nThe sandbox's cost, per graded notebook (same class, alternating runs, means):")
    print(f"{'':16}{'grade s/notebook':>18}{'autograde':>11}{'kernel start':>14}{'kernel CPU':>12}")
    means = {}
    for label, key in (("sandbox", "new"), ("no sandbox", "no sandbox")):
        pairs = runs[key]
        graded = [r for res, _, _ in pairs for r in _graded(res)]
        count = max(1, len(graded))
        wall = sum(sum(r.seconds for r in res.results) / max(1, len(_graded(res))) for res, _, _ in pairs) / len(pairs)
        means[label] = [wall] + [sum(r.timings.get(k, 0.0) for r in graded) / count
                                 for k in ("autograde (all)", "kernel start", "kernel cpu")]
        print(f"{label:16}" + "".join(f"{v:{w}.2f}" for v, w in zip(means[label], (18, 11, 14, 12))))
    on, off = means["sandbox"], means["no sandbox"]
    print(f"sandbox cost: {on[1] - off[1]:+.2f} s per notebook's autograde ({100 * (on[1] - off[1]) / off[1]:+.0f}%), "
          f"{on[3] - off[3]:+.2f} s of kernel CPU ({100 * (on[3] - off[3]) / max(off[3], 1e-9):+.0f}%)")


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
