"""How a failed check speaks to the learner: what was expected, what happened, a hint.

Every check failure is an AssertionError built here, so the messages share one
short shape and never show a traceback from the grading code itself.
(Instructor-side feedback pages are another thing: ``autograder/grading/feedback_pages.py``.)
"""

from __future__ import annotations

from typing import NoReturn


# Every function a check passes through sets ``__tracebackhide__``: IPython then
# leaves those frames out, so a failing test cell shows the learner's line and
# our message, not the grader's internals and absolute paths.


class CheckFailed(AssertionError):
    """A check did not pass; the message is meant for the learner."""

    def _render_traceback_(self) -> list[str]:
        # IPython prints what this returns instead of a traceback: the learner
        # sees the sentence, not the grader's frames (the raising frame would
        # show even with __tracebackhide__).
        return [f"CheckFailed: {self}"]


def fail(what: str, expected: str, happened: str, hint: str) -> NoReturn:
    __tracebackhide__ = True
    # `from None`: a check often fails while handling the learner's error; the
    # learner needs our sentence, not the chain of exceptions behind it.
    raise CheckFailed(f"{what}\n  Expected: {expected}\n  What happened: {happened}\n  Hint: {hint}") from None


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
