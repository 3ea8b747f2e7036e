"""Child processes a learner's code leaves behind.

A kernel is killed at the end of its notebook, but code in it can start a
process of its own (``subprocess.Popen``, a double fork, ``setsid``) that
outlives it and could rewrite grades after the fact. The worker makes itself a
"child subreaper" (Linux), so every such orphan is re-parented to the worker
instead of init, and after each notebook every new descendant is killed.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from autograder.kernel.linux import become_subreaper  # noqa: F401  (the worker's, as the zygote's)


def _parents() -> dict[int, int]:
    result = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        rest = stat[stat.rfind(")") + 2:].split()
        try:
            result[int(entry.name)] = int(rest[1])
        except (IndexError, ValueError):
            continue
    return result


def descendants(pid: int | None = None) -> set[int]:
    """Every process below ``pid`` (default: this process)."""
    if not Path("/proc").is_dir():
        return set()
    top = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    stack = [top]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = ""
    return f"{pid} {cmd[:80]}".strip()


def _signal_all(pids: set[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:  # gone already, or never ours
            pass


def kill_tree(pids: set[int]) -> None:
    _signal_all(pids, signal.SIGKILL)
    _reap(pids)


def _reap(pids: set[int], wait: float = 2.0) -> None:
    deadline = time.monotonic() + wait
    pending = set(pids)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child (its own parent reaps it), or reaped already
                pending.discard(pid)
                continue
            if done:
                pending.discard(pid)
        if pending:
            time.sleep(0.02)


def kill_new_descendants(before: set[int], keep: set[int] | frozenset[int] = frozenset()) -> list[str]:
    """Kill every descendant that appeared since ``before``; describe what was killed."""
    new = descendants() - set(before) - set(keep)
    if not new:
        return []
    described = [_describe(pid) for pid in sorted(new)]
    # Stop them first, so none can start another while the others are killed.
    _signal_all(new, signal.SIGSTOP)
    kill_tree(new)
    return described
