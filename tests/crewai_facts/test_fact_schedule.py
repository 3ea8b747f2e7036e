"""CrewAI 1.15.30's schedule: when tasks start, proved by recorded order (docs/crewai-facts.md, "Schedule").

Each test forces its order with held model calls (see facts_support): no sleeps, no time budgets.
"""

from __future__ import annotations

import threading

import pytest
from crewai import Crew

from tests.crewai_facts.facts_support import Rendezvous, agent, held_until, run, signals, starts_after_end, task

pytestmark = pytest.mark.crewai_fact


@pytest.mark.parametrize("how", ["kickoff", "akickoff"])
def test_sync_task_waits_for_every_running_async_task_even_outside_its_context(how):
    """A sync task waits for every async task launched before it that is still running, whether or not
    its context lists it; context decides only which outputs it receives (the wait rule)."""
    c_started = threading.Event()
    a = task("A", agent("Researcher A", held_until(c_started)), async_execution=True)  # slow: held
    b = task("B", agent("Researcher B"), async_execution=True)  # fast
    c = task("C", agent("Writer", signals(c_started)), context=[b])
    recorded = run(Crew(agents=[a.agent, b.agent, c.agent], tasks=[a, b, c]), how)
    # Without the barrier C would start as soon as B ended, which releases A: C.start < A.end.
    assert recorded.task("B").end < recorded.task("A").end, recorded.summary()
    assert starts_after_end(recorded, "C", "A"), recorded.summary()
    assert recorded.task("C").received_from == ["B"], recorded.summary()


def test_four_phase_final_review_waits_for_the_report_it_does_not_receive():
    """Four-phase flow (research A/B async -> analysis -> report/presentation async -> final review) with
    `final review` given context=[presentation] only: it starts only after `report` ends, and receives
    the presentation alone."""
    review_started = threading.Event()
    research_a = task("research A", agent("Researcher A"), async_execution=True)
    research_b = task("research B", agent("Researcher B"), async_execution=True)
    analysis = task("analysis", agent("Analyst"), context=[research_a, research_b])
    report = task("report", agent("Report Writer", held_until(review_started)), context=[analysis],
                  async_execution=True)
    presentation = task("presentation", agent("Designer"), context=[analysis], async_execution=True)
    review = task("final review", agent("Editor", signals(review_started)), context=[presentation])
    tasks = [research_a, research_b, analysis, report, presentation, review]
    recorded = run(Crew(agents=[t.agent for t in tasks], tasks=tasks))
    assert recorded.task("presentation").end < recorded.task("report").end, recorded.summary()
    assert starts_after_end(recorded, "final review", "report"), recorded.summary()
    assert recorded.task("final review").received_from == ["presentation"], recorded.summary()
    assert starts_after_end(recorded, "analysis", "research A") and starts_after_end(recorded, "analysis", "research B")


@pytest.mark.parametrize("how", ["kickoff", "kickoff_async", "akickoff"])
def test_consecutive_async_tasks_run_at_the_same_time_and_the_join_waits_for_all(how):
    """Async tasks run side by side (one agent each), also under kickoff_async and akickoff; the sync task
    after them starts once all of them have completed and, given them as context, receives all their outputs."""
    meeting = Rendezvous(3)  # each research call waits until all three are running
    research = [task(f"research {x}", agent(f"Researcher {x}", meeting.model()), async_execution=True) for x in "ABC"]
    join = task("combine", agent("Writer"), context=research)
    recorded = run(Crew(agents=[t.agent for t in [*research, join]], tasks=[*research, join]), how)
    assert meeting.all_arrived.is_set(), recorded.summary()
    assert {tuple(p) for p in recorded.overlapping_pairs()} >= {
        ("research A", "research B"), ("research A", "research C"), ("research B", "research C")}, recorded.summary()
    assert all(starts_after_end(recorded, "combine", r.name) for r in research), recorded.summary()
    assert recorded.task("combine").received_from == ["research A", "research B", "research C"]


def test_async_task_is_launched_only_after_the_sync_task_before_it_ends():
    """The sequential walk reaches an async task only when the sync task before it has finished: an async
    task never runs alongside an earlier sync task."""
    async_started = threading.Event()
    plan = task("plan", agent("Planner", held_until(async_started)))
    research = task("research", agent("Researcher", signals(async_started)), async_execution=True)
    write = task("write", agent("Writer"), context=[research])
    recorded = run(Crew(agents=[plan.agent, research.agent, write.agent], tasks=[plan, research, write]))
    assert starts_after_end(recorded, "research", "plan"), recorded.summary()


def test_sync_tasks_run_one_at_a_time_in_list_order():
    """Process.sequential runs sync tasks one after another, in list order (each starts after the one before
    it ends)."""
    second_started = threading.Event()
    first = task("research", agent("Researcher", held_until(second_started)))
    second = task("write", agent("Writer", signals(second_started)))
    third = task("edit", agent("Editor"))
    recorded = run(Crew(agents=[first.agent, second.agent, third.agent], tasks=[first, second, third]))
    assert recorded.order() == ["research", "write", "edit"]
    assert starts_after_end(recorded, "write", "research") and starts_after_end(recorded, "edit", "write")
