"""autograder/cli.py: the demo says whether the sample class got its expected grades. No kernel runs here.

The autograder's own top-level modules (cli.py) have their tests at tests/ itself; its subpackages have
a folder each."""

from __future__ import annotations


def test_the_demo_says_whether_the_sample_class_got_its_expected_grades(tmp_path, capsys):
    from autograder import cli
    from autograder.paths import SAMPLE_CLASS

    expected = SAMPLE_CLASS / "expected.csv"
    lines = expected.read_text().splitlines()
    header = lines[0].split(",")
    graded = tmp_path / "grades.csv"
    # grades.csv has more columns, in another order: only student, notebook, score, max and status count.
    rows = [dict(zip(header, line.split(","))) for line in lines[1:]]
    columns = ["student_id", "assignment", "notebook", "score", "max_score", "status", "reason"]
    write = lambda rs: graded.write_text("\n".join([",".join(columns)] + [
        ",".join([r["student_id"], "crew_processes", r["notebook"], r["score"], r["max_score"], r["status"], ""])
        for r in rs]) + "\n")
    write(rows)
    assert cli._compare_with_expected(graded, expected) == 0
    assert f"all {len(rows)} results match" in capsys.readouterr().out
    rows[1] = {**rows[1], "score": "0", "status": "failed"}
    write(rows[:-1])
    assert cli._compare_with_expected(graded, expected) == 1
    said = capsys.readouterr().err
    assert f"2 of {len(rows)} results differ" in said
    assert f"{rows[1]['student_id']} {rows[1]['notebook']}: expected {lines[2].split(',')[2]}/" in said and "got 0/" in said
    assert "got no row" in said
