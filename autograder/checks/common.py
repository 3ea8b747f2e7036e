"""What every exercise's checks share: re-running a learner's crew under the course recorder, safely.

The grader never trusts a run the learner made: it builds the crew again,
kicks it off in a worker thread (plain ``kickoff`` raises inside Jupyter's
event loop, and a thread lets a hanging crew time out instead of hanging
grading), and checks that the outputs really came from the course's model.

The runs are shared: the first test cell that needs a run of a build function
at a latency makes it, and every later test cell of the notebook reads the
same run, as long as nothing that run depends on changed (``SharedRuns``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
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
             f"Call `{_call(name, arguments)}` in a new cell: its error points at the line to fix.")
    except Exception as exc:  # noqa: BLE001 (any learner error becomes a message)
        fail(f"`{name}()` raised an error while building the crew.", "a Crew", describe_error(exc),
             f"Call `{_call(name, arguments)}` in a new cell: its error points at the line to fix.")
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


def _call(name: str, arguments: dict) -> str:
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"


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
    """Build the learner's crew, kick it off, and return what really happened.

    A run this notebook's grader already made of the same build function, at the same
    latency, of a crew of the same shape, is returned instead of a new one (``SharedRuns``).
    """
    __tracebackhide__ = True
    crew = build(make, name, **arguments)
    key = _SHARED.key(make, crew, latency, timeout, arguments) if sharing() else None
    if key is not None:
        kept = _SHARED.get(key)
        if kept is not None:
            return kept.outcome()
    try:
        recorded = _kick_off(crew, latency, timeout)
    except CheckFailed as failure:
        if key is not None:  # a crew that failed (or hung) fails the same way in the next cell: say it at once
            _SHARED.keep(key, failure)
        raise
    if key is not None:
        _SHARED.keep(key, recorded)
    return recorded


def _kick_off(crew: Crew, latency: float, timeout: float) -> RecordedRun:
    __tracebackhide__ = True
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


# --- one set of recorded runs per notebook, shared by its test cells --------------------------

# A kernel's environment with this set to "0": every check kicks off crews of its own, as
# before the runs were shared (make bench measures both side by side).
from autograder.paths import SHARED_RUNS_ENV as SHARING_SWITCH  # noqa: E402  (set by the grader)


def sharing() -> bool:
    """Whether test cells share the grader's runs (the default) or each makes its own."""
    __tracebackhide__ = True
    return os.environ.get(SHARING_SWITCH, "1") != "0"


class _Key:
    """A shared run's key (identities, settings, the crew's shape) and the objects whose ids it holds."""

    def __init__(self, value: tuple, pinned: list[Any]) -> None:
        self.value = value
        self.pinned = pinned


class _Kept:
    """One shared run, or the failure that run ended in, with the objects its key names by id."""

    def __init__(self, result: RecordedRun | CheckFailed, pinned: list[Any]) -> None:
        self.result = result
        self.pinned = pinned  # alive while kept, so that no new object can take one of their ids

    def outcome(self) -> RecordedRun:
        __tracebackhide__ = True
        if isinstance(self.result, CheckFailed):
            raise CheckFailed(str(self.result)) from None
        return self.result


