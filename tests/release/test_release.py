"""release/crew_processes: current, free of solutions and hidden tests, and graded right by real nbgrader.

The grading test builds a scratch course directory (this repo's
nbgrader_config.py and source/, a gradebook of its own), generates the
assignment there, and autogrades four learners: one who changed nothing, one
with correct answers that differ from the reference solution, one with the
classic mistakes, and one whose synthesis forgets a research task.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from crew_answers import ALTERNATIVE, FULL_SCORES, MISSING_JOIN_03, WRONG, WRONG_SCORES

from tests.helpers import ROOT

NAME = "crew_processes"
SOURCE = ROOT / "source" / NAME
RELEASE = ROOT / "release" / NAME
EXERCISES = ["01_sequential.ipynb", "02_hierarchical.ipynb", "03_async.ipynb", "04_mixed_phases.ipynb"]
SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*$", re.M | re.S)
MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.M)


def _nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--db=sqlite:///{cwd / 'gradebook.db'}"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory) -> Path:
    """A scratch nbgrader course with this repo's config and source, and the assignment generated."""
    scratch = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", scratch / "nbgrader_config.py")
    shutil.copytree(SOURCE, scratch / "source" / NAME)
    done = _nbgrader("generate_assignment", NAME, "--force", cwd=scratch)
    assert done.returncode == 0, done.stdout + done.stderr
    return scratch


def _cells(path: Path) -> dict[str, nbformat.NotebookNode]:
    return {c.id: c for c in nbformat.read(path, as_version=4).cells}


def test_release_is_what_nbgrader_makes_from_source_now(course_dir):
    fresh = course_dir / "release" / NAME
    names = sorted(p.name for p in fresh.iterdir())
    assert names == sorted(p.name for p in RELEASE.iterdir()), "release/ has missing or extra files"
    stale = [n for n in names if (fresh / n).read_bytes() != (RELEASE / n).read_bytes()]
    assert stale == [], (f"release/ is stale for {stale}: run `python source/build_notebooks.py` and "
                         f"`nbgrader generate_assignment {NAME} --force` from the repo root")


def test_release_holds_no_solution_code_and_no_hidden_test():
    for path in sorted(SOURCE.glob("*.ipynb")):
        released = nbformat.read(RELEASE / path.name, as_version=4)
        text = "\n".join(c.source for c in released.cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN", "END HIDDEN"):
            assert marker not in text, f"{path.name}: {marker!r} left in the release"
        for cell in nbformat.read(path, as_version=4).cells:
            secret = [m.group(1) for m in SOLUTION.finditer(cell.source)]
            secret += [m.group(1) for m in HIDDEN.finditer(cell.source)]
            # A hidden line may repeat a visible one (the same check, run again after integrity()).
            visible = set(line.strip() for line in HIDDEN.sub("", SOLUTION.sub("", cell.source)).splitlines())
            for block in secret:
                for line in filter(None, (line.strip() for line in block.splitlines())):
                    if line in visible:
                        continue
                    released_cell = next(c for c in released.cells if c.id == cell.id)
                    assert line not in released_cell.source, f"{path.name}/{cell.id}: {line!r} is in the release"
        assert all(not c.get("outputs") for c in released.cells if c.cell_type == "code")


def test_every_exercise_answer_cell_starts_unworked():
    for name in EXERCISES:
        answers = [c for c in _cells(RELEASE / name).values() if c.metadata.get("nbgrader", {}).get("solution")]
        assert answers and all("raise NotImplementedError()" in c.source for c in answers), name


# --- grading with nbgrader autograde -----------------------------------------------------

def _worked(name: str, replacements: dict[str, str]) -> nbformat.NotebookNode:
    """The release notebook with every answer cell worked: the given replacements, else the reference."""
    notebook = nbformat.read(RELEASE / name, as_version=4)
    source = _cells(SOURCE / name)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            if cell.id in replacements:
                cell.source = replacements[cell.id].strip("\n")
            else:
                cell.source = MARKERS.sub("", source[cell.id].source)
    return notebook


STUDENTS = {
    "blank": {name: None for name in EXERCISES},
    "alternative": {name: ALTERNATIVE[name] for name in EXERCISES},
    "wrong": {name: WRONG[name] for name in EXERCISES},
    "missing_join": {"03_async.ipynb": {"async_build": MISSING_JOIN_03}},
}
EXPECTED = {
    "blank": {name: 0 for name in EXERCISES},
    "alternative": dict(FULL_SCORES),
    "wrong": {name: sum(WRONG_SCORES[name].values()) for name in EXERCISES},
    "missing_join": {"03_async.ipynb": 6},
}


@pytest.fixture(scope="module")
def graded(course_dir) -> dict[str, dict[str, dict[str, float]]]:
    """{student: {notebook: {grade_id: score}}} after `nbgrader autograde`, two students at a time."""
    for student, notebooks in STUDENTS.items():
        folder = course_dir / "submitted" / student / NAME
        folder.mkdir(parents=True)
        for name, answers in notebooks.items():
            if answers is None:
                shutil.copy(RELEASE / name, folder / name)
            else:
                nbformat.write(_worked(name, answers), folder / name)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(STUDENTS, pool.map(
            lambda s: _nbgrader("autograde", NAME, f"--student={s}", "--force", cwd=course_dir), STUDENTS)))
    for student, done in runs.items():
        assert done.returncode == 0, f"autograde {student} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    from nbgrader.api import Gradebook

    scores: dict[str, dict[str, dict[str, float]]] = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        for student, notebooks in STUDENTS.items():
            submission = gradebook.find_submission(NAME, student)
            scores[student] = {
                f"{nb.name}.ipynb": {g.name: g.score for g in nb.grades if g.cell_type == "code"}
                for nb in submission.notebooks if f"{nb.name}.ipynb" in notebooks
            }
    return scores


def _failure_text(course_dir: Path, student: str, name: str, cell_id: str) -> str:
    cell = _cells(course_dir / "autograded" / student / NAME / name)[cell_id]
    return "".join(o.get("evalue", "") + o.get("text", "") for o in cell.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("student", list(STUDENTS))
def test_autograde_scores(graded, course_dir, student):
    totals = {name: sum(cells.values()) for name, cells in graded[student].items()}
    assert totals == EXPECTED[student], {name: graded[student][name] for name in totals}
    if student == "wrong":
        for name, cells in WRONG_SCORES.items():
            assert graded[student][name] == cells, (name, graded[student][name])


@pytest.mark.slow
def test_wrong_answers_are_told_why(graded, course_dir):
    said = {
        ("wrong", "01_sequential.ipynb", "test_seq_context"): "does not list",
        ("wrong", "02_hierarchical.ipynb", "test_hier_setup"): "asynchronous under the hierarchical process",
        ("wrong", "03_async.ipynb", "test_async_agents"): "Research tasks share an agent",
        ("wrong", "03_async.ipynb", "test_async_overlap"): "Executor is already running",
        ("wrong", "04_mixed_phases.ipynb", "test_mixed_joins"): "missing: 'presentation'",
        ("missing_join", "03_async.ipynb", "test_async_join"): "missing from its context",
        ("blank", "01_sequential.ipynb", "test_seq_crew"): "not written yet",
    }
    for (student, name, cell_id), words in said.items():
        assert words in _failure_text(course_dir, student, name, cell_id), (student, name, cell_id)
