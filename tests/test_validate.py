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
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "release" / "crew_processes"
SOURCE = ROOT / "source" / "crew_processes"
EXERCISES = ["01_sequential", "02_hierarchical", "03_async", "04_mixed_phases"]


def _validate(path: Path) -> list[str]:
    """The error text of every failing test, as Validate's dialog lists them."""
    result = Validator(config=Config()).validate(str(path))
    assert set(result) <= {"failed", "passed", "changed"}, result
    return [item.get("error", "") for item in result.get("failed", [])]


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
    assert "await crew.kickoff_async()" in text, text
    assert "Traceback" not in text, text
