"""What each notebook cell did: its source and the error it raised, if any.

A test cell that needs a name another cell should have defined can then say
which cell that is and why it did not define it, instead of a bare NameError.
Nothing here judges anything; it only remembers (the last ``KEEP`` cells of this kernel).
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass

KEEP = 200


@dataclass(frozen=True)
class CellRun:
    source: str
    error: BaseException | None  # what the cell raised, None when it ran clean

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.source.splitlines() if line.strip()), "")


_cells: deque[CellRun] = deque(maxlen=KEEP)
_lock = threading.Lock()
_installed = False


def _after_cell(result) -> None:  # IPython's post_run_cell hook
    error = result.error_in_exec or result.error_before_exec
    with _lock:
        _cells.append(CellRun(str(getattr(result.info, "raw_cell", "") or ""), error))


def install() -> None:
    """Start remembering cells, when running inside IPython (a notebook kernel); elsewhere a no-op."""
    global _installed
    if _installed:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.events.register("post_run_cell", _after_cell)
    _installed = True


def defining(name: str) -> CellRun | None:
    """The last cell that assigns or defines ``name`` (``name = ...``, ``def name(``), as it last ran.

    Failing that, the last cell that mentions ``name`` and raised (an exercise cell not answered yet).
    """
    pattern = re.compile(rf"^\s*(?:{re.escape(name)}\s*(?:\+|-)?=(?!=)|def\s+{re.escape(name)}\s*\(|for\s+{re.escape(name)}\b)",
                         re.M)
    mention = re.compile(rf"\b{re.escape(name)}\b")
    with _lock:
        cells = list(_cells)
    for cell in reversed(cells):
        if pattern.search(cell.source):
            return cell
    # An unanswered exercise cell has lost its assignment but still uses the name, and raised.
    for cell in reversed(cells):
        if cell.error is not None and mention.search(cell.source):
            return cell
    return None
