"""Canvas and Moodle import files from grades.csv, a roster, and the submission times the late policy reads.

Fast: no notebook runs. grades.csv rows are written by report.csv_text from results, as a batch writes them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from nbgrader.plugins import BasePlugin
from traitlets.config import Config

from autograder.records import exports, late, report
from autograder.grading.result import NotebookResult
from autograder.records.parts import parts
from autograder.paths import ASSIGNMENT, RELEASE, ROOT, SOURCE


def _results() -> list[NotebookResult]:
    rows = [("ann", "00_tour", 0, 0), ("ann", "01_sequential", 6, 6), ("ann", "03_async", 7.5, 8),
            ("bob", "00_tour", 0, 0), ("bob", "01_sequential", 2, 6), ("bob", "03_async", 0, 8),
            ("zed", "01_sequential", 1, 6), ("zed", "03_async", 0, 8)]
    return [NotebookResult(student_id=s, notebook=n, score=score, max_score=m, status="graded")
            for s, n, score, m in rows]


@pytest.fixture
def grades(tmp_path) -> Path:
    path = tmp_path / "grades.csv"
    path.write_text(report.csv_text(_results(), ASSIGNMENT, parts(SOURCE / ASSIGNMENT)))
    return path


@pytest.fixture
def roster(tmp_path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text("student_id,name,canvas_id,sis_user_id,sis_login_id,section,email,username,idnumber\n"
                    "ann,\"Lovelace, Ann\",101,S-1,alovelace,Sec A,ann@uni.example,alovelace,ID1\n"
                    "bob,\"Bobson, Bob\",102,S-2,bbobson,Sec B,bob@uni.example,bbobson,ID2\n")
    return path


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_canvas_file_has_canvas_identity_columns_points_possible_and_one_total_per_student(grades, roster, tmp_path):
    out = tmp_path / "canvas.csv"
    notes = exports.write("canvas", grades, out, ASSIGNMENT, roster)
    rows = _rows(out.read_text())
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert rows[1] == ["Points Possible", "", "", "", "", "14"]
    assert rows[2] == ["Lovelace, Ann", "101", "S-1", "alovelace", "Sec A", "13.5"]
    assert rows[3] == ["Bobson, Bob", "102", "S-2", "bbobson", "Sec B", "2"]
    assert rows[4] == ["zed", "", "", "zed", "", "1"]  # not in the roster: the course id as login
    assert any("zed" in n and "not in the roster" in n for n in notes)


def test_moodle_file_has_identity_columns_the_total_and_one_column_per_exercise(grades, roster, tmp_path):
    out = tmp_path / "moodle.csv"
    exports.write("moodle", grades, out, ASSIGNMENT, roster)
    rows = _rows(out.read_text())
    assert rows[0] == ["Full name", "Email address", "Username", "ID number", ASSIGNMENT,
                       f"{ASSIGNMENT}: 01_sequential", f"{ASSIGNMENT}: 03_async"]  # 00_tour has no points
    assert rows[1] == ["Lovelace, Ann", "ann@uni.example", "alovelace", "ID1", "13.5", "6", "7.5"]
    assert rows[3] == ["zed", "", "zed", "", "1", "1", "0"]


def test_without_a_roster_the_course_ids_are_the_logins_and_the_export_says_so(grades, tmp_path):
    out = tmp_path / "canvas.csv"
    notes = exports.write("canvas", grades, out, ASSIGNMENT, None)
    assert [r[3] for r in _rows(out.read_text())[2:]] == ["ann", "bob", "zed"]
    assert any("no --roster" in n for n in notes)


@pytest.mark.parametrize("text, problem", [
    ("name,email\nAnn,a@x\n", "needs a header row with a 'student_id' column"),
    ("student_id,email\nann,a@x\nann,b@x\n", "lists student 'ann' twice"),
    ("student_id,email\n,a@x\n", "has no student_id"),
])
def test_a_bad_roster_is_refused_with_what_to_fix(grades, tmp_path, text, problem):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(exports.ExportError, match=problem):
        exports.write("canvas", grades, tmp_path / "canvas.csv", ASSIGNMENT, path)
    assert not (tmp_path / "canvas.csv").exists()


def test_export_command_writes_from_an_existing_grades_csv(grades, roster):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run([sys.executable, "-m", "autograder", "export", "moodle", "--out", str(grades.parent),
                           "--roster", str(roster)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (grades.parent / "moodle.csv").read_text().startswith("Full name,Email address,Username")


def test_a_new_grades_csv_rewrites_every_export_the_folder_holds_with_its_own_roster(grades, roster):
    """A --student regrade asked for canvas only: the moodle.csv an earlier run wrote must not keep old scores."""
    out = grades.parent
    exports.refresh(out, ["moodle"], ASSIGNMENT, roster)
    bob = [NotebookResult(student_id="bob", notebook="03_async", score=8, max_score=8, status="graded")]
    results = [r for r in _results() if (r.student_id, r.notebook) != ("bob", "03_async")] + bob
    grades.write_text(report.csv_text(results, ASSIGNMENT, parts(SOURCE / ASSIGNMENT)))

    written = exports.refresh(out, ["canvas"], ASSIGNMENT, None)

    assert [(fmt, path.name) for fmt, path, _ in written] == [("canvas", "canvas.csv"), ("moodle", "moodle.csv")]
    assert "rewritten from the new grades.csv" in written[1][2][0]
    moodle = {row[0]: row for row in _rows((out / "moodle.csv").read_text())}
    assert moodle["Bobson, Bob"][4] == "10", "moodle.csv still holds bob's old total (2 + 0)"
    assert moodle["Bobson, Bob"][2] == "bbobson", "the rewrite dropped the roster moodle.csv was written with"
    canvas = {row[0]: row for row in _rows((out / "canvas.csv").read_text())}
    assert "bob" in canvas and canvas["bob"][3] == "bob"  # no roster asked for canvas: the id is the login


def test_parts_are_numbered_by_exercise_and_test_cell_order_from_the_release_metadata():
    found = parts(RELEASE / ASSIGNMENT)
    assert [p.label for p in found if p.notebook == "01_sequential"] == ["1.1", "1.2", "1.3", "1.4"]
    assert sum(p.points for p in found) == 28
    assert found == parts(SOURCE / ASSIGNMENT)  # same ids and points in release and source


# --- submission times and the late policy ---------------------------------------------------

def test_submission_time_prefers_nbgrader_timestamp_then_zip_then_file_times(tmp_path):
    folder = tmp_path / "ann" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "01_sequential.ipynb").write_text("{}")
    os.utime(folder / "01_sequential.ipynb", (1_700_000_000, 1_700_000_000))
    assert late.submission_time(tmp_path / "ann") == late.Handed(dt.datetime(2023, 11, 14, 22, 13, 20), "file times")
    (folder / "timestamp.txt").write_text("2026-11-03 12:00:00.000000 UTC")
    assert late.submission_time(tmp_path / "ann") == late.Handed(dt.datetime(2026, 11, 3, 12), "timestamp.txt")
    archive = tmp_path / "bob.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("crew_processes/01_sequential.ipynb", (2026, 11, 2, 9, 30, 0)), "{}")
        zf.writestr(zipfile.ZipInfo("crew_processes/03_async.ipynb", (2026, 11, 2, 10, 0, 0)), "{}")
    assert late.submission_time(archive) == late.Handed(dt.datetime(2026, 11, 2, 10), "zip")


def _policy(due: str | None, method: str = "zero") -> late.LatePolicy:
    c = Config()
    if due:
        c.DueDates.assignments = {ASSIGNMENT: due}
    c.LateSubmissionPlugin.penalty_method = method
    return late.LatePolicy.from_config(c, ASSIGNMENT)


def test_late_policy_has_nbgrader_semantics():
    zero = _policy("2026-11-01 12:00:00 UTC")
    assert zero.seconds_late(dt.datetime(2026, 11, 1, 11)) == 0
    assert zero.seconds_late(dt.datetime(2026, 11, 1, 13)) == 3600
    assert zero.penalty("ann", 6, 3600) == 6 and zero.penalty("ann", 6, 0) == 0
    assert _policy("2026-11-01 12:00:00 UTC", "none").penalty("ann", 6, 3600) == 0
    assert _policy(None).seconds_late(dt.datetime(2030, 1, 1)) == 0  # no due date: never late
    # A time zone in the due date counts: 14:00 +02:00 is 12:00 UTC (nbgrader's parse_utc drops this offset).
    assert _policy("2026-11-01 14:00:00 +02:00").seconds_late(dt.datetime(2026, 11, 1, 13)) == 3600
    assert _policy("2026-11-01T14:00:00+02:00").seconds_late(dt.datetime(2026, 11, 1, 13)) == 3600
    with pytest.raises(ValueError, match="unknown time zone"):
        _policy("2026-11-01 14:00:00 Mars/Olympus")


class HalfOff(BasePlugin):
    """A custom plugin, as nbgrader's AssignLatePenalties.plugin_class allows (out of range on purpose)."""

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return score * 0.5 if total_seconds_late < 86400 else score + 10  # > score: clamped like nbgrader


