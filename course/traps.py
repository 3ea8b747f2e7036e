"""Known traps, each with a one-sentence diagnosis and its fix.

``diagnose(error)`` turns an exception (or its message) into advice;
``explain(error)`` shows that advice in the notebook without a traceback;
``check_crew(crew)`` looks at a crew before kickoff and warns about the traps
it would walk into. The texts CrewAI prints were checked against 1.15.30 by
``tests/course/test_traps.py``, which triggers every one of them for real.

In a notebook, ``install_notebook_handler()`` (run by ``import course``) makes
a cell that raises a known trap show one short message instead of CrewAI's
traceback: plain ``crew.kickoff()`` in a cell raises a chain of three identical
RuntimeErrors (about 16,000 characters with colours) whose fix is one line.
Unknown errors keep IPython's normal traceback; ``%tb`` still shows the full one.
"""

from __future__ import annotations

import html
import re
import sys
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator

# --- what CrewAI (and the course) say ---------------------------------------------------

EXECUTOR_BUSY = "Executor is already running"
END_ASYNC = "The crew must end with at most one asynchronous task."
ASYNC_CONTEXT = re.compile(r"Task '(.*?)' is asynchronous and cannot include other sequential asynchronous "
                           r"tasks in its context", re.S)
FUTURE_CONTEXT = re.compile(r"Task '(.*?)' has a context dependency on a future task '(.*?)', which is not allowed",
                            re.S)
IN_EVENT_LOOP = "invoked synchronously from within a running event loop"
NO_MANAGER = "Attribute `manager_llm` or `manager_agent` is required when using hierarchical process."
MANAGER_IN_AGENTS = "Manager agent should not be included in agents list."
MANAGER_TOOLS = "Manager agent should not have tools"
NO_AGENT = re.compile(r"Agent is missing in the task with the following description: (.*?)(?: \[type=|$)", re.S)
API_KEY = "OPENAI_API_KEY is required"
# 1.15.30 nests one message in the other: "Missing required template variable 'Template
# variable 'topic' not found in inputs dictionary' in description".
# The inner wording is shared by every field (description, expected_output, role, goal, backstory).
TEMPLATE = re.compile(r"Template variable '([^']*)' not found in inputs|Missing required template variable '(?!Template variable)([^']*)'")
BAD_PROCESS = "Input should be 'sequential' or 'hierarchical'"
VERBOSE_LEVEL = re.compile(r"^verbose\n\s+Input should be a valid boolean", re.M)
VALIDATION_OF = re.compile(r"validation errors? for (\w+)")
MISSING_FIELD = re.compile(r"^(\S+)\n\s+Field required", re.M)

_EXAMPLES = {
    "expected_output": 'expected_output="A bullet list of the 5 key findings"',
    "description": 'description="Research the latest AI trends"',
    "role": 'role="Researcher"',
    "goal": 'goal="Find accurate information"',
    "backstory": 'backstory="An expert researcher"',
}


