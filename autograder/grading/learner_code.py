"""What the learner's own cells write, read from the hand-in outside the kernel (issue 20).

Some ideas of the rubric leave no trace the model can see: a sync task without
``context`` receives every earlier output, exactly as one that lists them all;
``async_execution`` in a crew that fails leaves one call. The kernel's checks read
them from the crew object, but the kernel is the learner's and its checks can be
switched off. The hand-in is not: the grader parses the code of the learner's
own cells (answer cells and any cell the learner added; never the course's
locked cells or the tests) and asks what it writes.

A fact here never earns a point alone: a part that asks for one also needs the
model's journal to show the work (``autograder/grading/witness_rules.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import nbformat


@dataclass(frozen=True)
class LearnerCode:
    """The keyword arguments and attributes the learner's cells write."""

    keywords: frozenset[str] = frozenset()  # f(name=...) anywhere in the learner's code
    assigned: frozenset[str] = frozenset()  # x.name = ... anywhere in the learner's code
    binding: tuple[tuple[str, int], ...] = ()  # (name, cell index) for each cell that binds name = ...

    def cells_binding(self, name: str) -> list[int]:
        """The notebook's cell indices (as executed) of the learner's cells that bind ``name``."""
        return [index for bound, index in self.binding if bound == name]

    def writes(self, name: str) -> bool:
        """True when the learner's code passes ``name=`` to a call or assigns ``something.name``."""
        return name in self.keywords or name in self.assigned


def _learners(cell) -> bool:  # noqa: ANN001
    marks = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and not marks.get("grade") and (
        marks.get("solution") or not marks.get("locked"))


def _tree(source: str) -> ast.AST | None:
    """The cell as Python (IPython's magics and top-level ``await`` included), or None."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        python = TransformerManager().transform_cell(source)
        return compile(python, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError):
        return None  # a cell that does not parse wrote nothing the grader can read


def read(notebook: nbformat.NotebookNode) -> LearnerCode:
    keywords: set[str] = set()
    assigned: set[str] = set()
    binding: set[tuple[str, int]] = set()
    for index, cell in enumerate(notebook.cells):
        tree = _tree(cell.source) if _learners(cell) else None
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.keyword) and node.arg:
                keywords.add(node.arg)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                assigned.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                binding.add((node.id, index))
    return LearnerCode(frozenset(keywords), frozenset(assigned), tuple(sorted(binding)))
