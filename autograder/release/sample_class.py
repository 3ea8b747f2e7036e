"""Make the bundled sample class from the current source and release notebooks.

    python -m autograder.release.sample_class

Writes ``autograder/sample_class/<student>/`` (and one ``.zip``), ``expected.csv``
(the exact status and score of every student and notebook) and ``README.md``.
Run it again whenever the notebooks change, and commit the result: the
submissions are made from ``release/`` (what learners get) and ``source/`` (the
reference answers), so they never drift from the real assignment. Correct
answers written differently from the reference, and the classic wrong answers
with the points they keep, come from ``source/crew_answers.py`` (kept next to the
checks by the notebooks' author).

Each student shows something an instructor meets: see ``STUDENTS`` below.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.paths import ASSIGNMENT, RELEASE, ROOT, SAMPLE_CLASS, SOURCE
from autograder.release.markers import without_solution_marks


SWALLOW = ("import time\nwhile True:  # never ends, and ignores the grader's interrupt\n    try:\n"
           "        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass")
FAKE_CHECKS = ("# Rewrites the grader's checks on disk so that every test passes.\n"
               "import pathlib, autograder\n"
               "fake = 'def __getattr__(name):\\n    return lambda *args, **kwargs: None\\n'\n"
               "(pathlib.Path(autograder.__file__).parent / 'checks' / '__init__.py').write_text(fake)")
SILENCE_CHECKS = ("# Replaces the checks (and the integrity check) in memory so that every test passes.\n"
                  "from autograder import checks\n"
                  "checks.integrity = lambda: None\n"
                  "for name in ('hierarchical_setup', 'hierarchical_delegation', 'hierarchical_order',\n"
                  "             'hierarchical_answers'):\n"
                  "    setattr(checks, name, lambda *args, **kwargs: None)")
GRADEBOOK = ("# Turns the tests into `pass` in the grader's gradebook.\n"
             "import pathlib, sqlite3\n"
             "for folder in pathlib.Path.cwd().parents:\n"
             "    if (folder / 'gradebook.db').exists():\n"
             "        db = sqlite3.connect(folder / 'gradebook.db')\n"
             "        db.execute(\"UPDATE source_cell SET source = 'pass' WHERE name LIKE 'test_%'\")\n"
             "        db.commit()\n"
             "        break")
FAKE_RECORDING = ("# Makes the recorder say that every task waited for every other one.\n"
                  "import course\n"
                  "course.recording.RecordedRun.started_after_all = lambda self, task, others: True\n"
                  "course.recording.RecordedRun.overlap = lambda self, a, b: True")
NETWORK = ("import urllib.request\n"
           "try:\n    urllib.request.urlopen('https://api.openai.com/v1/models', timeout=5)\n"
           "except Exception as err:\n    print('no network:', type(err).__name__)")
HUGE = "for i in range(50_000):\n    print(f'line {i}: ' + 'x' * 80)"


@dataclass
class Notebook:
    """How a student's copy of one notebook is made from the release."""

    answers: str = "reference"  # "reference", "alternative", "wrong" or "untouched"
    replace: dict[str, str] = field(default_factory=dict)  # answer cell -> code
    insert_before: dict[str, str] = field(default_factory=dict)  # cell -> new cell's code
    append: list[str] = field(default_factory=list)
    drop: tuple[str, ...] = ()
    edit: dict[str, str] = field(default_factory=dict)  # locked cell -> new source
    points: dict[str, float] = field(default_factory=dict)
    raw: str | None = None  # the file's bytes, written as they are (a damaged notebook)
    missing: bool = False
    expect: tuple[str, float] | None = None  # (status, score); None = follows from `answers`


@dataclass
class Student:
    why: str
    notebooks: dict[str, Notebook] = field(default_factory=dict)  # notebooks not listed: reference answers
    layout: str = "nested"  # "nested" (crew_processes/), "flat", or "zip"