def _short(text: str, width: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


# --- diagnosing -----------------------------------------------------------------------

def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps: causes, contexts, URLError reasons, groups."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        todo.extend(getattr(item, "exceptions", None) or [])


def _missing_fields(error: BaseException | None, message: str) -> tuple[str, list[str], str | None] | None:
    """Which required fields a pydantic model (Task, Agent, Crew) was built without, and which one it was."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        try:
            found = [e for e in errors() if e.get("type") == "missing"]
            missing = [".".join(str(p) for p in e["loc"]) for e in found]
        except Exception:
            found, missing = [], []
        if missing:
            return str(getattr(error, "title", "") or "Task"), missing, _which(found[0].get("input"))
    fields = MISSING_FIELD.findall(message)
    model = VALIDATION_OF.search(message)
    if fields and model:
        return model.group(1), fields, _which_in(message)
    return None


def _which_in(message: str) -> str | None:
    """``_which`` from the message alone: pydantic prints the arguments as ``input_value={...}``."""
    for key in ("name", "role", "description"):
        found = re.search(rf"input_value=\{{[^\n]*?'{key}': '([^'\n]+)'", message)
        if found and "..." not in found.group(1):  # pydantic shortens long values in its message
            return _short(found.group(1), 40)
    return None


def _which(given: object) -> str | None:
    """The model's name as the learner would know it, from the arguments it was given."""
    if not isinstance(given, dict):
        return None
    for key in ("name", "role", "description"):
        value = given.get(key)
        if isinstance(value, str) and value.strip():
            return _short(" ".join(value.split()), 40)
    return None


def _advice_missing(model: str, fields: list[str], which: str | None = None) -> str:
    it = f"the {model} '{which}'" if which else f"the {model}(...)"
    if model == "Task" and "expected_output" in fields:
        return ("Every Task needs an expected_output, a short description of the result you want: "
                f"add {_EXAMPLES['expected_output']} to {it}.")
    examples = ", ".join(_EXAMPLES.get(f, f'{f}="..."') for f in fields)
    names = " and ".join(fields)
    return f"{it[0].upper()}{it[1:]} was built without {names}, which it requires: add {examples}."


@dataclass(frozen=True)
class _Trap:
    name: str
    advise: Callable[[BaseException | None, str], str | None]


def _text_trap(name: str, needle: str, advice: str) -> _Trap:
    return _Trap(name, lambda _e, m: advice if needle in m else None)


def _regex_trap(name: str, pattern: re.Pattern[str], make: Callable[..., str]) -> _Trap:
    def advise(_error: BaseException | None, message: str) -> str | None:
        found = pattern.search(message)
        return make(*found.groups()) if found else None
    return _Trap(name, advise)


def _is(kind_name: str, needle: str) -> Callable[[BaseException | None, str], bool]:
    def test(error: BaseException | None, message: str) -> bool:
        if error is not None and any(k.__name__ == kind_name for k in type(error).__mro__):
            return True
        return needle in message
    return test


def _parallel(error: BaseException | None, message: str) -> str | None:
    attribute = isinstance(error, AttributeError) and message.strip("'\" ") == "parallel"
    if attribute or "Process.parallel" in message or "has no attribute 'parallel'" in message \
            or BAD_PROCESS in message:
        return ("CrewAI has no Process.parallel: keep process=Process.sequential and mark the tasks that may "
                "run side by side with async_execution=True.")
    return None


def _process_of(error: BaseException | None) -> str | None:
    """The process of the crew whose kickoff raised ``error``, from the Crew in its traceback's frames
    (CrewAI's message does not say); None when there is none (an error known only by its text)."""
    for item in _chain(error) if error is not None else []:
        tb = item.__traceback__
        while tb is not None:
            crew = tb.tb_frame.f_locals.get("self")
            if type(crew).__name__ == "Crew":
                process = getattr(crew, "process", None)
                return str(getattr(process, "value", process))
            tb = tb.tb_next
    return None


def _executor_busy(error: BaseException | None) -> str:
    """One agent on two tasks at once: the fix depends on who that agent is (a worker, or the manager)."""
    if _process_of(error) == "hierarchical":
        return ("Under Process.hierarchical the manager runs every task itself, and an agent can only do one "
                "thing at a time: leave async_execution off, or use Process.sequential with one agent per async "
                "task.")
    return ("One agent was asked to work on two tasks at the same moment, and an agent can only do one thing "
            "at a time: give each async task its own agent.")


_offline = _is("OfflineError", "This course runs offline")
_injected = _is("InjectedFailure", "(injected failure)")

TRAPS: list[_Trap] = [
    _Trap("executor-busy", lambda e, m: _executor_busy(e) if EXECUTOR_BUSY in m else None),
    _text_trap("end-async", END_ASYNC,
               "Your crew ends with two or more async tasks in a row, so nothing would wait for them: add a final "
               "sync task that lists them in context=[...], or set async_execution=False on the last one."),
    _regex_trap("async-context", ASYNC_CONTEXT, lambda task: (
        f"Task '{_short(task)}' is async and lists in its context an async task that starts at the same moment, "
        "so it could never wait for it: make this task sync (async_execution=False), or put a sync task between "
        "the two.")),
    _regex_trap("future-context", FUTURE_CONTEXT, lambda task, future: (
        f"Task '{_short(task)}' lists '{_short(future)}' in its context, but '{_short(future)}' comes later in "
        f"tasks=[...]: move it before '{_short(task)}', because a task can only use results that already exist.")),
    _Trap("verbose-level", lambda _e, m: (
        "verbose takes True or False in CrewAI 1.x (levels such as verbose=2 were CrewAI 0.x): write "
        "verbose=True.") if VERBOSE_LEVEL.search(m) else None),
    _Trap("missing-field", lambda e, m: _advice_missing(*found) if (found := _missing_fields(e, m))
          and "Field required" in m else None),
    _text_trap("kickoff-in-jupyter", IN_EVENT_LOOP,
               "A notebook cell already runs inside an event loop, so crew.kickoff() cannot block it: write "
               "`result = await crew.kickoff_async()` instead."),
    _Trap("process-parallel", _parallel),
    _text_trap("no-manager", NO_MANAGER,
               "Process.hierarchical needs a manager to hand out the work: pass manager_agent=<an Agent that is "
               "not in agents=[...]> or manager_llm=\"gpt-4o\" to the Crew."),
    _text_trap("manager-in-agents", MANAGER_IN_AGENTS,
               "Leave the manager out of agents=[...] and pass it only as manager_agent=...: agents=[...] lists "
               "the coworkers it delegates to."),
    _text_trap("manager-tools", MANAGER_TOOLS,
               "The manager only delegates, with tools CrewAI gives it: build the manager Agent without tools=[...] "
               "and give those tools to the coworkers."),
    _regex_trap("no-agent", NO_AGENT, lambda task: (
        f"Under Process.sequential every task needs an agent: add agent=... to the task '{_short(task)}' (only "
        "Process.hierarchical lets a manager choose).")),
    _text_trap("api-key", API_KEY,
               "This agent tried to call OpenAI, which the course never needs: run `import course` in the first "
               "cell, then rebuild your agents so that they use the offline scripted model."),
    _regex_trap("template-variable", TEMPLATE, lambda key, other=None: (
        f"Your crew mentions {{{(key := key or other)}}} but kickoff(inputs={{...}}) has no '{key}': add \"{key}\": ... to the inputs "
        "(or take the placeholder out of the text).")),
    _Trap("offline", lambda e, m: (
        "That code tried to reach the internet, and this course runs offline: nothing here needs a connection, "
        "and agents built after `import course` already use the scripted model.") if _offline(e, m) else None),
    _Trap("injected-failure", lambda e, m: (
        "This failure was staged on purpose by the scripted model (fail_roles= or fail_first=) to show how a crew "
        "reports errors: catch it with try/except around the kickoff, or build the model without those settings.")
          if _injected(e, m) else None),
]


def _candidates(error: BaseException | str) -> list[tuple[BaseException | None, str]]:
    if isinstance(error, BaseException):
        return [(item, str(item)) for item in _chain(error)]
    return [(None, str(error))]


def diagnose(error: BaseException | str) -> str | None:
    """One sentence saying what went wrong and how to fix it, or None for an unknown error."""
    candidates = _candidates(error)
    for trap in TRAPS:  # in order: the more specific traps come first
        for item, message in candidates:
            advice = trap.advise(item, message)
            if advice:
                return advice
    return None


def trap_name(error: BaseException | str) -> str | None:
    """Which known trap this is (e.g. ``"executor-busy"``), or None."""
    candidates = _candidates(error)
    for trap in TRAPS:
        if any(trap.advise(item, message) for item, message in candidates):
            return trap.name
    return None


def _first_sentence(text: str) -> str:
    """The first line, cut after its first sentence when it is long (CrewAI's often go on with advice)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    end = line.find(". ")
    if len(line) > 100 and 0 < end < 160:
        line = line[: end + 1]
    return _short(line, 160)


def _first_line(error: BaseException | str) -> str:
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {_first_sentence(str(error))}"
    return _first_sentence(str(error))


def _code(text: str) -> str:
    """Backticked parts as <code>, everything escaped."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


class Explanation:
    """A short message about an error: HTML in a notebook, plain text elsewhere."""

    def __init__(self, error: BaseException | str) -> None:
        self.what = _first_line(error)
        self.advice = diagnose(error)

    def text(self) -> str:
        fix = self.advice or "This is not one of the course's known traps: read the message above it carefully."
        return f"What happened: {self.what}\nWhat to do: {fix}"

    def _repr_html_(self) -> str:
        fix = _code(self.advice) if self.advice else (
            "This is not one of the course's known traps: the message above says what CrewAI expected.")
        return ('<div style="border-left:4px solid #c0392b;background:#fdf3f2;padding:6px 12px;margin:4px 0;'
                'font-family:var(--jp-content-font-family,sans-serif);line-height:1.45">'
                f'<div style="color:#7a2a22"><b>What happened:</b> {html.escape(self.what)}</div>'
                f'<div><b>What to do:</b> {fix}</div></div>')

    def __repr__(self) -> str:
        return self.text()


def explain(error: BaseException | str) -> None:
    """Show what went wrong and the fix, without a traceback.

    ``try: result = await crew.kickoff_async()`` / ``except Exception as error: explain(error)``
    """
    message = Explanation(error)
    if isinstance(error, BaseException):
        _mark_explained(error)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None  # type: ignore[assignment]
    if get_ipython is not None and get_ipython() is not None:
        display(message)
    else:
        print(message.text())


# --- in a notebook: a cell that raises a known trap shows one message ------------------
# IPython calls a custom exception handler instead of printing a traceback
# (``InteractiveShell.set_custom_exc``). Ours is registered for every Exception,
# speaks only for known traps, and hands everything else back to IPython's own
# ``showtraceback`` (syntax errors, usage errors, ``_render_traceback_`` such as
# the checks' CheckFailed, ordinary tracebacks), so unknown errors look as usual.

FULL_TRACEBACK_HINT = "(The full traceback: run %tb in a new cell.)"

# Errors already shown by explain(): when a cell re-raises one, the error output
# says one line instead of the same advice a second time. Strong references to
# the last few, compared by identity (pydantic's errors take no weak references).
_explained: deque[BaseException] = deque(maxlen=16)
_explained_lock = threading.Lock()


def _mark_explained(error: BaseException) -> None:
    with _explained_lock:
        _explained.append(error)


def _was_explained(error: BaseException) -> bool:
    with _explained_lock:
        return any(item is error for item in _explained)


def _raised_in_cell(tb: Any, shell: Any) -> bool:
    """Whether the innermost frame of ``tb`` is a notebook cell (the learner's own ``raise``)."""
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    cells = getattr(getattr(shell, "compile", None), "_filename_map", None) or {}
    return filename in cells or filename.startswith("<ipython-input-")


def trap_in_cell_error(error: BaseException, tb: Any = None, shell: Any = None) -> str | None:
    """The advice for an error a cell raised, or None when it is not a known trap.

    The error's own message and the errors it was raised ``from`` count; the
    exception it happened *during* counts only when the error came out of a
    library (CrewAI re-raises the same message), not from the learner's own
    code in an ``except`` block (a NameError there is the learner's to see).
    """
    if hasattr(error, "_render_traceback_"):  # renders itself (the checks' CheckFailed)
        return None
    if _raised_in_cell(tb, shell):
        chain, item = [], error
        while item is not None and item not in chain:
            chain.append(item)
            item = item.__cause__
        for trap in TRAPS:
            for link in chain:
                advice = trap.advise(link, str(link))
                if advice:
                    return advice
        return None
    return diagnose(error)


def notebook_message(error: BaseException, advice: str) -> list[str]:
    """The lines a cell shows for a known trap: what happened, what to do."""
    if _was_explained(error):
        return [f"{_first_line(error)}  (the course's message above says what to do)"]
    return [f"What happened: {_first_line(error)}", f"What to do: {advice}", FULL_TRACEBACK_HINT]


def _cell_error_handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None):
    try:
        advice = None if issubclass(etype, SyntaxError) else trap_in_cell_error(value, tb, shell)
    except Exception:  # a broken diagnosis must never hide the real error
        advice = None
    if advice is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None
    # What IPython's own showtraceback records, so that %tb and %debug still work.
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    stb = notebook_message(value, advice)
    shell._showtraceback(etype, value, stb)
    return stb


