"""autograder/records/course_records.py: what a grader failure may and may not replace in --out and the
gradebook. No kernel runs here."""

from __future__ import annotations

from tests.helpers import autograder_synth as synth


def test_a_grader_failure_never_replaces_an_earlier_result_in_out_or_the_gradebook(tmp_path, monkeypatch):
    from autograder.records import course_records, gradebook, report
    from autograder.grading.result import NotebookResult, grader_failure

    synth.released(tmp_path)
    template, out = tmp_path / "template", tmp_path / "out"
    recorded: list[list[str]] = []
    monkeypatch.setattr(gradebook, "record", lambda url, t, a, results, *rest: recorded.append(
        sorted({r.student_id for r in results})))

    def write(results):
        return course_records.write(out, results, "crew_processes", "summary\n", template, students=None,
                                    gradebook_url="sqlite:///unused.db", course_dir=None, handed={}, intakes=[],
                                    submissions=tmp_path, course_config=None)

    def rows(student=None):
        return [r for r in report.read_csv(out / "grades.csv") if student in (None, r["student_id"])]

    graded = lambda s, n, score: NotebookResult(s, n, score, synth.MAX[n], "graded")
    lost = lambda s, n: grader_failure(s, n, synth.MAX[n], "the scheduler stopped answering")
    # A fresh out: the failed row is written (the student is not missing), and the summary says why.
    summary = write([graded("ann", "00_double", 1), lost("bob", "00_double")])
    assert [(r["student_id"], r["status"]) for r in rows()] == [("ann", "graded"), ("bob", "failed")]
    assert "INCOMPLETE" in summary and "(bob)" in summary and "INCOMPLETE" in (out / "summary.txt").read_text()
    write([graded(s, n, synth.MAX[n]) for s in ("ann", "bob") for n in synth.MAX])
    complete = rows("ann")
    assert recorded[-1] == ["ann", "bob"]
    # ann's run fails half-way: her earlier rows stay, bob's new (lower) ones replace his.
    summary = write([graded("ann", "00_double", 0), lost("ann", "01_greet")]
                    + [graded("bob", n, 0) for n in synth.MAX])
    assert rows("ann") == complete and {r["score"] for r in complete} != {"0"}
    assert {r["score"] for r in rows("bob")} == {"0"}
    assert recorded[-1] == ["bob"] and "kept as they were" in summary
    # Nobody graded: out (grades.csv and every file) and the gradebook are left exactly as they were.
    before = synth.folder_digest(out)
    write([lost(s, n) for s in ("ann", "bob") for n in synth.MAX])
    assert synth.folder_digest(out) == before and len(recorded) == 3
