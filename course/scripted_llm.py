"""ScriptedLLM: a stand-in for a real model, so every run is free, offline and repeatable.

Its reply is a pure function of (agent role, task, context received, tool
results so far): never of a call counter, the clock or the thread, so crews
that run tasks side by side get the same outputs under any schedule.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from crewai.events.types.llm_events import LLMCallType
from crewai.llms.base_llm import BaseLLM, llm_call_context
from pydantic import Field, PrivateAttr

from course import delegation, prompts, replies, structured

DELEGATED_BY = "Delegated by "
# Tools CrewAI adds by itself (delegation; memory=True adds the memory pair):
# they are not the task's work, so the script never picks them as "the tool".
# CrewAI already puts recalled memories into the task prompt.
CREW_TOOLS = ("delegate_work_to_coworker", "ask_question_to_coworker", "search_memory", "save_to_memory")


class InjectedFailure(RuntimeError):
    """Raised by a ScriptedLLM told to fail, to show how a crew reports errors."""


@dataclass(frozen=True)
class LLMCall:
    """One call of a scripted model, as the recorded run shows it."""

    role: str
    task: str
    thread: str
    start: datetime
    end: datetime
    prompt: str
    reply: str
    failed: bool = False


class _Journal:
    """Every call of every ScriptedLLM in this process, in the order they ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[LLMCall] = []

    def add(self, call: LLMCall) -> None:
        with self._lock:
            self._calls.append(call)
            if len(self._calls) > 20_000:  # a long-lived kernel must not grow forever
                del self._calls[:10_000]

    def between(self, start: datetime, end: datetime | None = None) -> list[LLMCall]:
        with self._lock:
            calls = list(self._calls)
        return sorted(
            (c for c in calls if c.start >= start and (end is None or c.end <= end)),
            key=lambda c: c.start,
        )


JOURNAL = _Journal()


@dataclass(frozen=True)
class ReplyRequest:
    """Everything a reply depends on, as plain data: a model outside this process can answer it too."""

    messages: tuple[tuple[str, str], ...]  # (role, content) of each message
    role: str
    task: str
    coworkers: tuple[tuple[str, str], ...] | None = None  # a manager's coworkers (role, goal); None: not known
    tool_arguments: tuple[tuple[str, str], ...] = ()  # each of the agent's tools: (name, first argument)

    def to_dict(self) -> dict[str, Any]:
        return {"messages": [list(m) for m in self.messages], "role": self.role, "task": self.task,
                "coworkers": None if self.coworkers is None else [list(c) for c in self.coworkers],
                "tool_arguments": [list(t) for t in self.tool_arguments]}

    @classmethod
    def from_dict(cls, data: Any) -> "ReplyRequest":
        """Refuses anything but the shape ``to_dict`` makes (ValueError)."""
        def pairs(value: Any) -> tuple[tuple[str, str], ...]:
            if not isinstance(value, list) or not all(
                    isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in value):
                raise ValueError("expected a list of [text, text] pairs")
            return tuple((p[0], p[1]) for p in value)

        if not isinstance(data, dict) or not isinstance(data.get("role"), str) or not isinstance(data.get("task"), str):
            raise ValueError("a request needs a role and a task")
        coworkers = data.get("coworkers")
        return cls(messages=pairs(data.get("messages")), role=data["role"], task=data["task"],
                   coworkers=None if coworkers is None else pairs(coworkers),
                   tool_arguments=pairs(data.get("tool_arguments", [])))

    def prompt(self) -> prompts.Prompt:
        return prompts.parse([{"role": r, "content": c} for r, c in self.messages], role=self.role, task=self.task)