class SharedRuns:
    """The grader's runs in this kernel, by what they depend on.

    Every test cell used to kick off the learner's crew again at its own latencies:
    about a dozen runs per notebook, most of a graded notebook's CPU. A run of one build
    function at one latency is the same evidence whichever check reads it, so the first
    test cell that needs it makes it and later ones read it. It is read again only while
    nothing it depends on changed: the same function object with the same code, defaults
    and closure; the same objects behind every global name it reads, followed into the
    notebook's functions it calls (a helper redefined in a later cell is a new object);
    the same arguments, latency and time limit; and a crew of the same shape built now
    (which catches a global list or dict changed in place). A learner who redefines or
    changes ``build_crew`` gets fresh runs.
    """

    def __init__(self) -> None:
        self._runs: dict[tuple, _Kept] = {}

    def key(self, make: Any, crew: Crew, latency: float, timeout: float, arguments: dict) -> "_Key | None":
        """None for what cannot be identified safely (a Crew object, a callable that is not a plain function)."""
        __tracebackhide__ = True
        if not isinstance(make, types.FunctionType):
            return None
        pinned: list[Any] = []
        try:
            depends = _depends(make, pinned, set())
            shape = _shape(crew, pinned)
        except Exception:  # noqa: BLE001 (anything odd is simply not shared)
            return None
        return _Key((depends, shape, float(latency), float(timeout), repr(sorted(arguments.items()))), pinned)

    def get(self, key: "_Key") -> _Kept | None:
        __tracebackhide__ = True
        return self._runs.get(key.value)

    def keep(self, key: "_Key", result: RecordedRun | CheckFailed) -> None:
        __tracebackhide__ = True
        self._runs[key.value] = _Kept(result, key.pinned)

    def __len__(self) -> int:
        return len(self._runs)


_SHARED = SharedRuns()


def _depends(function: types.FunctionType, pinned: list[Any], seen: set[int]) -> tuple:
    """What a build function's behaviour depends on that a notebook can rebind, as identities."""
    __tracebackhide__ = True
    if id(function) in seen:
        return ("again", id(function))
    seen.add(id(function))
    pinned.append(function)
    code = function.__code__
    cells = tuple(cell.cell_contents for cell in function.__closure__ or () if _filled(cell))
    pinned.extend([code, function.__defaults__, function.__kwdefaults__, *cells])
    namespace = function.__globals__
    names = sorted(n for n in _global_names(code) if n in namespace)
    bound = []
    for name in names:
        value = namespace[name]
        pinned.append(value)
        if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
            bound.append((name, _depends(value, pinned, seen)))  # the notebook's own helpers, followed
        else:
            bound.append((name, id(value)))
    return (id(function), code, id(function.__defaults__), id(function.__kwdefaults__),
            tuple(id(c) for c in cells), tuple(bound))


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # a closure variable not assigned yet
        return False
    return True


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):  # nested functions, lambdas, comprehensions
            names |= _global_names(const)
    return names


def _shape(crew: Crew, pinned: list[Any]) -> tuple:
    """The crew as configured: process, agents, tasks, their wiring, models and tools."""
    __tracebackhide__ = True
    agents = list(crew.agents)
    if crew.manager_agent is not None:
        agents.append(crew.manager_agent)
    index = {id(a): i for i, a in enumerate(agents)}

    def model(llm: Any) -> tuple:
        if llm is None or isinstance(llm, str):
            return ("name", llm)
        kind = type(llm)
        if kind is not ScriptedLLM:
            pinned.append(llm)  # a model of the notebook's own: shared only as this very object
            return (kind.__module__, kind.__qualname__, id(llm))
        # The course's model: its settings, not its identity (each build may make a new one);
        # the latency is the grader's, set for each run. A reply function of its own is shared
        # only as that very function.
        answers = llm.reply_backend
        if answers is not None:
            pinned.append(answers)
        return ("scripted", llm.model, repr(llm.fail_roles), llm.fail_first, llm.fail_message,
                None if answers is None else id(answers))

    def tools(holder: Any) -> tuple:
        found = tuple(getattr(holder, "tools", None) or ())
        pinned.extend(found)
        return tuple((type(t).__qualname__, str(getattr(t, "name", "")), id(t)) for t in found)

    def agent(a: Any) -> tuple:
        return (str(a.role), str(a.goal), str(a.backstory), bool(getattr(a, "allow_delegation", False)),
                model(getattr(a, "llm", None)), tools(a), getattr(a, "max_iter", None), getattr(a, "max_rpm", None))

    def task(t: Any) -> tuple:
        context = t.context if isinstance(t.context, list) else None
        return (str(t.name), str(t.description), str(t.expected_output), bool(t.async_execution),
                index.get(id(t.agent)) if t.agent is not None else None,
                None if context is None else tuple(_position(crew.tasks, c) for c in context), tools(t))

    return (type(crew).__qualname__, str(getattr(crew.process, "value", crew.process)),
            tuple(agent(a) for a in agents), tuple(task(t) for t in crew.tasks),
            model(crew.manager_llm), getattr(crew, "max_rpm", None), repr(getattr(crew, "inputs", None)))


