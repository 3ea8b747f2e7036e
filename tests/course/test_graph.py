"""course.graph: the two relations (receives from, waits for) and the vocabulary built on them.

The wait rule is CrewAI's: these tests compare what the graph predicts with what a
recorded run of the real CrewAI shows (start and end order, never wall-clock budgets).
"""

from __future__ import annotations

import pytest

from course import graph
from course.examples import mixed_phases_crew

FLOW = [("A", True, None), ("B", True, None), ("analysis", False, ["A", "B"]),
        ("report", True, ["analysis"]), ("slides", True, ["analysis"]), ("review", False, ["slides"])]


def test_a_sync_task_waits_for_every_pending_async_task_but_receives_only_its_context():
    waits, gets = graph.waits_for(FLOW), graph.receives_from(FLOW)
    assert waits["review"] == ["slides", "report"]
    assert gets["review"] == ["slides"]
    assert graph.waits_without_data(FLOW) == {("report", "review")}


def test_an_async_task_waits_for_the_sync_task_before_it_and_receives_nothing_without_context():
    tasks = [("plan", False, None), ("x", True, None), ("y", True, None), ("join", False, None)]
    assert graph.waits_for(tasks) == {"plan": [], "x": ["plan"], "y": ["plan"], "join": ["x", "y"]}
    assert graph.receives_from(tasks)["x"] == [] and graph.receives_from(tasks)["join"] == ["plan", "x", "y"]


def test_sync_tasks_wait_for_each_other_in_list_order_whatever_their_context():
    tasks = [("a", False, None), ("b", False, []), ("c", False, ["a"])]
    assert graph.waits_for(tasks) == {"a": [], "b": ["a"], "c": ["b"]}


@pytest.mark.scripted_llm(latency=0.02)
def test_the_recorded_run_shows_the_barrier_the_graph_predicts(record_crew):
    crew = mixed_phases_crew(review_context="presentation", report_latency=0.3)
    predicted = graph.crew_graph(crew)
    recorded = record_crew(crew)
    assert recorded.dependencies() == predicted
    review, report = recorded.task("review"), recorded.task("report")
    assert "report" in predicted["review"]
    assert review.start >= report.end  # the barrier: it waited although its context skips the report
    assert review.received_from == ["presentation"]  # and received only what its context lists


def test_critical_path_ties_are_named_and_resolved_in_task_order():
    waits = graph.waits_for(FLOW)
    before = graph.critical(waits)
    assert before.path == ["A", "analysis", "report", "review"] and len(before.ties) == 4
    noisy = {"A": 0.101, "B": 0.104, "analysis": 0.1, "report": 0.099, "slides": 0.103, "review": 0.1}
    after = graph.critical(waits, noisy)
    assert after.path == before.path and len(after.ties) == 4
    assert "4 chains tie" in after.describe()
    slow = dict(noisy, slides=0.5)
    assert graph.critical(waits, slow).path == ["A", "analysis", "slides", "review"]


def test_strict_parsing_names_what_is_wrong_and_lenient_parsing_draws_anyway():
    for bad, words in (([], "not a dict"), ({}, "empty"), ({"a": "b"}, "list of task names"),
                       ({"a": ["b"]}, "not a key"), ({"a": ["a"]}, "itself"), ({"a": ["b"], "b": ["a"]}, "circle")):
        with pytest.raises(ValueError, match=words):
            graph.parse(bad)
    assert graph.normalize({"b": "a"}) == {"a": [], "b": ["a"]}


def test_shapes_compare_after_reduction_and_map_names_by_place():
    mine = {"r1": [], "r2": [], "an": ["r1", "r2"], "o1": ["an"], "o2": ["an"], "qa": ["o1", "o2", "an"]}
    real = graph.waits_for(FLOW)
    mapping = graph.shape_mapping(mine, real)
    assert mapping is not None and mapping["an"] == "analysis" and mapping["qa"] == "review"
    diff, _ = graph.compare(mine, real)
    assert diff.same
    assert not graph.same_shape(graph.reverse(mine), real)


def test_context_left_out_and_context_empty_differ_as_crewai_passes_outputs(record_crew):
    from crewai import Agent, Crew, Task

    agent = Agent(role="Researcher", goal="g", backstory="b")
    tasks = [Task(name="one", description="Research one", expected_output="o", agent=agent),
             Task(name="two", description="Research two", expected_output="o", agent=agent, context=[]),
             Task(name="three", description="Research three", expected_output="o", agent=agent)]
    crew = Crew(agents=[agent], tasks=tasks)
    predicted = graph.crew_receives(crew)
    assert predicted == {"one": [], "two": [], "three": ["one", "two"]}
    recorded = record_crew(crew)
    assert {t.name: t.received_from for t in recorded.tasks} == predicted
