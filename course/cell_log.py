"""What each notebook cell did: its source and the error it raised, if any.

A test cell that needs a name another cell should have defined can then say
which cell that is and why it did not define it, instead of a bare NameError.
It also remembers when each cell began, so that a check can read the runs one cell made (1.4
counts only the runs since the cell that fills ``orders`` began, never what the kernel ran before).
Nothing here judges anything; it only remembers (the last ``KEEP`` cells of this kernel).
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone

KEEP = 200


@dataclass(frozen=True)
class CellRun:
    source: str
    error: BaseException | None  # what the cell raised, None when it ran clean
    began: datetime | None = None  # when it began (UTC), as the runs' started_at

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.source.splitlines() if line.strip()), "")


_cells: deque[CellRun] = deque(maxlen=KEEP)
_began: list[datetime] = []  # the running cell's start, from pre_run_cell to post_run_cell
_lock = threading.Lock()
_installed = False


def _before_cell(info) -> None:  # IPython's pre_run_cell hook
    with _lock:
        _began[:] = [datetime.now(timezone.utc)]


def _after_cell(result) -> None:  # IPython's post_run_cell hook
    error = result.error_in_exec or result.error_before_exec
    with _lock:
        began = _began.pop() if _began else None
        _cells.append(CellRun(str(getattr(result.info, "raw_cell", "") or ""), error, began))


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
    shell.events.register("pre_run_cell", _before_cell)
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
