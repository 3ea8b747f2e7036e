"""Task graphs as plain data: ``{task name: [names of the tasks it waits for]}``.

One rule, used by the recorded run, the pictures and the checks alike, so that
a crew, the run it produced and the dict a learner writes down can be compared
edge by edge. The rule is CrewAI's sequential walk (``Crew._execute_tasks``):

* a task with ``context=[...]`` waits for exactly those tasks;
* without it, a sync task waits for every earlier task (it receives all their
  outputs, and the walk joins every pending async task before it starts);
* without it, an async task waits for the last earlier sync task: the walk
  launches it as soon as that task is done. (In 1.15.30 it receives no output
  from it: ``last_sync_output`` is never filled outside replays.)

An explicit ``context=[]`` counts as "no context" here, because a recorded run
cannot tell the two apart and a sync task is held back by the walk either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

Graph = dict[str, list[str]]


def waits_for(tasks: Iterable[tuple[str, bool, Sequence[str] | None]]) -> Graph:
    """The graph of tasks given in crew order as ``(name, async_execution, context names)``."""
    graph: Graph = {}
    earlier: list[tuple[str, bool]] = []
    for name, is_async, context in tasks:
        if context:
            # A task cannot wait for itself; two tasks sharing one name would look as if it did.
            graph[name] = [c for c in context if c != name]
        elif is_async:
            graph[name] = [n for n, a in earlier if not a and n != name][-1:]
        else:
            graph[name] = list(dict.fromkeys(n for n, _ in earlier if n != name))
        earlier.append((name, bool(is_async)))
    return graph


def task_name(task: Any) -> str:
    """The name the course gives a Task: ``task.name`` or its shortened description."""
    from course.recording import _task_name  # late: recording.py calls into this module

    return _task_name(task)


def crew_graph(crew: Any) -> Graph:
    """The graph of a Crew before it runs (same rule as ``RecordedRun.dependencies()``)."""
    tasks = list(getattr(crew, "tasks", None) or [])
    names = {id(t): task_name(t) for t in tasks}
    specs = []
    for task in tasks:
        context = getattr(task, "context", None)
        # Tasks outside the crew never run, so their outputs never arrive: no edge.
        declared = [names[id(c)] for c in context if id(c) in names] if isinstance(context, list) else []
        specs.append((names[id(task)], bool(getattr(task, "async_execution", False)), declared))
    return waits_for(specs)


def normalize(graph: Mapping[str, Any]) -> Graph:
    """A learner's dict made regular: every name a node, every value a list, no repeats.

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


def edges(graph: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Every ``(earlier, later)`` pair: ``later`` waits for ``earlier``."""
    return {(dep, name) for name, deps in normalize(graph).items() for dep in deps}


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


def critical_path(graph: Mapping[str, Any], durations: Mapping[str, float] | None = None) -> tuple[list[str], float]:
    """The longest chain of waiting tasks and its length.

    ``durations`` gives seconds per task (a missing task counts 0); without it
    every task counts 1, so the length is the number of tasks on the chain. No
    schedule can finish sooner than this. Ties go to the task listed first.
    """
    graph = normalize(graph)
    _depths(graph)  # refuses cycles before the walk below could recurse forever
    cost = (lambda n: 1.0) if durations is None else (lambda n: float(durations.get(n, 0.0) or 0.0))
    finish: dict[str, tuple[float, list[str]]] = {}

    def of(node: str) -> tuple[float, list[str]]:
        if node not in finish:
            best: tuple[float, list[str]] = (0.0, [])
            for dep in graph[node]:
                candidate = of(dep)
                if candidate[0] > best[0]:
                    best = candidate
            finish[node] = (best[0] + cost(node), best[1] + [node])
        return finish[node]

    results = [of(node) for node in graph]
    if not results:
        return [], 0.0
    length, path = max(results, key=lambda item: item[0])
    return path, length


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

    missing: set[tuple[str, str]]  # real edges the learner left out
    extra: set[tuple[str, str]]  # learner's edges the crew does not have
    unknown: list[str]  # learner's names that match no task of the crew
    absent: list[str]  # tasks of the crew the learner did not mention

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


def compare(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> tuple[GraphDiff, Graph]:
    """Diff a learner's graph against the real one; also returns the learner's graph renamed."""
    actual = normalize(actual)
    mine = normalize(expected)
    renamed = rename(mine, match_names(mine, actual))
    want, have = edges(renamed), edges(actual)
    diff = GraphDiff(
        missing=have - want, extra=want - have,
        unknown=[n for n in renamed if n not in actual],
        absent=[n for n in actual if n not in renamed],
    )
    return diff, renamed