def install_notebook_handler(shell: Any = None) -> bool:
    """Show known traps raised by a cell as one message; True if installed (in IPython only)."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    shell.set_custom_exc((Exception,), _cell_error_handler)
    return True


# --- looking at a crew before it runs ----------------------------------------------------

def _name(task: Any) -> str:
    from course.graph import task_name

    return task_name(task)


def _role(agent: Any) -> str:
    return str(getattr(agent, "role", None) or "an agent")


def _batches(tasks: list[Any]) -> list[list[Any]]:
    """Runs of async tasks that CrewAI starts together (until the next sync task joins them)."""
    batches: list[list[Any]] = []
    current: list[Any] = []
    for task in tasks:
        if getattr(task, "async_execution", False):
            current.append(task)
        else:
            if current:
                batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True)
class _CrewShape:
    """What check_crew reads of a crew, read once (any object with the same attributes will do)."""
    tasks: list[Any]
    agents: list[Any]
    hierarchical: bool
    manager: Any
    manager_llm: Any

    @classmethod
    def of(cls, crew: Any) -> "_CrewShape":
        process = str(getattr(getattr(crew, "process", None), "value", getattr(crew, "process", "sequential")))
        return cls(list(getattr(crew, "tasks", None) or []), list(getattr(crew, "agents", None) or []),
                   process == "hierarchical", getattr(crew, "manager_agent", None),
                   getattr(crew, "manager_llm", None))


def check_crew(crew: Any) -> list[str]:
    """Warnings about the traps this crew would fall into, found before kickoff (empty: none found)."""
    shape = _CrewShape.of(crew)
    batches = _batches(shape.tasks)
    return [*_manager_warnings(shape), *_task_warnings(shape),
            *(_hierarchical_async_warnings(batches) if shape.hierarchical else _shared_agent_warnings(batches)),
            *_async_context_warnings(shape.tasks), *_trailing_async_warnings(shape.tasks)]


def _manager_warnings(shape: _CrewShape) -> list[str]:
    if not shape.hierarchical:
        return []
    if shape.manager is None:
        return [] if shape.manager_llm else [
            "Process.hierarchical has no manager: pass manager_agent=<an Agent> or manager_llm=\"gpt-4o\" to the "
            "Crew."]
    if any(a is shape.manager for a in shape.agents):
        return [f"The manager '{_role(shape.manager)}' is also in agents=[...]: leave it out and pass it only as "
                "manager_agent=...."]
    return []


def _task_warnings(shape: _CrewShape) -> list[str]:
    """Per task: the fields it lacks, its agent, and each context entry that cannot arrive."""
    position = {id(t): i for i, t in enumerate(shape.tasks)}
    warnings: list[str] = []
    for task in shape.tasks:
        missing = [f for f in ("description", "expected_output") if not str(getattr(task, f, "") or "").strip()]
        if missing:
            warnings.append(_advice_missing("Task", missing, _name(task)))
        if not shape.hierarchical and getattr(task, "agent", None) is None:
            warnings.append(f"Task '{_name(task)}' has no agent=...: under Process.sequential every task needs one.")
        context = getattr(task, "context", None)
        for earlier in context if isinstance(context, list) else []:
            if id(earlier) not in position:
                warnings.append(f"Task '{_name(task)}' lists '{_name(earlier)}' in its context, but that task is "
                                "not in this crew's tasks=[...], so its output will never arrive: add it to the "
                                "crew, before this task.")
            elif earlier is task:
                warnings.append(f"Task '{_name(task)}' lists itself in its context, and a task cannot wait for "
                                "its own result: take it out of context=[...].")
            elif position[id(earlier)] > position[id(task)]:
                warnings.append(f"Task '{_name(task)}' lists '{_name(earlier)}' in its context, but that task comes "
                                "later in tasks=[...]: move it before this one (CrewAI refuses a context "
                                "dependency on a future task).")
    return warnings


def _hierarchical_async_warnings(batches: list[list[Any]]) -> list[str]:
    async_tasks = [t for batch in batches for t in batch]
    if not async_tasks:
        return []
    names = ", ".join(f"'{_name(t)}'" for t in async_tasks)
    together = any(len(batch) > 1 for batch in batches)
    return [f"Under Process.hierarchical the manager runs every task itself, so the async tasks {names} cannot run "
            "side by side" + (" (two at once can stop it with \"Executor is already running\")" if together else "")
            + ": set async_execution=False, or use Process.sequential with one agent per async task."]


def _shared_agent_warnings(batches: list[list[Any]]) -> list[str]:
    """Async tasks that start together with one agent: CrewAI's "Executor is already running"."""
    warnings = []
    for batch in batches:
        by_agent: dict[int, list[Any]] = {}
        for task in batch:
            agent = getattr(task, "agent", None)
            if agent is not None:
                by_agent.setdefault(id(agent), []).append(task)
        for group in by_agent.values():
            if len(group) > 1:
                names = " and ".join(f"'{_name(t)}'" for t in group)
                warnings.append(
                    f"Agent '{_role(group[0].agent)}' has async tasks {names} that would run at the same time, "
                    "and an agent can do one thing at a time (CrewAI stops with \"Executor is already "
                    "running\"): give each async task its own agent.")
    return warnings


