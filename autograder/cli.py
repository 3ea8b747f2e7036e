"""``python -m autograder``: the instructor's commands.

    grade [SUBMISSIONS] [--out DIR] [--workers N | --scheduler tcp://HOST:PORT] [--timeout S]
          [--db URL | --no-gradebook] [--course-dir DIR] [--student ID[,ID...]]
          [--export canvas|moodle] [--roster FILE]
        Autograde every student of SUBMISSIONS (one folder or .zip per student;
        default: the bundled sample class) in parallel on Dask (a local cluster,
        or the existing one at --scheduler / DASK_SCHEDULER_ADDRESS); write grades.csv,
        feedback/, autograded/, logs/ and summary.txt into --out (default grades/),
        record every result in the course gradebook (autograder/records/gradebook.py),
        and write the learning platform's import file (autograder/records/exports.py).
    export canvas|moodle [--out DIR] [--roster FILE]
        The platform import file from an existing --out/grades.csv.
    collect SUBMISSIONS [--course-dir DIR]
        A class's download into nbgrader's submitted/, as nbgrader's collect leaves
        it, for nbgrader's own commands (autograder/batch/collect.py).
    release [--no-execute]
        Regenerate release/ from source/ with nbgrader (and the sample class
        from both), then verify it.
    demo [--out DIR] [--workers N]
        What `make grade` runs: the release checks, then grade on the sample class.
    lab ...
        JupyterLab for a learner (autograder/lab/launcher.py).
    hub setup|users|course|start ...
        A class on JupyterHub on this machine, as root (autograder/hub/).

Exit status: 0 when the batch ran to its end, whatever individual submissions
did (their status is in grades.csv); 2 when grading itself could not run; 1
when `release` finds a problem in the release.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from autograder.paths import ASSIGNMENT, DEFAULT_OUT, RELEASE, ROOT, SAMPLE_CLASS, SOURCE


def _where(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _add_grading_options(parser: argparse.ArgumentParser, timeout: int = 60) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder for grades.csv, feedback/, autograded/, logs/ (default: grades/)")
    parser.add_argument("--workers", type=int, default=None,
                        help="workers of the local Dask cluster (default: three per core, one per GiB of free memory at most)")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="grade on the existing Dask cluster whose scheduler is there (default: "
                             "DASK_SCHEDULER_ADDRESS if set, else a local cluster on this machine; docs/deploy.md)")
    parser.add_argument("--timeout", type=int, default=timeout,
                        help=f"seconds one cell may run (default: {timeout})")
    parser.add_argument("--kernel", choices=("fork", "fresh"), default=None,
                        help="fork kernels from a warm process (default where it works) or start a fresh one")
    parser.add_argument("--keep-work", action="store_true", help="keep the build folder (for debugging)")
    # The instructor's nbgrader workflow (issue 12): gradebook, regrade, platform exports.
    parser.add_argument("--course-dir", type=Path, default=ROOT,
                        help="the nbgrader course directory: its nbgrader_config.py gives the due date and late "
                             "policy; graded notebooks and feedback go into its autograded/ and feedback/ for "
                             "the formgrader (default: this repository)")
    parser.add_argument("--db", default=None,
                        help="gradebook to record every result in, any SQLAlchemy URL nbgrader's db_url accepts "
                             "(default: sqlite:///COURSE_DIR/gradebook.db)")
    parser.add_argument("--no-gradebook", action="store_true",
                        help="write --out only; no gradebook, nothing into the course directory")
    parser.add_argument("--student", default=None,
                        help="regrade only these students (comma-separated ids) and merge them into --out")
    parser.add_argument("--export", action="append", choices=("canvas", "moodle"), default=[],
                        help="also write OUT/canvas.csv or OUT/moodle.csv for the platform's grade import")
    parser.add_argument("--roster", type=Path, default=None,
                        help="CSV mapping student_id to the platform's ids (see autograder/records/exports.py)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without the bwrap sandbox (unsafe; said in the summary and every row)")
    parser.add_argument("--memory", default="4G",
                        help="memory limit per process of a graded notebook (default: 4G; e.g. 2G, 512M)")


def _grade(submissions: Path, args: argparse.Namespace) -> int:
    from autograder.batch import run as batch

    from autograder import nbgrader_setup
    from autograder.records import gradebook

    from autograder.grading import sandbox

    try:
        limits = sandbox.Limits(memory=sandbox.parse_size(args.memory))
    except ValueError as err:
        print(f"--memory: {err}", file=sys.stderr)
        return 2
    print(f"Grading {_where(submissions)} ...", file=sys.stderr)
    record = not getattr(args, "no_gradebook", True)
    course_dir = getattr(args, "course_dir", ROOT)
    db_url = (args.db or gradebook.default_url(course_dir)) if record else None
    students = [s.strip() for s in (getattr(args, "student", None) or "").split(",") if s.strip()] or None
    try:
        course_config = nbgrader_setup.load_course_config(course_dir)
        from autograder.records import late

        late.LatePolicy.from_config(course_config, ASSIGNMENT)  # a bad due date is said before grading
    except Exception as err:
        print(f"\nGrading could not run: {course_dir}/nbgrader_config.py could not be read ({err}). "
              "Fix it (see the README's instructor section) and run the command again.", file=sys.stderr)
        return 2
    import dask.config

    # Dask's own setting (DASK_SCHEDULER_ADDRESS, or its config files) when --scheduler is not given.
    scheduler = getattr(args, "scheduler", None) or dask.config.get("scheduler-address", None) or None
    if scheduler:
        print(f"on the Dask cluster at {scheduler}", file=sys.stderr)
    try:
        result = batch.grade_submissions(submissions, args.out, args.workers, cell_timeout=args.timeout,
                                         kernel=args.kernel, keep_work=args.keep_work, course_config=course_config,
                                         gradebook_url=db_url, course_dir=course_dir if record else None,
                                         students=students, sandbox=not args.no_sandbox, limits=limits,
                                         scheduler=scheduler)
    except batch.BatchError as err:
        print(f"\nGrading could not run: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (batch turns it into this)
        print("\nInterrupted: workers stopped, the build folder removed, --out left as it was.", file=sys.stderr)
        return 130
    print()
    print(result.summary, end="")
    out = _where(result.out)
    print(f"\nGrades:   {out}/grades.csv")
    print(f"Feedback: {out}/feedback/<student>/{ASSIGNMENT}/<notebook>.html")
    print(f"Details:  {out}/autograded/ (graded notebooks), {out}/logs/, {out}/summary.txt")
    if db_url:
        print(f"Gradebook: {gradebook._safe(db_url)} (nbgrader export, formgrader, release_feedback)")
    if result.incomplete:  # the grader failed, not the class: a script must not take this run as done
        print(f"\nThe batch is incomplete ({len(result.incomplete)} student(s) not graded): run the same "
              "command again.", file=sys.stderr)
        return 3
    return _export(args, result.out)


def _export(args: argparse.Namespace, out: Path) -> int:
    from autograder.records import exports

    try:
        written = exports.refresh(out, getattr(args, "export", []) or [], ASSIGNMENT, args.roster)
    except (exports.ExportError, OSError) as err:
        print(f"An export could not be written: {err}", file=sys.stderr)
        return 2
    for fmt, target, notes in written:
        print(f"{fmt.capitalize()} import file: {_where(target)}" + "".join(f"\n  note: {n}" for n in notes))
    return 0


def _collect(args: argparse.Namespace) -> int:
    from autograder import nbgrader_setup
    from autograder.batch import collect

    try:
        exchange = nbgrader_setup.load_course_config(args.course_dir).Exchange.get("root")
        lines = collect.collect(args.submissions, args.course_dir, ASSIGNMENT, Path(exchange) if exchange else None)
    except (collect.CollectError, OSError) as err:
        print(f"Nothing was collected: {err}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


def _release(args: argparse.Namespace) -> int:
    from autograder.release import check as release_check

    if getattr(args, "regenerate", True):
        print("Building source/ notebooks from source/cells_*.py, then release/ with nbgrader ...", file=sys.stderr)
        built = subprocess.run([sys.executable, str(SOURCE / "build_notebooks.py")], cwd=ROOT,
                               capture_output=True, text=True)
        if built.returncode != 0:
            print(f"The source notebooks could not be built:\n{built.stderr[-2000:]}", file=sys.stderr)
            return 2
        try:
            release_check.generate_release(ROOT)
        except RuntimeError as err:
            print(f"Release could not be generated: {err}", file=sys.stderr)
            return 2
        from autograder.release import sample_class as sample_class_gen

        # The sample class is made from release/ and source/: it follows them.
        sample_class_gen.generate()
        print(f"Sample class regenerated in {_where(SAMPLE_CLASS)} (commit it with release/).", file=sys.stderr)
    print("Checking release/: no solutions, no hidden tests, exercises fail until worked, source passes ...",
          file=sys.stderr)
    try:
        problems = release_check.verify(SOURCE, RELEASE, execute=not args.no_execute, workers=args.workers,
                                        cell_timeout=args.timeout)
    except Exception as err:  # the check itself could not run
        print(f"The release check could not run: {err}", file=sys.stderr)
        return 2
    if problems:
        print("Release problems:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    if args.no_execute:
        print("Release OK: no solution code, no hidden test, current with source/ (notebooks not run: --no-execute).")
    else:
        print("Release OK: no solution code, no hidden test, every exercise fails until worked, the source passes.")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "lab":
        from autograder.lab import launcher as lab

        return lab.main(argv[1:])
    if argv and argv[0] == "hub":
        from autograder.hub import server as hub

        return hub.main(argv[1:])

    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade a folder of submissions")
    grade.add_argument("submissions", nargs="?", type=Path, default=SAMPLE_CLASS,
                       help="one folder or .zip per student (default: the bundled sample class)")
    _add_grading_options(grade)
    release = commands.add_parser("release", help="regenerate release/ and verify it")
    release.add_argument("--no-execute", action="store_true", help="skip running the notebooks")
    release.add_argument("--workers", type=int, default=None)
    release.add_argument("--timeout", type=int, default=60)
    demo = commands.add_parser("demo", help="release checks, then grade the sample class (make grade)")
    # The sample class has endless loops on purpose; its real cells take a second or two.
    _add_grading_options(demo, timeout=20)
    commands.add_parser("lab", help="JupyterLab for a learner")
    commands.add_parser("hub", help="a class on JupyterHub (as root)")
    export = commands.add_parser("export", help="the Canvas or Moodle import file from an existing grades.csv")
    export.add_argument("export", nargs=1, choices=("canvas", "moodle"))
    export.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the folder holding grades.csv")
    export.add_argument("--roster", type=Path, default=None)
    gather = commands.add_parser("collect", help="a class's download into nbgrader's submitted/ (path 1)")
    gather.add_argument("submissions", type=Path, help="one folder or .zip per student, as the platform gives them")
    gather.add_argument("--course-dir", type=Path, default=ROOT, help="the nbgrader course directory")
    args = parser.parse_args(argv)

    if args.command == "grade":
        return _grade(args.submissions, args)
    if args.command == "release":
        return _release(args)
    if args.command == "export":
        if not (args.out / "grades.csv").exists():
            print(f"No grades.csv in {args.out}: run `python -m autograder grade ... --out {args.out}` first.",
                  file=sys.stderr)
            return 2
        return _export(args, args.out)
    if args.command == "collect":
        return _collect(args)
    if args.command == "demo":
        args.no_execute = False
        args.regenerate = False
        status = _release(args)
        if status == 2:
            return 2
        if status == 1:
            print("(The release has problems; grading the sample class anyway.)\n", file=sys.stderr)
        # Synthetic students (one edits any gradebook it finds) stay out of the course's gradebook
        # and submitted/ unless a gradebook is named.
        args.no_gradebook = args.no_gradebook or args.db is None
        status = _grade(SAMPLE_CLASS, args)
        return status if status else _compare_with_expected(args.out / "grades.csv", SAMPLE_CLASS / "expected.csv")
    return 2


def _compare_with_expected(graded: Path, expected: Path) -> int:
    """The demo's verdict: 0 when every sample student got the score expected.csv gives, else 1."""
    import csv

    def rows(path: Path) -> dict[tuple[str, str], tuple[str, str, str]]:
        with path.open(newline="") as handle:
            return {(r["student_id"], r["notebook"]): (r["score"], r["max_score"], r["status"])
                    for r in csv.DictReader(handle)}

    got, want = rows(graded), rows(expected)
    wrong = [f"  {s} {n}: expected {w[0]}/{w[1]} {w[2]}, got "
             + (f"{got[s, n][0]}/{got[s, n][1]} {got[s, n][2]}" if (s, n) in got else "no row")
             for (s, n), w in sorted(want.items()) if got.get((s, n)) != w]
    if not wrong:
        print(f"\nSample class: all {len(want)} results match {_where(expected)}: the grader works on this machine.")
        return 0
    print(f"\nSample class: {len(wrong)} of {len(want)} results differ from {_where(expected)}:\n" + "\n".join(wrong)
          + f"\nSee {_where(graded.parent)}/summary.txt for why; please report it with that file.", file=sys.stderr)
    return 1
