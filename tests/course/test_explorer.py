"""course.explorer: measuring a crew, wording the comparison, and the widget that never hangs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import ipywidgets as widgets
import pytest
from crewai import Agent, Crew, Task

import course
from course import explorer
from course.recording import RecordedRun, TaskRecord
from course.scripted_llm import LLMCall


def _agent(role: str) -> Agent:
    return Agent(role=role, goal=f"Do the {role.lower()} work", backstory=f"An experienced {role.lower()}.")


def build_async_crew() -> Crew:
    """Three async research tasks, one agent each, joined by a synthesis task."""
    researchers = [_agent(f"Researcher {c}") for c in "ABC"]
    writer = _agent("Writer")
    research = [Task(description=f"Research topic {c}", expected_output="notes", agent=a, async_execution=True)
                for c, a in zip("ABC", researchers)]
    synthesis = Task(description="Combine all research", expected_output="report", agent=writer, context=research)
    return Crew(agents=[*researchers, writer], tasks=[*research, synthesis])


def build_clashing_crew() -> Crew:
    solo, writer = _agent("Solo Researcher"), _agent("Writer")
    first = Task(description="Research topic A", expected_output="o", agent=solo, async_execution=True)
    second = Task(description="Research topic B", expected_output="o", agent=solo, async_execution=True)
    return Crew(agents=[solo, writer], tasks=[first, second,
                                              Task(description="Combine", expected_output="o", agent=writer,
                                                   context=[first, second])])


def build_broken_crew() -> Crew:
    return Task(description="No expected output")  # raises pydantic's "Field required"


def _run(*spans: tuple[str, float, float, bool], wall: float, error: str | None = None) -> RecordedRun:
    tasks = [TaskRecord(index=i, name=name, description=name, async_execution=is_async, agent="A", worker="A",
                        start=start, end=end) for i, (name, start, end, is_async) in enumerate(spans)]
    return RecordedRun(process="sequential", tasks=tasks, llm_calls=[], delegations=[], wall_time=wall,
                       started_at=datetime.now(timezone.utc), error=error)


# --- measure ---------------------------------------------------------------------------

def test_measure_shows_async_tasks_overlapping_and_the_join_waiting(scripted_llm):
    run = explorer.measure(build_async_crew, latency=0.05)
    assert run.error is None
    research = ["Research topic A", "Research topic B", "Research topic C"]
    assert {name for pair in run.overlapping_pairs() for name in pair} == set(research)
    assert run.started_after_all("Combine all research", research)


def test_measure_sets_the_latency_only_for_its_own_crew(scripted_llm):
    seen = []

    def build() -> Crew:
        crew = build_async_crew()
        seen.append(crew.agents[0].llm.latency)
        return crew

    explorer.measure(build, latency=0.02)
    assert seen == [0.02]
    assert course.default_llm() is scripted_llm  # the learner's default model is back


def test_measure_raises_the_crews_error_or_returns_the_failed_run(scripted_llm):
    with pytest.raises(RuntimeError, match="Executor is already running"):
        explorer.measure(build_clashing_crew, latency=0.02)
    run = explorer.measure(build_clashing_crew, latency=0.02, raise_on_error=False)
    assert "Executor is already running" in run.error
    assert course.default_llm() is scripted_llm


def test_measure_gives_up_after_the_timeout(scripted_llm):
    with pytest.raises(TimeoutError, match="still running"):
        explorer.measure(build_async_crew, latency=0.3, timeout=0.05)
    assert course.default_llm() is scripted_llm


def test_measure_passes_on_a_crew_that_cannot_be_built(scripted_llm):
    with pytest.raises(Exception, match="Field required"):
        explorer.measure(build_broken_crew)


# --- predict_vs_measure -----------------------------------------------------------------

PARALLEL = _run(("A", 0.0, 0.5, True), ("B", 0.0, 0.5, True), ("Join", 0.5, 1.0, False), wall=1.02)


def test_predict_vs_measure_spot_on_and_overlaps():
    text = explorer.predict_vs_measure(1.0, PARALLEL)
    assert "You predicted 1.00 s. Spot on." in text
    assert "Measured wall time: 1.02 s" in text and "A & B" in text


def test_predict_vs_measure_too_high_and_too_low():
    assert "sooner than you expected" in explorer.predict_vs_measure(2.0, PARALLEL)
    assert "longer than you expected" in explorer.predict_vs_measure(0.5, PARALLEL)
    serial = _run(("A", 0.0, 0.5, False), ("B", 0.5, 1.0, False), wall=1.0)
    assert "No two tasks overlapped" in explorer.predict_vs_measure(None, serial)


def test_predict_vs_measure_checks_the_overlap_guess():
    assert "Your overlap guess was right." in explorer.predict_vs_measure(1.0, PARALLEL, ["A", "B"])
    text = explorer.predict_vs_measure(1.0, PARALLEL, ["A", "Join"])
    assert "Also overlapped: B." in text and "Did not overlap with anything: Join." in text


def _with_model_calls(run: RecordedRun, seconds: float) -> RecordedRun:
    """The run, with one model call of ``seconds`` at the start of each task (the rest of it: CrewAI's work)."""
    def at(offset: float) -> datetime:
        return run.started_at + timedelta(seconds=offset)

    run.llm_calls = [LLMCall(role="A", task=t.description, thread="t", start=at(t.start), end=at(t.start + seconds),
                             prompt="", reply="") for t in run.tasks]
    return run


def _parallel_with_overhead() -> RecordedRun:
    """Two 0.5 s async tasks and a 0.5 s join, each 0.3 s of model call: 0.6 s of model on the chain, 1.02 s wall."""
    return _with_model_calls(_run(("A", 0.0, 0.5, True), ("B", 0.0, 0.5, True), ("Join", 0.5, 1.0, False),
                                  wall=1.02), 0.3)


def test_a_gap_of_crewais_own_work_is_named_and_not_blamed_on_the_overlaps():
    """Issue 23, learner 3: the guess counted the model's turns and the overlaps right; CrewAI's work made the gap."""
    text = explorer.predict_vs_measure(0.6, _parallel_with_overhead(), ["A", "B"])
    assert "Your overlap guess was right." in text
    assert "counted as parallel" not in text
    assert "You predicted 0.60 s. It took 0.42 s longer than you expected. You counted the model's 0.60 s" in text
    assert "CrewAI's own work around each model call" in text and "about 210 ms a task" in text
    assert "Measured wall time: 1.02 s: 0.60 s of model calls on the longest chain" in text


def test_a_guess_short_of_the_models_calls_gets_the_cause_its_overlap_guess_allows():
    run = _parallel_with_overhead()
    right = explorer.predict_vs_measure(0.3, run, ["A", "B"])
    assert "Your overlap guess was right." in right and "counted as parallel" not in right
    assert "(A -> Join) alone take 0.60 s (you saw the overlaps right" in right
    assert "The other 0.42 s is CrewAI's own work" in right
    wrong = explorer.predict_vs_measure(0.3, run, ["A"])
    assert "some tasks you counted as parallel ran one after another" in wrong and "Also overlapped: B." in wrong
    sooner = explorer.predict_vs_measure(2.0, run, ["A", "B"])
    assert "sooner than you expected: the model's calls on the longest chain" in sooner


def test_a_guess_a_little_under_the_models_time_is_near_not_right():
    # The browser test's learner guessed 0.35 s against the model's 0.40 s and read "You counted ... right".
    text = explorer.predict_vs_measure(0.55, _parallel_with_overhead(), ["A", "B"])  # the model's: 0.60 s
    assert "counted the model's" not in text and "Your guess is near the model's 0.60 s" in text, text
    assert "about 210 ms a task" in text and "Your overlap guess was right." in text


def test_a_real_run_splits_its_time_into_model_calls_and_crewais_work(scripted_llm):
    run = explorer.measure(build_async_crew, latency=0.05)
    spent = run.model_seconds()
    for task in run.tasks:
        assert 0.05 <= spent[task.name] <= task.duration, task.name
    model = run.critical_model_path()
    assert model.path[-1] == "Combine all research" and 0.1 <= model.length < run.wall_time
    together = [t.name for t in run.tasks if t.async_execution]
    text = explorer.predict_vs_measure(model.length, run, together)
    assert "Your overlap guess was right." in text and "counted as parallel" not in text
    assert "Spot on." in text or "You counted the model's" in text


def test_two_tasks_with_one_description_each_get_their_own_model_calls():
    run = _run(("first", 0.0, 0.5, False), ("second", 0.5, 1.0, False), wall=1.0)
    for task in run.tasks:
        task.description = "Research the topic"
    assert _with_model_calls(run, 0.3).model_seconds() == pytest.approx({"first": 0.3, "second": 0.3})


def test_under_a_manager_the_coworkers_calls_count_for_the_task(scripted_llm):
    from course.examples import hierarchical_crew

    run = explorer.measure(lambda: hierarchical_crew("agent"), latency=0.02)
    spent = run.model_seconds()
    for task in run.tasks:
        assert task.delegations and spent[task.name] >= 0.02 * (1 + len(task.delegations)), task.name


def test_predict_vs_measure_on_a_failed_run_gives_the_fix():
    failed = _run(("A", 0.0, 0.1, True), wall=0.1,
                  error="Executor is already running. Cannot invoke the same executor instance concurrently.")
    text = explorer.predict_vs_measure(1.0, failed)
    assert text.startswith("The run failed") and "its own agent" in text


# --- the widget --------------------------------------------------------------------------

def test_the_widget_builds_without_running_anything(scripted_llm):
    with course.record() as rec:
        widget = explorer.explorer(build_async_crew, latencies=(0.1, 0.3))
    assert rec.runs == [] and scripted_llm.calls == []
    assert isinstance(widget, widgets.VBox)
    assert [box.description for box in widget.overlap] == [
        "Research topic A", "Research topic B", "Research topic C", "Combine all research"]
    assert widget.latency.options == (("0.1 s", 0.1), ("0.3 s", 0.3))
    widget.latency.value = 0.3
    assert widget.prediction.max >= 0.3 * 4  # room for a fully sequential guess
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "JupyterLab" in bundle["text/plain"]


def test_run_compares_prediction_and_measurement(scripted_llm):
    widget = explorer.explorer(build_async_crew, latencies=(0.02,))
    widget.prediction.value = 0.1
    widget.overlap[0].value = True
    worker = widget.run(wait=True)
    assert worker is not None and not worker.is_alive()
    assert widget.last_error is None and widget.last_run is not None
    assert "your prediction" in widget.result.value and "You predicted 0.10 s" in widget.result.value
    assert widget.picture.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert not widget.button.disabled and widget.status.value.startswith("Done")


def test_run_turns_a_failing_crew_into_one_friendly_line(scripted_llm):
    widget = explorer.explorer(build_clashing_crew, latencies=(0.02,))
    widget.run(wait=True)
    assert "its own agent" in widget.status.value
    assert widget.picture.value[:4] == b"\x89PNG"  # the failed run's timeline still shows
    assert not widget.button.disabled


def test_a_crew_that_cannot_be_built_still_gives_a_widget(scripted_llm):
    widget = explorer.explorer(build_broken_crew)
    assert "expected_output" in widget.status.value and widget.overlap == []
    widget.run(wait=True)
    assert "expected_output" in widget.status.value
    assert widget.last_error is not None


@pytest.mark.slow
def test_a_headless_notebook_shows_the_explorer_and_moves_on(root, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    cells = [
        "import course\nfrom course import explorer\nfrom crewai import Agent, Task, Crew",
        "def build():\n"
        "    a = Agent(role='Researcher', goal='g', backstory='b')\n"
        "    return Crew(agents=[a], tasks=[Task(description='Research', expected_output='notes', agent=a)])\n"
        "explorer.explorer(build)",
        "print('after the explorer')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
    shown = notebook.cells[1].outputs
    assert shown and "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    assert notebook.cells[2].outputs[0]["text"].strip() == "after the explorer"
