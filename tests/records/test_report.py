"""autograder/records/report.py: grades.csv, the summary table, the progress lines, and the outputs that
replace the previous run's whole. No kernel runs here."""

from __future__ import annotations

import io

from autograder.grading.result import NotebookResult
from autograder.records import report


def _result(student, notebook, score, max_score, status="graded", reason=""):
    return NotebookResult(student_id=student, notebook=notebook, score=score, max_score=max_score,
                          status=status, reason=reason)


# --- grades.csv, summary, progress -----------------------------------------------------------

def test_csv_has_the_promised_columns_one_row_per_student_and_notebook(tmp_path):
    results = [_result("bob", "01", 1, 3), _result("ann", "01", 3, 3),
               _result("ann", "00", 0, 2, "failed", "It was\nnot handed in, \"quoted\".")]
    text = report.csv_text(results, "crew_processes")
    lines = text.splitlines()
    assert lines[0] == ("student_id,assignment,notebook,score,max_score,status,reason,"
                        "submitted_at,seconds_late,late_penalty,source")  # then per-part columns, when given
    path = tmp_path / "g.csv"
    path.write_text(text)
    rows = report.read_csv(path)
    assert [(r["student_id"], r["notebook"]) for r in rows] == [("ann", "00"), ("ann", "01"), ("bob", "01")]
    assert rows[0] == {"student_id": "ann", "assignment": "crew_processes", "notebook": "00", "score": "0",
                       "max_score": "2", "status": "failed", "reason": 'It was not handed in, "quoted".',
                       "submitted_at": "", "seconds_late": "0", "late_penalty": "0", "source": ""}


def test_summary_table_gives_totals_and_failures_per_student():
    results = [_result("ann", "00", 2, 2), _result("ann", "01", 0, 3, "failed", "x"),
               _result("bob", "00", 2, 2), _result("bob", "01", 1.5, 3)]
    table = report.summary_table(results)
    ann = next(line for line in table.splitlines() if line.startswith("ann"))
    bob = next(line for line in table.splitlines() if line.startswith("bob"))
    assert "2 / 5" in ann and "1 (01)" in ann
    assert "3.5 / 5" in bob and bob.rstrip().endswith("0")
    assert "2 students, 4 notebooks: 3 graded, 1 failed" in table
    late = _result("cleo", "00", 0, 2)
    late.seconds_late, late.late_penalty = 3600, 1.5
    cleo = next(line for line in report.summary_table([late]).splitlines() if line.startswith("cleo"))
    assert "0 / 2" in cleo and cleo.rstrip().endswith("late, penalty 1.5")


def test_progress_prints_one_line_per_finished_student_when_not_a_terminal():
    stream = io.StringIO()
    progress = report.Progress({"ann": 2, "bob": 1}, stream)
    progress.update(_result("ann", "00", 2, 2))
    assert stream.getvalue() == ""
    progress.update(_result("ann", "01", 0, 3, "failed"))
    progress.update(_result("bob", "00", 1, 2))
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/2] ann: 2 / 5, 1 failed")
    assert lines[1].startswith("[2/2] bob: 1 / 2")

    stream = io.StringIO()
    report.Progress({"cleo": 1}, stream, late={"cleo"}).update(_result("cleo", "00", 2, 2))
    assert stream.getvalue().startswith("[1/1] cleo: 2 / 2 before the late penalty (")


def test_outputs_replace_the_previous_run_whole(tmp_path):
    out = tmp_path / "out"
    first = _result("ann", "00", 1, 2)
    first.feedback_html = "<html>first</html>"
    report.write_outputs(out, [first], "crew_processes", "summary 1")
    stale = out / "feedback" / "gone" / "crew_processes" / "00.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an older run")
    (out / "mine.txt").write_text("the instructor's own file")
    second = _result("bob", "00", 2, 2)
    second.feedback_html = "<html>second</html>"
    report.write_outputs(out, [second], "crew_processes", "summary 2")
    assert [r["student_id"] for r in report.read_csv(out / "grades.csv")] == ["bob"]
    assert not stale.exists()
    assert (out / "feedback" / "bob" / "crew_processes" / "00.html").read_text() == "<html>second</html>"
    assert (out / "mine.txt").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
