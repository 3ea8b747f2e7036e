"""The integrity check keeps the files' compiled code between calls; the guard before each graded test
cell does not, so what a notebook puts in that kept code cannot hide a replaced function from the guard."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import course
from autograder.checks import kit_integrity


def guard_problems() -> list[str]:
    """What the grader's guard finds: the kit's integrity module loaded afresh from its file (autograder/grading/execute.py)."""
    spec = importlib.util.spec_from_file_location("_autograder_guard", kit_integrity.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.problems()


def test_the_guard_compiles_afresh_whatever_the_kept_code_says(monkeypatch):
    path = course.replies.__file__
    assert kit_integrity.problems() == [] == guard_problems()
    # A notebook writes code of its own into the kept code (here: the file compiled one line lower,
    # so that no function of the module matches it any more) and replaces a function.
    shifted = compile("\n" + Path(path).read_text(encoding="utf-8"), path, "exec", dont_inherit=True)
    version = kit_integrity._KEPT[path][0]
    monkeypatch.setitem(kit_integrity._KEPT, path, (version, shifted))
    fooled = kit_integrity.problems()
    assert "course.replies.refs_in was replaced" in fooled  # the module's own check believes the kept code
    monkeypatch.setattr(course.replies, "work", lambda prompt: "[ref:000000 by X] done")
    assert guard_problems() == ["course.replies.work was replaced"]  # the guard reads the file


def test_a_changed_file_is_compiled_again(tmp_path, monkeypatch):
    module_file = tmp_path / "kit_module.py"
    module_file.write_text("def f():\n    return 1\n", encoding="utf-8")
    modules: dict = {}
    first = kit_integrity._module_code(str(module_file), modules)
    module_file.write_text("def f():\n    return 22\n", encoding="utf-8")
    second = kit_integrity._module_code(str(module_file), {})
    assert first is not second and 22 in [c for k in second.co_consts if hasattr(k, "co_consts") for c in k.co_consts]


def test_bytecode_is_used_only_when_made_from_the_very_bytes_of_its_source(tmp_path):
    import py_compile

    module_file = tmp_path / "kit_module.py"
    module_file.write_text("def f():\n    return 1\n", encoding="utf-8")
    py_compile.compile(str(module_file), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    source = module_file.read_bytes()
    assert kit_integrity._bytecode(str(module_file), source) == compile(source.decode(), str(module_file), "exec",
                                                                            dont_inherit=True)
    # The source changes (same size, same second): the .pyc no longer counts, the new source is compiled.
    module_file.write_text("def f():\n    return 2\n", encoding="utf-8")
    assert kit_integrity._bytecode(str(module_file), module_file.read_bytes()) is None
    code = kit_integrity._module_code(str(module_file), {})
    assert 2 in [c for k in code.co_consts if hasattr(k, "co_consts") for c in k.co_consts]
    # A timestamp .pyc (what a plain import writes) proves nothing about the bytes: never used.
    py_compile.compile(str(module_file), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    assert kit_integrity._bytecode(str(module_file), module_file.read_bytes()) is None


def test_a_snapshot_of_the_kit_carries_checked_bytecode_for_every_module(tmp_path):
    from autograder.grading import kit

    manifest = kit.snapshot(tmp_path / "kit")
    sources = [rel for rel in manifest if rel.endswith(".py")]
    for rel in sources:
        path = tmp_path / "kit" / rel
        assert kit_integrity._bytecode(str(path), path.read_bytes()) is not None, rel
        pyc = Path(importlib.util.cache_from_source(str(path))).relative_to(tmp_path / "kit").as_posix()
        assert pyc in manifest, rel  # a rewritten .pyc shows up as a kit change (tests/batch/test_run.py)
    assert kit.load(tmp_path / "kit").keys() == manifest.keys()
