"""After ``grade``, nbgrader's own tools see every result: export, formgrader files, release_feedback.

One small class is graded twice through the real batch (2 students, 2 of 5
notebooks each handed in): first whole, then ``--student ann`` after ann hands
in a better notebook. In between, the instructor overrides one score in the
gradebook (what the formgrader does). The course directory has a due date and
the "zero" late policy; dev hands in late through nbgrader's timestamp.txt.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import nbgrader_setup
from autograder.batch import run as batch
from autograder.records import gradebook, report
from autograder.paths import ASSIGNMENT, ROOT, SAMPLE_CLASS

from tests.helpers import nbgrader_cli

nbgrader = functools.partial(nbgrader_cli.nbgrader, timeout=600)

pytestmark = pytest.mark.slow

DUE = "2026-11-01 12:00:00 UTC"


def _copy(student: str, notebook: str, dest: Path) -> None:
    src = next((SAMPLE_CLASS / student).rglob(f"{notebook}.ipynb"))
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest / f"{notebook}.ipynb")


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("gradebook")
    course = base / "course"
    course.mkdir()
    config = (ROOT / "nbgrader_config.py").read_text()
    config += (f'\nc.DueDates.assignments = {{"{ASSIGNMENT}": "{DUE}"}}\n'
               'c.LateSubmissionPlugin.penalty_method = "zero"\n')
    (course / "nbgrader_config.py").write_text(config)
    klass = base / "class"
    # ann: 01 untouched (0 of 6) at first, 03 right; on time.
    _copy("ben_untouched", "01_sequential", klass / "ann" / ASSIGNMENT)
    _copy("ada_perfect", "03_async", klass / "ann" / ASSIGNMENT)
    (klass / "ann" / ASSIGNMENT / "timestamp.txt").write_text("2026-11-01 11:00:00.000000 UTC")
    (klass / "ann" / ASSIGNMENT / "submission_secret.txt").write_text("ann-secret")
    # dev: the classic mistakes, two days late.
    _copy("dev_wrong_ideas", "01_sequential", klass / "dev" / ASSIGNMENT)
    _copy("dev_wrong_ideas", "03_async", klass / "dev" / ASSIGNMENT)
    (klass / "dev" / ASSIGNMENT / "timestamp.txt").write_text("2026-11-03 12:00:00.000000 UTC")
    (klass / "dev" / ASSIGNMENT / "submission_secret.txt").write_text("dev-secret")

    db_url = gradebook.default_url(course)
    cfg = nbgrader_setup.load_course_config(course)
    out = base / "out"

    def grade(students=None):
        return batch.grade_submissions(klass, out, 2, cell_timeout=30, work_root=base / "work",
                                       progress_stream=open(os.devnull, "w"), course_config=cfg,
                                       gradebook_url=db_url, course_dir=course, students=students)

    first = grade()
    state = {"csv": (out / "grades.csv").read_text(), "dev_files": {
        f: _digest(out / f / "dev") for f in ("feedback", "autograded", "logs")}}
    # The instructor overrides dev's 01 test_seq_crew in the formgrader (a manual score).
    from nbgrader.api import Gradebook

    with Gradebook(db_url, "crew-processes") as gb:
        grade_row = gb.find_grade("test_seq_crew", "01_sequential", ASSIGNMENT, "dev")
        override = (grade_row.auto_score, 0.0 if grade_row.auto_score else grade_row.max_score)
        grade_row.manual_score = override[1]
        gb.db.commit()
    export_before = nbgrader(course, "export", "--to", str(base / "export-1.csv"))
    # ann hands in a better 01_sequential; only ann is regraded, through the command line this time
    # (default gradebook of --course-dir, its due date and policy, and a Canvas file).
    _copy("ada_perfect", "01_sequential", klass / "ann" / ASSIGNMENT)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    second = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(klass), "--out", str(out), "--course-dir", str(course),
         "--student", "ann", "--workers", "1", "--timeout", "30", "--export", "canvas"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    export_after = nbgrader(course, "export", "--to", str(base / "export-2.csv"))
    return dict(base=base, course=course, out=out, db_url=db_url, first=first, second=second, state=state,
                exports=(export_before, export_after), override=override)


def _export_rows(path: Path) -> dict[str, dict]:
    with open(path, newline="") as handle:
        return {r["student_id"]: r for r in csv.DictReader(handle)}


def test_nbgrader_export_after_grade_matches_grades_csv(graded):
    export_before, export_after = graded["exports"]
    assert export_before.returncode == 0, export_before.stderr[-2000:]
    assert export_after.returncode == 0, export_after.stderr[-2000:]
    rows = report.read_csv(graded["out"] / "grades.csv")
    exported = _export_rows(graded["base"] / "export-2.csv")
    assert set(exported) == {"ann", "dev"}
    for student, row in exported.items():
        mine = [r for r in rows if r["student_id"] == student]
        assert float(row["max_score"]) == sum(float(r["max_score"]) for r in mine) == 28
        penalty = sum(float(r["late_penalty"]) for r in mine)
        assert float(row["late_submission_penalty"]) == pytest.approx(penalty)
        if student == "ann":  # no manual score: nbgrader's score is grade's score
            assert float(row["score"]) == sum(float(r["score"]) for r in mine) == 14  # 6 + 8, regraded
    # dev: the instructor's override of one cell changes nbgrader's raw score by exactly that much; the
    # late penalty grade recorded stays (nbgrader recomputes it only when it autogrades again).
    dev = exported["dev"]
    mine = [r for r in rows if r["student_id"] == "dev"]
    raw = sum(float(r["score"]) + float(r["late_penalty"]) for r in mine)
    auto, manual = graded["override"]
    assert raw == 5  # 01: 4, 03: 1 (expected.csv)
    assert float(dev["raw_score"]) == raw - auto + manual
    assert float(dev["score"]) == max(0.0, float(dev["raw_score"]) - float(dev["late_submission_penalty"]))


def test_regrading_updates_and_never_duplicates(graded):
    from nbgrader.api import Gradebook, SubmittedAssignment, SubmittedNotebook, Grade

    with Gradebook(graded["db_url"], "crew-processes") as gb:
        assert gb.db.query(SubmittedAssignment).count() == 2
        assert gb.db.query(SubmittedNotebook).count() == 2 * 5
        names = [(g.notebook.assignment.student.id, g.notebook.name, g.name) for g in gb.db.query(Grade)]
        assert len(names) == len(set(names))
        ann_01 = gb.find_submission_notebook("01_sequential", ASSIGNMENT, "ann")
        assert ann_01.score == 6  # the new hand-in, not the first one
        kept = gb.find_grade("test_seq_crew", "01_sequential", ASSIGNMENT, "dev")
        assert kept.manual_score == graded["override"][1]  # dev was not regraded: the override stands


def test_a_regrade_leaves_every_other_student_byte_identical(graded):
    before = graded["state"]["csv"].splitlines(keepends=True)
    after = (graded["out"] / "grades.csv").read_text().splitlines(keepends=True)
    assert before[0] == after[0]
    assert [line for line in before if line.startswith("dev,")] == [line for line in after if line.startswith("dev,")]
    assert [line for line in before if line.startswith("ann,")] != [line for line in after if line.startswith("ann,")]
    for folder, digest in graded["state"]["dev_files"].items():
        assert _digest(graded["out"] / folder / "dev") == digest, folder
    assert "ann" in (graded["out"] / "summary.txt").read_text() and "dev" in (graded["out"] / "summary.txt").read_text()


def test_a_manual_override_survives_a_regrade_of_that_student(graded):
    from nbgrader.api import Gradebook

    with Gradebook(graded["db_url"], "crew-processes") as gb:
        gb.find_grade("test_seq_crew", "01_sequential", ASSIGNMENT, "ann").manual_score = 0.5
        gb.db.commit()
    results = [r for r in graded["first"].results if r.student_id == "ann"]
    for r in results:  # what the regrade gave ann's 01_sequential
        if r.notebook == "01_sequential":
            r.cells = {name: [pair[1], pair[1]] for name, pair in r.cells.items()}
    gradebook.record(graded["db_url"], _template(graded), ASSIGNMENT, results, {})
    with Gradebook(graded["db_url"], "crew-processes") as gb:
        row = gb.find_grade("test_seq_crew", "01_sequential", ASSIGNMENT, "ann")
        assert row.manual_score == 0.5 and row.auto_score == 1 and row.needs_manual_grade


def test_recording_a_new_student_says_no_sqlalchemy_warning_and_writes_every_row(graded):
    """nbgrader's add_submission made SQLAlchemy warn three times per new student, in grade's output."""
    import dataclasses
    import warnings

    from nbgrader.api import Gradebook

    results = [dataclasses.replace(r, student_id="zoe") for r in graded["first"].results if r.student_id == "ann"]
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        gradebook.record(graded["db_url"], _template(graded), ASSIGNMENT, results, {})
    assert [str(w.message)[:80] for w in said if w.category.__name__ == "SAWarning"] == []
    with Gradebook(graded["db_url"], "crew-processes") as gb:
        zoe = {nb.name: nb.score for nb in gb.find_submission(ASSIGNMENT, "zoe").notebooks}
        for r in results:  # every notebook, grade and score row was written
            assert zoe[r.notebook] == sum(float(auto) for auto, _ in (r.cells or {}).values()), r.notebook
        assert sum(zoe.values()) > 0
        gb.remove_student("zoe")  # the other tests count the class


def _template(graded) -> Path:
    """A template course like the batch's (the batch removes its own)."""
    from autograder.batch import template as course_template

    path = graded["base"] / "template"
    if not (path / "gradebook.db").exists():
        course_template.build_template(ROOT / "source", path, ASSIGNMENT)
    return path