def _position(tasks: list[Any], task: Any) -> int | str:
    return next((i for i, t in enumerate(tasks) if t is task), f"outside:{id(task)}")


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
    """Several runs, cycling through the latencies (different schedules, same crew)."""
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
# A visible check reads the first of them, which the hidden check reads again (shared).
FAST_THOROUGH, TIMED_THOROUGH = (0.0, 0.03), (0.03, 0.08)
FAST, TIMED = FAST_THOROUGH[:1], TIMED_THOROUGH[:1]
# Without sharing (SHARING_SWITCH), visible checks keep the schedules they had before runs were shared.
FAST_ALONE, TIMED_ALONE = (0.01,), (0.05,)


def visible_latency(timed: bool = False) -> float:
    """The latency of a visible check's one run."""
    __tracebackhide__ = True
    if sharing():
        return (TIMED if timed else FAST)[0]
    return (TIMED_ALONE if timed else FAST_ALONE)[0]


def schedules(build_crew: Any, thorough: bool, timed: bool = False, **arguments: Any) -> list[RecordedRun]:
    """Runs at the latencies a check needs (two schedules when thorough)."""
    __tracebackhide__ = True
    if thorough:
        latencies = TIMED_THOROUGH if timed else FAST_THOROUGH
    else:
        latencies = (visible_latency(timed),)
    return runs(build_crew, len(latencies), latencies, **arguments)


def shaped_runs(build_crew: Any, shape: Callable[[Crew], Any], thorough: bool = False, timed: bool = False,
                latency: float | None = None, **arguments: Any) -> tuple[Any, list[RecordedRun]]:
    """The steps of every check that runs the learner's crew, in the order each takes them.

    Build the crew (``arguments`` go to the build function), judge it with ``shape(crew)``,
    then run it. ``shape`` fails with the exercise's own message, so a crew of the wrong
    shape is never run, or returns what the check reads on (the crew, the tasks it judges).
    That comes back with the runs: one at the visible latency (or at ``latency``), or the
    two schedules of a thorough check.
    """
    __tracebackhide__ = True
    judged = shape(build(build_crew, **arguments))
    if latency is not None:
        return judged, [run(build_crew, latency=latency, **arguments)]
    return judged, schedules(build_crew, thorough, timed, **arguments)


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


def require_process(crew: Crew, kind: str, hint: str | None = None) -> None:
    """Fail unless the crew uses ``kind`` ("sequential" or "hierarchical"), in the words every exercise uses."""
    __tracebackhide__ = True
    if process(crew) != kind:
        fail(f"The crew does not use the {kind} process.", f"process=Process.{kind}", f"process={process(crew)}",
             hint or f"Pass process=Process.{kind} to Crew(...).")


def three_sync_tasks(crew: Crew, miscounted: tuple[str, str], asynchronous: tuple[str, str, str]) -> None:
    """The pipeline of exercises 1 and 2: three tasks, none of them async, judged in each exercise's words.

    ``miscounted``: what went wrong and the hint when the crew has not three tasks;
    ``asynchronous``: what went wrong, what was expected and the hint when a task is async.
    """
    __tracebackhide__ = True
    if len(crew.tasks) != 3:
        what, hint = miscounted
        fail(what, "research, write and edit", f"{len(crew.tasks)} task(s): {names(crew.tasks)}", hint)
    found = [t for t in crew.tasks if t.async_execution]
    if found:
        what, expected, hint = asynchronous
        fail(what, expected, f"async_execution=True on {names(found)}", hint)


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
