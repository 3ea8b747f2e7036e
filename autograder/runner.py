"""Re-run a learner's crew under the course recorder, safely.

The grader never trusts a run the learner made: it builds the crew again,
kicks it off in a worker thread (plain ``kickoff`` raises inside Jupyter's
event loop, and a thread lets a hanging crew time out instead of hanging
grading), and checks that the outputs really came from the course's model.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable

from course import recording, routing
from course.recording import RecordedRun
from course.scripted_llm import ScriptedLLM
from crewai import Crew

from autograder.feedback import describe_error, fail

# When each kickoff the grader made itself started: checks that compare a
# learner's own measurements with recorded runs must not count these.
_grader_started: set = set()

DEFAULT_LATENCY = 0.05  # long enough that side-by-side tasks visibly overlap, short enough for Run All
DEFAULT_TIMEOUT = 30.0


def build(make: Any, name: str = "build_crew", **arguments: Any) -> Crew:
    """Call the learner's build function (or accept a Crew) and return the Crew."""
    __tracebackhide__ = True
    if isinstance(make, Crew):
        if arguments:
            fail(f"`{name}` should be a function.", f"a function like `def {name}(...)` that returns a Crew",
                 "a Crew object", f"Keep the `def {name}(...):` line and build the crew inside it.")
        return make
    if not callable(make):
        fail(f"`{name}` is not a function.", f"`def {name}(...):` returning a Crew",
             f"a {type(make).__name__}", f"Keep the `def {name}(...):` line from the exercise cell.")
    try:
        crew = make(**arguments)
    except NotImplementedError:
        fail(f"`{name}` is not written yet.", "a Crew built inside the function",
             "it still raises NotImplementedError", "Replace `raise NotImplementedError()` with your code.")
    except TypeError as exc:
        if arguments and "argument" in str(exc):
            wanted = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
            fail(f"`{name}` could not be called with {wanted}.", f"`def {name}({', '.join(arguments)}=...)`",
                 describe_error(exc), "Keep the function's first line as the exercise gives it.")
        fail(f"`{name}()` raised an error while building the crew.", "a Crew", describe_error(exc),
             "Run the cell that defines it and read the error there.")
    except Exception as exc:  # noqa: BLE001 (any learner error becomes a message)
        fail(f"`{name}()` raised an error while building the crew.", "a Crew", describe_error(exc),
             "Run the cell that defines it and read the error there.")
    if not isinstance(crew, Crew):
        fail(f"`{name}()` did not return a Crew.", "`return Crew(...)` at the end of the function",
             f"it returned {type(crew).__name__}", "End the function with `return crew`.")
    return crew


def _scripted_models(crew: Crew) -> list[ScriptedLLM]:
    __tracebackhide__ = True
    found: dict[int, ScriptedLLM] = {}
    holders = list(crew.agents) + [crew.manager_agent] + [t.agent for t in crew.tasks]
    candidates = [getattr(h, "llm", None) for h in holders if h is not None]
    candidates += [crew.manager_llm, routing.default_llm()]
    for model in candidates:
        if isinstance(model, ScriptedLLM):
            found[id(model)] = model
    return list(found.values())


def _quiet(crew: Crew) -> None:
    """Graders re-run crews many times: keep verbose panels out of the test output."""
    __tracebackhide__ = True
    for holder in [crew, *crew.agents, crew.manager_agent]:
        if holder is not None and getattr(holder, "verbose", False):
            try:
                holder.verbose = False
            except Exception:  # noqa: BLE001 (a crew that refuses stays verbose; harmless)
                pass


def _short_minute(crew: Crew) -> Any:
    __tracebackhide__ = True
    if not getattr(crew, "max_rpm", None) and not any(getattr(a, "max_rpm", None) for a in crew.agents):
        return contextlib.nullcontext()
    from course import controls

    return controls.short_minute(0.05)


def run(make: Any, latency: float = DEFAULT_LATENCY, timeout: float = DEFAULT_TIMEOUT,
        name: str = "build_crew", **arguments: Any) -> RecordedRun:
    """Build the learner's crew, kick it off, and return what really happened."""
    __tracebackhide__ = True
    crew = build(make, name, **arguments)
    _quiet(crew)
    models = _scripted_models(crew)
    saved = [(m, m.latency) for m in models]
    outcome: dict[str, Any] = {}

    def kick() -> None:
        try:
            outcome["result"] = crew.kickoff()
        except BaseException as exc:  # noqa: BLE001 (reported to the learner below)
            outcome["error"] = exc

    try:
        for model in models:
            model.latency = latency
        # Through the modules integrity() guards, never through names a notebook can rebind on `course`.
        # max_rpm is not graded, and its 60 s pause would outlast the timeout: a short "minute" instead.
        with _short_minute(crew), recording.record() as recorded_runs:
            worker = threading.Thread(target=kick, name="grader-kickoff", daemon=True)
            worker.start()
            worker.join(timeout)
    finally:
        for model, value in saved:
            model.latency = value
    if worker.is_alive():
        fail("Your crew did not finish.", f"a run that ends within {timeout:.0f} s",
             "it was still running when the grader stopped waiting",
             "Look for a tool that never returns, or a model of your own that never answers.")
    if "error" in outcome:
        fail("Your crew stopped with an error.", "a run that completes", describe_error(outcome["error"]),
             "Run your crew in the notebook, read the error, and fix the crew.")
    _grader_started.update(r.started_at for r in recorded_runs.runs)
    runs = [r for r in recorded_runs.runs if len(r.tasks) == len(crew.tasks)]
    if not runs:
        fail("No run was recorded.", "one kickoff of your crew",
             "the course recorder saw none", "Build agents and tasks with crewai's Agent, Task and Crew.")
    recorded = runs[-1]
    verify_real(recorded)
    return recorded


def grader_runs() -> frozenset:
    """Start times of the kickoffs the grader made (not the learner's)."""
    __tracebackhide__ = True
    return frozenset(_grader_started)


def verify_real(recorded: RecordedRun) -> None:
    """The outputs must come from the course's scripted model, not be typed in or faked."""
    __tracebackhide__ = True
    if not recorded.llm_calls:
        fail("Your crew's run made no calls to the course model.",
             "every task answered by the course's scripted model", "no model calls were recorded",
             "Do not give agents a model of your own: leave out `llm=`, or use a model name like \"gpt-4o\".")
    replies = "\n".join(call.reply for call in recorded.llm_calls)
    for task in recorded.tasks:
        if not task.ref or f"[ref:{task.ref} by " not in replies:
            fail(f"The output of task {task.name!r} did not come from the course model.",
                 "each task's output written by the model during the run",
                 "its output has no matching model reply",
                 "Let the agents produce the outputs: no hard-coded outputs or custom models.")


def runs(make: Any, count: int, latencies: tuple[float, ...] = (DEFAULT_LATENCY,), **kwargs: Any) -> list[RecordedRun]:
    """Several fresh runs, cycling through the latencies (different schedules, same crew)."""
    __tracebackhide__ = True
    return [run(make, latency=latencies[i % len(latencies)], **kwargs) for i in range(count)]


Builder = Callable[..., Crew]
