"""nbgrader's own commands in a course directory with this repo's nbgrader_config.py get the course's protections.

The stock sequence an instructor runs, ``generate_assignment -> autograde ->
generate_feedback -> export``, on the sample class, compared with its
expected.csv. Stock nbgrader cannot take three hand-ins as they are:
ivy_zipped is a zip (unpack it first), hal_messy's damaged 01_sequential
fails the whole student (nbgrader reads the JSON before any configurable
step), and fay_tamperer's 03_async edits the course's gradebook.db, which a
notebook's code can reach on this path. Those two notebooks are withheld;
nbgrader then scores them 0 (expected.csv, written for the sandboxed `grade`, gives
fay's 1: there her gradebook hunt finds nothing and her answers are graded).

By default three students, chosen for what they prove: eli_runaway (an endless
loop, a loop that swallows the interrupt, a kernel that exits: stock nbgrader
fails the whole student on the last two), fay_tamperer (rewrites the checks on
disk, replaces them in memory, patches the recorder: the private kit and the
guard void those tests), hal_messy (deleted and edited tests, changed points,
huge output, a network call; 04 scores full marks). ``CREW_NBGRADER_FULL_CLASS=1``
grades every student but ivy_zipped (about 15 minutes on 2 busy cores);
``CREW_NBGRADER_STUDENTS=ada_perfect,dev_wrong_ideas`` grades those.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.grading import feedback_pages
from autograder.release import check as release_check, sample_class as sample_class_gen
from autograder.paths import ASSIGNMENT, ROOT, SAMPLE_CLASS, SOURCE
from tests.helpers.nbgrader_cli import nbgrader

pytestmark = pytest.mark.slow

GRADABLE = ["ada_perfect", "ben_untouched", "cleo_partial", "dev_wrong_ideas", "eli_runaway", "fay_tamperer",
            "gus_hardcoder", "hal_messy"]
STUDENTS = (GRADABLE if os.environ.get("CREW_NBGRADER_FULL_CLASS")
            else [s for s in os.environ.get("CREW_NBGRADER_STUDENTS", "").split(",") if s in GRADABLE]
            or ["eli_runaway", "fay_tamperer", "hal_messy"])
# What stock nbgrader cannot take (see the module docstring): left out of submitted/.
WITHHELD = {("hal_messy", "01_sequential"), ("fay_tamperer", "03_async")}
# fay's 01 writes to the course kit. Under `grade` the sandbox refuses the write, nothing changes and her
# answers are graded (expected.csv: 4). On this path the write lands in the course's private kit copy, the
# guard sees a changed kit and voids her tests: 0.
STOCK_SCORES = {("fay_tamperer", "01_sequential"): "0"}
# The course's due date and nbgrader's "zero" policy; eli hands in a day late (nbgrader's timestamp.txt).
DUE = "2026-11-01 12:00:00 UTC"
LATE = {"eli_runaway"}


def make_course(course: Path, students: list[str]) -> None:
    """A course directory: this repo's nbgrader_config.py and source/, hand-ins in nbgrader's submitted/ layout."""
    course.mkdir(parents=True)
    config = (ROOT / "nbgrader_config.py").read_text()
    config += (f'\nc.DueDates.assignments = {{"{ASSIGNMENT}": "{DUE}"}}\n'
               'c.LateSubmissionPlugin.penalty_method = "zero"\n')
    (course / "nbgrader_config.py").write_text(config)
    shutil.copytree(SOURCE / ASSIGNMENT, course / "source" / ASSIGNMENT,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for student in students:
        dest = course / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        for path in (SAMPLE_CLASS / student).rglob("*.ipynb"):
            if (student, path.stem) not in WITHHELD:
                shutil.copy(path, dest / path.name)
        stamp = "2026-11-02 12:00:00.000000 UTC" if student in LATE else "2026-11-01 11:00:00.000000 UTC"
        (dest / "timestamp.txt").write_text(stamp)


@pytest.fixture(scope="module")
def stock(tmp_path_factory):
    course = tmp_path_factory.mktemp("stock") / "course"
    make_course(course, STUDENTS)
    steps = {}
    for name, args in (("generate_assignment", ("generate_assignment", ASSIGNMENT)),
                       # the sample class has endless loops; 30 s lets a fresh kernel import CrewAI on a busy machine
                       ("autograde", ("autograde", ASSIGNMENT, "--GradingExecute.timeout=30")),
                       ("generate_feedback", ("generate_feedback", ASSIGNMENT)),
                       ("export", ("export",))):
        steps[name] = nbgrader(course, *args)
    return course, steps


def test_every_stock_command_succeeds(stock):
    _, steps = stock
    for name, done in steps.items():
        assert done.returncode == 0, f"{name}:\n{done.stderr[-3000:]}"


def test_generate_feedback_warns_about_no_configuration_of_ours(stock):
    """nbconvert configures display_data_priority for every step; nbgrader's steps declared it unconfigurable."""
    _, steps = stock
    said = [line for line in steps["generate_feedback"].stderr.splitlines() if "not recognized" in line]
    assert said == [], "\n".join(said)