def _async_context_warnings(tasks: list[Any]) -> list[str]:
    """The rule of CrewAI's own validator, so that both agree: an async task cannot wait for an async
    task of its own batch (no sync task between them)."""
    warnings = []
    for i, task in enumerate(tasks):
        context = getattr(task, "context", None)
        if not (getattr(task, "async_execution", False) and isinstance(context, list)):
            continue
        for earlier in context:
            if not getattr(earlier, "async_execution", False):
                continue
            for j in range(i - 1, -1, -1):
                if tasks[j] is earlier:
                    warnings.append(
                        f"Task '{_name(task)}' is async and lists '{_name(earlier)}', an async task that starts "
                        "at the same moment, in its context, so it could never wait for it: make it sync "
                        "(async_execution=False) or put a sync task between the two.")
                    break
                if not getattr(tasks[j], "async_execution", False):
                    break
    return warnings


def _trailing_async_warnings(tasks: list[Any]) -> list[str]:
    trailing = []
    for task in reversed(tasks):
        if not getattr(task, "async_execution", False):
            break
        trailing.insert(0, task)
    if len(trailing) < 2:
        return []
    names = ", ".join(f"'{_name(t)}'" for t in trailing)
    return [f"The crew ends with {len(trailing)} async tasks in a row ({names}), and nothing would wait for them "
            f"(\"{END_ASYNC}\"): add a final sync task that lists them in context=[...]."]


__all__ = ["Explanation", "check_crew", "diagnose", "explain", "install_notebook_handler", "notebook_message",
           "trap_in_cell_error", "trap_name"]
