"""The grading checks on their own, in-process: right answers pass, wrong ones fail with a message that says why.

Fast (no kernel, no nbgrader): every answer is a build function from
``source/crew_answers.py`` or the reference solution in ``source/``.
"""

from __future__ import annotations

import time

import re

import nbformat
import pytest
from crewai import Agent, Crew, Process, Task

import course
from autograder import checks
from autograder.checks import ex04_mixed, kit_integrity, messages
from autograder.checks.messages import CheckFailed
from course import graph

from crew_answers import ALTERNATIVE, MISSING_JOIN_03, WRONG
from tests.helpers import ROOT

SOURCE = ROOT / "source" / "crew_processes"
MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.M)


def solution(notebook: str, cell_id: str) -> str:
    nb = nbformat.read(SOURCE / notebook, as_version=4)
    cell = next(c for c in nb.cells if c.id == cell_id)
    return MARKERS.sub("", cell.source)


def define(source: str, name: str = "build_crew"):
    namespace = {"Agent": Agent, "Task": Task, "Crew": Crew, "Process": Process, "course": course}
    exec(compile(source, "<answer>", "exec"), namespace)  # noqa: S102 (test answers written in this repo)
    return namespace[name]


REFERENCE = {nb: define(solution(nb, cell)) for nb, cell in (
    ("01_sequential.ipynb", "seq_build"), ("02_hierarchical.ipynb", "hier_build"),
    ("03_async.ipynb", "async_build"), ("04_mixed_phases.ipynb", "mixed_build"))}
REFERENCE_DAG = define(solution("04_mixed_phases.ipynb", "mixed_dag"), "dag")