STUDENTS: dict[str, Student] = {
    "ada_perfect": Student(
        "Every exercise right, written differently from the reference (other roles, names, manager_llm).",
        {nb: Notebook("alternative") for nb in ("01_sequential", "02_hierarchical", "03_async", "04_mixed_phases")}),
    "ben_untouched": Student(
        "Handed in the release as it was: every test fails, nothing crashes.",
        {nb: Notebook("untouched") for nb in ("01_sequential", "02_hierarchical", "03_async", "04_mixed_phases")},
        layout="flat"),
    "cleo_partial": Student(
        "Did the sequential and async notebooks, left the other two untouched.",
        {"02_hierarchical": Notebook("untouched"), "04_mixed_phases": Notebook("untouched")}),
    "dev_wrong_ideas": Student(
        "The classic mistake of each notebook: no context, async under hierarchical, one agent for all "
        "async tasks, a missing join. Keeps only the points those mistakes do not cost.",
        {nb: Notebook("wrong") for nb in ("01_sequential", "02_hierarchical", "03_async", "04_mixed_phases")}),
    "eli_runaway": Student(
        "Code that does not end well: an endless loop, a loop that swallows the interrupt, a kernel that "
        "exits, a cell that raises.",
        {"01_sequential": Notebook(replace={"seq_build": "while True:\n    pass"}, expect=("graded", 0)),
         "02_hierarchical": Notebook(replace={"hier_build": SWALLOW}, expect=("failed", 0)),
         "03_async": Notebook(replace={"async_build": "import os\nos._exit(1)"}, expect=("failed", 0)),
         "04_mixed_phases": Notebook(replace={"mixed_build": "raise ValueError('not finished yet')"},
                                     expect=("graded", 2))}),
    "fay_tamperer": Student(
        "Fakes passes with wrong answers: rewrites the checks on disk (the sandbox refuses: graded on her "
        "answers, the attempt reported), replaces them in memory, looks for the gradebook to edit (the sandbox "
        "hides it: graded on her answers), patches the run recorder.",
        # The kit is read-only in the sandbox: the rewrite fails, changes nothing, and her wrong answers earn 4.
        {"01_sequential": Notebook("wrong", insert_before={"test_seq_crew": FAKE_CHECKS}),
         "02_hierarchical": Notebook("wrong", insert_before={"test_hier_setup": SILENCE_CHECKS},
                                     expect=("failed", 0)),
         # In the sandbox there is no gradebook to find: the attack does nothing and her wrong answers earn 1.
         "03_async": Notebook("wrong", insert_before={"test_async_shape": GRADEBOOK}, expect=("graded", 1)),
         "04_mixed_phases": Notebook("wrong", insert_before={"test_mixed_dag": FAKE_RECORDING},
                                     expect=("failed", 0))}),
    "gus_hardcoder": Student(
        "Types in the results instead of running the crews: orders, timings, answers written by hand.",
        {"01_sequential": Notebook(replace={"seq_orders": "orders = [['research', 'write', 'edit']] * 3"},
                                   expect=("graded", 5)),
         "02_hierarchical": Notebook(replace={"hier_answers": "order_decided_by = TASK_LIST\n"
                                                              "workers_decided_by = MANAGER\nextra_calls = 3"},
                                     expect=("graded", 4)),
         "03_async": Notebook(replace={"async_timing": "parallel_seconds = 0.4\nsequential_seconds = 1.2"},
                              expect=("graded", 6))}),
    "hal_messy": Student(
        "A damaged notebook, a missing one, deleted and edited test cells, changed points, huge output "
        "and a call to the internet.",
        {"01_sequential": Notebook(raw='{"cells": [{"cell_type": "code", "source": ["def build_crew():'),
         "02_hierarchical": Notebook(missing=True),
         "03_async": Notebook("wrong", drop=("test_async_join",), edit={"test_async_overlap": "pass"},
                              expect=("graded", 1)),
         "04_mixed_phases": Notebook(points={"test_mixed_dag": 50}, append=[HUGE, NETWORK])},
        layout="flat"),
    "ivy_zipped": Student("Handed in as a .zip, as a learning platform exports it; all correct.", {}, layout="zip"),
}