def test_late_hand_ins_follow_the_configured_policy_in_grades_csv_and_feedback(graded):
    rows = {(r["student_id"], r["notebook"]): r for r in report.read_csv(graded["out"] / "grades.csv")}
    dev = rows[("dev", "01_sequential")]
    assert dev["submitted_at"] == "2026-11-03 12:00:00" and float(dev["seconds_late"]) == 2 * 24 * 3600
    assert float(dev["late_penalty"]) == 4 and float(dev["score"]) == 0  # "zero": the whole raw score
    assert "after the due date" in dev["reason"]
    ann = rows[("ann", "03_async")]
    assert float(ann["seconds_late"]) == 0 and float(ann["late_penalty"]) == 0 and float(ann["score"]) == 8
    page = (graded["out"] / "feedback" / "dev" / ASSIGNMENT / "01_sequential.html").read_text()
    assert "late penalty 4 point(s)" in page and "0 / 6 points" in page


def test_per_part_columns_come_from_the_notebooks_metadata(graded):
    rows = {(r["student_id"], r["notebook"]): r for r in report.read_csv(graded["out"] / "grades.csv")}
    ann = rows[("ann", "03_async")]
    assert ann["3.1 test_async_shape"] == "1" and ann["3.5 test_async_timing"] == "2"
    assert ann["1.1 test_seq_crew"] == ""  # another notebook's part
    header = (graded["out"] / "grades.csv").read_text().splitlines()[0].split(",")
    parts = [h for h in header if h[:1].isdigit()]
    assert parts[0] == "1.1 test_seq_crew" and parts[-1].startswith("4.4 ")
    for (student, notebook), row in rows.items():
        mine = [h for h in parts if h.startswith(notebook[1] + ".")]
        if mine and row["status"] == "graded":
            raw = float(row["score"]) + float(row["late_penalty"])
            assert sum(float(row[h]) for h in mine) == raw, (student, notebook)


