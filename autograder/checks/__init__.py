"""The checks behind the crew_processes test cells (imported in the learner's kernel).

Each check builds the learner's crew again, runs it through the course
recorder (``common.run``) and grades what really happened: order, overlap,
joins, who did each task, which outputs reached which task, the task graph.
Tasks are matched by their place in the graph, never by their wording. A check
requires only what its part names, so one wrong idea loses one part. A failed
check raises CheckFailed (an AssertionError) with what was expected, what
happened and a hint; a passed one prints a one-line confirmation.

One module per exercise, beside ``source/cells_0N_*.py``; ``common`` re-runs
crews, ``messages`` speaks to the learner, ``kit_integrity`` guards the kit.
"""

from __future__ import annotations

from autograder.checks import kit_integrity as _integrity
from autograder.checks.common import needs, run
from autograder.checks.ex01_sequential import (
    sequential_context, sequential_crew, sequential_determinism, sequential_order,
)
from autograder.checks.ex02_hierarchical import (
    hierarchical_answers, hierarchical_delegation, hierarchical_order, hierarchical_setup,
)
from autograder.checks.ex03_async import async_agents, async_join, async_overlap, async_shape, async_timing
from autograder.checks.ex04_mixed import dag_data, mixed_crew_graph, mixed_joins, mixed_parallel
from autograder.checks.messages import said_once as _said_once

__all__ = [
    "integrity", "needs", "run",
    "sequential_crew", "sequential_order", "sequential_context", "sequential_determinism",
    "hierarchical_setup", "hierarchical_delegation", "hierarchical_order", "hierarchical_answers",
    "async_shape", "async_agents", "async_overlap", "async_join", "async_timing",
    "dag_data", "mixed_crew_graph", "mixed_parallel", "mixed_joins",
]



@_said_once
def integrity() -> None:
    """The course kit and the grader are as shipped (hidden tests run this first)."""
    __tracebackhide__ = True
    _integrity.check()
