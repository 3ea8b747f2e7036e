"""When each notebook cell began, so that a check can read the runs one cell made.

``course.cell_log`` remembers what each cell was and what it raised. 1.4 must also
know which runs filled ``orders``: those made since the cell that sets it began,
never what the kernel ran before (earlier crews, other experiments), so that the
same cells get the same verdict in a used kernel and in a fresh one.

This listens from the moment the checks are imported, i.e. from a notebook's first
test cell on: in Run All, Validate and grading that is before every answer cell a
check asks about. A cell that ran before has no known start (``began`` is None).
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timezone

KEEP = 200  # as course.cell_log.KEEP: the cells one can ask about are the cells it remembers

_began: deque[tuple[str, datetime]] = deque(maxlen=KEEP)
_lock = threading.Lock()
_installed = False


def _before_cell(info) -> None:  # IPython's pre_run_cell hook
    with _lock:
        _began.append((str(getattr(info, "raw_cell", "") or ""), datetime.now(timezone.utc)))


def install() -> None:
    """Start listening, when running inside IPython (a notebook kernel); elsewhere a no-op."""
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
    _installed = True


def began(source: str) -> datetime | None:
    """When the last cell with exactly this source began; None when no such cell ran since ``install``."""
    __tracebackhide__ = True
    with _lock:
        found = [moment for text, moment in _began if text == source]
    return found[-1] if found else None
