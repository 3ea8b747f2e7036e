"""Submissions as instructors receive them -> one clean folder per student.

A class arrives as a folder with one subfolder per student (with or without
the ``crew_processes/`` level of nbgrader's ``submitted/`` layout) or one
``.zip`` per student, as learning platforms export them. Intake finds each
expected notebook, checks that it is a notebook at all, and copies it into
the build folder: the learner's input folder is only ever read.

Whatever cannot be graded is said here, in plain words, per notebook: stock
nbgrader fails a whole student on one malformed notebook and says nothing
about a missing one.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

# A notebook of this course is well under 1 MB even with outputs. Anything far
# bigger is a mistake (or a trap) and is refused before anything parses it.
MAX_NOTEBOOK_BYTES = 30 * 1024 * 1024
MAX_ZIP_TOTAL_BYTES = 300 * 1024 * 1024
MAX_ZIP_MEMBERS = 5000
LITTER = ("__MACOSX", ".ipynb_checkpoints", ".git", "__pycache__")


@dataclass
class NotebookIntake:
    name: str  # notebook id, e.g. "01_sequential"
    path: Path | None = None  # the clean copy in the build folder, when gradable
    problem: str | None = None  # why it cannot be graded, in plain words
    found_at: str | None = None  # where in the submission it was found
    renamed: bool = False  # found under another name (as a learning platform renames files)


@dataclass
class StudentIntake:
    student_id: str
    origin: str  # the folder or zip name as it was handed in
    notebooks: dict[str, NotebookIntake] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def gradable(self) -> list[str]:
        return [n for n, item in self.notebooks.items() if item.path is not None]


class IntakeError(Exception):
    """The submissions folder itself is unusable (not a single student can be read)."""


def safe_student_id(name: str) -> str:
    """A student id that is safe as a folder name and in nbgrader's path patterns."""
    cleaned = re.sub(r"[^A-Za-z0-9_.@-]+", "_", name.strip()).strip("._")
    return cleaned or "student"


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


# Left out without a row: what file managers and version control leave in any folder.
IGNORED_ENTRIES = (*LITTER, ".DS_Store", "Thumbs.db", "desktop.ini")


