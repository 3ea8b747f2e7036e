"""Has the grading machinery been tampered with inside the learner's kernel?

A notebook can reassign anything, e.g. ``course.recording.RecordedRun.overlap =
lambda *a: True``. Every function and method of the modules below must still
be the code compiled from the file on disk, and CrewAI must still route its
models to the scripted one. (A determined learner can go further; this stops
the easy ways, and the grader also checks outputs against the model's journal.)
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import sys
import types
from pathlib import Path
from typing import Any, Iterator

from autograder.checks.messages import fail

def guarded() -> list[str]:
    """The checks' modules and every course module they import, followed through top-level imports.

    Found, not listed by hand: whatever grading trusts is guarded from the day it is imported.
    """
    __tracebackhide__ = True
    import autograder.checks

    home = Path(autograder.checks.__file__).resolve().parent
    todo = [f"autograder.checks.{p.stem}" if p.stem != "__init__" else "autograder.checks" for p in home.glob("*.py")]
    found: set[str] = set()
    while todo:
        name = todo.pop()
        if name in found:
            continue
        module = sys.modules.get(name) or importlib.import_module(name)
        found.add(name)
        try:
            tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, TypeError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                candidates = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            for candidate in candidates:
                # Submodules only: the `course` package itself just gathers names for notebooks.
                if candidate.startswith(("course.", "autograder.checks")) and _is_module(candidate):
                    todo.append(candidate)
    return sorted(found)


def _is_module(name: str) -> bool:
    __tracebackhide__ = True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


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


def _replaced_exports() -> Iterator[str]:
    """Names test cells call on ``autograder.checks`` that no longer point at the functions of their own files.

    The package only re-exports them, so checking the functions each file defines is not enough:
    ``checks.async_join = lambda *a: None`` leaves ex03_async intact and rebinds the name.
    """
    __tracebackhide__ = True
    import autograder.checks as package

    for name in getattr(package, "__all__", []):
        live = inspect.unwrap(getattr(package, name, None)) if callable(getattr(package, name, None)) else None
        home = sys.modules.get(getattr(live, "__module__", "") or "")
        code = getattr(live, "__code__", None)
        if (home is None or not str(home.__name__).startswith("autograder.checks") or code is None
                or code not in _compiled(home.__file__).get(code.co_qualname, [])):
            yield f"autograder.checks.{name} was replaced"


def problems() -> list[str]:
    __tracebackhide__ = True
    found = []
    for module_name in guarded():
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
    found.extend(_replaced_exports())
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
