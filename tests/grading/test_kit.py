"""autograder/grading/kit.py: the kit's manifest sees any change; a snapshot's files and bytecode."""

from __future__ import annotations

from autograder.grading import kit


def test_kit_manifest_sees_any_change(tmp_path):
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "a.py").write_text("x = 1")
    (tmp_path / "course" / "__pycache__").mkdir()
    (tmp_path / "course" / "__pycache__" / "a.pyc").write_bytes(b"ignored")
    before = kit.manifest(tmp_path)
    assert list(before) == ["course/a.py"]
    (tmp_path / "course" / "a.py").write_text("x = 2")
    (tmp_path / "course" / "b.py").write_text("")
    assert kit.differences(before, kit.manifest(tmp_path)) == ["course/a.py was changed", "course/b.py was added"]
    files = kit.load(tmp_path)  # a snapshot's files, with the bytecode the snapshot wrote
    assert "course/__pycache__/a.pyc" in files
    kit.write(files, tmp_path / "copy")
    assert kit.manifest(tmp_path / "copy", bytecode=True) == kit.manifest_of(files) == kit.manifest(tmp_path, bytecode=True)
