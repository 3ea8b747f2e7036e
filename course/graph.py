"""Task graphs as plain data: ``{task name: [names of other tasks]}``, and the rules that make them.

The one home of the course's graph vocabulary: task names, the two relations
between tasks, strict and lenient parsing of a learner's dict, shapes, phases,
cycles, the critical path and comparison. The recorded run, the pictures and
the checks all use these functions, so a picture and a check can never read the
same crew or the same dict differently.

Two relations, both read off CrewAI 1.15.30's walk over the task list
(``Crew._execute_tasks``):

* **receives from** (data): whose outputs reach a task's prompt. A task with
  ``context=[...]`` receives exactly those outputs. Without it, a sync task
  receives every earlier output and an async task receives nothing
  (``last_sync_output`` is never filled outside replays).
* **waits for** (time): what must have finished before a task starts. The walk
  runs sync tasks one at a time, in list order. Before each sync task it drains
  *every* async task launched since the previous sync task (the **barrier**),
  whether or not ``context`` names them. An async task starts as soon as the
  walk reaches it, that is, once the previous sync task is done. So a task waits
  for its context, for the sync task before it, and a sync task also for the
  pending async tasks: context decides what a task receives, not all it waits for.

``waits_for`` returns the transitive reduction (only direct waits), in list order.
A context left out and an empty one differ: see ``declared_context``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations
from typing import Any, Callable, Iterable, Mapping, Sequence

Graph = dict[str, list[str]]
TaskSpec = tuple[str, bool, Sequence[str] | None]  # (name, async_execution, context names or None)


# --- task names ------------------------------------------------------------------------

def task_name(task: Any) -> str:
    """The name the course gives a Task: ``task.name`` or its description, shortened to 40 characters."""
    if getattr(task, "name", None):
        return str(task.name)
    description = " ".join(str(getattr(task, "description", "task")).split())
    return description if len(description) <= 40 else description[:37] + "..."


def task_names(tasks: Sequence[Any]) -> list[str]:
    """Names for a crew's tasks, in order; a repeated name gets ``#position`` so that every task is a node."""
    names: list[str] = []
    for i, task in enumerate(tasks):
        name = task_name(task)
        names.append(name if name not in names else f"{name} #{i + 1}")
    return names


def declared_context(task: Any, name_of: Callable[[Any], str | None]) -> list[str] | None:
    """The names in a task's ``context=``: None when it was left out, ``[]`` for ``context=[]`` or ``None``.

    CrewAI tells these apart: left out (its NOT_SPECIFIED default), a sync task receives every
    earlier output; given as empty, it receives none. Tasks outside the crew (``name_of`` gives
    None) never run, so their outputs never arrive: no edge.
    """
    context = getattr(task, "context", None)
    if context is None:
        return []
    if not isinstance(context, list):
        return None
    return [name for name in (name_of(c) for c in context) if name is not None]


def specs(crew: Any) -> list[TaskSpec]:
    """A crew's tasks as ``(name, async_execution, context names or None)``, in list order."""
    tasks = list(getattr(crew, "tasks", None) or [])
    names = task_names(tasks)
    position = {id(t): i for i, t in enumerate(tasks)}

    def name_of(task: Any) -> str | None:
        return names[position[id(task)]] if id(task) in position else None

    return [(names[i], bool(getattr(task, "async_execution", False)), declared_context(task, name_of))
            for i, task in enumerate(tasks)]


# --- the two relations -------------------------------------------------------------------

def receives_from(tasks: Iterable[TaskSpec]) -> Graph:
    """Whose outputs reach each task's prompt."""
    graph: Graph = {}
    earlier: list[str] = []
    for name, is_async, context in tasks:
        if context is not None:
            graph[name] = [c for c in dict.fromkeys(context) if c != name]
        elif is_async:
            graph[name] = []
        else:
            graph[name] = [n for n in earlier if n != name]
        earlier.append(name)
    return graph


# Why a task waits for another, by the rule of the walk that makes it wait (the first that applies).
CONTEXT = "context"  # its context lists the other task
SYNC_BEFORE = "sync before"  # the other is the sync task before it in the list
BARRIER = "barrier"  # it is sync, and the other is an async task still running when the walk reaches it


