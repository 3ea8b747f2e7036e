"""Has the grading machinery been tampered with inside the learner's kernel?

A notebook can reassign anything, e.g. ``course.recording.RecordedRun.overlap =
lambda *a: True``. Every function and method of the modules below must still
be the code compiled from the file on disk, and CrewAI must still route its
models to the scripted one. (A determined learner can go further; this stops
the easy ways, and the grader also checks outputs against the model's journal.)
"""

from __future__ import annotations

import dataclasses
import dis
import importlib
import importlib.util
import inspect
import marshal
import os
import sys
import types
from pathlib import Path
from typing import Any, Iterator

from autograder.checks.messages import fail

def guarded(modules: dict[str, types.CodeType] | None = None) -> list[str]:
    """The checks' modules and every course module they import, followed through top-level imports.

    Found, not listed by hand: whatever grading trusts is guarded from the day it is imported.
    ``modules`` keeps each file's compiled code for the rest of one check (``problems``).
    """
    __tracebackhide__ = True
    modules = {} if modules is None else modules
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
            code = _module_code(module.__file__, modules)
        except (OSError, SyntaxError, TypeError, ValueError):
            continue
        for candidate in _imports(code):
            # Submodules only: the `course` package itself just gathers names for notebooks.
            if candidate.startswith(("course.", "autograder.checks")) and _is_module(candidate):
                todo.append(candidate)
    return sorted(found)


_IMPORT_NAME, _LOAD_CONST, _EXTENDED_ARG = dis.opmap["IMPORT_NAME"], dis.opmap["LOAD_CONST"], dis.opmap["EXTENDED_ARG"]
_CACHE = dis.opmap.get("CACHE", -1)


def _imports(code: types.CodeType) -> list[str]:
    """Absolute imports the module's own code makes (not its functions'): ``import a.b`` -> a.b;
    ``from a import b`` -> a and a.b. Read from the compiled file, which a check compiles anyway.

    Read straight from the bytecode (each import is LOAD_CONST level, LOAD_CONST fromlist,
    IMPORT_NAME): dis.get_instructions took a third of the guard's CPU before every test cell.
    """
    __tracebackhide__ = True
    found = []
    raw, consts, names = code.co_code, code.co_consts, code.co_names
    before: list[tuple[int, int]] = [(-1, 0), (-1, 0)]  # the two instructions before this one
    extended = 0
    for i in range(0, len(raw), 2):
        op, arg = raw[i], raw[i + 1] | extended
        if op == _EXTENDED_ARG:
            extended = arg << 8
            continue
        extended = 0
        if op == _CACHE:
            continue
        if op == _IMPORT_NAME:
            (level_op, level), (from_op, fromlist) = before
            if level_op == _LOAD_CONST and consts[level] == 0 and from_op == _LOAD_CONST:
                name = names[arg]
                found.append(name)
                if isinstance(consts[fromlist], tuple):
                    found += [f"{name}.{item}" for item in consts[fromlist] if item != "*"]
        before = [before[1], (op, arg)]
    return found


def _is_module(name: str) -> bool:
    __tracebackhide__ = True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# Methods that @dataclass writes itself (compiled from "<string>", not from the file).
_DATACLASS_MADE = {"__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__",
                   "__lt__", "__le__", "__gt__", "__ge__", "__getstate__", "__setstate__"}


def _dataclass_shared(attr: str, function: Any) -> bool:
    """True for a method @dataclass sets to one of the standard library's own functions.

    Python 3.13's @dataclass sets ``__replace__`` (for ``copy.replace``) on every dataclass to
    ``dataclasses._replace`` itself, compiled from dataclasses.py, not from the course's file.
    """
    __tracebackhide__ = True
    shared = getattr(dataclasses, "_replace", None)
    return (attr == "__replace__" and shared is not None and function is shared
            and function.__code__.co_filename == dataclasses.__file__)


# Each file's compiled code, kept between checks by this module, by the file's size and time.
# The guard before every graded test cell (autograder/grading/execute.py) loads this file as a new module,
# so it starts empty there and reads every file afresh (its checked .pyc, else the source): a notebook
# that fills this with code of its own fools only the check a test cell calls itself (which a notebook
# can replace anyway), never the guard. It spares that second check most of its CPU.
_KEPT: dict[str, tuple[tuple[int, int], types.CodeType]] = {}


def _module_code(path: str, modules: dict[str, types.CodeType]) -> types.CodeType:
    __tracebackhide__ = True
    if path not in modules:
        stat = os.stat(path)
        version = (stat.st_mtime_ns, stat.st_size)
        kept = _KEPT.get(path)
        if kept is None or kept[0] != version:
            source = Path(path).read_bytes()
            code = _bytecode(path, source) or compile(importlib.util.decode_source(source), path, "exec", dont_inherit=True)
            kept = _KEPT[path] = (version, code)
        modules[path] = kept[1]
    return modules[path]


