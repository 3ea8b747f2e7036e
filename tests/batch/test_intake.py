"""Intake: folders and zips as instructors receive them -> clean notebooks, plain-word problems."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.batch import intake

NAMES = ["00_double", "01_greet"]


def _nb(text: str = "x = 1") -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)])
    return nbformat.writes(nb)


def _take(tmp_path: Path, klass: Path):
    return {s.student_id: s for s in intake.take_in_class(klass, NAMES, tmp_path / "clean", "crew_processes")}


def test_flat_nested_and_zip_layouts_are_all_found(tmp_path):
    klass = tmp_path / "class"
    (klass / "flat").mkdir(parents=True)
    for name in NAMES:
        (klass / "flat" / f"{name}.ipynb").write_text(_nb())
    (klass / "nested" / "crew_processes").mkdir(parents=True)
    for name in NAMES:
        (klass / "nested" / "crew_processes" / f"{name}.ipynb").write_text(_nb())
    with zipfile.ZipFile(klass / "Jane Doe_123_assignsubmission_file.zip", "w") as zf:
        for name in NAMES:
            zf.writestr(f"jane/crew_processes/{name}.ipynb", _nb())
        zf.writestr("__MACOSX/jane/crew_processes/._00_double.ipynb", "junk")
    students = _take(tmp_path, klass)
    assert set(students) == {"flat", "nested", "Jane_Doe_123_assignsubmission_file"}
    for student in students.values():
        assert student.gradable == NAMES, student
        for item in student.notebooks.values():
            assert item.problem is None
            assert nbformat.read(str(item.path), as_version=4).cells[0].source == "x = 1"


def test_missing_and_malformed_notebooks_get_plain_reasons(tmp_path):
    klass = tmp_path / "class"
    (klass / "ann").mkdir(parents=True)
    (klass / "ann" / "00_double.ipynb").write_text('{"cells": [ {"cell_type": "code", ')  # cut half-way
    students = _take(tmp_path, klass)
    ann = students["ann"]
    assert ann.gradable == []
    assert "damaged" in ann.notebooks["00_double"].problem
    assert "line 1" in ann.notebooks["00_double"].problem
    assert "JupyterLab" in ann.notebooks["00_double"].problem  # says what to do next
    assert "was not handed in" in ann.notebooks["01_greet"].problem


@pytest.mark.parametrize("content, words", [
    (b"\xff\xfe\x00binary", "not a text file"),
    (json.dumps({"hello": "world"}).encode(), "not a notebook"),
    (json.dumps({"cells": "nope", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode(), "could not be read"),
])
def test_files_that_are_not_notebooks_are_refused(tmp_path, content, words):
    assert words in intake.check_notebook(content, "00_double")


def test_a_huge_notebook_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_NOTEBOOK_BYTES", 1000)
    klass = tmp_path / "class"
    (klass / "big").mkdir(parents=True)
    (klass / "big" / "00_double.ipynb").write_text(_nb("print(1)\n" * 500))
    problem = _take(tmp_path, klass)["big"].notebooks["00_double"].problem
    assert "MB" in problem and "Clear the outputs" in problem


def test_a_broken_zip_fails_every_notebook_of_that_student_only(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    (klass / "bob.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    (klass / "cat").mkdir()
    (klass / "cat" / "00_double.ipynb").write_text(_nb())
    students = _take(tmp_path, klass)
    assert all("could not be opened" in item.problem for item in students["bob"].notebooks.values())
    assert students["cat"].gradable == ["00_double"]


def test_zip_member_names_are_never_used_as_paths(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    with zipfile.ZipFile(klass / "eve.zip", "w") as zf:
        zf.writestr("../../outside/00_double.ipynb", _nb("evil = 1"))
        zf.writestr("crew_processes/01_greet.ipynb", _nb())
    students = _take(tmp_path, klass)
    assert not (tmp_path / "outside").exists()
    assert students["eve"].notebooks["00_double"].path is None  # the ".." member is ignored
    assert students["eve"].gradable == ["01_greet"]


def test_links_are_not_followed(tmp_path):
    secret = tmp_path / "secret.ipynb"
    secret.write_text(_nb("secret = 1"))
    klass = tmp_path / "class"
    (klass / "mal").mkdir(parents=True)
    os.symlink(secret, klass / "mal" / "00_double.ipynb")
    os.symlink(tmp_path, klass / "linked-student")
    students = _take(tmp_path, klass)
    linked = students["linked-student"]  # a row that says why, never the link's contents
    assert linked.gradable == [] and "link" in linked.notebooks["00_double"].problem
    assert students["mal"].notebooks["00_double"].path is None
    assert any("link" in note for note in students["mal"].notes)


def test_duplicates_prefer_the_assignment_folder_and_say_so(tmp_path):
    klass = tmp_path / "class"
    (klass / "dup" / "crew_processes").mkdir(parents=True)
    (klass / "dup" / "old").mkdir()
    (klass / "dup" / "crew_processes" / "00_double.ipynb").write_text(_nb("chosen = 1"))
    (klass / "dup" / "old" / "00_double.ipynb").write_text(_nb("stale = 1"))
    (klass / "dup" / "crew_processes" / ".ipynb_checkpoints").mkdir()
    (klass / "dup" / "crew_processes" / ".ipynb_checkpoints" / "01_greet.ipynb").write_text(_nb())
    student = _take(tmp_path, klass)["dup"]
    assert nbformat.read(str(student.notebooks["00_double"].path), as_version=4).cells[0].source == "chosen = 1"
    assert any("Several copies" in note for note in student.notes)
    assert student.notebooks["01_greet"].path is None  # a checkpoint copy is not a hand-in


def test_student_ids_are_safe_and_unique(tmp_path):
    assert intake.safe_student_id("../../etc") == "etc"
    assert intake.safe_student_id("Zoë Smith (2)") == "Zo_Smith_2"
    klass = tmp_path / "class"
    (klass / "alice").mkdir(parents=True)
    with zipfile.ZipFile(klass / "alice.zip", "w") as zf:
        zf.writestr("00_double.ipynb", _nb())
    assert sorted(_take(tmp_path, klass)) == ["alice", "alice-2"]


def test_the_input_folder_is_only_read(tmp_path):
    klass = tmp_path / "class"
    (klass / "ann").mkdir(parents=True)
    (klass / "ann" / "00_double.ipynb").write_text(_nb())
    before = {p: p.stat().st_mtime_ns for p in klass.rglob("*")}
    _take(tmp_path, klass)
    assert {p: p.stat().st_mtime_ns for p in klass.rglob("*")} == before


def test_an_empty_or_missing_class_is_an_intake_error(tmp_path):
    with pytest.raises(intake.IntakeError, match="does not exist"):
        intake.list_students(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(intake.IntakeError, match="No student"):
        intake.take_in_class(tmp_path / "empty", NAMES, tmp_path / "clean", "crew_processes")


def test_names_a_learning_platform_gave_are_matched_when_one_notebook_fits(tmp_path):
    klass = tmp_path / "class"
    (klass / "lms").mkdir(parents=True)
    (klass / "lms" / "00_Double (1).ipynb").write_text(_nb("case and copy mark"))
    (klass / "lms" / "Ada Lovelace_01-greet-1.ipynb").write_text(_nb("name in front, dashes"))
    (klass / "lms" / "00_double_notes.ipynb").write_text(_nb("another notebook"))
    with zipfile.ZipFile(klass / "zipped.zip", "w") as zf:
        zf.writestr("sub/00_double copy.ipynb", _nb("in a zip"))
        zf.writestr("sub/01_greet.ipynb", _nb("own name"))
    students = _take(tmp_path, klass)
    lms = students["lms"]
    assert lms.gradable == NAMES and all(item.renamed for item in lms.notebooks.values())
    assert lms.notebooks["00_double"].found_at == "00_Double (1).ipynb"
    assert nbformat.read(str(lms.notebooks["01_greet"].path), as_version=4).cells[0].source == "name in front, dashes"
    zipped = students["zipped"]
    assert zipped.notebooks["00_double"].renamed and not zipped.notebooks["01_greet"].renamed


def test_an_own_name_wins_and_two_renamed_files_are_never_guessed_between(tmp_path):
    klass = tmp_path / "class"
    (klass / "both").mkdir(parents=True)
    (klass / "both" / "00_double.ipynb").write_text(_nb("own"))
    (klass / "both" / "00_double (1).ipynb").write_text(_nb("copy"))
    (klass / "two").mkdir()
    (klass / "two" / "01_Greet (1).ipynb").write_text(_nb("one"))
    (klass / "two" / "01_greet-2.ipynb").write_text(_nb("other"))
    students = _take(tmp_path, klass)
    both = students["both"].notebooks["00_double"]
    assert not both.renamed and nbformat.read(str(both.path), as_version=4).cells[0].source == "own"
    assert any("00_double (1).ipynb" in note for note in students["both"].notes)
    two = students["two"]
    assert two.notebooks["01_greet"].path is None
    assert "01_Greet (1).ipynb" in two.notebooks["01_greet"].problem and "01_greet-2.ipynb" in two.notebooks["01_greet"].problem
    assert any("01_Greet (1).ipynb" in note and "01_greet-2.ipynb" in note for note in two.notes)