def test_formgrader_and_release_feedback_find_the_results_in_the_course_directory(graded):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    course = graded["course"]
    for student in ("ann", "dev"):
        assert (course / "autograded" / student / ASSIGNMENT / "03_async.ipynb").is_file()
        assert (course / "feedback" / student / ASSIGNMENT / "03_async.html").is_file()
    # What the formgrader lists: submitted, and autograded at the submission's time.
    config = nbgrader_setup.load_course_config(course)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    assert api.get_submitted_students(ASSIGNMENT) == {"ann", "dev"}
    assert api.get_autograded_students(ASSIGNMENT) == {"ann", "dev"}
    dev = next(s for s in api.get_submissions(ASSIGNMENT) if s["student"] == "dev")
    assert dev["autograded"] and dev["max_score"] == 28
    exchange = graded["base"] / "exchange"
    exchange.mkdir(exist_ok=True)
    done = nbgrader(course, "release_feedback", ASSIGNMENT, f"--Exchange.root={exchange}")
    assert done.returncode == 0, done.stderr[-2000:]
    released = list((exchange / "crew-processes" / "feedback").glob("*.html"))
    assert len(released) == 2 * 5  # every page of both students, under nbgrader's hashed names


def test_the_regrade_command_wrote_the_canvas_file_from_the_merged_grades(graded):
    rows = list(csv.reader((graded["out"] / "canvas.csv").open()))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert {r[0]: r[5] for r in rows[2:]} == {"ann": "14", "dev": "0"}  # dev: late, "zero" policy
    assert "Gradebook:" in graded["second"].stdout
