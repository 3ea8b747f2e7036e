"""Fast checks of the autograder's parts: csv and summary, feedback sanitizing, tamper detection,
leftover processes, the release's static checks. No kernel runs here."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.grading import feedback_pages, kit, procs, tamper
from autograder.grading import notebook as grading
from autograder.release import check as release_check
from autograder.records import report
from autograder.grading.result import NotebookResult

from tests.helpers import autograder_synth as synth


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


# --- feedback pages ---------------------------------------------------------------------------

def _graded_cell(source, outputs, grade=True):
    cell = nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": grade, "solution": False, "locked": True, "grade_id": "t", "points": 1, "schema_version": 3}})
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def test_a_test_cells_error_shows_the_message_not_the_failing_line():
    tb = ["\x1b[0;31m---------\x1b[0m", "Cell In[4], line 3", "----> 3 assert double(21) == 42, 'works for 21'",
          "File /work/main/build/x/.kit/course/recording.py:12", "AssertionError: works for 21"]
    cell = _graded_cell("assert double(2) == 4", [{"output_type": "error", "ename": "AssertionError",
                                                   "evalue": "works for 21", "traceback": tb}])
    step = feedback_pages.SanitizeOutputs(roots=[["/work/main/build/x/.kit", ""]])
    cell, _ = step.preprocess_cell(cell, {}, 0)
    assert cell.outputs[0].traceback == ["AssertionError: works for 21"]
    bare = _graded_cell("x", [{"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": tb}])
    bare, _ = step.preprocess_cell(bare, {}, 0)
    assert "double(21)" not in str(bare.outputs)
    assert "gives no message" in bare.outputs[0].evalue


def test_paths_of_the_grading_machine_are_shortened_everywhere():
    roots = feedback_pages.path_roots(extra=[("/srv/grading/run-1/ann/00", "")])
    text = ("File /srv/grading/run-1/ann/00/.kit/course/recording.py, line 3 and "
            f"{sys.prefix}/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages/crewai/crew.py and {Path.home()}/notes")
    short = feedback_pages.shorten_paths(text, roots)
    assert "/srv/grading" not in short and sys.prefix not in short and str(Path.home()) not in short
    assert ".kit/course/recording.py" in short and "site-packages/crewai/crew.py" in short
    learner_cell = nbformat.v4.new_code_cell("print(os.getcwd())")
    learner_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="/srv/grading/run-1/ann/00/x\n")]
    step = feedback_pages.SanitizeOutputs(roots=[list(r) for r in roots])
    learner_cell, _ = step.preprocess_cell(learner_cell, {}, 0)
    assert learner_cell.outputs[0].text == "x\n"


def test_the_status_is_on_top_of_every_page():
    result = _result("ann", "01_greet", 1, 3, "failed", "Grading stopped at cell 'x' <script>")
    page = feedback_pages.finish("<html><body><p>nbgrader</p></body></html>", result, [])
    assert page.index("Could not be fully graded") < page.index("nbgrader")
    assert "&lt;script&gt;" in page and "<script>" not in page
    alone = feedback_pages.finish(None, result, [])
    assert "1 / 3 points" in alone and alone.startswith("<!DOCTYPE html>")


def test_leak_finder_sees_hidden_lines_and_paths():
    page = "<pre>assert greet(&#x27;zz&#x27;) == &#x27;hi zz&#x27;</pre> at /srv/grading/x"
    found = feedback_pages.leaks(page, ["assert greet('zz') == 'hi zz'"], ["/srv/grading"])
    assert len(found) == 2


# --- tampering and leftovers -------------------------------------------------------------------

def test_locked_cells_deleted_edited_or_repointed_are_reported():
    nb = synth.source_notebooks()["00_double"]
    locked = {"test_double": {"source": nb.cells[3].source, "points": 2}, "setup": {"source": "import os", "points": None}}
    student = synth.student_notebook(nb, drop=("setup",), edit={"test_double": "pass"}, points={"test_double": 50})
    notes = tamper.tampered_locked_cells(student, locked)
    assert any("'setup' was deleted" in n for n in notes)
    assert any("'test_double' was edited" in n for n in notes)
    assert any("points of 'test_double'" in n for n in notes)
    assert tamper.tampered_locked_cells(nb, locked) == []


def test_kit_manifest_sees_any_change(tmp_path):
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "a.py").write_text("x = 1")
    (tmp_path / "course" / "__pycache__").mkdir()
    (tmp_path / "course" / "__pycache__" / "a.pyc").write_bytes(b"ignored")
    before = kit.manifest(tmp_path)
    assert list(before) == ["course/a.py"]
    (tmp_path / "course" / "a.py").write_text("x = 2")
    (tmp_path / "course" / "b.py").write_text("")
    assert kit.differences(before, kit.manifest(tmp_path)) == ["course/a.py was changed", "course/b.py was added"]
    files = kit.load(tmp_path)  # a snapshot's files, with the bytecode the snapshot wrote
    assert "course/__pycache__/a.pyc" in files
    kit.write(files, tmp_path / "copy")
    assert kit.manifest(tmp_path / "copy", bytecode=True) == kit.manifest_of(files) == kit.manifest(tmp_path, bytecode=True)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")
def test_a_process_left_behind_is_found_and_killed():
    assert procs.become_subreaper()
    before = procs.descendants()
    # A grandchild in its own session, its parent gone: what `nohup ... &` from a kernel leaves.
    subprocess.run([sys.executable, "-c",
                    "import subprocess; subprocess.Popen(['sleep', '300'], start_new_session=True)"], check=True)
    time.sleep(0.2)
    killed = procs.kill_new_descendants(before)
    assert any("sleep 300" in k for k in killed)
    assert not (procs.descendants() - before)


# --- release: static checks ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from autograder.batch import template as course_template

    root = tmp_path_factory.mktemp("course")
    source = synth.write_source(root)
    template = course_template.build_template(source, root / "template")
    return source / "crew_processes", template / "release" / "crew_processes"


def test_a_clean_release_has_no_static_problem(generated):
    source_dir, release_dir = generated
    assert release_check.static_problems(source_dir, release_dir) == []


def _broken_copy(release_dir: Path, tmp_path: Path, name: str, change) -> Path:
    dest = tmp_path / "release"
    dest.mkdir(exist_ok=True)
    for path in release_dir.glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        if path.stem == name:
            change(nb)
        nbformat.write(nb, str(dest / path.name))
    return dest


@pytest.mark.parametrize("change, words", [
    (lambda nb: setattr(nb.cells[2], "source", "def double(x):\n    return 2 * x"), "solution code"),
    (lambda nb: setattr(nb.cells[3], "source", nb.cells[3].source + "\n" + synth.HIDDEN_LINE), "hidden test"),
    (lambda nb: setattr(nb.cells[4], "source", "### BEGIN SOLUTION\n1"), "marker"),
    (lambda nb: nb.cells[4].outputs.append(nbformat.v4.new_output("stream", text="2")), "saved outputs"),
])
def test_each_release_mistake_is_named(generated, tmp_path, change, words):
    source_dir, release_dir = generated
    broken = _broken_copy(release_dir, tmp_path, "00_double", change)
    problems = release_check.static_problems(source_dir, broken)
    assert problems and all(p.startswith("00_double") for p in problems), problems
    assert any(words in p for p in problems), problems


def test_missing_and_extra_release_notebooks_are_named(generated, tmp_path):
    source_dir, release_dir = generated
    broken = _broken_copy(release_dir, tmp_path, "none", lambda nb: None)
    (broken / "01_greet.ipynb").rename(broken / "99_old.ipynb")
    problems = release_check.static_problems(source_dir, broken)
    assert any("01_greet: in source/ but not in release/" in p for p in problems)
    assert any("99_old: in release/ but not in source/" in p for p in problems)


def test_a_reused_gradebook_engine_reads_the_file_that_is_there_now(tmp_path, monkeypatch):
    """The grading process keeps nbgrader's SQLAlchemy engine per gradebook URL (grading._reuse_engines)
    while each notebook replaces the file under that URL: the next notebook must never see the last one's."""
    import nbgrader.api
    from nbgrader.api import Gradebook

    from autograder.grading import notebook as grading
    from autograder.paths import with_venv_on_path

    monkeypatch.setenv("PATH", with_venv_on_path()["PATH"])  # a new gradebook asks the alembic command
    original = nbgrader.api.create_engine
    try:
        grading._reuse_engines()
        url = f"sqlite:///{tmp_path / 'gradebook.db'}"
        for student in ("first_student", "second_student"):
            (tmp_path / "gradebook.db").unlink(missing_ok=True)
            with Gradebook(url, "crew-processes") as gb:
                gb.add_student(student)
                engine = gb.engine
                assert [s.id for s in gb.students] == [student]
        assert nbgrader.api.create_engine(url, echo=False, future=True) is engine  # one engine, kept
    finally:
        nbgrader.api.create_engine = original


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


