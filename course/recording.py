"""The recorded run: what really happened in one kickoff, as data.

Data flows one way: a crew runs -> CrewAI's events and the scripted model's
call journal are collected here -> a ``RecordedRun`` -> checks and pictures.
Nothing here changes how a crew runs.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from crewai.events import crewai_event_bus
from crewai.events.types.crew_events import (
    CrewKickoffCompletedEvent,
    CrewKickoffFailedEvent,
    CrewKickoffStartedEvent,
)
from crewai.events.types.task_events import TaskCompletedEvent, TaskFailedEvent, TaskStartedEvent
from crewai.events.types.tool_usage_events import ToolUsageErrorEvent, ToolUsageFinishedEvent

from course import graph, replies
from course.scripted_llm import JOURNAL, LLMCall


@dataclass(frozen=True)
class Delegation:
    """A manager handing a task to a coworker (hierarchical process)."""

    task: str
    coworker: str
    start: float
    end: float
    ok: bool = True


@dataclass
class TaskRecord:
    """One task of a run. Times are seconds since the kickoff started."""

    index: int
    name: str
    description: str
    async_execution: bool
    agent: str | None  # the agent the task was given to (the manager, under hierarchical)
    worker: str | None  # who really did the work: the coworker a manager delegated to
    start: float | None
    end: float | None
    output: str = ""
    ref: str | None = None  # provenance tag of the output
    received_refs: list[str] = field(default_factory=list)
    received_from: list[str] = field(default_factory=list)  # tasks whose outputs reached this one
    context: list[str] | None = None  # tasks declared in ``context=``; None when it was left out
    delegations: list[Delegation] = field(default_factory=list)
    error: str | None = None

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return self.end - self.start

    @property
    def ran(self) -> bool:
        return self.start is not None and self.end is not None and self.error is None


@dataclass
class RecordedRun:
    """What happened in one kickoff: tasks, model calls and delegations."""

    process: str
    tasks: list[TaskRecord]
    llm_calls: list[LLMCall]
    delegations: list[Delegation]
    wall_time: float
    started_at: datetime
    error: str | None = None
    manager: str | None = None
    crew_id: str = ""  # the Crew's own id: runs of one crew object share it, a fresh crew has a new one

    # --- finding tasks ----------------------------------------------------------
    def task(self, key: Any) -> TaskRecord:
        """A task by name, index, description or the Task object itself."""
        if isinstance(key, TaskRecord):
            return key
        if isinstance(key, int):
            return self.tasks[key]
        wanted = getattr(key, "name", None) or getattr(key, "description", None) or str(key)
        for record in self.tasks:
            if wanted in (record.name, record.description):
                return record
        for record in self.tasks:
            if str(wanted).strip().lower() in record.description.lower():
                return record
        names = ", ".join(repr(t.name) for t in self.tasks)
        raise KeyError(f"No task {wanted!r} in this run. Its tasks are: {names}.")

    # --- order and overlap ---------------------------------------------------------
    def order(self) -> list[str]:
        """Task names in the order they started."""
        started = [t for t in self.tasks if t.start is not None]
        return [t.name for t in sorted(started, key=lambda t: (t.start, t.index))]

    def overlap(self, a: Any, b: Any) -> bool:
        """True when the two tasks were running at the same moment."""
        first, second = self.task(a), self.task(b)
        if not (first.start is not None and second.start is not None):
            return False
        return first.start < (second.end or 0) and second.start < (first.end or 0)

    def overlapping_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for i, first in enumerate(self.tasks):
            for second in self.tasks[i + 1:]:
                if self.overlap(first, second):
                    pairs.append((first.name, second.name))
        return pairs

    def started_after_all(self, task: Any, others: list[Any]) -> bool:
        """True when ``task`` started only once every one of ``others`` had ended."""
        record = self.task(task)
        ends = [self.task(o).end for o in others]
        if record.start is None or any(e is None for e in ends):
            return False
        return record.start >= max(ends)  # type: ignore[type-var]

    def workers(self) -> dict[str, str | None]:
        return {t.name: t.worker for t in self.tasks}

    # --- where the time went ------------------------------------------------------------
    def model_seconds(self) -> dict[str, float]:
        """Seconds each task spent in model calls (under a manager, the manager's and its coworker's).
        The rest of a task's duration is CrewAI's own work around the calls."""
        spent = {t.name: 0.0 for t in self.tasks}
        for call in self.llm_calls:
            owner = self._task_of(call)
            if owner is not None:
                spent[owner] += (call.end - call.start).total_seconds()
        return spent

    def critical_model_path(self) -> graph.CriticalPath:
        """The longest chain of waits counting only model calls: what the run would take if CrewAI's
        own work cost nothing (``wall_time`` minus its length is that work)."""
        return graph.critical(self.dependencies(), self.model_seconds())

    def _task_of(self, call: LLMCall) -> str | None:
        """The task a model call worked for, by its description (a manager's coworker gets the task's own),
        and, when two tasks share one, the latest that had started; None for CrewAI's internal calls."""
        if call.role == "(internal)":
            return None
        at = (call.start - self.started_at).total_seconds()
        text = " ".join(call.task.split())
        same = [t for t in self.tasks if " ".join(t.description.split()) == text]
        begun = [t for t in same if t.start is not None and t.start - 1e-3 <= at]
        return max(begun, key=lambda t: t.start).name if begun else (same[0].name if same else None)

    # --- the task graph (rules in ``course.graph``, shared with crews and pictures) --------
    def specs(self) -> list[graph.TaskSpec]:
        """The tasks as ``(name, async_execution, context names or None)``, as ``graph.specs`` reads a crew."""
        return [(t.name, t.async_execution, t.context) for t in self.tasks]

    def dependencies(self) -> dict[str, list[str]]:
        """What each task waited for before it could start, as CrewAI's walk decides it.

        Its context, the sync task before it, and for a sync task every async task
        still running (the barrier), reduced to direct waits.
        """
        return graph.waits_for(self.specs())

    def receives(self) -> dict[str, list[str]]:
        """Whose outputs each task was given, by its context (``received_from`` is what really arrived)."""
        return graph.receives_from(self.specs())

    def critical(self) -> graph.CriticalPath:
        """The longest chain of waits, by measured durations, with any chains that tie."""
        return graph.critical(self.dependencies(), {t.name: t.duration for t in self.tasks})

    def critical_path(self) -> tuple[list[str], float]:
        """The longest chain of waiting tasks, by measured durations.

        No schedule can finish sooner than this; compare it with ``wall_time``.
        """
        found = self.critical()
        return found.path, found.length

    def summary(self) -> str:
        """A plain-text timeline, one line per task."""
        lines = [f"{self.process} run, wall time {self.wall_time:.2f} s" + (f", failed: {self.error}" if self.error else "")]
        for t in sorted(self.tasks, key=lambda t: (t.start if t.start is not None else 1e9, t.index)):
            when = f"{t.start:6.2f}s -> {t.end:6.2f}s" if t.start is not None and t.end is not None else "   (did not run)   "
            mode = "async" if t.async_execution else "sync "
            who = t.worker or t.agent or "?"
            got = f"  got: {', '.join(t.received_from)}" if t.received_from else ""
            lines.append(f"  {when}  {mode}  {t.name:<28} by {who}{got}")
        return "\n".join(lines)

    # --- a run as the model saw it --------------------------------------------------
    @classmethod
    def from_model_calls(cls, calls: list[dict[str, Any]]) -> "RecordedRun":
        """A run rebuilt from one kickoff's model calls alone (e.g. a journal kept outside the kernel).

        Each call is a dict: ``task_id``, ``task_name``, ``task`` (description), ``role``, ``manager``
        (a manager's call), ``start``/``end`` (seconds on one clock), ``ref`` (the tag its final answer
        carries, or None), ``received`` (tags of earlier outputs its prompt held), ``delegated_to``
        (the coworker a manager's call handed the task to, or None), ``thread``. A task is the calls
        that share a ``task_id``; it starts with its first call and ends with its last; its output is
        its last tag. What the model cannot see (async flags, declared context) stays unknown:
        ``async_execution`` False and ``context`` None.
        """
        ordered = sorted(calls, key=lambda c: (float(c["start"]), float(c["end"])))
        origin = float(ordered[0]["start"]) if ordered else 0.0
        groups: dict[str, list[dict[str, Any]]] = {}
        managing: dict[str, str] = {}  # a task a manager holds, by description -> its group
        for call in ordered:
            key = str(call["task_id"])
            if call.get("manager"):
                managing[str(call.get("task", ""))] = key
            else:
                # CrewAI gives a delegated coworker a task of its own: it is the manager's task's work.
                key = managing.get(str(call.get("task", "")), key)
            groups.setdefault(key, []).append(call)
        records: list[TaskRecord] = []
        delegations: list[Delegation] = []
        manager_roles: list[str] = []
        taken: list[str] = []
        for index, group in enumerate(groups.values()):
            first = group[0]
            name = str(first.get("task_name") or first.get("task") or f"task {index + 1}")
            name = name if name not in taken else f"{name} #{index + 1}"
            taken.append(name)
            managers = [c for c in group if c.get("manager")]
            workers = [c for c in group if not c.get("manager") and c.get("ref")]
            tagged = [c for c in group if c.get("ref")]
            last = max(tagged, key=lambda c: float(c["end"])) if tagged else None
            own = {c["ref"] for c in tagged}
            received = list(dict.fromkeys(r for c in group for r in c.get("received", []) if r not in own))
            agent = str(managers[0]["role"]) if managers else str(first["role"])
            record = TaskRecord(
                index=index, name=name, description=str(first.get("task", "")), async_execution=False,
                agent=agent, worker=str(workers[-1]["role"]) if workers else agent,
                start=float(first["start"]) - origin, end=max(float(c["end"]) for c in group) - origin,
                output="", ref=last["ref"] if last else None, received_refs=received)
            for call in managers:
                manager_roles.append(str(call["role"]))
                if call.get("delegated_to"):
                    item = Delegation(task=name, coworker=str(call["delegated_to"]),
                                      start=float(call["start"]) - origin, end=float(call["end"]) - origin)
                    record.delegations.append(item)
                    delegations.append(item)
            records.append(record)
        by_ref = {r.ref: r.name for r in records if r.ref}
        for record in records:
            record.received_from = [by_ref[ref] for ref in record.received_refs if ref in by_ref]
        epoch = datetime(2000, 1, 1, tzinfo=timezone.utc)

        def moment(seconds: float) -> datetime:
            return epoch + timedelta(seconds=seconds)

        llm_calls = [LLMCall(role=str(c["role"]), task=str(c.get("task", "")), thread=str(c.get("thread", "")),
                             start=moment(float(c["start"])), end=moment(float(c["end"])), prompt="",
                             reply=f"[ref:{c['ref']} by {c['role']}]" if c.get("ref") else "")
                     for c in ordered]
        ends = [float(c["end"]) for c in ordered]
        return cls(process="hierarchical" if manager_roles else "sequential", tasks=records, llm_calls=llm_calls,
                   delegations=sorted(delegations, key=lambda d: d.start),
                   wall_time=(max(ends) - origin) if ends else 0.0, started_at=moment(origin),
                   manager=manager_roles[0] if manager_roles else None)

    def __repr__(self) -> str:
        return f"<RecordedRun {self.process}, {len(self.tasks)} tasks, {self.wall_time:.2f} s>"