def _bytecode(path: str, source: bytes) -> types.CodeType | None:
    """The file's code from the .pyc the grader wrote beside it (autograder/grading/kit.py), if that .pyc was
    made from exactly ``source``; else None (the caller compiles). Unmarshalling is about ten times
    cheaper than compiling, and code objects compare equal either way."""
    __tracebackhide__ = True
    try:
        data = Path(importlib.util.cache_from_source(path)).read_bytes()
    except (OSError, NotImplementedError, ValueError):
        return None
    hash_based = len(data) >= 16 and int.from_bytes(data[4:8], "little") & 0b1
    if not hash_based or data[:4] != importlib.util.MAGIC_NUMBER or data[8:16] != importlib.util.source_hash(source):
        return None
    try:
        code = marshal.loads(data[16:])
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _compiled(path: str, modules: dict[str, types.CodeType] | None = None,
              done: dict[str, dict[str, list[types.CodeType]]] | None = None) -> dict[str, list[types.CodeType]]:
    """Every code object in the file, by qualified name.

    One check reads and compiles each file once (``modules``, ``done``): it used to parse every
    file and compile the exercise files again for each name the package exports (17 parses and
    54 compiles, most of the 0.08 s of CPU it costs before every test cell). Nothing is kept
    between checks: the notebook's code runs in between, and could change anything kept.
    """
    __tracebackhide__ = True
    if done is not None and path in done:
        return done[path]
    found: dict[str, list[types.CodeType]] = {}
    stack = [_module_code(path, {} if modules is None else modules)]
    while stack:
        code = stack.pop()
        found.setdefault(code.co_qualname, []).append(code)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    if done is not None:
        done[path] = found
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


def _replaced_exports(modules: dict[str, types.CodeType] | None = None,
                      done: dict[str, dict[str, list[types.CodeType]]] | None = None) -> Iterator[str]:
    """Names test cells call on ``autograder.checks`` that no longer point at the functions of their own files.

    The package only re-exports them, so checking the functions each file defines is not enough:
    ``checks.async_join = lambda *a: None`` leaves ex03_async intact and rebinds the name.
    """
    __tracebackhide__ = True
    import autograder.checks as package

    for name in getattr(package, "__all__", []):
        exported = getattr(package, name, None)
        live = inspect.unwrap(exported) if callable(exported) else None
        home = sys.modules.get(getattr(live, "__module__", "") or "")
        code = getattr(live, "__code__", None)
        if (home is None or not str(home.__name__).startswith("autograder.checks") or code is None
                or code not in _compiled(home.__file__, modules, done).get(code.co_qualname, [])
                or (exported is not live and not _intact_wrapper(exported, modules, done))):
            yield f"autograder.checks.{name} was replaced"


def _intact_wrapper(wrapper: Any, modules: dict[str, types.CodeType] | None,
                    done: dict[str, dict[str, list[types.CodeType]]] | None) -> bool:
    """A check as ``messages.said_once`` wraps it, still running the check it names.

    The check itself is verified through ``__wrapped__``; the wrapper's own code and the check
    its closure calls could be swapped without touching that, so both are verified here.
    """
    __tracebackhide__ = True
    from autograder.checks import messages

    code = getattr(wrapper, "__code__", None)
    if code is None or code.co_qualname != "said_once.<locals>.checked" or code.co_filename != messages.__file__:
        return False
    if code not in _compiled(messages.__file__, modules, done).get(code.co_qualname, []):
        return False
    cells = dict(zip(code.co_freevars, (cell.cell_contents for cell in wrapper.__closure__ or ())))
    return cells.get("check") is wrapper.__wrapped__


def problems() -> list[str]:
    __tracebackhide__ = True
    found = []
    modules: dict[str, types.CodeType] = {}
    done: dict[str, dict[str, list[types.CodeType]]] = {}
    for module_name in guarded(modules):
        try:
            module = importlib.import_module(module_name)
            expected = _compiled(module.__file__, modules, done)
        except Exception as exc:  # noqa: BLE001
            found.append(f"{module_name} could not be checked ({type(exc).__name__})")
            continue
        found.extend(f"{module_name}.{name} was replaced" for name in _missing(module, expected))
        for where, function in _functions(module):
            code = function.__code__
            if code.co_filename == "<string>" and where.rsplit(".", 1)[-1] in _DATACLASS_MADE:
                continue  # written by @dataclass, not by a file
            if _dataclass_shared(where.rsplit(".", 1)[-1], function):
                continue  # the standard library's own function, set by @dataclass (3.13+)
            if code not in expected.get(code.co_qualname, []) or code.co_filename != module.__file__:
                found.append(f"{module_name}.{where} was replaced")
    found.extend(_replaced_exports(modules, done))
    found = list(dict.fromkeys(found))
    from course import recording, routing, scripted_llm

    if type(scripted_llm.JOURNAL) is not scripted_llm._Journal or recording.JOURNAL is not scripted_llm.JOURNAL:
        found.append("the course model's call journal was replaced")
    if type(recording._collector) is not recording._Collector:
        found.append("the run recorder was replaced")
    from autograder.checks import common

    if type(common._SHARED) is not common.SharedRuns or type(common._SHARED._runs) is not dict:
        found.append("the grader's shared runs were replaced")
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