def wait_reasons(tasks: Iterable[TaskSpec]) -> dict[str, dict[str, str]]:
    """For each task, every task it waits for directly (before reduction), with the reason: CONTEXT,
    SYNC_BEFORE or BARRIER."""
    reasons: dict[str, dict[str, str]] = {}
    last_sync: str | None = None
    pending: list[str] = []  # async tasks launched since the last sync task
    for name, is_async, context in tasks:
        why = dict.fromkeys(context or [], CONTEXT)
        if last_sync is not None:
            why.setdefault(last_sync, SYNC_BEFORE)
        if is_async:
            pending.append(name)
        else:
            for other in pending:
                why.setdefault(other, BARRIER)
            pending = []
            last_sync = name
        why.pop(name, None)
        reasons[name] = why
    return reasons


def waits_for(tasks: Iterable[TaskSpec]) -> Graph:
    """What each task waits for before it can start (context, the sync task before it, the barrier), reduced."""
    return reduce({name: list(why) for name, why in wait_reasons(tasks).items()})


def waits_without_data(tasks: Sequence[TaskSpec]) -> set[tuple[str, str]]:
    """Direct waits that carry no output: ``(earlier, later)`` where later waits for earlier but does not receive it."""
    tasks = list(tasks)
    return edges(waits_for(tasks)) - edges(receives_from(tasks))


def crew_graph(crew: Any) -> Graph:
    """What each task of a crew will wait for, before it runs (the same rule as ``RecordedRun.dependencies()``)."""
    return waits_for(specs(crew))


def crew_receives(crew: Any) -> Graph:
    """Whose outputs each task of a crew will receive."""
    return receives_from(specs(crew))


# --- reading a learner's dict -------------------------------------------------------------

def normalize(graph: Mapping[str, Any]) -> Graph:
    """Lenient, for pictures: every name a node, every value a list, no repeats.

    ``{"B": "A"}`` becomes ``{"A": [], "B": ["A"]}`` (a name only mentioned as a
    dependency comes first, as it must run first).
    """
    result: Graph = {}
    mentioned: list[str] = []
    for name, deps in graph.items():
        if deps is None:
            deps = []
        elif isinstance(deps, str) or not isinstance(deps, Iterable):
            deps = [deps]
        unique: list[str] = []
        for dep in deps:
            dep = str(dep)
            if dep not in unique:
                unique.append(dep)
        result[str(name)] = unique
        mentioned.extend(unique)
    missing = [m for m in dict.fromkeys(mentioned) if m not in result]
    return {**{m: [] for m in missing}, **result}


def parse(graph: Any) -> Graph:
    """Strict, for grading: a learner's dict as a clean graph, or ValueError saying what is wrong with it."""
    if not isinstance(graph, Mapping):
        raise ValueError(f"it is a {type(graph).__name__}, not a dict")
    if not graph:
        raise ValueError("it is an empty dict")
    clean: Graph = {}
    for name, waits in graph.items():
        if isinstance(waits, (str, bytes)) or not isinstance(waits, Iterable):
            raise ValueError(f"the value for {name!r} should be a list of task names, not {waits!r}")
        clean[str(name)] = list(dict.fromkeys(str(w) for w in waits))
    for name, waits in clean.items():
        for w in waits:
            if w not in clean:
                raise ValueError(f"{name!r} waits for {w!r}, which is not a key of the dict (every task needs "
                                 "its own entry, with [] when it waits for nothing)")
            if w == name:
                raise ValueError(f"{name!r} waits for itself")
    cycle = find_cycle(clean)
    if cycle:
        raise ValueError(describe_cycle(cycle))
    return clean


# --- structure ----------------------------------------------------------------------------