def test_a_custom_late_plugin_is_used_and_clamped_as_nbgrader_clamps_it():
    c = Config()
    c.DueDates.assignments = {ASSIGNMENT: "2026-11-01 12:00:00 UTC"}
    c.AssignLatePenalties.plugin_class = HalfOff
    policy = late.LatePolicy.from_config(c, ASSIGNMENT)
    assert policy.penalty("ann", 6, 3600) == 3
    assert policy.penalty("ann", 6, 2 * 86400) == 6


def test_late_results_lose_the_penalty_and_say_so():
    results = _results()[:3]
    for r in results:
        r.feedback_html = ('<html><body><div class="autograder-status" style=""><strong>x: Graded: '
                           f'{r.score:g} / {r.max_score:g} points.</strong><p>ok</p></div></body></html>')
    handed = {"ann": late.Handed(dt.datetime(2026, 11, 2, 12, 30), "timestamp.txt")}
    late.apply(results, handed, _policy("2026-11-01 12:00:00 UTC"))
    seq = results[1]
    assert (seq.score, seq.late_penalty, seq.seconds_late) == (0, 6, 86400 + 1800)
    assert seq.submitted_at == "2026-11-02 12:30:00"
    assert "1 d 30 min" in seq.reason and "late penalty 6 point(s)" in seq.reason
    assert "0 / 6 points" in seq.feedback_html and "autograder-late" in seq.feedback_html
    line = report.csv_text(results, ASSIGNMENT).splitlines()[2]
    assert line.startswith("ann,crew_processes,01_sequential,0,6,graded,") and ",2026-11-02 12:30:00,88200,6" in line


def test_a_bad_due_date_is_refused_before_any_grading(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text()
                                                + '\nc.DueDates.assignments = {"crew_processes": "2026-13-45 25:00"}\n')
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course-dir", str(course),
                           "--out", str(tmp_path / "out")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert "nbgrader_config.py could not be read" in done.stderr and "month must be in 1..12" in done.stderr
    assert not (tmp_path / "out").exists()


def test_how_late_a_hand_in_was_says_late_even_under_a_second():
    # The hub test's hand-in 0.6 s after a due date read "Handed in 0 s after the due date".
    assert [late.describe_late(s) for s in (0.6, 1.0, 59.9, 60, 3 * 3600 + 120, 2 * 86400 + 7200)] == [
        "less than a second", "1 s", "59 s", "1 min", "3 h 2 min", "2 d 2 h"]
