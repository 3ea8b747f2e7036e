"""nbgrader's region markers in source cells (``### BEGIN SOLUTION`` ... ``### END SOLUTION``, and the
same for ``HIDDEN TESTS``): the one place that parses them."""

from __future__ import annotations

import re

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
REGION = {
    "solution": (re.compile(r"^\s*#+\s*BEGIN SOLUTION"), re.compile(r"^\s*#+\s*END SOLUTION")),
    "hidden": (re.compile(r"^\s*#+\s*BEGIN HIDDEN TESTS"), re.compile(r"^\s*#+\s*END HIDDEN TESTS")),
}
SOLUTION_MARK = re.compile(r"^\s*#+\s*(BEGIN|END) SOLUTION\s*$")


def without_solution_marks(source: str, end_with_newline: bool = False) -> str:
    """The source with its BEGIN/END SOLUTION lines removed (the solution itself kept).

    ``end_with_newline``: a source whose last line was a marker keeps the line break before it,
    as the answers pasted into the sample class's cells always have.
    """
    lines = source.splitlines()
    kept = "\n".join(line for line in lines if not SOLUTION_MARK.match(line))
    ends_with_mark = bool(lines) and bool(SOLUTION_MARK.match(lines[-1]))
    return kept + "\n" if end_with_newline and ends_with_mark and kept else kept
