"""autograder/grading/feedback_pages.py: what a feedback page shows (a test cell's message, not its failing
line; no path of the grading machine; the status on top) and the leak finder. No kernel runs here."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from autograder.grading import feedback_pages
from autograder.grading.result import NotebookResult


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
    result = NotebookResult(student_id="ann", notebook="01_greet", score=1, max_score=3, status="failed",
                            reason="Grading stopped at cell 'x' <script>")
    page = feedback_pages.finish("<html><body><p>nbgrader</p></body></html>", result, [])
    assert page.index("Could not be fully graded") < page.index("nbgrader")
    assert "&lt;script&gt;" in page and "<script>" not in page
    alone = feedback_pages.finish(None, result, [])
    assert "1 / 3 points" in alone and alone.startswith("<!DOCTYPE html>")


def test_leak_finder_sees_hidden_lines_and_paths():
    page = "<pre>assert greet(&#x27;zz&#x27;) == &#x27;hi zz&#x27;</pre> at /srv/grading/x"
    found = feedback_pages.leaks(page, ["assert greet('zz') == 'hi zz'"], ["/srv/grading"])
    assert len(found) == 2
