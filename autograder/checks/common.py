"""What every exercise's checks share: re-running a learner's crew under the course recorder, safely.

The grader never trusts a run the learner made: it builds the crew again,
kicks it off in a worker thread (plain ``kickoff`` raises inside Jupyter's
event loop, and a thread lets a hanging crew time out instead of hanging
grading), and checks that the outputs really came from the course's model.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable

from crewai import Crew

from course import cell_log, graph, recording, routing
from course.recording import RecordedRun
from course.scripted_llm import ScriptedLLM

from autograder.checks import rules
from autograder.checks.messages import CheckFailed, describe_error, fail

# When each kickoff the grader made itself started: checks that compare a
# learner's own measurements with recorded runs must not count these.
_grader_started: set = set()

DEFAULT_LATENCY = 0.05  # long enough that side-by-side tasks visibly overlap, short enough for Run All
DEFAULT_TIMEOUT = 30.0


# The first message about a broken build function, per function and arguments: later test
# cells that fail for the same reason say so in one line instead of repeating it.
_said: dict[tuple[int, str], str] = {}


def build(make: Any, name: str = "build_crew", **arguments: Any) -> Crew:
    """Call the learner's build function (or accept a Crew) and return the Crew."""
    __tracebackhide__ = True
    key = (id(getattr(make, "__code__", make)), repr(sorted(arguments.items())))
    try:
        return _build(make, name, **arguments)
    except CheckFailed as failure:
        message = str(failure)
        if _said.get(key) == message:
            first = message.splitlines()[0]
            # Short lines: nbgrader's Validate cuts each line of a message at about 88 characters.
            raise CheckFailed(f"Same problem as a test above: {first}\n"
                              "  Expected: a crew this test can run\n  What happened: see the first failing test\n"
                              "  Hint: fix that one; this test follows it.") from None
        _said[key] = message
        raise


def _build(make: Any, name: str, **arguments: Any) -> Crew:
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
    replaced = _not_crewais_own(crew)
    if replaced:
        fail(f"`{name}()` returned a crew that does not run as CrewAI runs it.",
             "a plain crewai Crew, so that CrewAI itself runs the tasks",
             f"its {', '.join(replaced)} {'is' if len(replaced) == 1 else 'are'} not CrewAI's own",
             "Return Crew(...) itself: no subclass or replaced methods.")
    return crew


def _not_crewais_own(crew: Crew) -> list[str]:
    """Methods of this crew that are not CrewAI's: a subclass or an instance could answer with canned text."""
    __tracebackhide__ = True
    found = []
    if type(crew) is not Crew:
        # pydantic writes model_* hooks and dunders into every subclass itself: not the learner's doing.
        found += [name for klass in type(crew).__mro__ if klass is not Crew and issubclass(klass, Crew)
                  for name, value in vars(klass).items()
                  if (callable(value) or isinstance(value, property)) and not name.startswith(("model_", "__"))]
        found = found or [f"class {type(crew).__name__}"]
    found += [name for name in vars(crew) if callable(getattr(Crew, name, None))]
    extra = getattr(crew, "__pydantic_extra__", None) or {}
    found += [name for name in extra if callable(getattr(Crew, name, None))]
    return list(dict.fromkeys(found))


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
    try:
        for model in models:
            model.latency = latency
        # Through the modules integrity() guards, never through names a notebook can rebind on `course`.
        # max_rpm is not graded, and its 60 s pause would outlast the timeout: a short "minute" instead.
        with _short_minute(crew):
            recorded = recording.kickoff(crew, timeout=timeout)
    except TimeoutError:
        fail("Your crew did not finish.", f"a run that ends within {timeout:.0f} s",
             "it was still running when the grader stopped waiting",
             "Look for a tool that never returns, or a model of your own that never answers.")
    except LookupError:
        fail("No run was recorded.", "one kickoff of your crew",
             "the course recorder saw none", "Build agents and tasks with crewai's Agent, Task and Crew.")
    except Exception as error:  # noqa: BLE001 (any crew error becomes a message)
        fail("Your crew stopped with an error.", "a run that completes", describe_error(error),
             "Run your crew in the notebook, read the error, and fix the crew.")
    finally:
        for model, value in saved:
            model.latency = value
    _grader_started.add(recorded.started_at)
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