def failure(call, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "Expected:" in message and "What happened:" in message and "Hint:" in message
    assert all(len(line) <= messages.LINE_WIDTH for line in f"{messages.SHOWN_FIRST}{message}".splitlines())
    return " ".join(message.split())  # as one line: what the tests look for may be wrapped across two


def measured(build_crew, **arguments) -> float:
    """What a learner's perf_counter cell reads around one kickoff (at the notebook's 0.12 s latency)."""
    with course.routing.using(latency=0.12):
        crew = build_crew(**arguments)
        start = time.perf_counter()
        crew.kickoff()
        return time.perf_counter() - start


def test_typed_in_timings_match_no_recorded_run():
    three = REFERENCE["03_async.ipynb"]
    real = measured(three, parallel=True), measured(three, parallel=False)
    checks.async_timing(three, *real)  # the real readings pass
    # The kernel's window is wide (a busy machine adds CrewAI's set-up to a reading; the grader's own
    # rule is exact: tests/grading/test_witness.py), but a number no run of this process came near matches none.
    assert "`parallel_seconds` does not match" in failure(checks.async_timing, three, 1000.0, real[1])
    assert "`sequential_seconds` does not match" in failure(checks.async_timing, three, real[0], 1000.0)


@pytest.mark.parametrize("answers", [REFERENCE, {nb: define(c[k]) for nb, c in ALTERNATIVE.items()
                                                 for k in c if k.endswith("build")}],
                         ids=["reference", "alternative"])
def test_right_answers_pass_every_behaviour_check(answers, capsys):
    one, two, three, four = (answers[nb] for nb in sorted(answers))
    checks.integrity()
    checks.sequential_crew(one)
    checks.sequential_order(one, thorough=True)
    checks.sequential_context(one, thorough=True)
    checks.sequential_determinism(one, [learner_run(one).order() for _ in range(3)])
    checks.hierarchical_setup(two)
    checks.hierarchical_delegation(two, thorough=True)
    checks.hierarchical_order(two, thorough=True)
    checks.async_shape(three)
    checks.async_agents(three)
    checks.async_overlap(three, thorough=True)
    checks.async_join(three, thorough=True)
    checks.async_timing(three, measured(three, parallel=True), measured(three, parallel=False))
    checks.mixed_crew_graph(four)
    checks.mixed_parallel(four, thorough=True)
    checks.mixed_joins(four, thorough=True)
    assert capsys.readouterr().out.count("\u2714") == 15


def learner_run(build_crew, **arguments):
    """A run as a learner makes it in the notebook (not through the grader): a fresh crew, kicked off."""
    build_crew(**arguments).kickoff()
    return course.last_run()


def test_the_comparison_answers_accept_other_wordings_and_check_the_numbers():
    hierarchical = REFERENCE["02_hierarchical.ipynb"]
    from course.examples import sequential_crew

    extra = len(learner_run(hierarchical).llm_calls) - len(learner_run(sequential_crew).llm_calls)
    checks.hierarchical_answers(hierarchical, "The task list", "manager", extra, baseline=sequential_crew)
    wrong_order = failure(checks.hierarchical_answers, hierarchical, "the manager", "manager", extra,
                          baseline=sequential_crew)
    wrong_workers = failure(checks.hierarchical_answers, hierarchical, "the task list", "the task list", extra,
                            baseline=sequential_crew)
    assert "`order_decided_by` does not fit" in wrong_order and "`workers_decided_by` does not fit" in wrong_workers
    for message in (wrong_order, wrong_workers):  # a wrong answer is not told the right one
        expected = message.split("Expected:")[1].split("What happened:")[0]
        assert "TASK_LIST" not in expected and "MANAGER" not in expected
    assert "9 model calls" in failure(checks.hierarchical_answers, hierarchical, "the task list", "manager", 3,
                                      baseline=sequential_crew)


def test_extra_calls_typed_without_runs_in_this_kernel_earn_nothing(monkeypatch):
    hierarchical = REFERENCE["02_hierarchical.ipynb"]
    from course.examples import sequential_crew

    monkeypatch.setattr(checks.ex02_hierarchical, "learner_runs", lambda: [])  # a kernel where nothing ran
    assert "not measured in this notebook" in failure(checks.hierarchical_answers, hierarchical, "task list",
                                                      "manager", 6, baseline=sequential_crew)


def test_orders_must_come_from_fresh_crews_run_in_this_kernel(monkeypatch):
    one = REFERENCE["01_sequential.ipynb"]
    order = learner_run(one).order()
    monkeypatch.setattr(checks.ex01_sequential, "learner_runs", lambda: [course.last_run()])
    assert "not filled from runs made in this notebook" in failure(checks.sequential_determinism, one, [order] * 3)
    monkeypatch.undo()
    runs = [learner_run(one) for _ in range(3)]
    monkeypatch.setattr(checks.ex01_sequential, "learner_runs", lambda: runs)
    checks.sequential_determinism(one, [r.order() for r in runs])


def test_orders_from_one_crew_object_fail_whatever_the_kernel_ran_before(monkeypatch):
    """Learner point 1 of issue 23: the verdict reads the runs that filled `orders`, not the kernel's past."""
    one = REFERENCE["01_sequential.ipynb"]
    earlier = [learner_run(one) for _ in range(3)]  # fresh crews made before, in other cells
    crew = one()
    reused = []
    for _ in range(3):
        crew.kickoff()
        reused.append(course.last_run())
    for history in (earlier, []):  # a kernel that made fresh crews before, and a fresh kernel: one verdict
        monkeypatch.setattr(checks.ex01_sequential, "learner_runs", lambda h=history: h + reused)
        message = failure(checks.sequential_determinism, one, [r.order() for r in reused])
        assert "reused a crew object" in message and "inside the loop: fresh = build_crew()" in message


def test_agent_on_tasks_under_a_manager_loses_the_manager_points_only():
    def fixed_agents():
        crew = REFERENCE["02_hierarchical.ipynb"]()
        for task, agent in zip(crew.tasks, crew.agents):
            task.agent = agent
        return crew

    checks.hierarchical_setup(fixed_agents)
    checks.hierarchical_order(fixed_agents)
    message = failure(checks.hierarchical_delegation, fixed_agents)
    assert "manager had nothing to decide" in message and "agent=" in message


def test_async_parts_are_independent_a_crew_without_async_keeps_agents_and_join():
    def no_async(parallel=True):
        return REFERENCE["03_async.ipynb"](parallel=False)

    checks.async_agents(no_async)
    checks.async_join(no_async)
    assert "three async research tasks" in failure(checks.async_shape, no_async)
    assert "did not overlap" in failure(checks.async_overlap, no_async)


def test_a_crew_whose_kickoff_is_not_crewais_earns_nothing_even_in_structure_parts():
    class Canned(Crew):
        def kickoff(self, inputs=None):
            return "done"

    def canned(parallel=True):
        crew = REFERENCE["03_async.ipynb"](parallel=parallel)
        return Canned(agents=crew.agents, tasks=crew.tasks, process=crew.process)

    messages = [failure(check, canned) for check in (checks.async_shape, checks.async_agents, checks.async_join)]
    assert "its kickoff is not CrewAI's own" in messages[0]
    for later in messages[1:]:  # said once; the others point at it in one line
        assert later.startswith("Same problem as a test above:") and "does not run as CrewAI runs it" in later


def test_a_missing_answer_names_the_cell_that_should_set_it_and_its_error(monkeypatch):
    from course import cell_log

    ran = [cell_log.CellRun("orders = []\nfor _ in range(3):\n    crew.kickoff()",
                            RuntimeError("Agent execution was invoked synchronously from within a running event loop."))]
    monkeypatch.setattr(cell_log, "_cells", ran)
    message = failure(checks.needs, "orders")
    assert "`orders` is not defined" in message and "starts `orders = []`" in message
    assert "kickoff_async" in message  # the trap's fix, not a bare NameError
    assert "no cell that sets `extra_calls` has run" in failure(checks.needs, "extra_calls")
    ran.append(cell_log.CellRun("# YOUR CODE HERE\nraise NotImplementedError()\nprint(parallel_seconds)",
                                NotImplementedError()))
    assert "is not answered yet" in failure(checks.needs, "parallel_seconds")
    checks.needs("REFERENCE")  # defined in this module: nothing to say


def test_a_reversed_dag_is_told_its_arrows_point_the_wrong_way():
    reversed_dag = graph.reverse(REFERENCE_DAG)
    assert "arrows point the wrong way" in failure(checks.dag_data, reversed_dag)


def test_a_plan_without_the_barrier_wait_is_told_about_the_barrier():
    plan = dict(REFERENCE_DAG, **{"final review": ["presentation"]})
    message = failure(checks.dag_data, plan)
    assert "'final review' does not wait for 'report'" in message and "barrier" in message


def test_picture_and_check_agree_on_a_dag_with_other_names():
    alternative = define(ALTERNATIVE["04_mixed_phases.ipynb"]["mixed_dag"], "dag")
    from course import pictures

    checks.dag_data(alternative)
    checks.mixed_crew_graph(REFERENCE["04_mixed_phases.ipynb"])
    figure = pictures.compare_dags(alternative, REFERENCE["04_mixed_phases.ipynb"]())
    assert figure.graph_diff.same, figure.text_alternative


def test_dags_are_compared_by_shape_not_names():
    alternative = define(ALTERNATIVE["04_mixed_phases.ipynb"]["mixed_dag"], "dag")
    for dag in (REFERENCE_DAG, alternative):
        checks.dag_data(dag)
    checks.mixed_crew_graph(REFERENCE["04_mixed_phases.ipynb"])
    checks.mixed_crew_graph(define(ALTERNATIVE["04_mixed_phases.ipynb"]["mixed_build"]))
    broken = dict(REFERENCE_DAG, **{"final review": ["report"]})
    assert "'final review' does not wait for 'presentation'" in failure(checks.dag_data, broken)
    assert "not a key" in failure(checks.dag_data, {"a": ["b"]})
    assert "A circle" in failure(checks.dag_data, {"a": ["b"], "b": ["a"]})
    assert "2 -> 1 -> 2 -> 1" in failure(checks.dag_data, {k: [] for k in "abcdef"})
    def all_sync():
        crew = REFERENCE["04_mixed_phases.ipynb"]()
        for task in crew.tasks:
            task.async_execution = False
        return crew

    assert "do not wait as the four-phase flow" in failure(checks.mixed_crew_graph, all_sync)


def test_no_context_loses_the_context_points_only():
    wrong = define(WRONG["01_sequential.ipynb"]["seq_build"])
    checks.sequential_crew(wrong)
    checks.sequential_order(wrong)
    assert "does not list" in failure(checks.sequential_context, wrong)


def test_async_under_hierarchical_is_named_as_the_reason():
    wrong = define(WRONG["02_hierarchical.ipynb"]["hier_build"])
    for check in (checks.hierarchical_setup, checks.hierarchical_delegation, checks.hierarchical_order):
        assert "asynchronous under the hierarchical process" in failure(check, wrong)


def test_one_agent_on_all_async_tasks_fails_with_the_fix():
    wrong = define(WRONG["03_async.ipynb"]["async_build"])
    checks.async_shape(wrong)
    assert "one researcher per topic" in failure(checks.async_agents, wrong)
    message = failure(checks.async_overlap, wrong)
    assert "Executor is already running" in message and "its own agent" in message
    # 3.5 fails for the same reason: said once, above (learner point 4 of issue 23: 03 repeated it whole).
    later = failure(checks.async_timing, wrong, 0.5, 0.9)
    assert later.startswith("Same problem as a test above: Your crew stopped with an error."), later
    assert "Executor is already running" not in later


def test_a_missing_join_loses_the_join_points_only():
    wrong = define(MISSING_JOIN_03)
    checks.async_shape(wrong)
    checks.async_agents(wrong)
    checks.async_overlap(wrong)
    assert "missing from its context: 'Research topic C'" in failure(checks.async_join, wrong)
    mixed = define(WRONG["04_mixed_phases.ipynb"]["mixed_build"])
    checks.mixed_parallel(mixed)
    assert "missing: 'presentation'" in failure(checks.mixed_joins, mixed)
    checks.mixed_crew_graph(mixed)  # the barrier still holds the review until the report ends: waits are right


def test_unwritten_and_broken_answers_get_a_message_not_a_traceback():
    def unwritten(parallel=True):
        raise NotImplementedError()

    assert "not written yet" in failure(checks.async_shape, unwritten)
    assert "could not be called with parallel=True" in failure(checks.async_shape, lambda: None)
    assert "did not return a Crew" in failure(checks.sequential_crew, lambda: "crew")
    assert "expected_output" in failure(checks.sequential_crew, lambda: Task(description="x"))
    assert "not a measured time" in failure(checks.async_timing, REFERENCE["03_async.ipynb"], "fast", 1.0)
    assert "shorter than any real run" in failure(checks.async_timing, REFERENCE["03_async.ipynb"], 0.1, 1.0,
                                                  model_latency=0.12)
    assert "the order of 3 runs" in failure(checks.sequential_determinism, REFERENCE["01_sequential.ipynb"], [])
    assert "does not match" in failure(checks.sequential_determinism, REFERENCE["01_sequential.ipynb"],
                                       [["a"], ["a"], ["a"]])


def test_outputs_not_written_by_the_course_model_earn_nothing():
    class Canned(course.ScriptedLLM):
        def reply(self, messages, **kwargs):
            return "Final Answer: I did it, trust me."

    def faked():
        crew = REFERENCE["01_sequential.ipynb"]()
        model = Canned()
        for agent in crew.agents:
            agent.llm = model
        return crew

    assert "did not come from the course model" in failure(checks.sequential_crew, faked)


def test_a_hanging_crew_times_out_with_a_message():
    import threading

    release = threading.Event()

    class Stuck(course.ScriptedLLM):
        def reply(self, messages, **kwargs):
            release.wait(5)
            return super().reply(messages, **kwargs)

    def stuck():
        crew = REFERENCE["01_sequential.ipynb"]()
        for agent in crew.agents:
            agent.llm = Stuck()
        return crew

    try:
        assert "did not finish" in failure(checks.run, stuck, timeout=0.5)
    finally:
        release.set()


def test_integrity_notices_a_patched_recorder(monkeypatch):
    monkeypatch.setattr(course.recording.RecordedRun, "overlap", lambda self, a, b: True)
    monkeypatch.setattr(course.replies, "work", lambda prompt: "[ref:000000 by X] done")
    assert sorted(kit_integrity.problems()) == ["course.recording.RecordedRun.overlap was replaced",
                                                "course.replies.work was replaced"]
    assert "changed inside this notebook" in failure(checks.integrity)


def test_integrity_notices_a_check_rebound_on_the_package(monkeypatch):
    monkeypatch.setattr(checks, "async_join", lambda *args, **kwargs: None)
    assert kit_integrity.problems() == ["autograder.checks.async_join was replaced"]


def test_integrity_notices_a_swapped_wrapper_of_a_check(monkeypatch):
    """Checks are wrapped (messages.said_once): the wrapper's code and the check it calls are guarded too."""
    assert kit_integrity.problems() == []
    def said_nothing(check):
        def checked(*args, **kwargs):
            return None if check else None
        return checked

    monkeypatch.setattr(checks.async_join, "__code__", said_nothing(None).__code__)
    assert kit_integrity.problems() == ["autograder.checks.async_join was replaced"]
    monkeypatch.undo()
    cell = checks.async_join.__closure__[checks.async_join.__code__.co_freevars.index("check")]
    original = cell.cell_contents
    cell.cell_contents = lambda *args, **kwargs: None
    try:
        assert kit_integrity.problems() == ["autograder.checks.async_join was replaced"]
    finally:
        cell.cell_contents = original
    assert kit_integrity.problems() == []


def test_integrity_accepts_what_dataclass_sets_but_not_a_replaced_one(monkeypatch):
    # Python 3.13's @dataclass sets __replace__ to dataclasses._replace on every dataclass.
    assert kit_integrity.problems() == []
    monkeypatch.setattr(course.recording.RecordedRun, "__replace__", lambda self, **changes: self, raising=False)
    assert kit_integrity.problems() == ["course.recording.RecordedRun.__replace__ was replaced"]


def test_graph_rule_matches_the_recorded_run():
    crew = REFERENCE["04_mixed_phases.ipynb"]()
    assert graph.crew_graph(crew) == checks.run(crew).dependencies()
    assert ex04_mixed.four_phase_problem(graph.crew_graph(crew)) is None


def test_max_rpm_does_not_make_grading_wait_a_minute():
    def limited():
        crew = REFERENCE["02_hierarchical.ipynb"]()
        return Crew(agents=crew.agents, tasks=crew.tasks, process=crew.process, manager_agent=crew.manager_agent,
                    max_rpm=2)

    recorded = checks.run(limited, timeout=20)
    assert len(recorded.llm_calls) == 9 and recorded.wall_time < 10


# Every check of a notebook, called as its test cell calls it (typed answers that cannot be right).
CHECKS_OF = {
    "01_sequential.ipynb": [checks.sequential_crew, checks.sequential_order, checks.sequential_context,
                            lambda b: checks.sequential_determinism(b, [["x"]] * 3)],
    "02_hierarchical.ipynb": [checks.hierarchical_setup, checks.hierarchical_delegation, checks.hierarchical_order,
                              lambda b: checks.hierarchical_answers(b, "nobody", "nobody", -1, baseline=b)],
    "03_async.ipynb": [checks.async_shape, checks.async_agents, checks.async_overlap, checks.async_join,
                       lambda b: checks.async_timing(b, 0.001, 1000.0, model_latency=0.12)],
    "04_mixed_phases.ipynb": [checks.mixed_crew_graph, checks.mixed_parallel, checks.mixed_joins],
}


def test_every_line_of_every_message_shows_whole_in_validate():
    """Learner point 4 of issue 23: Validate's dialog hid the ends of hint lines, where the fix was.

    Each notebook's checks against the classic mistakes, unwritten and broken answers and a DAG
    of every kind of wrong: no line of what the learner sees is wider than messages.LINE_WIDTH
    (tests/e2e/test_browser.py measures that the dialog shows at least that many characters)."""
    def unwritten(parallel=True):
        raise NotImplementedError()

    def raises(parallel=True):
        raise ValueError("a learner's own error whose message is much longer than any line of the dialog: "
                         + "x" * 120)

    seen = []
    for notebook, calls in CHECKS_OF.items():
        answers = [define(WRONG[notebook][key]) for key in WRONG[notebook] if key.endswith("build")]
        if notebook == "03_async.ipynb":
            answers.append(define(MISSING_JOIN_03))
        for answer in [*answers, unwritten, raises, lambda parallel=True: "crew", 42]:
            for call in calls:
                try:
                    call(answer)
                except CheckFailed as failed:
                    seen.append(str(failed))
    for dag in (REFERENCE_DAG | {"final review": ["report"]}, {"a": ["b"]}, {"a": ["b"], "b": ["a"]},
                {k: [] for k in "abcdef"}, [], {}):
        with pytest.raises(CheckFailed) as caught:
            checks.dag_data(dag)
        seen.append(str(caught.value))
    assert len(seen) > 60 and any("Same problem as a test above" in m for m in seen)
    wide = [line for m in seen for line in f"{messages.SHOWN_FIRST}{m}".splitlines()
            if len(line) > messages.LINE_WIDTH]
    assert not wide, wide


def test_a_problem_is_said_whole_once_and_again_when_its_first_test_runs_again():
    broken = {"yes": True}

    def build_crew():
        if broken["yes"]:
            messages.fail("`build_crew` is broken.", "a crew", "an error", "Fix it.")

    @messages.said_once
    def first(build):
        build()

    @messages.said_once
    def second(build):
        build()

    whole = failure(first, build_crew)
    assert whole.startswith("`build_crew` is broken.")
    assert failure(second, build_crew).startswith("Same problem as a test above: `build_crew` is broken.")
    assert failure(first, build_crew) == whole  # the first test, run again, says it whole
    broken["yes"] = False
    first(build_crew)
    broken["yes"] = True
    assert failure(second, build_crew) == whole  # no failing test above says it any more


def test_each_notebook_defines_its_checks_in_the_order_of_its_test_cells():
    """'A test above' is 'a check defined before' (messages.said_once): the two orders must agree."""
    import importlib

    for number, module in enumerate(["ex01_sequential", "ex02_hierarchical", "ex03_async", "ex04_mixed"], start=1):
        cells_file = next((SOURCE.parent).glob(f"cells_0{number}_*.py")).read_text()
        called = list(dict.fromkeys(re.findall(r"^checks\.(\w+)\(", cells_file, re.M)))
        called = [name for name in called if name not in ("needs", "integrity")]
        home = importlib.import_module(f"autograder.checks.{module}")
        defined = sorted(called, key=lambda name: messages._places[getattr(home, name).__wrapped__.__qualname__])
        assert called == defined, module


def test_every_message_the_sample_class_gets_fits_too():
    """The messages of a whole graded class (tests/golden/sample_class.json: every test cell's error)."""
    import json

    golden = json.loads((ROOT / "tests" / "golden" / "sample_class.json").read_text(encoding="utf-8"))
    errors = [e for cells in golden["test_errors"].values() for found in cells.values() for e in found]
    wide = [line for e in errors if e.startswith(messages.SHOWN_FIRST) for line in e.splitlines()
            if len(line) > messages.LINE_WIDTH]
    assert len(errors) > 50 and not wide, wide