def list_students(submissions: Path, skipped: list[tuple[str, Path, str]] | None = None) -> list[tuple[str, Path]]:
    """(student id, folder or zip) for every entry that looks like a student's hand-in.

    Entries that are not graded (a hidden folder, a link, a stray file) go into ``skipped``
    as (student id, entry, why), so that each still gets a row that says why.
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise IntakeError(f"The submissions folder {submissions} does not exist or is not a folder.")
    entries = []
    taken: set[str] = set()
    for entry in sorted(submissions.iterdir(), key=lambda p: p.name):
        if entry.name in IGNORED_ENTRIES:
            continue
        why = None
        if entry.is_symlink():
            why = "it is a link, and the grader never follows a link out of the class folder"
        elif entry.name.startswith("."):
            why = "its name starts with a dot (a hidden folder or file)"
        elif entry.is_dir():
            base = entry.name
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            base = entry.stem
        elif entry.suffix.lower() == ".ipynb":
            why = "a notebook on its own is not a hand-in (one folder or .zip per student)"
        else:  # a README or a list of names beside the hand-ins: said in the summary, no row
            if skipped is not None:
                skipped.append(("", entry, "it is neither a folder nor a .zip file"))
            continue
        if why:
            if skipped is not None:
                skipped.append((_unique(safe_student_id(entry.name), taken), entry, why))
            continue
        entries.append((_unique(safe_student_id(base), taken), entry))
    return entries


# --- reading one student's files ----------------------------------------------------------

@dataclass
class _Candidate:
    rel: str  # path inside the hand-in, for messages
    depth: int
    in_assignment_dir: bool
    read: object  # callable -> bytes
    size: int
    renamed: bool = False  # its name is not the notebook's own, but plainly means it


# What learning platforms and browsers do to a file's name: change its case, turn "_" into " " or
# "-", add " (1)", "-1" or "_copy", put the student's name in front.
_SEPARATORS = re.compile(r"[\s_\-]+")
_COPY_MARK = re.compile(r"_?(\(\d+\)|\d+|copy|kopie|copie)$")


def _plain(stem: str) -> str:
    plain = _SEPARATORS.sub("_", stem.strip().lower()).strip("_")
    while True:
        shorter = _COPY_MARK.sub("", plain).strip("_")
        if shorter == plain:
            return plain
        plain = shorter


def meant(stem: str, wanted: set[str]) -> tuple[str, bool] | None:
    """The notebook a file named ``stem`` is (its id, renamed?), or None: only when one notebook fits."""
    if stem in wanted:
        return stem, False
    plain = _plain(stem)
    fits = [w for w in wanted if plain == _plain(w) or plain.endswith("_" + _plain(w))]
    return (fits[0], True) if len(fits) == 1 else None


def _folder_candidates(folder: Path, wanted: set[str], assignment: str) -> tuple[dict[str, list[_Candidate]], list[str]]:
    found: dict[str, list[_Candidate]] = {}
    notes: list[str] = []
    for path in sorted(folder.rglob("*.ipynb")):
        rel_parts = path.relative_to(folder).parts
        if any(part in LITTER or part.startswith(".") for part in rel_parts):
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            notes.append(f"{'/'.join(rel_parts)} is a link, not a file, and was ignored.")
            continue
        match = meant(path.stem, wanted)
        if match is None:
            continue
        found.setdefault(match[0], []).append(_Candidate(
            rel="/".join(rel_parts), depth=len(rel_parts), in_assignment_dir=assignment in rel_parts[:-1],
            read=path.read_bytes, size=info.st_size, renamed=match[1]))
    return found, notes


def _zip_candidates(archive: Path, wanted: set[str], assignment: str) -> tuple[dict[str, list[_Candidate]], list[str]]:
    found: dict[str, list[_Candidate]] = {}
    notes: list[str] = []
    zf = zipfile.ZipFile(archive)
    members = zf.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise _Unreadable(f"the zip file holds {len(members)} files; a hand-in of this course has a handful.")
    if sum(m.file_size for m in members) > MAX_ZIP_TOTAL_BYTES:
        raise _Unreadable("the zip file unpacks to more than "
                          f"{MAX_ZIP_TOTAL_BYTES // 2**20} MB; a hand-in of this course is far smaller.")
    for member in members:
        if member.is_dir():
            continue
        name = member.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        # Never trust names inside an archive: they are only matched, never used as paths.
        if not name.endswith(".ipynb") or any(p in LITTER or p.startswith(".") or p == ".." for p in parts):
            continue
        if (member.external_attr >> 16) & 0o170000 == 0o120000:
            notes.append(f"{name} in the zip is a link, not a file, and was ignored.")
            continue
        match = meant(PurePosixPath(name).stem, wanted)
        if match is None:
            continue
        found.setdefault(match[0], []).append(_Candidate(
            rel=name, depth=len(parts), in_assignment_dir=assignment in parts[:-1],
            read=lambda m=member: zf.read(m), size=member.file_size, renamed=match[1]))
    return found, notes


class _Unreadable(Exception):
    pass


def _too_big(name: str, size: int) -> str:
    return (f"{name}.ipynb is {size / 2**20:.0f} MB, far more than a notebook of this course "
            "(usually huge saved outputs). Clear the outputs (Edit > Clear Outputs of All Cells), "
            "save, and hand it in again.")


def check_notebook(data: bytes, name: str) -> str | None:
    """None when ``data`` is a notebook nbgrader can grade, else why not (plain words)."""
    filename = f"{name}.ipynb"
    if len(data) > MAX_NOTEBOOK_BYTES:
        return _too_big(name, len(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return (f"{filename} is not a text file, so it is not a notebook. Hand in the .ipynb file "
                "that JupyterLab saved.")
    try:
        raw = json.loads(text)
    except RecursionError:
        return (f"{filename} is not a notebook JSON can hold: it is nested thousands of levels deep. "
                "Hand in the .ipynb file that JupyterLab saved.")
    except json.JSONDecodeError as err:
        return (f"{filename} is damaged: it is not valid notebook JSON (line {err.lineno}, column "
                f"{err.colno}: {err.msg}). This happens when a notebook is edited outside Jupyter or "
                "copied half-way. Open your last good copy in JupyterLab, save it, and hand it in again.")
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        return (f"{filename} is JSON but not a notebook (it has no cells). Hand in the .ipynb file "
                "that JupyterLab saved.")
    try:
        nb = nbformat.reads(text, as_version=4)
        if not isinstance(nb.cells, list):
            raise ValueError("cells is not a list")
        for cell in nb.cells:
            if cell.get("cell_type") not in ("code", "markdown", "raw"):
                raise ValueError(f"a cell of unknown type {cell.get('cell_type')!r}")
            if not isinstance(cell.get("source", ""), str):
                raise ValueError("a cell whose source is not text")
            if not isinstance(cell.get("metadata", {}), dict):
                raise ValueError("a cell whose metadata is not a mapping")
    except Exception as err:  # nbformat raises many kinds; any of them means "cannot grade"
        return (f"{filename} could not be read as a notebook ({err}). Open it in JupyterLab, save it, "
                "and hand it in again.")
    return None


def _choose(candidates: list[_Candidate]) -> tuple[_Candidate | None, str | None]:
    """The copy to grade when a hand-in holds several files for one notebook (None: no safe choice).

    A file under the notebook's own name wins over renamed ones; among renamed files only one may
    fit, or the grader cannot tell which the learner meant.
    """
    exact = [c for c in candidates if not c.renamed]
    if not exact and len(candidates) > 1:
        return None, ("Several files could be the same notebook, so none was graded: "
                      + ", ".join(sorted(c.rel for c in candidates)) + ". Keep one, under the notebook's own name.")
    ranked = sorted(exact or candidates, key=lambda c: (not c.in_assignment_dir, c.depth, c.rel))
    chosen = ranked[0]
    ignored = [c.rel for c in candidates if c is not chosen]
    if not ignored:
        return chosen, None
    return chosen, (f"Several copies of {PurePosixPath(chosen.rel).name} were handed in; graded {chosen.rel} "
                    f"(ignored: {', '.join(ignored)}).")


def take_in(student_id: str, origin: Path, notebooks: list[str], dest: Path, assignment: str) -> StudentIntake:
    """Copy one student's gradable notebooks to ``dest/<notebook>.ipynb`` and say what is wrong."""
    result = StudentIntake(student_id=student_id, origin=origin.name)
    wanted = set(notebooks)
    try:
        if origin.is_dir():
            found, notes = _folder_candidates(origin, wanted, assignment)
        else:
            found, notes = _zip_candidates(origin, wanted, assignment)
    except (_Unreadable, zipfile.BadZipFile, OSError) as err:
        reason = (f"The hand-in {origin.name} could not be opened: "
                  f"{err if isinstance(err, _Unreadable) else 'it is not a readable zip file'}. "
                  "Hand it in again as a .zip of your crew_processes folder.")
        for name in notebooks:
            result.notebooks[name] = NotebookIntake(name=name, problem=reason)
        return result
    result.notes.extend(notes)
    dest.mkdir(parents=True, exist_ok=True)
    for name in notebooks:
        item = NotebookIntake(name=name)
        result.notebooks[name] = item
        if name not in found:
            item.problem = (f"{name}.ipynb was not handed in (it was not found in {origin.name}). "
                            "Hand in every notebook of the assignment, under its original name.")
            continue
        chosen, note = _choose(found[name])
        if note:
            result.notes.append(note)
        if chosen is None:
            item.problem = (f"{name}.ipynb was not handed in under its name, and several files could be it "
                            f"({', '.join(sorted(c.rel for c in found[name]))}). Hand in one, named {name}.ipynb.")
            continue
        item.found_at = chosen.rel
        item.renamed = chosen.renamed
        if chosen.size > MAX_NOTEBOOK_BYTES:
            item.problem = _too_big(name, chosen.size)
            continue
        try:
            data = chosen.read()  # type: ignore[operator]
        except (OSError, zipfile.BadZipFile, RuntimeError) as err:
            item.problem = f"{name}.ipynb could not be read from the hand-in ({err}). Hand it in again."
            continue
        problem = check_notebook(data, name)
        if problem:
            item.problem = problem
            continue
        target = dest / f"{name}.ipynb"
        target.write_bytes(data)
        item.path = target
    return result


