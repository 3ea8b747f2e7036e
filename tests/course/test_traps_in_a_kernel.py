"""A cell that raises a known trap shows one short message, in a real kernel.

The cells run the way JupyterLab and nbgrader run them (nbclient, ipykernel),
after ``import course``. A known trap's error output is the course's message and
nothing else (not CrewAI's 16,000-character chained traceback); unknown errors,
syntax errors and the checks' own CheckFailed keep the output IPython gives them.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

ANSI = re.compile(r"\x1b\[[0-9;]*m")

SETUP = """
import course
from course.traps import explain
from crewai import Agent, Task, Crew, Process
researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful")
crew = Crew(agents=[researcher], tasks=[Task(description="Research AI trends", expected_output="Notes",
                                            agent=researcher)])
"""

CELLS = {
    "setup": SETUP,
    "kickoff": "result = crew.kickoff()",
    "explained": "try:\n    crew.kickoff()\nexcept Exception as error:\n    explain(error)\n    raise",
    "missing-field": 'Task(description="Research AI", agent=researcher)',
    "unknown": "{}['missing key']",
    "own-mistake": "try:\n    crew.kickoff()\nexcept RuntimeError:\n    undefined_name",
    "syntax": "def broken(:\n    pass",
    "full-traceback": "result = crew.kickoff()",
    "tb-magic": "%tb",
    "still-works": "result = await crew.kickoff_async()\nprint(result.raw[:5])",
}


def _text(output) -> str:
    if output.output_type == "error":
        return ANSI.sub("", "\n".join(output.traceback))
    if output.output_type == "stream":
        return output.text
    return str(output.get("data", {}).get("text/plain", ""))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, id=name) for name, source in CELLS.items()]
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}}).execute()
    return {cell.id: cell.outputs for cell in nb.cells}


@pytest.mark.slow
def test_plain_kickoff_in_a_cell_is_one_short_message_naming_the_fix(outputs):
    cell = outputs["kickoff"]
    assert [o.output_type for o in cell] == ["error"], "one output, and it stops Run All"
    text = _text(cell[0])
    assert "await crew.kickoff_async()" in text
    assert "Traceback" not in text and "site-packages" not in text
    assert len(text) < 500, len(text)
    assert cell[0].ename == "RuntimeError"  # nbgrader and JupyterLab still see the real error


@pytest.mark.slow
def test_explained_then_reraised_says_the_advice_once(outputs):
    cell = outputs["explained"]
    texts = [_text(o) for o in cell]
    assert [o.output_type for o in cell] == ["display_data", "error"]
    assert "await crew.kickoff_async()" in texts[0] and "What to do" in texts[0]
    assert "kickoff_async" not in texts[1] and "What to do" not in texts[1]  # the error does not repeat it
    assert len(texts[1]) < 200


@pytest.mark.slow
def test_other_known_traps_are_short_too(outputs):
    text = _text(outputs["missing-field"][0])
    assert "expected_output=" in text and "Traceback" not in text and len(text) < 500


@pytest.mark.slow
def test_unknown_errors_and_the_learners_own_mistakes_keep_their_traceback(outputs):
    unknown = _text(outputs["unknown"][0])
    assert "Traceback" in unknown and "KeyError" in unknown and "What to do" not in unknown
    own = outputs["own-mistake"][0]
    assert own.ename == "NameError" and "undefined_name" in _text(own) and "What to do" not in _text(own)
    syntax = outputs["syntax"][0]
    assert syntax.ename == "SyntaxError" and "invalid syntax" in _text(syntax)


@pytest.mark.slow
def test_the_full_traceback_is_one_magic_away_and_the_kernel_still_works(outputs):
    full = "".join(_text(o) for o in outputs["tb-magic"])
    assert "Traceback" in full and "crewai" in full and "running event loop" in full
    assert [o.text.strip() for o in outputs["still-works"] if o.output_type == "stream"] == ["[ref:"]