def compose(request: ReplyRequest, key: bytes | None = None) -> str:
    """The scripted model's reply: one pure function, in this process or in the grader's witness.

    ``key`` signs the provenance tag (``course.replies.work``); without it the tag is a plain hash.
    """
    prompt = request.prompt()
    if prompt.is_manager and DELEGATED_BY not in prompt.context:
        return _manage(prompt, request.coworkers)
    other_tools = [t for t in prompt.tools if t not in CREW_TOOLS]
    if other_tools and not prompt.observations:
        argument = dict(request.tool_arguments).get(other_tools[0].lower(), "query")
        query = _quoted(prompt.task) or replies.topic_of(prompt.task)
        return prompts.action(other_tools[0], {argument: query},
                              thought=f"I will look this up with {other_tools[0]}.")
    return prompts.final(replies.work(prompt, key))


def _manage(prompt: prompts.Prompt, coworkers: tuple[tuple[str, str], ...] | None) -> str:
    if prompt.observations:
        # The coworker's answer is the task's result: pass it on unchanged.
        return prompts.final(prompt.observations[-1])
    found = ([delegation.Coworker(r, g) for r, g in coworkers] if coworkers is not None
             else _coworkers_in_prompt(prompt))
    chosen = delegation.choose(prompt.task, found)
    context = f"{DELEGATED_BY}{prompt.role}. " + (prompt.context or "No earlier results.")
    return prompts.action(
        prompts.DELEGATE_TOOL,
        {"task": prompt.task, "context": context, "coworker": chosen.role},
        thought=f"{chosen.role} is the best match for this task.",
    )


# A reply function answers one agent's call somewhere else than in this process:
# (request: ReplyRequest, latency: float, from_agent=..., from_task=...) -> the reply text. It waits
# the latency itself (the grader's witness does, so that its clock sees calls overlap as they do).
ReplyFunction = Callable[..., str]


