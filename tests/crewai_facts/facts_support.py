"""Small helpers for the CrewAI fact tests: agents on the course's scripted model, held calls, recorded runs.

Timing facts are proved by ORDER, never by a wall-clock budget. A task whose order is in
question gets a ``HookedLLM`` whose call waits for a signal that only the other possible
schedule would send (for example: "task C has started"). If that schedule exists, the
signal arrives and the held task ends after it; if it does not, the held task gives up
after ``HOLD`` seconds and ends first. So the recorded order is forced either way, and a
slow machine only makes a test slower, not wrong.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

from crewai import Agent, Crew, Task

import course
from course.recording import RecordedRun

# How long a held model call waits for a signal that, if the fact holds, never comes (paid by every run).
HOLD = 1.0
# How long tasks that should be running together wait for each other (paid only if they are not).
MEET = 5.0


class HookedLLM(course.ScriptedLLM):
    """The scripted model, with ``before_call(from_task)`` run in the caller's thread before each call."""

    before_call: Any = None

    def call(self, messages, tools=None, callbacks=None, available_functions=None,
             from_task=None, from_agent=None, response_model=None, **kwargs):  # noqa: ANN001
        if self.before_call is not None:
            self.before_call(from_task)
        return super().call(messages, tools, callbacks, available_functions, from_task, from_agent,
                            response_model, **kwargs)


def signals(event: threading.Event) -> HookedLLM:
    """A model that sets ``event`` when its agent starts working."""
    return HookedLLM(before_call=lambda _task: event.set())


def held_until(event: threading.Event) -> HookedLLM:
    """A model whose calls wait (at most HOLD seconds) for ``event`` before answering."""
    return HookedLLM(before_call=lambda _task: event.wait(HOLD))


class Rendezvous:
    """Set once ``parties`` different tasks have called their model: proof they ran at the same moment."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self.all_arrived = threading.Event()

    def model(self) -> HookedLLM:
        def arrive(task: Any) -> None:
            with self._lock:
                self._seen.add(str(getattr(task, "description", task)))
                if len(self._seen) >= self.parties:
                    self.all_arrived.set()
            self.all_arrived.wait(MEET)

        return HookedLLM(before_call=arrive)


def agent(role: str, llm: course.ScriptedLLM | None = None, **settings: Any) -> Agent:
    """An agent on its own scripted model (no latency unless given one)."""
    return Agent(role=role, goal=f"Do the {role.lower()} work", backstory=f"An experienced {role.lower()}.",
                 llm=llm if llm is not None else course.ScriptedLLM(), **settings)


def task(name: str, worker: Agent | None = None, **settings: Any) -> Task:
    """A task named ``name`` (its description too), so the recorded run can be read by name."""
    return Task(name=name, description=name, expected_output=f"The {name} result", agent=worker, **settings)


KICKOFFS: dict[str, Callable[[Crew], Any]] = {
    "kickoff": lambda crew: crew.kickoff(),
    # What a notebook cell does: inside a running event loop.
    "kickoff_async": lambda crew: asyncio.run(crew.kickoff_async()),
    "akickoff": lambda crew: asyncio.run(crew.akickoff()),
}


def run(crew: Crew, how: str = "kickoff") -> RecordedRun:
    """Kick the crew off (``kickoff``, ``kickoff_async`` or ``akickoff``) and return its recorded run."""
    with course.record() as recording:
        KICKOFFS[how](crew)
    return recording.run


def starts_after_end(run: RecordedRun, later: str, earlier: str) -> bool:
    """True when task ``later`` started only once task ``earlier`` had ended (recorded CrewAI event times)."""
    first, second = run.task(earlier), run.task(later)
    assert first.end is not None and second.start is not None, run.summary()
    return second.start >= first.end
