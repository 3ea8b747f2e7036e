"""Every source notebook, run top to bottom as a learner's Run All would: no error, every test passes.

How fast is measured by `make bench` (autograder/bench/notebooks.py: each notebook
alone against its 10 s / 30 s target), not asserted here: two notebooks share two
cores in this test, and a wall-clock bound only measured how busy the machine was.

The five notebooks run two at a time (one per core), each in its own kernel
whose working directory is the notebook's folder, like JupyterLab's.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import ROOT

ASSIGNMENT = ROOT / "source" / "crew_processes"
NOTEBOOKS = sorted(p.name for p in ASSIGNMENT.glob("*.ipynb"))


def _execute(name: str) -> tuple[nbformat.NotebookNode, float]:
    notebook = nbformat.read(ASSIGNMENT / name, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(ASSIGNMENT)}})
    client.execute()
    return notebook, _cell_seconds(notebook)


def _cell_seconds(notebook: nbformat.NotebookNode) -> float:
    total = 0.0
    for cell in notebook.cells:
        timing = cell.metadata.get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            began, ended = (dt.datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                            for k in ("iopub.execute_input", "shell.execute_reply"))
            total += (ended - began).total_seconds()
    return total


@pytest.fixture(scope="module")
def executed() -> dict[str, tuple[nbformat.NotebookNode, float]]:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(NOTEBOOKS, pool.map(_execute, NOTEBOOKS)))
    print(f"\nexecuted {len(results)} notebooks in {time.perf_counter() - started:.1f} s")
    for name, (_nb, seconds) in results.items():
        print(f"  {name}: cells ran {seconds:.1f} s")
    return results


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "".join(parts)


def test_the_assignment_has_the_five_notebooks():
    assert NOTEBOOKS == ["00_tour.ipynb", "01_sequential.ipynb", "02_hierarchical.ipynb", "03_async.ipynb",
                         "04_mixed_phases.ipynb"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_source_notebook_runs_clean_and_passes_its_tests(executed, name):
    notebook, _seconds = executed[name]
    errors = [(cell.id, _text(cell)) for cell in notebook.cells if cell.cell_type == "code"
              and any(o.output_type == "error" for o in cell.get("outputs", []))]
    assert errors == [], f"{name}: cells raised: {errors}"
    for cell in notebook.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade"):
            assert "\u2714" in _text(cell), f"{name}: test {cell.id} printed no pass line: {_text(cell)!r}"


def test_source_notebooks_are_saved_clean_with_stable_ids(tmp_path):
    for name in NOTEBOOKS:
        notebook = nbformat.read(ASSIGNMENT / name, as_version=4)
        nbformat.validate(notebook)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in notebook.cells
                   if c.cell_type == "code"), f"{name} has saved outputs"
        for cell in notebook.cells:
            grading = cell.metadata.get("nbgrader")
            if grading is None:
                continue
            # nbgrader schema v3, exactly: points only on graded cells, nothing else extra.
            keys = {"grade", "grade_id", "locked", "schema_version", "solution"} | ({"points"} if grading["grade"] else set())
            assert set(grading) == keys and grading["schema_version"] == 3, f"{name}/{cell.id}: {grading}"
            assert cell.id == grading["grade_id"], f"{name}: cell {cell.id} has grade_id {grading['grade_id']}"
            if grading["grade"]:
                assert grading["locked"] and not grading["solution"] and grading["points"] > 0
            if grading["solution"]:
                assert not grading["locked"] and "### BEGIN SOLUTION" in cell.source
    # The generator is the notebooks' only author: what it writes now is what is saved.
    generator = _generator()
    fresh = tmp_path / "crew_processes"
    generator.write_all(fresh)
    for name in NOTEBOOKS:
        assert (fresh / name).read_bytes() == (ASSIGNMENT / name).read_bytes(), (
            f"{name} differs from what source/build_notebooks.py writes: edit the cells_*.py files, "
            "then run `python source/build_notebooks.py`")


def _generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_notebooks", ASSIGNMENT.parent / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_predict_prompt_comes_after_what_it_asks_about_and_before_its_answer():
    """Issue 23, learner 5: the tour's prompt and its answer were one cell. Now the cell before the prompt
    draws the plan to predict from, and the answer (the run) is the next cell, run after predicting."""
    for name in NOTEBOOKS:
        cells = nbformat.read(ASSIGNMENT / name, as_version=4).cells
        for i, cell in enumerate(cells):
            if cell.cell_type != "markdown" or "predict before you run" not in cell.source.lower():
                continue
            shown, answer = cells[i - 1], cells[i + 1]
            assert shown.cell_type == "code" and "kickoff" not in shown.source, f"{name}/{shown.id} runs the crew"
            assert "pictures.dag(" in shown.source, f"{name}/{shown.id}"
            assert answer.cell_type == "code" and "kickoff" in answer.source, f"{name}/{answer.id}"
            assert "pictures.dag(" not in answer.source, f"{name}/{answer.id}: the answer, alone"
    tour = nbformat.read(ASSIGNMENT / "00_tour.ipynb", as_version=4).cells
    assert sum("predict before you run" in c.source.lower() for c in tour if c.cell_type == "markdown") == 1


def test_the_tour_names_crewais_memory_warning_where_it_shows():
    """The memory cell prints CrewAI's "[CrewAIEventsBus] Warning: Ending event 'memory_save_failed' emitted
    with empty scope stack" once per task (tests/crewai_facts: test_a_failed_memory_save_prints_...): the
    text right after it says what it is and that it is harmless."""
    cells = nbformat.read(ASSIGNMENT / "00_tour.ipynb", as_version=4).cells
    at = next(i for i, c in enumerate(cells) if c.id == "memory-silent")
    after = cells[at + 1]
    assert after.cell_type == "markdown"
    assert "Ending event 'memory_save_failed'" in after.source and "harmless" in after.source
    assert "was not saved" in after.source


@pytest.mark.slow
def test_the_tour_shows_each_correction_live_without_crewai_noise(executed):
    notebook, _seconds = executed["00_tour.ipynb"]
    cells = {cell.id: cell for cell in notebook.cells if cell.cell_type == "code"}

    def shown(cell_id: str) -> str:
        parts = []
        for output in cells[cell_id].get("outputs", []):
            parts.append(output.get("text", "") or str(output.get("data", {}).get("text/plain", "")))
        return "".join(parts)

    assert "nothing: no memory reached the writer" in shown("memory-silent")  # memory=True, no embedder: silent
    assert "Relevant memories:" in shown("memory") and "history of tea" in shown("memory")
    assert "write verbose=True" in shown("verbose-level")
    assert "Agent Final Answer" in shown("verbose") and "Research AI trends" in shown("verbose")
    assert "sequential run, wall time" in shown("verbose")  # followed by the course's own plain trace
    assert "OPENAI_API_KEY is required" in shown("model-key") and "ScriptedLLM again" in shown("model-key")
    half = shown("errors-half-finished")  # the coffee research beside the tea article of the run before
    assert "Research notes on the history of coffee" in half and "Draft article on the history of tea" in half
    retry = shown("errors-retry")
    assert "attempt 2 failed" in retry and "Research notes on the history of coffee:" in retry
    assert shown("manager-llm").count("on ScriptedLLM") == 2  # the name and LLM(model=...) both routed
    everything = "".join(shown(cell_id) for cell_id in cells)
    assert "Error executing listener" not in everything and "API call failed" not in everything
    assert not any(o.get("name") == "stderr" for cell_id in ("errors-half-finished", "errors-retry", "model-key")
                   for o in cells[cell_id].get("outputs", []))