# --- collecting events -------------------------------------------------------------

_EVENT_TYPES = (
    CrewKickoffStartedEvent, CrewKickoffCompletedEvent, CrewKickoffFailedEvent,
    TaskStartedEvent, TaskCompletedEvent, TaskFailedEvent,
    ToolUsageFinishedEvent, ToolUsageErrorEvent,
)


class _Collector:
    """Keeps the events of recent kickoffs. Handlers run on CrewAI's pool, in any order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[Any, Any]] = []

    def handle(self, source: Any, event: Any) -> None:
        with self._lock:
            self.events.append((source, event))
            if len(self.events) > 50_000:
                del self.events[:25_000]

    def snapshot(self) -> list[tuple[Any, Any]]:
        crewai_event_bus.flush()
        with self._lock:
            return sorted(self.events, key=lambda pair: pair[1].timestamp)


_collector = _Collector()
_installed = False


def install() -> None:
    """Start collecting (once per process; ``import course`` does it)."""
    global _installed
    if _installed:
        return
    for event_type in _EVENT_TYPES:
        crewai_event_bus.register_handler(event_type, _collector.handle)
    _installed = True


def _seconds(moment: datetime, origin: datetime) -> float:
    return (moment - origin).total_seconds()


def _tool_args(event: Any) -> dict[str, Any]:
    args = event.tool_args
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return {}
    return args if isinstance(args, dict) else {}


def _matching_role(name: str, roles: list[str]) -> str:
    wanted = " ".join(str(name).split()).lower()
    for role in roles:
        if " ".join(role.split()).lower() == wanted:
            return role
    return str(name)


def _build(crew: Any, start_event: Any, events: list[tuple[Any, Any]]) -> RecordedRun:
    origin = start_event.timestamp
    finished = next(
        (e for s, e in events if s is crew and isinstance(e, (CrewKickoffCompletedEvent, CrewKickoffFailedEvent))
         and e.timestamp >= origin), None)
    closing = finished.timestamp if finished else (events[-1][1].timestamp if events else origin)
    window = [(s, e) for s, e in events if origin <= e.timestamp <= closing]
    tasks = list(getattr(crew, "tasks", []))
    ids = {str(t.id): i for i, t in enumerate(tasks)}
    names = graph.task_names(tasks)
    agents = [str(a.role) for a in getattr(crew, "agents", [])]
    manager = getattr(crew, "manager_agent", None)
    records = []
    for i, task in enumerate(tasks):
        agent = getattr(task, "agent", None)
        records.append(TaskRecord(
            index=i, name=names[i], description=str(task.description),
            async_execution=bool(task.async_execution),
            agent=str(agent.role) if agent is not None else None, worker=None, start=None, end=None,
            context=graph.declared_context(
                task, lambda c: names[ids[str(c.id)]] if str(getattr(c, "id", "")) in ids else None),
        ))
    delegations: list[Delegation] = []
    for _source, event in window:
        task = getattr(event, "task", None)
        index = ids.get(str(getattr(event, "task_id", None) or getattr(task, "id", "")))
        if index is None:
            continue
        record = records[index]
        if isinstance(event, TaskStartedEvent):
            record.start = _seconds(event.timestamp, origin)
            record.received_refs = replies.refs_in(event.context or "")
        elif isinstance(event, TaskCompletedEvent):
            record.end = _seconds(event.timestamp, origin)
            record.output = str(getattr(event.output, "raw", event.output))
            found = replies.refs_in(record.output)
            record.ref = found[0] if found else None
            if record.agent is None:
                record.agent = str(getattr(event.output, "agent", "") or "") or None
        elif isinstance(event, TaskFailedEvent):
            record.end = _seconds(event.timestamp, origin)
            record.error = str(event.error)
        elif isinstance(event, (ToolUsageFinishedEvent, ToolUsageErrorEvent)):
            if "delegate" not in str(event.tool_name).lower():
                continue
            coworker = _matching_role(str(_tool_args(event).get("coworker", "")), agents)
            started = getattr(event, "started_at", None) or event.timestamp
            ended = getattr(event, "finished_at", None) or event.timestamp
            if started.tzinfo is None:  # tool events use naive local time
                started = started.astimezone(timezone.utc)
                ended = ended.astimezone(timezone.utc)
            item = Delegation(task=record.name, coworker=coworker, start=_seconds(started, origin),
                              end=_seconds(ended, origin), ok=isinstance(event, ToolUsageFinishedEvent))
            record.delegations.append(item)
            delegations.append(item)
    by_ref = {r.ref: r.name for r in records if r.ref}
    for record in records:
        record.received_from = [by_ref[ref] for ref in record.received_refs if ref in by_ref]
        done = [d.coworker for d in record.delegations if d.ok]
        record.worker = done[-1] if done else record.agent
    process = str(getattr(getattr(crew, "process", None), "value", getattr(crew, "process", "sequential")))
    error = str(getattr(finished, "error", "")) if isinstance(finished, CrewKickoffFailedEvent) else None
    if error is None:
        failed = [r.error for r in records if r.error]
        error = failed[0] if failed and not isinstance(finished, CrewKickoffCompletedEvent) else None
    return RecordedRun(
        process=process, tasks=records, llm_calls=JOURNAL.between(origin, closing),
        delegations=sorted(delegations, key=lambda d: d.start),
        wall_time=_seconds(closing, origin), started_at=origin, error=error,
        manager=str(manager.role) if manager is not None else ("Crew Manager" if process == "hierarchical" else None),
        crew_id=str(getattr(crew, "id", "") or id(crew)),
    )


def runs_since(moment: datetime | None) -> list[RecordedRun]:
    """Every kickoff recorded since ``moment`` (all of this process's with None), oldest first."""
    events = _collector.snapshot()
    starts = [(s, e) for s, e in events if isinstance(e, CrewKickoffStartedEvent)
              and (moment is None or e.timestamp >= moment)]
    return [_build(crew, event, events) for crew, event in starts]


class NoRunYet(LookupError):
    """``course.last_run()`` before any kickoff: one sentence in a notebook, not a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return [f"NoRunYet: {self}"]


def last_run() -> RecordedRun:
    """The most recent kickoff in this process, as a RecordedRun."""
    runs = runs_since(None)
    if not runs:
        raise NoRunYet("No crew has run yet in this kernel: run the cells above that kick off your crew "
                       "(result = await crew.kickoff_async()), then this one.")
    return runs[-1]


class Recording:
    """Filled when its ``with course.record()`` block ends."""

    def __init__(self) -> None:
        self.runs: list[RecordedRun] = []

    @property
    def run(self) -> RecordedRun:
        if not self.runs:
            raise LookupError("No crew ran inside this `with course.record()` block.")
        return self.runs[-1]


@contextmanager
def record() -> Iterator[Recording]:
    """Record the kickoffs inside the block: ``with record() as rec: ...; rec.run``."""
    recording = Recording()
    began = datetime.now(timezone.utc)
    try:
        yield recording
    finally:
        recording.runs = runs_since(began)


def kickoff(crew: Any, inputs: dict[str, Any] | None = None, timeout: float = 60.0,
            raise_on_error: bool = True) -> RecordedRun:
    """Kick ``crew`` off under the recorder and return the run it made.

    The kickoff runs in a worker thread: plain ``crew.kickoff()`` raises inside
    Jupyter's running event loop, and a thread lets a crew that hangs time out
    (``TimeoutError`` after ``timeout`` seconds; the abandoned thread is a
    daemon) instead of hanging the caller. A crew that fails raises its own
    error, or with ``raise_on_error=False`` comes back as a run whose ``error``
    is set. Only this crew's kickoff counts, not others running meanwhile.
    """
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            crew.kickoff(inputs=inputs) if inputs is not None else crew.kickoff()
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    began = datetime.now(timezone.utc)
    worker = threading.Thread(target=run, name="course-recorded-kickoff", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"The crew was still running after {timeout:g} s.")
    events = _collector.snapshot()
    runs = [_build(crew, event, events) for source, event in events
            if source is crew and isinstance(event, CrewKickoffStartedEvent) and event.timestamp >= began]
    error = outcome.get("error")
    if error is not None and (raise_on_error or not runs):
        raise error
    if not runs:
        raise LookupError("The crew finished but left no record of its run.")
    return runs[-1]
