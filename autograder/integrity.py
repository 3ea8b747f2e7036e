"""Has the grading machinery been tampered with inside the learner's kernel?

A notebook can reassign anything, e.g. ``course.recording.RecordedRun.overlap =
lambda *a: True``. Every function and method of the modules below must still
be the code compiled from the file on disk, and CrewAI must still route its
models to the scripted one. (A determined learner can go further; this stops
the easy ways, and the grader also checks outputs against the model's journal.)
"""

from __future__ import annotations

import importlib
import inspect
import types
from pathlib import Path
from typing import Any, Iterator

from autograder.feedback import fail

GUARDED = (
    "course.scripted_llm", "course.replies", "course.prompts", "course.recording", "course.routing",
    "course.delegation", "course.graph", "autograder.feedback", "autograder.runner", "autograder.integrity",
    "autograder.shapes", "autograder.checks",
)


# Methods that @dataclass writes itself (compiled from "<string>", not from the file).
_DATACLASS_MADE = {"__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__",
                   "__lt__", "__le__", "__gt__", "__ge__", "__getstate__", "__setstate__"}


def _compiled(path: str) -> dict[str, list[types.CodeType]]:
    """Every code object in the file, by qualified name."""
    __tracebackhide__ = True
    source = Path(path).read_text(encoding="utf-8")
    found: dict[str, list[types.CodeType]] = {}
    stack = [compile(source, path, "exec", dont_inherit=True)]
    while stack:
        code = stack.pop()
        found.setdefault(code.co_qualname, []).append(code)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return found


def _functions(module: types.ModuleType) -> Iterator[tuple[str, Any]]:
    """(where, function) for the module's own functions and its classes' methods."""
    __tracebackhide__ = True
    for name, value in vars(module).items():
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            yield name, inspect.unwrap(value)  # decorators (contextmanager, CrewAI's hooks) keep __wrapped__
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            for attr, member in vars(value).items():
                member = _plain(member)
                if inspect.isfunction(member):
                    yield f"{name}.{attr}", member


def _plain(member: Any) -> Any:
    """The function a class attribute stands for, through any wrapper that keeps it.

    staticmethod/classmethod (``__func__``), property (``fget``), cached_property
    (``func``), pydantic's validator proxies (``wrapped``) and functools.wraps
    decorators (``__wrapped__``).
    """
    __tracebackhide__ = True
    for _ in range(8):
        if isinstance(member, property):
            member = member.fget
            continue
        inner = next((getattr(member, a) for a in ("__func__", "func", "wrapped", "__wrapped__")
                      if not inspect.isfunction(member) and getattr(member, a, None) is not None), None)
        if inner is None:
            break
        member = inner
    return inspect.unwrap(member) if inspect.isfunction(member) else member


def _missing(module: types.ModuleType, expected: dict[str, list[types.CodeType]]) -> Iterator[str]:
    """Functions the file defines whose live counterpart is gone or different (``mod.f = lambda ...``)."""
    __tracebackhide__ = True
    for qualname in expected:
        parts = qualname.split(".")
        if "<" in qualname or len(parts) > 2:
            continue  # nested helpers, lambdas and comprehensions are reached through their parents
        holder: Any = module
        if len(parts) == 2:
            holder = vars(module).get(parts[0])
            if not inspect.isclass(holder):
                continue
        live = vars(holder).get(parts[-1])
        if inspect.isclass(live):
            continue  # a class body: its methods are checked one by one
        live = _plain(live)
        code = getattr(live, "__code__", None)
        if code is None or code not in expected[qualname]:
            yield qualname


def problems() -> list[str]:
    __tracebackhide__ = True
    found = []
    for module_name in GUARDED:
        try:
            module = importlib.import_module(module_name)
            expected = _compiled(module.__file__)
        except Exception as exc:  # noqa: BLE001
            found.append(f"{module_name} could not be checked ({type(exc).__name__})")
            continue
        found.extend(f"{module_name}.{name} was replaced" for name in _missing(module, expected))
        for where, function in _functions(module):
            code = function.__code__
            if code.co_filename == "<string>" and where.rsplit(".", 1)[-1] in _DATACLASS_MADE:
                continue  # written by @dataclass, not by a file
            if code not in expected.get(code.co_qualname, []) or code.co_filename != module.__file__:
                found.append(f"{module_name}.{where} was replaced")
    found = list(dict.fromkeys(found))
    from course import recording, routing, scripted_llm

    if type(scripted_llm.JOURNAL) is not scripted_llm._Journal or recording.JOURNAL is not scripted_llm.JOURNAL:
        found.append("the course model's call journal was replaced")
    if type(recording._collector) is not recording._Collector:
        found.append("the run recorder was replaced")
    if not routing.is_active():
        found.append("CrewAI no longer routes models to the course's scripted model")
    return found


def check() -> None:
    """Raise a learner-facing AssertionError when the course or grader was changed in this kernel."""
    __tracebackhide__ = True
    wrong = problems()
    if wrong:
        fail("The course kit was changed inside this notebook, so the run cannot be graded.",
             "the course and grader code exactly as shipped", "; ".join(wrong[:3]),
             "Remove any code that reassigns parts of `course` or `autograder`, restart the kernel and run all.")
