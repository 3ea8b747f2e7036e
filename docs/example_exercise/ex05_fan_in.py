"""Exercise 5 (source/cells_05_fan_in.py): two research tasks side by side, joined by a summary.

The example exercise of docs/authoring.md, kept out of the released assignment. Each check grades one idea,
the one its part names: 5.1 only that the research tasks overlap, 5.2 only that the summary received both
outputs. Tasks are found by their place (research, research, summary), never by their wording, so any roles
and descriptions keep full marks.
"""

from __future__ import annotations

from typing import Any

from crewai import Crew

from autograder.checks.common import build, run
from autograder.checks.messages import fail, passed

# Seconds per model call in the grader's re-runs: long enough that two tasks started together are surely
# running at the same moment (the overlap is measured, not assumed). Thorough (hidden) tests try a second one.
LATENCIES = (0.1, 0.2)


def _three_tasks(crew: Crew) -> None:
    """What both parts need in order to find the tasks at all (not an idea of its own)."""
    __tracebackhide__ = True
    if len(crew.tasks) != 3:
        fail("The crew should have three tasks.", "two research tasks, then the summary",
             f"{len(crew.tasks)} task(s)", "Put exactly three tasks in tasks=[...], the summary last.")


def fan_in_overlap(build_crew: Any, thorough: bool = False) -> None:
    """5.1: the two research tasks really run at the same time."""
    __tracebackhide__ = True
    crew = build(build_crew)
    _three_tasks(crew)
    waiting = [t for t in crew.tasks[:2] if not t.async_execution]
    if waiting:
        fail("A research task waits for the one before it.", "async_execution=True on both research tasks",
             f"{len(waiting)} of them without async_execution=True",
             "Mark both research tasks async_execution=True.")
    for latency in LATENCIES if thorough else LATENCIES[:1]:
        recorded = run(build_crew, latency=latency)
        first, second = recorded.tasks[0], recorded.tasks[1]
        if not recorded.overlap(first, second):
            fail("The research tasks did not run at the same time.", "two bars side by side in the timeline",
                 f"{first.name!r} and {second.name!r} ran one after the other",
                 "Give each research task its own agent: one agent works on one task at a time.")
    passed("the two research tasks ran side by side")


def fan_in_join(build_crew: Any, thorough: bool = False) -> None:
    """5.2: the summary received the outputs of both research tasks."""
    __tracebackhide__ = True
    _three_tasks(build(build_crew))
    for latency in LATENCIES if thorough else LATENCIES[:1]:
        recorded = run(build_crew, latency=latency)
        summary = recorded.tasks[2]
        missing = [t.name for t in recorded.tasks[:2] if t.name not in summary.received_from]
        if missing:
            fail(f"{summary.name!r} never saw the output of {', '.join(repr(m) for m in missing)}.",
                 "both research outputs in the summary's prompt",
                 f"it received output from: {', '.join(summary.received_from) or 'no task'}",
                 "List both research tasks in the summary's context=[...].")
    passed("the summary received both research outputs")
