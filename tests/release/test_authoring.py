"""docs/authoring.md, done for real: its example exercise is built, released and graded in a throwaway course.

The steps below are the guide's steps, in its order, on a copy of the course kit in a temporary folder (the
repo's source/, release/ and autograder/ are never touched). The example lives in docs/example_exercise/:
``cells_05_fan_in.py`` (the notebook), ``ex05_fan_in.py`` (its checks), ``answers.py`` (learners' answers).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.release import check as release_check
from autograder.paths import ASSIGNMENT, KIT_IGNORE

from tests.helpers import ROOT

EXAMPLE = ROOT / "docs" / "example_exercise"
GUIDE = ROOT / "docs" / "authoring.md"
NOTEBOOK = "05_fan_in"
SOLUTION_MARKER = re.compile(r"^\s*#+\s*(BEGIN|END) SOLUTION\s*$")


def _answers():
    spec = importlib.util.spec_from_file_location("example_answers", EXAMPLE / "answers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reexport() -> str:
    """The lines the guide has a maintainer add to autograder/checks/__init__.py, taken from the guide itself."""
    blocks = re.findall(r"```python\n# autograder/checks/__init__\.py\n(.*?)```", GUIDE.read_text(encoding="utf-8"),
                        re.S)
    assert len(blocks) == 1, "docs/authoring.md should show the checks/__init__.py lines once"
    return blocks[0]


def _throwaway_course(tmp: Path) -> Path:
    """A course folder with a private copy of the kit, and the example added the way the guide says."""
    course_dir = tmp / "course"
    for package in ("course", "autograder"):  # the whole grader: this course folder runs its commands
        shutil.copytree(ROOT / package, course_dir / package, ignore=shutil.ignore_patterns(*KIT_IGNORE))
    shutil.copy2(ROOT / "nbgrader_config.py", course_dir / "nbgrader_config.py")
    # Step 1: the notebook's cells, beside the other cells_0N_*.py.
    (course_dir / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy2(EXAMPLE / "cells_05_fan_in.py", course_dir / "source" / "cells_05_fan_in.py")
    # Step 2: its checks module, and the names test cells call re-exported by autograder.checks.
    checks = course_dir / "autograder" / "checks"
    assert checks.is_dir(), "autograder/checks/ should be a package (one module per exercise)"
    shutil.copy2(EXAMPLE / "ex05_fan_in.py", checks / "ex05_fan_in.py")
    init = checks / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + "\n" + _reexport(), encoding="utf-8")
    return course_dir


def _build(course_dir: Path) -> Path:
    """Step 3 (build): the notebook from its cells, with the repo's builder (stable ids, nbgrader metadata, no outputs)."""
    target = course_dir / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    script = (
        "import importlib.util, sys\n"
        f"sys.path[:0] = [{str(course_dir / 'source')!r}]\n"
        f"spec = importlib.util.spec_from_file_location('build_notebooks', {str(ROOT / 'source' / 'build_notebooks.py')!r})\n"
        "builder = importlib.util.module_from_spec(spec); spec.loader.exec_module(builder)\n"
        "import nbformat, cells_05_fan_in\n"
        f"open({str(target)!r}, 'w', encoding='utf-8').write(nbformat.writes(builder.build(cells_05_fan_in.CELLS)) + '\\n')\n"
    )
    done = subprocess.run([sys.executable, "-B", "-c", script], cwd=course_dir, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def _answer_cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _class(course_dir: Path, tmp: Path) -> tuple[Path, dict[str, int]]:
    """Step 4: learners' notebooks made from the release, and the score each must get."""
    answers = _answers()
    release = course_dir / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    source = nbformat.read(str(course_dir / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"), as_version=4)
    reference = "\n".join(line for line in _answer_cell(source, "fan_build").source.splitlines()
                          if not SOLUTION_MARKER.match(line))
    full = sum(answers.FULL_SCORES.values())
    students = {"reference": (reference, full), "alternative": (answers.ALTERNATIVE["fan_build"], full),
                "untouched": (None, 0)}
    for mistake, code in answers.WRONG.items():
        students[f"wrong-{mistake.replace(' ', '-')}"] = (code, sum(answers.WRONG_SCORES[mistake].values()))
    klass = tmp / "class"
    expected = {}
    for student, (code, score) in students.items():
        nb = nbformat.read(str(release), as_version=4)
        if code is not None:
            _answer_cell(nb, "fan_build").source = code.strip("\n")
        folder = klass / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{NOTEBOOK}.ipynb"))
        expected[student] = score
    return klass, expected


@pytest.mark.slow
def test_the_guides_example_exercise_is_built_released_and_graded(tmp_path):
    answers = _answers()
    assert set(answers.FULL_SCORES) == {name for name, *_ in _test_cells()}, "scores name every test cell"
    assert all(0 < sum(s.values()) < sum(answers.FULL_SCORES.values()) for s in answers.WRONG_SCORES.values())
    lost = {cell for scores in answers.WRONG_SCORES.values() for cell, got in scores.items()
            if got < answers.FULL_SCORES[cell]}
    assert lost == set(answers.FULL_SCORES), "every point can be lost: some wrong answer loses each part"

    course_dir = _throwaway_course(tmp_path)
    _build(course_dir)
    # Step 3 (release): nbgrader generate_assignment, as `make release` does, and the release's static checks.
    release_check.generate_release(course_dir)
    assert release_check.static_problems(course_dir / "source" / ASSIGNMENT,
                                         course_dir / "release" / ASSIGNMENT) == []
    klass, expected = _class(course_dir, tmp_path)

    # Step 6: grade with the instructor's command, in the throwaway course (COURSE_ROOT), with its kit.
    out = tmp_path / "grades"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["COURSE_ROOT"] = str(course_dir)
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(klass), "--out", str(out),
                           "--workers", "2"], cwd=course_dir, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    got = {student: (row["status"], float(row["score"]), float(row["max_score"])) for student, row in rows.items()}
    full = float(sum(answers.FULL_SCORES.values()))
    assert got == {student: ("graded", float(score), full) for student, score in expected.items()}, (
        got, (done.stdout + done.stderr)[-3000:])
    # The learner is told which idea was missed, in the course's words (feedback page per student).
    for student, phrase in (("wrong-sync-research", "A research task waits for the one before it"),
                            ("wrong-half-join", "never saw the output of 'Research bats'")):
        page = (out / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
        assert phrase in " ".join(page.split()), student  # messages are wrapped to 75 columns


def _test_cells() -> list[tuple]:
    spec = importlib.util.spec_from_file_location("cells_05_fan_in_for_test", EXAMPLE / "cells_05_fan_in.py")
    module = importlib.util.module_from_spec(spec)
    saved = list(sys.path), sys.dont_write_bytecode
    sys.path.insert(0, str(ROOT / "source"))  # the cells reuse exercise 1's set-up cell, as the course's do
    sys.dont_write_bytecode = True  # a __pycache__/ in source/ would look like an assignment to nbgrader
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:], sys.dont_write_bytecode = saved
    return [spec[1:] for spec in module.CELLS if spec[0] == "test"]


def test_the_example_is_not_part_of_the_released_assignment():
    released = {p.stem for p in (ROOT / "release" / ASSIGNMENT).glob("*.ipynb")}
    assert NOTEBOOK not in released
    assert not (ROOT / "source" / "cells_05_fan_in.py").exists()
    assert not list((ROOT / "autograder").rglob("ex05_fan_in.py"))


def test_the_guide_names_the_example_files_and_the_tests_that_prove_it():
    text = GUIDE.read_text(encoding="utf-8")
    for name in ("cells_05_fan_in.py", "ex05_fan_in.py", "answers.py", "tests/release/test_authoring.py"):
        assert name in text, f"docs/authoring.md does not mention {name}"
    for path in re.findall(r"docs/example_exercise/[\w.]+", text):
        assert (ROOT / path).exists(), f"docs/authoring.md names {path}, which does not exist"
