"""How a failed check speaks to the learner: what was expected, what happened, a hint.

Every check failure is an AssertionError built here, so the messages share one
short shape and never show a traceback from the grading code itself.
(Instructor-side feedback pages are another thing: ``autograder/grading/feedback_pages.py``.)
"""

from __future__ import annotations

import functools
import textwrap
from typing import Any, Callable, NoReturn, TypeVar


# The width of a message line as a learner sees it. Validate's dialog shows the error in a
# box that scrolls sideways, so what passes its edge is hidden (tests/e2e/test_browser.py measures
# how many characters it shows), and `nbgrader validate` in a terminal cuts each line at 83
# characters. So every line is wrapped to 75, the "CheckFailed: " IPython shows first included.
LINE_WIDTH = 75
SHOWN_FIRST = "CheckFailed: "  # what _render_traceback_ puts before the message


# Every function a check passes through sets ``__tracebackhide__``: IPython then
# leaves those frames out, so a failing test cell shows the learner's line and
# our message, not the grader's internals and absolute paths.


class CheckFailed(AssertionError):
    """A check did not pass; the message is meant for the learner."""

    def _render_traceback_(self) -> list[str]:
        # IPython prints what this returns instead of a traceback: the learner
        # sees the sentence, not the grader's frames (the raising frame would
        # show even with __tracebackhide__).
        return [f"{SHOWN_FIRST}{self}"]


def fail(what: str, expected: str, happened: str, hint: str) -> NoReturn:
    __tracebackhide__ = True
    # `from None`: a check often fails while handling the learner's error; the
    # learner needs our sentence, not the chain of exceptions behind it.
    raise CheckFailed(message(what, expected, happened, hint)) from None


def message(what: str, expected: str, happened: str, hint: str) -> str:
    """A failure's four parts, each wrapped so that no line is wider than ``LINE_WIDTH`` as shown."""
    __tracebackhide__ = True
    return "\n".join(_wrap(what, LINE_WIDTH - len(SHOWN_FIRST), "", "") + _fields(expected, happened, hint))


def _fields(expected: str, happened: str, hint: str) -> list[str]:
    __tracebackhide__ = True
    return [line for label, text in (("Expected", expected), ("What happened", happened), ("Hint", hint))
            for line in _wrap(text, LINE_WIDTH, f"  {label}: ", "    ")]


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    __tracebackhide__ = True
    # Words longer than a line are broken too: a hidden end of a line is what this prevents.
    return textwrap.wrap(" ".join(str(text).split()), width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False) or [first.rstrip()]


# --- a failure said once ----------------------------------------------------------------------

# Each check's latest failure in this kernel and the learner's object it was about; a passing
# check drops its own. Kernel state, like course.cell_log: what the test cells above said, read
# by the ones below (each test cell calls a check of its own).
_latest: dict[str, tuple[str, int]] = {}
# Each check's place in its notebook: one module per notebook defines its checks in the order
# of their test cells (tests/checks/test_checks.py holds it to that), so "above" is "defined before".
_places: dict[str, int] = {}

Check = TypeVar("Check", bound=Callable[..., Any])


def said_once(check: Check) -> Check:
    """A check that, failing with the very message a check above it failed with last, says so in a few lines.

    One broken build_crew() fails every test of a notebook with the same sentence: the first
    test says it whole, each later one points at it. The first, run again, says it whole again.
    """
    _places.setdefault(check.__qualname__, len(_places))

    @functools.wraps(check)
    def checked(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        try:
            result = check(*args, **kwargs)
        except CheckFailed as failure:
            raise once(check.__qualname__, failure, args[0] if args else None) from None
        _latest.pop(check.__qualname__, None)
        return result

    return checked  # type: ignore[return-value]


def once(who: str, failure: CheckFailed, about: Any = None) -> CheckFailed:
    """``failure``, or its short form when a check above failed the same way last, about the same object."""
    __tracebackhide__ = True
    mine = (str(failure), id(getattr(about, "__code__", about)))
    _latest[who] = mine
    place = _places.get(who, len(_places))
    if not any(theirs == mine and _places.get(other, place) < place for other, theirs in _latest.items()):
        return failure
    headline = mine[0].split("\n  Expected:")[0].splitlines()
    return CheckFailed("\n".join(["Same problem as a test above:", *(f"  {line}" for line in headline),
                                  *_fields("what that test expected", "the same as there",
                                           "Fix that one first; this test follows it.")]))


def passed(message: str) -> None:
    __tracebackhide__ = True
    print(f"\u2714 {message}")


def describe_error(exc: BaseException) -> str:
    """One readable line for an exception from the learner's crew, with the fix when known."""
    __tracebackhide__ = True
    diagnosis = None
    try:  # the course's trap catalogue knows the fixes; grading still works without it
        from course import traps

        diagnosis = traps.diagnose(exc)
    except Exception:  # noqa: BLE001 (a broken diagnosis must never hide the real error)
        diagnosis = None
    first_line = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
    return f"{text.rstrip('.')}. {diagnosis}" if diagnosis else text
