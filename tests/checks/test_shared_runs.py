"""The test cells of a notebook share the grader's runs, and the sharing cannot be abused.

The first check that needs a run of ``build_crew`` at a latency makes it; later checks read it
(``autograder/checks/common.py``, ``SharedRuns``). These tests show that the sharing saves the runs it
should, that a learner who redefines or changes ``build_crew`` (or a helper it calls, or a global it
reads) gets fresh runs, and that shared runs give the verdicts fresh runs give, for right and wrong answers.
"""

from __future__ import annotations

import inspect

import pytest

import course
from autograder import checks
from autograder.checks import common
from autograder.checks.messages import CheckFailed

from crew_answers import ALTERNATIVE, MISSING_JOIN_03, WRONG
from tests.checks.test_checks import define, learner_run, measured, solution

ANSWER_CELLS = {"01_sequential.ipynb": "seq_build", "02_hierarchical.ipynb": "hier_build",
                "03_async.ipynb": "async_build", "04_mixed_phases.ipynb": "mixed_build"}
SEQUENTIAL = solution("01_sequential.ipynb", "seq_build")


def made() -> int:
    """How many runs the grader has kicked off in this process so far."""
    return len(common.grader_runs())


def test_a_notebooks_checks_share_one_set_of_runs():
    build_crew = define(SEQUENTIAL)
    before = made()
    checks.sequential_crew(build_crew)  # visible 1.1: the fast schedule's first run
    checks.sequential_order(build_crew)
    checks.sequential_order(build_crew, thorough=True)  # hidden 1.2: that run and one more
    assert made() - before == 2
    checks.sequential_context(build_crew, thorough=True)
    checks.sequential_determinism(build_crew, [learner_run(build_crew).order() for _ in range(3)])
    assert made() - before == 2  # 1.3 and 1.4 read the same two runs (before sharing: 12 runs)


def test_a_redefined_build_crew_is_run_again():
    first = define(SEQUENTIAL)
    checks.sequential_order(first, thorough=True)
    before = made()
    again = define(SEQUENTIAL)  # the same source, run again in a cell: a new function
    checks.sequential_order(again, thorough=True)
    assert made() - before == 2


def test_a_changed_helper_or_global_gives_fresh_runs_and_the_verdict_follows_the_change():
    namespace_source = '''
TOPIC = "AI trends in healthcare"

def steps():
    researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful")
    writer = Agent(role="Writer", goal="Write", backstory="Clear")
    editor = Agent(role="Editor", goal="Polish", backstory="Exact")
    research = Task(description=f"Research {TOPIC}", expected_output="Notes", agent=researcher)
    write = Task(description="Write the article", expected_output="Draft", agent=writer, context=[research])
    edit = Task(description="Edit the article", expected_output="Final", agent=editor, context=[write])
    return [researcher, writer, editor], [research, write, edit]

def build_crew():
    agents, tasks = steps()
    return Crew(agents=agents, tasks=tasks, process=Process.sequential)
'''
    build_crew = define(namespace_source)
    namespace = build_crew.__globals__
    checks.sequential_context(build_crew, thorough=True)
    before = made()
    checks.sequential_context(build_crew, thorough=True)
    assert made() == before  # nothing changed: shared

    namespace["TOPIC"] = "batteries"  # a global the helper reads, rebound in a later cell
    recorded = common.run(build_crew, latency=common.FAST_THOROUGH[0])
    assert made() == before + 1 and recorded.tasks[0].description == "Research batteries"

    # The helper redefined so that the edit no longer receives the draft: the check sees the new crew.
    exec(compile(namespace_source.split("def build_crew")[0].replace(", context=[write])", ")"),  # noqa: S102
                 "<cell>", "exec"), namespace)
    with pytest.raises(CheckFailed, match="does not list"):
        checks.sequential_context(build_crew, thorough=True)


def test_a_crew_changed_in_place_gives_fresh_runs():
    build_crew = define('''
SETTINGS = {"description": "Research AI trends in healthcare"}

def build_crew():
    researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful")
    writer = Agent(role="Writer", goal="Write", backstory="Clear")
    editor = Agent(role="Editor", goal="Polish", backstory="Exact")
    research = Task(description=SETTINGS["description"], expected_output="Notes", agent=researcher)
    write = Task(description="Write the article", expected_output="Draft", agent=writer, context=[research])
    edit = Task(description="Edit the article", expected_output="Final", agent=editor, context=[write])
    return Crew(agents=[researcher, writer, editor], tasks=[research, write, edit], process=Process.sequential)
''')
    common.run(build_crew, latency=0.0)
    before = made()
    build_crew.__globals__["SETTINGS"]["description"] = "Research batteries"  # same dict, changed in place
    recorded = common.run(build_crew, latency=0.0)
    assert made() == before + 1 and recorded.tasks[0].description == "Research batteries"


def test_what_cannot_be_identified_is_never_shared():
    crew_object = define(SEQUENTIAL)()
    before = made()
    common.run(crew_object, latency=0.0)
    common.run(crew_object, latency=0.0)
    assert made() - before == 2  # a Crew object (not a function): fresh runs

    class Builder:
        def __call__(self):
            return define(SEQUENTIAL)()

    callable_object = Builder()
    before = made()
    common.run(callable_object, latency=0.0)
    common.run(callable_object, latency=0.0)
    assert made() - before == 2