def _load_answers():
    path = SOURCE / "crew_answers.py"
    spec = importlib.util.spec_from_file_location("_crew_answers", path)
    if spec is None or not path.exists():
        raise SystemExit(f"{path} is missing: it holds the alternative and wrong answers.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _reference(source_cell) -> str:
    return without_solution_marks(source_cell.source)


def _new_cell(code: str, cell_id: str):
    cell = nbformat.v4.new_code_cell(code)
    cell.id = cell_id
    return cell


def make_notebook(name: str, spec: Notebook, release, source, answers) -> nbformat.NotebookNode:
    nb = copy.deepcopy(release)
    by_id = {_grade_id(c): c for c in source.cells if _grade_id(c)}
    chosen = {"alternative": answers.ALTERNATIVE, "wrong": answers.WRONG}.get(spec.answers, {})
    given = {k: v.strip("\n") for k, v in chosen.get(f"{name}.ipynb", {}).items()}
    cells = []
    for cell in nb.cells:
        grade_id = _grade_id(cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if grade_id in spec.drop:
            continue
        if grade_id in spec.insert_before:
            cells.append(_new_cell(spec.insert_before[grade_id], f"extra-{grade_id}"))
        if meta.get("solution") and spec.answers != "untouched":
            cell.source = given.get(grade_id) or _reference(by_id[grade_id])
        if grade_id in spec.replace:
            cell.source = spec.replace[grade_id]
        if grade_id in spec.edit:
            cell.source = spec.edit[grade_id]
        if grade_id in spec.points:
            meta["points"] = spec.points[grade_id]
        cells.append(cell)
    cells += [_new_cell(code, f"appended-{i}") for i, code in enumerate(spec.append)]
    nb.cells = cells
    return nb


def expected_score(name: str, spec: Notebook, maxima: dict[str, float], answers) -> tuple[str, float]:
    if spec.expect is not None:
        return spec.expect
    if spec.missing or spec.raw is not None:
        return ("failed", 0.0)
    if maxima[name] == 0:
        return ("graded", 0.0)
    if spec.answers == "untouched":
        return ("graded", 0.0)
    if spec.answers == "wrong":
        return ("graded", float(sum(answers.WRONG_SCORES[f"{name}.ipynb"].values())))
    return ("graded", maxima[name])


def _maxima(release_dir: Path) -> dict[str, float]:
    maxima = {}
    for path in sorted(release_dir.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        maxima[path.stem] = float(sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in nb.cells
                                      if c.metadata.get("nbgrader", {}).get("grade")))
    return maxima


def generate(dest: Path = SAMPLE_CLASS, source_dir: Path = SOURCE / ASSIGNMENT,
             release_dir: Path = RELEASE / ASSIGNMENT) -> list[dict]:
    answers = _load_answers()
    names = sorted(p.stem for p in release_dir.glob("*.ipynb"))
    releases = {n: nbformat.read(str(release_dir / f"{n}.ipynb"), as_version=4) for n in names}
    sources = {n: nbformat.read(str(source_dir / f"{n}.ipynb"), as_version=4) for n in names}
    maxima = _maxima(release_dir)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    rows = []
    for student, plan in STUDENTS.items():
        files: dict[str, str] = {}
        for name in names:
            spec = plan.notebooks.get(name, Notebook())
            status, score = expected_score(name, spec, maxima, answers)
            rows.append({"student_id": student, "notebook": name, "score": f"{score:g}",
                         "max_score": f"{maxima[name]:g}", "status": status})
            if spec.missing:
                continue
            files[name] = spec.raw if spec.raw is not None else nbformat.writes(
                make_notebook(name, spec, releases[name], sources[name], answers))
        if plan.layout == "zip":
            with zipfile.ZipFile(dest / f"{student}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
                for name, text in files.items():
                    info = zipfile.ZipInfo(f"{student}/{ASSIGNMENT}/{name}.ipynb", date_time=(2026, 1, 1, 0, 0, 0))
                    zf.writestr(info, text)
            continue
        folder = dest / student / (ASSIGNMENT if plan.layout == "nested" else "")
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / f"{name}.ipynb").write_text(text, encoding="utf-8")
    with open(dest / "expected.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["student_id", "notebook", "score", "max_score", "status"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# The sample class", "",
             "Synthetic submissions for `make grade` (`python -m autograder demo`), made by",
             "`python -m autograder.release.sample_class` from `source/` and `release/`; `expected.csv` holds",
             "the exact status and score of each student and notebook (checked by",
             "`tests/e2e/test_sample_class.py`).", "", "| student | what it shows |", "| --- | --- |"]
    lines += [f"| {s} | {p.why} |" for s, p in STUDENTS.items()]
    (dest / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


def read_expected(dest: Path = SAMPLE_CLASS) -> list[dict]:
    with open(dest / "expected.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


if __name__ == "__main__":
    made = generate()
    print(f"Wrote {len({r['student_id'] for r in made})} students to {SAMPLE_CLASS} "
          f"({json.dumps(sum(float(r['score']) for r in made))} points expected in all).")
    sys.exit(0)
