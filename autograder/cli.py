"""``python -m autograder``: the instructor's commands.

    grade [SUBMISSIONS] [--out DIR] [--workers N] [--timeout S]
        Autograde every student of SUBMISSIONS (one folder or .zip per student;
        default: the bundled sample class) in parallel; write grades.csv,
        feedback/, autograded/, logs/ and summary.txt into --out (default grades/).
    release [--no-execute]
        Regenerate release/ from source/ with nbgrader (and the sample class
        from both), then verify it.
    demo [--out DIR] [--workers N]
        What `make grade` runs: the release checks, then grade on the sample class.
    lab ...
        JupyterLab for a learner (autograder/lab.py).

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
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default: one per core)")
    parser.add_argument("--timeout", type=int, default=timeout,
                        help=f"seconds one cell may run (default: {timeout})")
    parser.add_argument("--kernel", choices=("fork", "fresh"), default=None,
                        help="fork kernels from a warm process (default where it works) or start a fresh one")
    parser.add_argument("--keep-work", action="store_true", help="keep the build folder (for debugging)")


def _grade(submissions: Path, args: argparse.Namespace) -> int:
    from autograder import batch

    print(f"Grading {_where(submissions)} ...", file=sys.stderr)
    try:
        result = batch.grade_submissions(submissions, args.out, args.workers, cell_timeout=args.timeout,
                                         kernel=args.kernel, keep_work=args.keep_work)
    except batch.BatchError as err:
        print(f"\nGrading could not run: {err}", file=sys.stderr)
        return 2
    print()
    print(result.summary, end="")
    out = _where(result.out)
    print(f"\nGrades:   {out}/grades.csv")
    print(f"Feedback: {out}/feedback/<student>/{ASSIGNMENT}/<notebook>.html")
    print(f"Details:  {out}/autograded/ (graded notebooks), {out}/logs/, {out}/summary.txt")
    return 0


def _release(args: argparse.Namespace) -> int:
    from autograder import release_check

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
        from autograder import sample_class_gen

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
        from autograder import lab

        return lab.main(argv[1:])

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
    args = parser.parse_args(argv)

    if args.command == "grade":
        return _grade(args.submissions, args)
    if args.command == "release":
        return _release(args)
    if args.command == "demo":
        args.no_execute = False
        args.regenerate = False
        status = _release(args)
        if status == 2:
            return 2
        if status == 1:
            print("(The release has problems; grading the sample class anyway.)\n", file=sys.stderr)
        return _grade(SAMPLE_CLASS, args)
    return 2