def test_stock_scores_match_the_expected_scores_per_notebook_and_in_export(stock):
    from nbgrader.api import Gradebook

    course, _ = stock
    expected = [r for r in sample_class_gen.read_expected() if r["student_id"] in STUDENTS]
    for row in expected:  # a withheld hand-in is never graded on this path: nbgrader scores it 0
        if (row["student_id"], row["notebook"]) in WITHHELD:
            row["score"] = "0"
        row["score"] = STOCK_SCORES.get((row["student_id"], row["notebook"]), row["score"])
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "crew-processes") as gb:
        got = {(r["student_id"], r["notebook"]): gb.find_submission_notebook(r["notebook"], ASSIGNMENT,
                                                                            r["student_id"]).score
               for r in expected}
    assert got == {(r["student_id"], r["notebook"]): float(r["score"]) for r in expected}
    with open(course / "grades.csv", newline="") as handle:
        exported = {r["student_id"]: r for r in csv.DictReader(handle)}
    totals = {s: sum(float(r["score"]) for r in expected if r["student_id"] == s) for s in STUDENTS}
    assert {s: float(r["raw_score"]) for s, r in exported.items()} == totals
    # The due date from nbgrader_config.py reached nbgrader's own late penalty ("zero": all of it).
    for student, row in exported.items():
        assert row["duedate"].startswith("2026-11-01 12:00:00")
        assert float(row["score"]) == (0.0 if student in LATE else totals[student]), student
        assert float(row["late_submission_penalty"]) == (totals[student] if student in LATE else 0.0), student


def test_no_student_is_lost_to_a_dead_or_hung_kernel(stock):
    # Stock nbgrader removes the whole student's folder on DeadKernelError or an uninterruptible loop.
    course, steps = stock
    for student in STUDENTS:
        graded = sorted(p.stem for p in (course / "autograded" / student / ASSIGNMENT).glob("*.ipynb"))
        handed_in = sorted(p.stem for p in (course / "submitted" / student / ASSIGNMENT).glob("*.ipynb"))
        assert graded == handed_in, student
    if "eli_runaway" in STUDENTS:  # os._exit in a cell
        nb = nbformat.read(str(course / "autograded" / "eli_runaway" / ASSIGNMENT / "03_async.ipynb"), as_version=4)
        not_run = [c for c in nb.cells if c.cell_type == "code"
                   and any(o.get("ename") == "CellNotRun" for o in c.get("outputs", []))]
        assert not_run, "cells after the kernel died are marked as not run, so their tests score 0"