class _ProcessRoute:
    """Where an agent's call goes when its model has no reply function of its own: None answers here.

    One per process, set through ``route_every_call`` and never from outside, on purpose not a
    context variable (nor a ``using(...)`` block): the grader's witness must see every agent's
    call in the learner's kernel, and calls come from threads that start from an empty context.
    CrewAI copies the caller's context into its own threads (async tasks, agent timeouts, the
    native-async path), but the course's kickoff and explorer threads, and any thread or pool a
    learner's code starts, do not; a call a context-scoped route missed would be work the
    witness never saw, and an honest learner would lose its points
    (``tests/course/test_scripted_llm.py::test_a_route_for_every_call_reaches_threads_a_context_does_not``).
    Scoped choices are per model instead: ``ScriptedLLM(reply_backend=...)``, and
    ``course.routing.using(reply_backend=...)`` for the agents built in a block.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backend: ReplyFunction | None = None

    def set(self, backend: ReplyFunction | None) -> None:
        if backend is not None and not callable(backend):
            raise TypeError(f"a reply function must be callable, not {type(backend).__name__}")
        with self._lock:
            self._backend = backend

    def get(self) -> ReplyFunction | None:
        with self._lock:
            return self._backend


_route = _ProcessRoute()


def route_every_call(backend: ReplyFunction | None) -> None:
    """From now on, in this process, send each agent's call to ``backend`` (None: answer here again).

    Only for models without a reply function of their own. The grader's kernel side
    (``autograder.kernel.witness_client.install``) routes a graded kernel's calls to its witness.
    The kernel is the learner's: code there can route the calls elsewhere too, which only keeps
    its work from the witness, whose journal alone confirms points.
    """
    _route.set(backend)


def routed_to() -> ReplyFunction | None:
    """The reply function ``route_every_call`` set (None: agents' calls are answered in this process)."""
    return _route.get()


class ScriptedLLM(BaseLLM):
    """A deterministic model that plays every role of a crew.

    latency: seconds each call sleeps (outside any lock), so that tasks run
        side by side really overlap and a timeline shows it.
    fail_roles: roles whose calls raise InjectedFailure (teaches error handling).
    fail_first: the first N calls of this instance raise InjectedFailure.
    reply_backend: a reply function (``ReplyFunction``) that answers this model's agent
        calls instead of the script in this process, as pydantic-ai's FunctionModel takes
        its function. None (the default): the process's route (``route_every_call``),
        which answers here unless a grader routed the calls to its witness.
    """

    model: str = "scripted"
    provider: str = "scripted"
    latency: float = 0.0
    fail_roles: list[str] = []
    fail_first: int = 0
    fail_message: str = "the model service is unavailable (injected failure)"
    reply_backend: Optional[ReplyFunction] = Field(default=None, exclude=True)

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _failures_left: int = PrivateAttr(default=0)
    _calls: list[LLMCall] = PrivateAttr(default_factory=list)

    def __init__(self, **settings: Any) -> None:
        settings.setdefault("model", "scripted")  # BaseLLM refuses an empty model name
        super().__init__(**settings)

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        self._failures_left = self.fail_first

    def __deepcopy__(self, memo: dict[int, Any]) -> ScriptedLLM:
        # CrewAI deep-copies agents and their models; locks cannot be copied, and
        # one shared instance keeps one latency setting and one call log.
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "fail_first":
            with self._lock:
                self._failures_left = int(value)

    # --- what CrewAI asks of a model -------------------------------------
    def supports_function_calling(self) -> bool:
        return False  # CrewAI then speaks ReAct text, which we can read

    def supports_stop_words(self) -> bool:
        return False

    def get_context_window_size(self) -> int:
        return 128_000

    def get_input_tokens_count(self, messages: Any, tools: Any = None, response_model: Any = None) -> int:
        return sum(len(m["content"]) for m in prompts.as_messages(messages)) // 4 + 1

    def call(self, messages, tools=None, callbacks=None, available_functions=None,
             from_task=None, from_agent=None, response_model=None, **kwargs):  # noqa: ANN001
        copied = prompts.as_messages(messages)
        with llm_call_context():
            self._emit_call_started_event(messages=copied, tools=tools, callbacks=callbacks,
                                          available_functions=available_functions,
                                          from_task=from_task, from_agent=from_agent)
            start = datetime.now(timezone.utc)
            role, task = self._who(copied, from_agent, from_task, response_model)
            failure = self._should_fail(role)
            # An agent's call goes to a reply function when there is one (it then waits the latency):
            # this model's own, else the process's route. CrewAI's own calls (no agent) stay here.
            backend = (self.reply_backend or routed_to()) if from_agent is not None else None
            if self.latency > 0 and backend is None:
                time.sleep(self.latency)
            if failure:
                self._log(role, task, start, copied, failure, failed=True)
                self._emit_call_failed_event(error=failure, from_task=from_task, from_agent=from_agent)
                raise InjectedFailure(failure)
            if backend is not None:
                reply = backend(self.request(copied, from_agent, from_task, response_model), self.latency,
                                from_agent=from_agent, from_task=from_task)
            else:
                reply = self.reply(copied, from_agent=from_agent, from_task=from_task, response_model=response_model)
            self._log(role, task, start, copied, reply)
            self._emit_call_completed_event(response=reply, call_type=LLMCallType.LLM_CALL,
                                            from_task=from_task, from_agent=from_agent, messages=copied)
            return reply

    async def acall(self, messages, tools=None, callbacks=None, available_functions=None,
                    from_task=None, from_agent=None, response_model=None, **kwargs):  # noqa: ANN001
        # The native-async path (crew.akickoff) must not block its event loop.
        return await asyncio.to_thread(self.call, messages, tools, callbacks, available_functions,
                                       from_task, from_agent, response_model)

    # --- the script ---------------------------------------------------------
    def reply(self, messages: list[dict[str, str]], from_agent: Any = None, from_task: Any = None,
              response_model: Any = None) -> str:
        """What this model answers: depends on the messages and caller only."""
        if from_agent is None:
            # CrewAI's own structured calls (memory analysis etc.); with no
            # function calling, memory prompts arrive without a response_model.
            internal = structured.internal_reply(messages, response_model)
            if internal is not None:
                return internal
        return compose(self.request(messages, from_agent, from_task, response_model))

    def request(self, messages: list[dict[str, str]], from_agent: Any = None, from_task: Any = None,
                response_model: Any = None) -> ReplyRequest:
        """Everything the reply depends on, as plain data."""
        role, task = self._who(messages, from_agent, from_task, response_model)
        coworkers = _coworkers(from_agent, role)
        return ReplyRequest(
            messages=tuple((str(m.get("role", "")), str(m.get("content", ""))) for m in messages),
            role=role, task=task,
            coworkers=None if coworkers is None else tuple((c.role, c.goal) for c in coworkers),
            tool_arguments=_tool_arguments(from_agent))

    # --- bookkeeping ----------------------------------------------------------
    @staticmethod
    def _who(messages: list[dict[str, str]], agent: Any, task: Any, response_model: Any) -> tuple[str, str]:
        if agent is None:
            schema = response_model or structured.memory_schema(messages)
            if schema is not None:
                return "(internal)", getattr(schema, "__name__", "structured output")
        role = getattr(agent, "role", None)
        description = getattr(task, "description", None)
        if role is None or description is None:
            parsed = prompts.parse(messages)
            role = role or parsed.role
            description = description or parsed.task
        return str(role).strip(), str(description).strip()

    def _should_fail(self, role: str) -> str | None:
        with self._lock:
            if self._failures_left > 0:
                self._failures_left -= 1
                return self.fail_message
        wanted = {r.strip().lower() for r in self.fail_roles}
        if role.strip().lower() in wanted:
            return f"{self.fail_message} for role {role!r}"
        return None

    def _log(self, role: str, task: str, start: datetime, messages: list[dict[str, str]],
             reply: str, failed: bool = False) -> None:
        call = LLMCall(role=role, task=task, thread=threading.current_thread().name, start=start,
                       end=datetime.now(timezone.utc),
                       prompt="\n\n".join(f"[{m['role']}] {m['content']}" for m in messages),
                       reply=reply, failed=failed)
        with self._lock:
            self._calls.append(call)
        JOURNAL.add(call)

    @property
    def calls(self) -> list[LLMCall]:
        """This instance's calls, in the order they ended."""
        with self._lock:
            return list(self._calls)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()


def _coworkers(manager: Any, role: str) -> list[delegation.Coworker] | None:
    """The manager's coworkers with their goals, read from its delegation tool (None: it has none)."""
    for tool in getattr(manager, "tools", None) or []:
        agents = getattr(tool, "agents", None)
        if agents and "delegate" in str(getattr(tool, "name", "")).lower():
            return [delegation.Coworker(str(a.role), str(getattr(a, "goal", "") or "")) for a in agents
                    if str(a.role) != role]
    return None


def _coworkers_in_prompt(prompt: prompts.Prompt) -> list[delegation.Coworker]:
    """Fallback: the roles listed in the delegation tool's description (no goals)."""
    marker = "Delegate a specific task to one of the following coworkers: "
    for line in prompt.text.splitlines():
        if line.startswith("Tool Description: " + marker):
            names = line.split(marker, 1)[1].split(", ")
            return [delegation.Coworker(n.strip()) for n in names if n.strip()]
    return []


def _tool_arguments(agent: Any) -> tuple[tuple[str, str], ...]:
    """Each of the agent's tools by its prompt name, with the first argument it takes."""
    found: dict[str, str] = {}
    for tool in getattr(agent, "tools", None) or []:
        name = str(getattr(tool, "name", "")).lower().replace(" ", "_")
        schema = getattr(tool, "args_schema", None)
        fields = list(getattr(schema, "model_fields", {}) or {})
        if name and fields:
            found.setdefault(name, fields[0])
    return tuple(found.items())


def _quoted(text: str) -> str | None:
    for quote in ('"', "'"):
        parts = text.split(quote)
        if len(parts) >= 3 and parts[1].strip():
            return parts[1].strip()
    return None