# --- answers the test cells read ------------------------------------------------------------

def needs(*names: str) -> None:
    """Stop with a sentence, not a NameError, when an answer this test reads is not defined yet."""
    __tracebackhide__ = True
    scope = sys._getframe(1).f_globals  # the notebook's namespace: test cells run at its top level
    for name in names:
        if name not in scope:
            cell = cell_log.defining(name)
            if cell is None:
                happened = f"no cell that sets `{name}` has run in this notebook yet"
                hint = "Answer the exercise cell that asks for it and run it (or Run All), then this test."
            elif isinstance(cell.error, NotImplementedError):
                happened = "its exercise cell is not answered yet"
                hint = "Replace `raise NotImplementedError()` there, run it, then this test."
            elif cell.error is not None:
                happened = f"the cell that sets it (it starts `{cell.first_line[:60]}`) stopped with {describe_error(cell.error)}"
                hint = "Fix that cell and run it again, then run this test."
            else:
                happened = f"the cell starting `{cell.first_line[:60]}` ran but did not set it"
                hint = f"Keep the line that assigns `{name}` in that cell."
            fail(f"`{name}` is not defined, so this test cannot run.", f"`{name}` set by its exercise cell above",
                 happened, hint)


def cell_trouble(name: str) -> str:
    """``" (the cell that sets it stopped with ...)"`` when the cell assigning ``name`` raised, else ``""``."""
    __tracebackhide__ = True
    cell = cell_log.defining(name)
    if cell is None or cell.error is None:
        return ""
    return f"; the cell that sets it stopped with {describe_error(cell.error)}"


# --- shared vocabulary of the exercises ----------------------------------------------------

# Model latencies for re-runs. Order and context do not depend on timing, so those
# checks run fast; overlap does, so async checks give each call time to be seen
# running. Thorough (hidden) checks run two schedules: what holds at both is no luck.
FAST, FAST_THOROUGH = (0.01,), (0.0, 0.03)
TIMED, TIMED_THOROUGH = (0.05,), (0.03, 0.08)


def schedules(build_crew: Any, thorough: bool, timed: bool = False, **arguments: Any) -> list[RecordedRun]:
    """Fresh runs at the latencies a check needs (two schedules when thorough)."""
    __tracebackhide__ = True
    if timed:
        latencies = TIMED_THOROUGH if thorough else TIMED
    else:
        latencies = FAST_THOROUGH if thorough else FAST
    return runs(build_crew, len(latencies), latencies, **arguments)


def names(items: list[Any], joiner: str = ", ") -> str:
    """Task names for a message: ``joiner=" -> "`` for an order, a plain list otherwise."""
    __tracebackhide__ = True
    return joiner.join(repr(graph.task_name(i)) if not isinstance(i, str) else repr(i) for i in items) or "(none)"


def order(items: list[Any]) -> str:
    __tracebackhide__ = True
    return names(items, " -> ")


def process(crew: Crew) -> str:
    __tracebackhide__ = True
    return str(getattr(crew.process, "value", crew.process))


def role(agent: Any) -> str | None:
    __tracebackhide__ = True
    return str(agent.role) if agent is not None else None


def learner_runs() -> list[RecordedRun]:
    """Runs the learner made in this kernel (not the grader's re-runs), oldest first, failed ones left out."""
    __tracebackhide__ = True
    mine = grader_runs()
    return [r for r in recording.runs_since(None) if r.started_at not in mine and not r.error]


def in_list_order_one_at_a_time(recorded: RecordedRun, order_hint: str) -> None:
    """Both processes walk the task list: in its order, each task after the previous one ended."""
    __tracebackhide__ = True
    listed = [t.name for t in recorded.tasks]
    if recorded.order() != listed:
        fail("The tasks did not run in the order of the task list.", order(listed),
             order(recorded.order()), order_hint)
    found = rules.out_of_turn(recorded, recorded.tasks)
    if found:
        before, after = found
        fail(f"{after.name!r} started before {before.name!r} had finished.",
             "each task to start only after the previous one ended",
             f"they overlapped ({before.name!r} ended at {before.end:.2f} s, {after.name!r} started at "
             f"{after.start:.2f} s)", "Keep every task of this pipeline synchronous.")