def take_in_class(submissions: Path, notebooks: list[str], dest_root: Path, assignment: str,
                  ignored: list[str] | None = None) -> list[StudentIntake]:
    """Every student of ``submissions``; each gradable notebook copied under ``dest_root/<id>/``.

    ``ignored`` gets the names of the files that are neither a folder nor a .zip (no student's).
    """
    skipped: list[tuple[str, Path, str]] = []
    students = list_students(submissions, skipped)
    if not students:
        raise IntakeError(
            f"No student was found in {submissions}: expected one folder or one .zip per student.")
    if dest_root.exists():
        shutil.rmtree(dest_root)
    result = []
    for sid, origin in students:
        try:
            result.append(take_in(sid, origin, notebooks, dest_root / sid, assignment))
        except Exception as err:  # noqa: BLE001  one hand-in must never stop the class's intake
            problem = (f"The hand-in {origin.name} could not be read ({type(err).__name__}: {str(err)[:200]}). "
                       "Open each notebook in JupyterLab, save it, and hand it in again.")
            result.append(StudentIntake(student_id=sid, origin=origin.name, notebooks={
                name: NotebookIntake(name=name, problem=problem) for name in notebooks}))
    for sid, entry, why in skipped:
        if not sid:  # a README or a list of names beside the hand-ins: named once in the summary
            if ignored is not None:
                ignored.append(entry.name)
            continue
        problem = (f"{entry.name} in the submissions folder was not graded: {why}. If it is a student's "
                   "hand-in, put it there as a plain folder or .zip with a name that does not start with a dot.")
        result.append(StudentIntake(student_id=sid, origin=entry.name, notebooks={
            name: NotebookIntake(name=name, problem=problem) for name in notebooks}))
    return result