def test_a_grader_failure_never_replaces_an_earlier_result_in_out_or_the_gradebook(tmp_path, monkeypatch):
    from tests.helpers import autograder_synth as synth
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


def test_warm_ups_take_turns_one_per_core_and_leave_no_file(tmp_path, monkeypatch):
    """Issue 23.6: six workers warming at once on two cores all waited ~19 s; turns keep it to one per core."""
    import threading

    from autograder.batch import cluster

    monkeypatch.setattr(cluster.os, "sched_getaffinity", lambda pid: {0, 1})
    run = tmp_path / "run"
    inside, most, lock = [0], [0], threading.Lock()
    gate = threading.Barrier(5)

    def warm():
        gate.wait()
        with cluster.warm_slot(run):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            threading.Event().wait(0.2)  # hold the turn while the others try (not a timing assertion)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=warm) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most[0] == 2  # both turns used, never a third at once
    cluster._leave_run_folder(run)
    assert not run.exists()


def test_the_local_cluster_is_no_bigger_than_the_notebooks_to_grade(tmp_path):
    from autograder.batch.run import BatchOptions, _Batch

    klass = tmp_path / "class"
    (klass / "only_student").mkdir(parents=True)
    batch = _Batch(klass, tmp_path / "out", BatchOptions(workers=6))
    notebooks = len(list((batch.o.source_root / batch.o.assignment).glob("*.ipynb")))
    assert 1 <= notebooks < 6
    assert batch._cluster_size() == notebooks
    assert _Batch(klass, tmp_path / "out", BatchOptions(workers=6, students=["a", "b"]))._cluster_size() == 6