def _solution_lines() -> dict[str, list[str]]:
    lines = {}
    for path in sorted((SOURCE / ASSIGNMENT).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        lines[path.stem] = [line for line in release_check.region_lines(nb, "solution") if len(line) > 12]
    return lines


def test_stock_feedback_shows_no_hidden_test_no_solution_no_server_path(stock):
    course, _ = stock
    hidden = release_check.hidden_test_lines(SOURCE / ASSIGNMENT)
    assert hidden, "the source has hidden tests: this test must see them"
    solutions = _solution_lines()
    roots = [str(course), str(ROOT), sys.prefix, str(Path.home()), "/tmp/"]
    pages = sorted((course / "feedback").rglob("*.html"))
    assert len(pages) == len(list((course / "submitted").glob(f"*/{ASSIGNMENT}/*.ipynb")))
    for page in pages:
        text = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text, page
        assert feedback_pages.leaks(text, hidden, roots) == [], page
        student = page.parent.parent.name
        submitted = course / "submitted" / student / ASSIGNMENT / f"{page.stem}.ipynb"
        handed_in = "\n".join(c.source for c in nbformat.read(str(submitted), as_version=4).cells) \
            if submitted.exists() else ""
        leaked = [line for line in solutions.get(page.stem, []) if line in text and line not in handed_in]
        assert leaked == [], page


def test_the_course_kit_and_the_checks_cannot_be_faked_on_this_path(stock):
    # fay rewrites checks.py on disk (01), replaces the checks in memory (02), patches the recorder (04).
    course, _ = stock
    if "fay_tamperer" not in STUDENTS:
        pytest.skip("needs fay_tamperer")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "crew-processes") as gb:
        for notebook in ("01_sequential", "02_hierarchical", "04_mixed_phases"):
            assert gb.find_submission_notebook(notebook, ASSIGNMENT, "fay_tamperer").score == 0, notebook
    nb = nbformat.read(str(course / "autograded" / "fay_tamperer" / ASSIGNMENT / "01_sequential.ipynb"), as_version=4)
    errors = [o.get("evalue", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert any("changed the course kit on disk" in e and "checks" in e for e in errors)
    # ... and the real kit was not touched.
    assert "def __getattr__(name):\n    return lambda" not in (ROOT / "autograder").joinpath(
        *(("checks", "__init__.py") if (ROOT / "autograder" / "checks").is_dir() else ("checks.py",))).read_text()


def test_autograde_reports_edited_test_cells_and_no_untouched_one(stock):
    """nbgrader alone reports every untouched test cell with hidden tests as changed (nbgrader#1961)."""
    course, steps = stock
    reported = set(re.findall(r"Attribute 'checksum' for cell (\S+) has changed", steps["autograde"].stderr))

    def as_graded(cell):  # what a learner can change in a locked cell that nbgrader puts back
        return cell.source, cell.cell_type, cell.metadata.nbgrader.get("points")

    released = {c.metadata.nbgrader["grade_id"]: as_graded(c)
                for path in (course / "release" / ASSIGNMENT).glob("*.ipynb")
                for c in nbformat.read(str(path), as_version=4).cells if c.metadata.get("nbgrader", {}).get("locked")}
    edited = {c.metadata.nbgrader["grade_id"]
              for path in (course / "submitted").glob(f"*/{ASSIGNMENT}/*.ipynb")
              for c in nbformat.read(str(path), as_version=4).cells
              if c.metadata.get("nbgrader", {}).get("grade_id") in released
              and as_graded(c) != released[c.metadata.nbgrader["grade_id"]]}
    if "hal_messy" in STUDENTS:  # hal edits one test to `pass` and gives another 50 points
        assert {"test_async_overlap", "test_mixed_dag"} <= edited
    assert reported == edited, (sorted(reported), sorted(edited))


def test_deleted_and_edited_tests_are_restored_and_huge_output_is_cut(stock):
    course, _ = stock
    if "hal_messy" not in STUDENTS:
        pytest.skip("needs hal_messy")
    submitted = nbformat.read(str(course / "submitted" / "hal_messy" / ASSIGNMENT / "03_async.ipynb"), as_version=4)
    assert "test_async_join" not in {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in submitted.cells}
    graded = nbformat.read(str(course / "autograded" / "hal_messy" / ASSIGNMENT / "03_async.ipynb"), as_version=4)
    ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in graded.cells}
    assert "test_async_join" in ids  # put back (OverwriteCells.add_missing_cells)
    assert ids["test_async_overlap"].source.strip() != "pass"  # the edited test is the original again
    huge = nbformat.read(str(course / "autograded" / "hal_messy" / ASSIGNMENT / "04_mixed_phases.ipynb"), as_version=4)
    text = "".join(o.get("text", "") for c in huge.cells for o in c.get("outputs", []))
    assert "The grader cut this cell's output" in text and len(text) < 400_000
