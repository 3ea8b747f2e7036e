"""nbgrader's own Validate (what the learner's Validate button runs) on the released notebooks.

Untouched, every exercise fails with the course's sentences, never a traceback or a
bare NameError; the course's headline mistake, plain ``crew.kickoff()`` in a
notebook cell, is named with its fix in Validate's report too.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.validator import Validator
from nbconvert.filters import strip_ansi
from traitlets.config import Config

from autograder.checks import messages

from tests.helpers import ROOT

RELEASE = ROOT / "release" / "crew_processes"
SOURCE = ROOT / "source" / "crew_processes"
EXERCISES = ["01_sequential", "02_hierarchical", "03_async", "04_mixed_phases"]


def _validate(path: Path) -> list[str]:
    """The error text of every failing test, as Validate's dialog shows them (its HTML as text)."""
    result = Validator(config=Config()).validate(str(path))
    assert set(result) <= {"failed", "passed", "changed"}, result
    return [strip_ansi(item.get("raw_error", "")) for item in result.get("failed", [])]


def _too_wide(errors: list[str]) -> list[str]:
    """Lines the dialog would not show whole (learner point 4 of issue 23)."""
    return [line for error in errors for line in error.splitlines() if len(line) > messages.LINE_WIDTH]


def _solution(cell_id: str, notebook: str) -> str:
    """The reference answer of one exercise cell, without nbgrader's markers."""
    source = {c.id: c.source for c in nbformat.read(SOURCE / f"{notebook}.ipynb", as_version=4).cells}[cell_id]
    return re.sub(r"^\s*### (BEGIN|END) SOLUTION\s*\n", "", source, flags=re.M)


def _copy_with(tmp_path: Path, notebook: str, answers: dict[str, str]) -> Path:
    for helper in RELEASE.iterdir():
        if helper.suffix != ".ipynb":
            (shutil.copytree if helper.is_dir() else shutil.copy)(helper, tmp_path / helper.name)
    nb = nbformat.read(RELEASE / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.id in answers:
            cell.source = answers[cell.id]
    path = tmp_path / f"{notebook}.ipynb"
    nbformat.write(nb, path)
    return path


def _plain(errors: list[str]) -> str:
    return json.dumps(errors)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", EXERCISES)
def test_validate_on_an_untouched_exercise_speaks_in_sentences(notebook):
    errors = _validate(RELEASE / f"{notebook}.ipynb")
    assert errors, f"{notebook}: an untouched exercise passed Validate"
    text = _plain(errors)
    assert "Traceback" not in text and not re.search(r"(?<!`)NameError", text), text
    for error in errors:
        assert error.startswith("CheckFailed: ") and "Hint: " in error, error
    assert any("Same problem as a test above" in e for e in errors[1:]) or len(errors) == 1  # said once
    assert not _too_wide(errors), _too_wide(errors)


@pytest.mark.slow
def test_validate_says_a_problem_once_in_03_as_in_01(tmp_path):
    """Learner point 4 of issue 23: in 03, the tests after the first that hit one problem repeated it whole.

    One researcher on all three async tasks: 3.2 says so, 3.3's run stops with CrewAI's error
    (said whole, with its fix), and 3.4, failing with the very same message, points at it."""
    import sys

    sys.path.insert(0, str(ROOT / "source"))
    from crew_answers import WRONG

    path = _copy_with(tmp_path, "03_async", {"async_build": WRONG["03_async.ipynb"]["async_build"],
                                             "async_timing": _solution("async_timing", "03_async")})
    errors = _validate(path)
    text = _plain(errors)
    assert len(errors) == 4 and "Research tasks share an agent" in errors[0], text
    assert "Your crew stopped with an error" in errors[1] and "give each async task its own" in errors[1], text
    assert errors[2].startswith("CheckFailed: Same problem as a test above:\n  Your crew stopped"), errors[2]
    assert "Executor" not in errors[2], errors[2]
    # 3.5's own problem is another one: its timing cell stopped (with the error said there).
    assert "`parallel_seconds` is not defined" in errors[3], errors[3]
    assert not _too_wide(errors), _too_wide(errors)


@pytest.mark.slow
@pytest.mark.parametrize("notebook, build_cell, mistake_cell, mistake", [
    ("01_sequential", "seq_build", "seq_orders",
     "orders = []\ncrew = build_crew()\ncrew.kickoff()\norders.append(course.last_run().order())"),
    ("03_async", "async_build", "async_timing",
     "import time\nstarted = time.perf_counter()\nbuild_crew(parallel=True).kickoff()\n"
     "parallel_seconds = time.perf_counter() - started\nsequential_seconds = 1.0"),
])
def test_validate_names_the_fix_for_plain_kickoff(tmp_path, notebook, build_cell, mistake_cell, mistake):
    path = _copy_with(tmp_path, notebook, {build_cell: _solution(build_cell, notebook), mistake_cell: mistake})
    errors = _validate(path)
    text = _plain(errors)
    # Messages are wrapped to the dialog's width (messages.LINE_WIDTH): read them as one line.
    assert "await crew.kickoff_async()" in " ".join(" ".join(errors).split()), text
    assert "Traceback" not in text, text
