"""autograder/release/check.py: the release's static checks, on a tiny synthetic assignment. No kernel
runs here."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.release import check as release_check

from tests.helpers import autograder_synth as synth


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from autograder.batch import template as course_template

    root = tmp_path_factory.mktemp("course")
    source = synth.write_source(root)
    template = course_template.build_template(source, root / "template")
    return source / "crew_processes", template / "release" / "crew_processes"


def test_a_clean_release_has_no_static_problem(generated):
    source_dir, release_dir = generated
    assert release_check.static_problems(source_dir, release_dir) == []


def _broken_copy(release_dir: Path, tmp_path: Path, name: str, change) -> Path:
    dest = tmp_path / "release"
    dest.mkdir(exist_ok=True)
    for path in release_dir.glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        if path.stem == name:
            change(nb)
        nbformat.write(nb, str(dest / path.name))
    return dest


@pytest.mark.parametrize("change, words", [
    (lambda nb: setattr(nb.cells[2], "source", "def double(x):\n    return 2 * x"), "solution code"),
    (lambda nb: setattr(nb.cells[3], "source", nb.cells[3].source + "\n" + synth.HIDDEN_LINE), "hidden test"),
    (lambda nb: setattr(nb.cells[4], "source", "### BEGIN SOLUTION\n1"), "marker"),
    (lambda nb: nb.cells[4].outputs.append(nbformat.v4.new_output("stream", text="2")), "saved outputs"),
])
def test_each_release_mistake_is_named(generated, tmp_path, change, words):
    source_dir, release_dir = generated
    broken = _broken_copy(release_dir, tmp_path, "00_double", change)
    problems = release_check.static_problems(source_dir, broken)
    assert problems and all(p.startswith("00_double") for p in problems), problems
    assert any(words in p for p in problems), problems


def test_missing_and_extra_release_notebooks_are_named(generated, tmp_path):
    source_dir, release_dir = generated
    broken = _broken_copy(release_dir, tmp_path, "none", lambda nb: None)
    (broken / "01_greet.ipynb").rename(broken / "99_old.ipynb")
    problems = release_check.static_problems(source_dir, broken)
    assert any("01_greet: in source/ but not in release/" in p for p in problems)
    assert any("99_old: in release/ but not in source/" in p for p in problems)