def edges(graph: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Every ``(earlier, later)`` pair of the graph."""
    return {(dep, name) for name, deps in normalize(graph).items() for dep in deps}


def reverse(graph: Mapping[str, Any]) -> Graph:
    """The same graph with every arrow turned round."""
    graph = normalize(graph)
    result: Graph = {name: [] for name in graph}
    for name, deps in graph.items():
        for dep in deps:
            result[dep].append(name)
    return result


def find_cycle(graph: Mapping[str, Any]) -> list[str] | None:
    """A cycle as ``[a, b, ..., a]`` if the graph has one, else None."""
    graph = normalize(graph)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in graph[node]:
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def describe_cycle(cycle: Sequence[str]) -> str:
    """``['A', 'B', 'A']`` in words: none of these tasks could ever start."""
    steps = ", which waits for ".join(repr(n) for n in cycle)
    return f"A circle: {steps}. None of these tasks could ever start."


def ancestors(graph: Mapping[str, Any], node: str) -> set[str]:
    """Every task ``node`` waits for, directly or through others."""
    graph = normalize(graph)
    seen: set[str] = set()
    stack = list(graph.get(node, []))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(graph.get(current, []))
    return seen


def reduce(graph: Mapping[str, Any]) -> Graph:
    """The transitive reduction: an edge goes when another path already implies the wait. Order is kept."""
    graph = normalize(graph)
    reduced: Graph = {}
    for node, waits in graph.items():
        implied = set().union(*(ancestors(graph, w) for w in waits)) if waits else set()
        reduced[node] = [w for w in waits if w not in implied]
    return reduced


def shape_mapping(first: Mapping[str, Any], second: Mapping[str, Any],
                  prefer: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """A renaming of ``first``'s tasks that turns it into ``second`` (after reduction), or None.

    ``prefer`` fixes pairs already known (names that match); only the rest is
    searched. Graphs of more than 8 unmatched tasks are compared by name only.
    """
    a, b = reduce(first), reduce(second)
    if len(a) != len(b):
        return None
    want = edges(b)
    fixed = {k: v for k, v in (prefer or {}).items() if k in a and v in b}
    if len(set(fixed.values())) != len(fixed):
        fixed = {}
    free_a = [n for n in a if n not in fixed]
    free_b = [n for n in b if n not in fixed.values()]
    if len(free_a) > 8:
        return dict(fixed) if {(fixed.get(x, x), fixed.get(y, y)) for x, y in edges(a)} == want else None
    for image in permutations(free_b):
        mapping = {**fixed, **dict(zip(free_a, image))}
        if {(mapping[x], mapping[y]) for x, y in edges(a)} == want:
            return mapping
    if fixed:  # the names matched wrongly; a renaming may still exist
        return shape_mapping(first, second)
    return None


def same_shape(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """True when the two graphs are equal up to renaming their tasks (after reduction)."""
    return shape_mapping(first, second) is not None


def phases(graph: Mapping[str, Any]) -> list[list[str]]:
    """Tasks in layers by longest-path depth: phase 0 waits for nothing, phase k for phase k-1.

    Within a phase, tasks keep the order of the graph. Raises ValueError on a cycle.
    """
    graph = normalize(graph)
    depth = _depths(graph)
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in graph:
        layers[depth[node]].append(node)
    return layers


def _depths(graph: Graph) -> dict[str, int]:
    cycle = find_cycle(graph)
    if cycle:
        raise ValueError(describe_cycle(cycle))
    depth: dict[str, int] = {}

    def of(node: str) -> int:
        if node not in depth:
            depth[node] = 1 + max((of(d) for d in graph[node]), default=-1)
        return depth[node]

    for node in graph:
        of(node)
    return depth


# --- the critical path --------------------------------------------------------------------

# Two chains whose lengths differ by less than this share the critical path: with the
# scripted model's equal latencies, measured durations differ only by scheduling noise.
TIE = 0.20
_MAX_CHAINS = 5000


@dataclass(frozen=True)
class CriticalPath:
    """The longest chain of waits, and every other chain as long (within ``TIE``)."""

    path: list[str]
    length: float
    ties: list[list[str]]  # every chain that ties, ``path`` first

    def describe(self, unit: str = "s") -> str:
        amount = f"{self.length:.2f} s" if unit == "s" else f"{self.length:.0f} tasks"
        text = f"{' -> '.join(self.path)} ({amount})"
        if len(self.ties) > 1:
            text += f"; {len(self.ties)} chains tie, this is the first in task order"
        return text


def critical(graph: Mapping[str, Any], durations: Mapping[str, float] | None = None) -> CriticalPath:
    """The longest chain of waiting tasks. No schedule can finish sooner than its length.

    ``durations`` gives seconds per task (a missing task counts 0); without it
    every task counts 1. Chains within ``TIE`` of the longest tie; of those the
    first in task order is chosen, so a crew and its run name the same chain.
    """
    graph = normalize(graph)
    _depths(graph)  # refuses cycles before the walk below could recurse forever
    cost = (lambda n: 1.0) if durations is None else (lambda n: float(durations.get(n, 0.0) or 0.0))
    order = {name: i for i, name in enumerate(graph)}
    followers = reverse(graph)
    chains: list[list[str]] = []

    def walk(chain: list[str]) -> None:
        if len(chains) >= _MAX_CHAINS:
            return
        nexts = followers[chain[-1]]
        if not nexts:
            chains.append(chain)
        for node in nexts:
            walk(chain + [node])

    for root in (n for n, deps in graph.items() if not deps):
        walk([root])
    if not chains:
        return CriticalPath([], 0.0, [])
    lengths = [sum(cost(n) for n in chain) for chain in chains]
    best = max(lengths)
    tied = [c for c, length in zip(chains, lengths) if length >= best * (1 - TIE) - 1e-9]
    tied.sort(key=lambda c: [order[n] for n in c])
    chosen = tied[0]
    return CriticalPath(chosen, sum(cost(n) for n in chosen), tied)


def critical_path(graph: Mapping[str, Any], durations: Mapping[str, float] | None = None) -> tuple[list[str], float]:
    """``critical(...)`` as ``(path, length)``."""
    found = critical(graph, durations)
    return found.path, found.length


# --- comparing a learner's graph with the real one ------------------------------------

def _key(name: str) -> str:
    return " ".join(str(name).split()).casefold()


def match_names(wanted: Iterable[str], actual: Iterable[str]) -> dict[str, str]:
    """Map names a learner wrote to the crew's task names, forgiving case and spacing.

    A learner may also write a task's whole description where the course shows
    it shortened ("Research the topic of machine learnin...").
    """
    actual = list(actual)
    exact = {_key(a): a for a in actual}
    result: dict[str, str] = {}
    for name in wanted:
        key = _key(name)
        if key in exact:
            result[name] = exact[key]
            continue
        for candidate in actual:
            stem = _key(candidate)
            if stem.endswith("...") and key.startswith(stem[:-3]):
                result[name] = candidate
                break
    return result


@dataclass(frozen=True)
class GraphDiff:
    """How a learner's graph differs from the real one (names already matched)."""

    # A wait one graph has directly and the other only through other tasks is in neither set: both
    # wait, and the edge that makes the difference is in one of them.
    missing: set[tuple[str, str]]  # waits the crew has and the learner's graph lacks, even through others
    extra: set[tuple[str, str]]  # waits in the learner's graph the crew lacks, even through others
    unknown: list[str]  # learner's names that match no task of the crew
    absent: list[str]  # tasks of the crew the learner did not mention
    names: dict[str, str] = field(default_factory=dict)  # the learner's name -> the crew's, where they differ

    @property
    def same(self) -> bool:
        return not (self.missing or self.extra or self.unknown or self.absent)


def rename(graph: Mapping[str, Any], names: Mapping[str, str]) -> Graph:
    """The graph with names replaced where ``names`` has a replacement."""
    result: Graph = {}
    for node, deps in normalize(graph).items():
        key = names.get(node, node)
        merged = result.setdefault(key, [])
        for dep in deps:
            dep = names.get(dep, dep)
            if dep not in merged:
                merged.append(dep)
    return result


def _by_phase(mine: Graph, actual: Graph, known: Mapping[str, str]) -> dict[str, str] | None:
    """Unmatched names paired by phase and order within it, when both graphs have phases of the same sizes.

    Only for pointing at differences: a graph of another shape is still reported as different.
    """
    ours, theirs = phases(mine), phases(actual)
    if [len(p) for p in ours] != [len(p) for p in theirs]:
        return None
    mapping = dict(known)
    for layer, other in zip(ours, theirs):
        free = [n for n in other if n not in mapping.values()]
        for name in layer:
            if name not in mapping and free:
                mapping[name] = free.pop(0)
    return mapping


def compare(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> tuple[GraphDiff, Graph]:
    """Diff a learner's graph against the real one, on waits (reduced); also returns the learner's graph renamed.

    A wait is a difference only when the other graph lacks it even through other tasks.

    Names are matched first by spelling; when the two graphs have the same shape
    the learner's tasks are matched by their place in it, as the checks do, so a
    dict with other names is never called different by a picture and right by a check.
    """
    actual = reduce(actual)
    mine = normalize(expected)
    names = match_names(mine, actual)
    if find_cycle(mine) is None:
        mapping = shape_mapping(mine, actual, prefer=names)
        if mapping is None and len(names) < len(mine):
            mapping = _by_phase(mine, actual, names)
        if mapping is not None:
            names = mapping
    renamed = reduce(rename(mine, names)) if find_cycle(mine) is None else rename(mine, names)
    want, have = edges(renamed), edges(actual)
    diff = GraphDiff(
        missing={(a, b) for a, b in have - want if a not in ancestors(renamed, b)},
        extra={(a, b) for a, b in want - have if a not in ancestors(actual, b)},
        unknown=[n for n in renamed if n not in actual],
        absent=[n for n in actual if n not in renamed],
        names={k: v for k, v in names.items() if k != v},
    )
    return diff, renamed
