"""Task graphs as data: who waits for whom, reduced to the shape that matters.

A graph is ``{task name: [names of the tasks it waits for]}``. Learners may
name tasks anything, so graphs are compared by shape, not by spelling.
"""

from __future__ import annotations

from itertools import permutations
from typing import Any

from course import graph as graph_rules

Graph = dict[str, list[str]]


def label(task: Any) -> str:
    """A task's name as the course recorder shows it: ``name=`` or its description."""
    return graph_rules.task_name(task)


def crew_graph(crew: Any) -> Graph:
    """What each task of a sequential crew waits for, by the course's one rule (``course.graph``).

    Tasks that share a label get "#position" added, so that the shape check sees
    every task as its own node.
    """
    tasks = list(crew.tasks)
    names: list[str] = []
    for i, task in enumerate(tasks):
        name = label(task)
        names.append(name if name not in names else f"{name} #{i + 1}")
    position = {id(t): i for i, t in enumerate(tasks)}
    specs = []
    for i, task in enumerate(tasks):
        context = task.context if isinstance(task.context, list) else []
        specs.append((names[i], bool(task.async_execution),
                      [names[position[id(c)]] for c in context if id(c) in position]))
    return graph_rules.waits_for(specs)


def normalise(graph: Any) -> Graph:
    """A learner's dict as a clean graph; raises ValueError with a readable reason."""
    if not isinstance(graph, dict):
        raise ValueError(f"it is a {type(graph).__name__}, not a dict")
    if not graph:
        raise ValueError("it is an empty dict")
    clean: Graph = {}
    for name, waits in graph.items():
        if isinstance(waits, (str, bytes)) or not hasattr(waits, "__iter__"):
            raise ValueError(f"the value for {name!r} should be a list of task names, not {waits!r}")
        clean[str(name)] = [str(w) for w in waits]
    for name, waits in clean.items():
        for w in waits:
            if w not in clean:
                raise ValueError(f"{name!r} waits for {w!r}, which is not a key of the dict (every task needs "
                                 "its own entry, with [] when it waits for nothing)")
            if w == name:
                raise ValueError(f"{name!r} waits for itself")
    if _has_cycle(clean):
        raise ValueError("it has a cycle: some tasks wait for each other, so none could start")
    return clean


def _has_cycle(graph: Graph) -> bool:
    state: dict[str, int] = {}

    def visit(node: str) -> bool:
        if state.get(node) == 1:
            return True
        if state.get(node) == 2:
            return False
        state[node] = 1
        if any(visit(d) for d in graph.get(node, [])):
            return True
        state[node] = 2
        return False

    return any(visit(n) for n in graph)


def ancestors(graph: Graph, node: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.get(node, []))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(graph.get(current, []))
    return seen


def reduce(graph: Graph) -> Graph:
    """The transitive reduction: drop an edge when the wait is implied by another path."""
    reduced: Graph = {}
    for node, waits in graph.items():
        implied = set().union(*(ancestors(graph, w) for w in waits)) if waits else set()
        reduced[node] = sorted({w for w in waits if w not in implied})
    return reduced


def same_shape(first: Graph, second: Graph) -> bool:
    """True when the two graphs are equal up to renaming their tasks (after reduction)."""
    a, b = reduce(first), reduce(second)
    if len(a) != len(b) or sum(map(len, a.values())) != sum(map(len, b.values())):
        return False
    if set(a) == set(b) and all(set(a[n]) == set(b[n]) for n in a):
        return True
    nodes_a, nodes_b = list(a), list(b)
    if len(nodes_a) > 8:
        return False  # never needed in this course; keeps the brute force bounded
    edges_a = {(n, w) for n in a for w in a[n]}
    for image in permutations(nodes_b):
        mapping = dict(zip(nodes_a, image))
        if {(mapping[n], mapping[w]) for n, w in edges_a} == {(n, w) for n in b for w in b[n]}:
            return True
    return False


def phases(graph: Graph) -> list[list[str]]:
    """Tasks grouped by depth: phase 1 waits for nothing, phase k for something in phase k-1."""
    reduced = reduce(graph)
    depth: dict[str, int] = {}

    def level(node: str) -> int:
        if node not in depth:
            depth[node] = 1 + max((level(w) for w in reduced[node]), default=0)
        return depth[node]

    for node in reduced:
        level(node)
    count = max(depth.values(), default=0)
    return [[n for n in reduced if depth[n] == k] for k in range(1, count + 1)]


FOUR_PHASES: Graph = {
    "research A": [], "research B": [],
    "analysis": ["research A", "research B"],
    "report": ["analysis"], "presentation": ["analysis"],
    "final review": ["report", "presentation"],
}


def four_phase_problem(graph: Graph) -> str | None:
    """None when the graph is the four-phase flow, else what differs, in words."""
    if len(graph) != 6:
        return f"it has {len(graph)} tasks; the four-phase flow has 6 (2 research, analysis, 2 outputs, review)"
    if same_shape(graph, FOUR_PHASES):
        return None
    reduced = reduce(graph)
    groups = phases(graph)
    sizes = [len(g) for g in groups]
    if sizes != [2, 1, 2, 1]:
        shown = " -> ".join("{" + ", ".join(g) + "}" for g in groups)
        return f"its phases have sizes {sizes} ({shown}); the flow has 2 -> 1 -> 2 -> 1"
    for later, earlier in ((1, 0), (2, 1), (3, 2)):
        for node in groups[later]:
            missing = sorted(set(groups[earlier]) - set(reduced[node]))
            if missing:
                return f"{node!r} does not wait for {', '.join(map(repr, missing))}"
    return "its edges differ from the four-phase flow"
