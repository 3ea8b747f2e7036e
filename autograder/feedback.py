"""How a failed check speaks to the learner: what was expected, what happened, a hint.

Every check failure is an AssertionError built here, so the messages share one
short shape and never show a traceback from the grading code itself.
(Instructor-side feedback pages are another thing: ``autograder/feedback_pages.py``.)
"""

from __future__ import annotations

from typing import NoReturn


class CheckFailed(AssertionError):
    """A check did not pass; the message is meant for the learner."""


def fail(what: str, expected: str, happened: str, hint: str) -> NoReturn:
    raise CheckFailed(f"{what}\n  Expected: {expected}\n  What happened: {happened}\n  Hint: {hint}")


def passed(message: str) -> None:
    print(f"\u2714 {message}")


def describe_error(exc: BaseException) -> str:
    """One readable line for an exception from the learner's crew, with the fix when known."""
    diagnosis = None
    try:  # the course's trap catalogue knows the fixes; grading still works without it
        from course import traps

        diagnosis = traps.diagnose(exc)
    except Exception:  # noqa: BLE001 (a broken diagnosis must never hide the real error)
        diagnosis = None
    first_line = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
    return f"{text.rstrip('.')}. {diagnosis}" if diagnosis else text