def test_a_failed_run_fails_the_later_checks_with_the_same_message_without_running_again():
    wrong = define(WRONG["03_async.ipynb"]["async_build"])  # one agent for every async task: CrewAI raises
    first = str(pytest.raises(CheckFailed, checks.async_overlap, wrong).value)
    before = made()
    # The same failure, said once (the first check's message is whole, the later one points at it).
    assert str(pytest.raises(CheckFailed, checks.async_join, wrong).value).startswith(
        "Same problem as a test above:\n  Your crew stopped with an error.") and "Executor is already running" in first
    assert made() == before


def test_learner_runs_never_enter_the_shared_runs():
    build_crew = define(SEQUENTIAL)
    for _ in range(3):
        learner_run(build_crew)  # the learner's own kickoffs
    before = made()
    checks.sequential_order(build_crew)
    assert made() == before + 1


def test_the_switch_turns_sharing_off(monkeypatch):
    monkeypatch.setenv(common.SHARING_SWITCH, "0")
    build_crew = define(SEQUENTIAL)
    before = made()
    checks.sequential_order(build_crew, thorough=True)
    checks.sequential_context(build_crew, thorough=True)
    assert made() - before == 4
    assert common.visible_latency() == common.FAST_ALONE[0] and common.visible_latency(True) == common.TIMED_ALONE[0]


def test_replacing_the_shared_runs_is_tampering(monkeypatch):
    from autograder.checks import kit_integrity

    monkeypatch.setattr(common, "_SHARED", object())
    assert "the grader's shared runs were replaced" in kit_integrity.problems()


# --- the same verdicts ------------------------------------------------------------------------

def _attempt(make, otherwise):
    """What a learner's cell would have set, or what they would have typed when it failed."""
    try:
        return make()
    except Exception:  # noqa: BLE001 (a wrong crew may not run at all)
        return otherwise


def _outcomes(answers: dict[str, str]) -> list[str]:
    """Every test cell's checks (visible, then hidden) in the notebooks' order: passed, or the failure's first line."""
    one, two, three, four = (define(answers[nb]) if nb in answers else None for nb in sorted(ANSWER_CELLS))
    from course.examples import sequential_crew

    baseline = lambda: sequential_crew(topic="AI trends in healthcare")  # noqa: E731
    calls = []
    if one:
        orders = _attempt(lambda: [learner_run(one).order() for _ in range(3)], [])
        calls += [(checks.sequential_crew, one), (checks.sequential_order, one), (checks.sequential_context, one),
                  (lambda b: checks.sequential_determinism(b, orders), one)]
    if two:
        extra = _attempt(lambda: len(learner_run(two).llm_calls) - len(learner_run(baseline).llm_calls), 6)
        calls += [(checks.hierarchical_setup, two), (checks.hierarchical_delegation, two),
                  (checks.hierarchical_order, two),
                  (lambda b: checks.hierarchical_answers(b, "task list", "manager", extra, baseline=baseline), two)]
    if three:
        timings = _attempt(lambda: (measured(three, parallel=True), measured(three, parallel=False)), (0.5, 0.9))
        calls += [(checks.async_shape, three), (checks.async_agents, three), (checks.async_overlap, three),
                  (checks.async_join, three), (lambda b: checks.async_timing(b, *timings, model_latency=0.12), three)]
    if four:
        calls += [(checks.mixed_crew_graph, four), (checks.mixed_parallel, four), (checks.mixed_joins, four)]
    found = []
    for check, build_crew in calls:
        takes_thorough = "thorough" in inspect.signature(check).parameters
        for hidden in (False, True):  # a test cell: the visible check, then the hidden one
            name = f"{getattr(check, '__name__', '?')}{' (hidden)' if hidden else ''}"
            try:
                check(build_crew, **({"thorough": True} if hidden and takes_thorough else {}))
                found.append(f"{name}: passed")
            except CheckFailed as failure:
                found.append(f"{name}: {str(failure).splitlines()[0]}")
    return found


def _answers(kind: str) -> dict[str, str]:
    if kind == "reference":
        return {nb: solution(nb, cell) for nb, cell in ANSWER_CELLS.items()}
    if kind == "alternative":
        return {nb: ALTERNATIVE[nb][cell] for nb, cell in ANSWER_CELLS.items()}
    if kind == "wrong":
        return {nb: WRONG[nb][cell] for nb, cell in ANSWER_CELLS.items()}
    return {"03_async.ipynb": MISSING_JOIN_03}


@pytest.mark.parametrize("kind", ["reference", "alternative", "wrong", "missing join"])
def test_shared_runs_give_the_verdicts_fresh_runs_give(kind, monkeypatch):
    before = made()
    shared = _outcomes(_answers(kind))
    runs_shared = made() - before
    monkeypatch.setenv(common.SHARING_SWITCH, "0")
    before = made()
    fresh = _outcomes(_answers(kind))
    assert shared == fresh
    assert runs_shared < made() - before  # and the sharing saved runs
    failed = [line for line in shared if not line.endswith(": passed")]
    assert bool(failed) == (kind in ("wrong", "missing join")), failed


def test_the_grader_and_the_kernel_name_the_same_switch():
    from autograder.grading import sandbox

    # One name (autograder/paths.py) for both sides; the sandbox's allowlist lets it reach the kernel.
    assert sandbox.base_env({common.SHARING_SWITCH: "0"})[common.SHARING_SWITCH] == "0"
