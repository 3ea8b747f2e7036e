"""Is ``release/`` what learners may get? Shared by ``python -m autograder release`` and the tests.

API (every function returns a list of problems in plain words; empty = fine):

- ``generate_release(root)``: run ``nbgrader generate_assignment --force`` in the
  course directory (the repo), rewriting ``release/`` and ``gradebook.db``.
- ``static_problems(source_dir, release_dir)``: per notebook, no solution
  code, no hidden test, no grading markers, no outputs, every answer cell
  unworked (``raise NotImplementedError``), no notebook missing or extra.
- ``stale_problems(source_root, release_dir)``: ``release/`` differs from what
  nbgrader makes from the current ``source/`` now (someone forgot ``make release``).
- ``execution_problems(source_root, ...)``: grades the source notebooks (the
  reference solution: every test must pass) and the untouched release (every
  test must fail) with the real grading pipeline.
- ``verify(...)``: all of the above.

``source_dir``/``release_dir`` are assignment folders (``source/crew_processes``);
``source_root`` is the folder holding the assignment folder (``source/``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.paths import ASSIGNMENT, RELEASE, ROOT, SOURCE, with_venv_on_path

from autograder.release.markers import MARKERS  # noqa: F401  (release checks name them)
from autograder.release.markers import REGION as _REGION


def _significant(line: str) -> bool:
    """A line that would give something away (not blank, a comment, or a bare keyword)."""
    stripped = line.strip()
    return len(stripped) >= 6 and not stripped.startswith("#") and stripped not in ("return", "pass", "else:")


def region_lines(nb: nbformat.NotebookNode, kind: str) -> list[str]:
    """Lines inside BEGIN/END SOLUTION (kind="solution") or HIDDEN TESTS (kind="hidden") regions."""
    begin, end = _REGION[kind]
    found = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if begin.match(line):
                inside = True
                continue
            if end.match(line):
                inside = False
                continue
            if inside:
                found.append(line.strip())
    return found


def _outside_regions(nb: nbformat.NotebookNode) -> set[str]:
    lines = set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if any(begin.match(line) for begin, _ in _REGION.values()):
                inside = True
                continue
            if any(end.match(line) for _, end in _REGION.values()):
                inside = False
                continue
            if not inside:
                lines.add(line.strip())
    return lines


def hidden_test_lines(source_dir: Path) -> list[str]:
    """Every significant line that only a hidden test has (for leak checks on feedback)."""
    lines = []
    for path in sorted(Path(source_dir).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        visible = _outside_regions(nb)
        lines += [line for line in region_lines(nb, "hidden") if _significant(line) and line not in visible]
    return sorted(set(lines))


def static_problems(source_dir: Path = SOURCE / ASSIGNMENT, release_dir: Path = RELEASE / ASSIGNMENT) -> list[str]:
    source_dir, release_dir = Path(source_dir), Path(release_dir)
    problems: list[str] = []
    sources = {p.stem: p for p in sorted(source_dir.glob("*.ipynb"))}
    releases = {p.stem: p for p in sorted(release_dir.glob("*.ipynb"))} if release_dir.is_dir() else {}
    if not sources:
        return [f"There are no source notebooks in {source_dir}."]
    for name in sorted(set(sources) - set(releases)):
        problems.append(f"{name}: in source/ but not in release/ (run `make release`).")
    for name in sorted(set(releases) - set(sources)):
        problems.append(f"{name}: in release/ but not in source/ (a stale notebook: delete it and run `make release`).")
    for name in sorted(set(sources) & set(releases)):
        src = nbformat.read(str(sources[name]), as_version=4)
        rel = nbformat.read(str(releases[name]), as_version=4)
        text = "\n".join(cell.source for cell in rel.cells)
        rel_lines = {line.strip() for line in text.splitlines()}
        allowed = _outside_regions(src)
        for marker in MARKERS:
            if marker in text:
                problems.append(f"{name}: the release still contains a '{marker}' marker.")
        for kind, label in (("solution", "solution code"), ("hidden", "a hidden test")):
            leaked = [line for line in region_lines(src, kind)
                      if _significant(line) and line in rel_lines and line not in allowed]
            for line in leaked[:3]:
                problems.append(f"{name}: the release contains {label}: `{line[:80]}`.")
        for cell in rel.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type == "code" and cell.get("outputs"):
                problems.append(f"{name}: cell '{meta.get('grade_id', cell.get('id'))}' has saved outputs.")
            if meta.get("solution") and cell.cell_type == "code" and "NotImplementedError" not in cell.source:
                problems.append(f"{name}: answer cell '{meta.get('grade_id')}' is not blank in the release "
                                "(no `raise NotImplementedError()`).")
    for path in sorted(release_dir.rglob("*")) if release_dir.is_dir() else []:
        if path.is_file() and path.suffix != ".ipynb":
            try:
                content = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            for marker in MARKERS:
                if marker in content:
                    problems.append(f"{path.relative_to(release_dir)}: holds a '{marker}' marker (nbgrader "
                                    "copies files beside the notebooks verbatim).")
    return problems


def _normalized(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return json.dumps(nb, sort_keys=True)


def stale_problems(source_root: Path = SOURCE, release_dir: Path = RELEASE / ASSIGNMENT,
                   assignment: str = ASSIGNMENT) -> list[str]:
    from autograder.batch import template as course_template

    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:
        fresh = course_template.build_template(Path(source_root), Path(tmp) / "course", assignment)
        fresh_dir = fresh / "release" / assignment
        problems = []
        for path in sorted(fresh_dir.glob("*.ipynb")):
            current = Path(release_dir) / path.name
            if not current.exists():
                continue  # static_problems says it
            if _normalized(current) != _normalized(path):
                problems.append(f"{path.stem}: release/ is out of date with source/ (run `make release`).")
        return problems


def generate_release(root: Path = ROOT, assignment: str = ASSIGNMENT) -> str:
    """nbgrader generate_assignment --force in the course directory, as an instructor runs it."""
    command = [str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", assignment, "--force"]
    if not Path(command[0]).exists():
        command = [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"]
    done = subprocess.run(command, cwd=str(root), env=with_venv_on_path(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("nbgrader generate_assignment failed:\n" + (done.stderr or done.stdout)[-3000:])
    return done.stdout + done.stderr


def execution_problems(source_root: Path = SOURCE, release_dir: Path = RELEASE / ASSIGNMENT,
                       assignment: str = ASSIGNMENT, workers: int | None = None, cell_timeout: int = 60,
                       kernel: str | None = None, work_root: Path | None = None) -> list[str]:
    """Grade the reference solution (all tests pass) and the untouched release (all tests fail)."""
    from autograder.batch import run as batch

    source_dir = Path(source_root) / assignment
    with tempfile.TemporaryDirectory(prefix="release-run-") as tmp:
        klass = Path(tmp) / "class"
        for student, folder in (("reference-solution", source_dir), ("untouched-release", Path(release_dir))):
            dest = klass / student / assignment
            dest.mkdir(parents=True)
            for path in folder.glob("*.ipynb"):
                shutil.copy2(path, dest / path.name)
        result = batch.grade_submissions(klass, Path(tmp) / "out", workers, source_root=Path(source_root),
                                         assignment=assignment, cell_timeout=cell_timeout,
                                         kernel=kernel or batch.default_kernel(), work_root=work_root,
                                         progress_stream=open("/dev/null", "w"))
    problems = []
    for r in sorted(result.results, key=lambda r: (r.student_id, r.notebook)):
        if r.student_id == "reference-solution":
            if r.status != "graded" or r.score != r.max_score:
                lost = [f"{cell} ({s:g}/{m:g})" for cell, (s, m) in sorted(r.cells.items()) if s != m]
                problems.append(f"{r.notebook}: the source (reference solution) scores {r.score:g}/{r.max_score:g}"
                                + (f"; failing: {', '.join(lost)}" if lost else "")
                                + (f" ({r.reason})" if r.status != "graded" else "") + ".")
        else:
            passing = [cell for cell, (s, _m) in sorted(r.cells.items()) if s > 0]
            if r.status != "graded":
                problems.append(f"{r.notebook}: the untouched release could not be graded ({r.reason}).")
            elif passing:
                problems.append(f"{r.notebook}: the untouched release already earns points in "
                                f"{', '.join(passing)}: those tests pass before any work.")
    return problems


def verify(source_root: Path = SOURCE, release_root: Path = RELEASE, assignment: str = ASSIGNMENT,
           execute: bool = True, workers: int | None = None, cell_timeout: int = 60,
           kernel: str | None = None, work_root: Path | None = None) -> list[str]:
    release_dir = Path(release_root) / assignment
    problems = static_problems(Path(source_root) / assignment, release_dir)
    problems += stale_problems(source_root, release_dir, assignment)
    if execute and not problems:
        problems += execution_problems(source_root, release_dir, assignment, workers, cell_timeout, kernel, work_root)
    return problems
