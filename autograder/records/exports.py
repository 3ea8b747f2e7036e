"""Grades as learning platforms import them: Canvas's gradebook CSV and Moodle's grade import CSV.

Canvas (Grades > Import): one row per student; the columns ``Student``,
``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section`` identify the student
(Canvas matches on ID, SIS User ID or SIS Login ID), then one column per
assignment holding the points; a column named without a Canvas id in
parentheses is created as a new assignment on import. A second row starting
``Points Possible`` gives each assignment's maximum, as Canvas's own export
writes it.

Moodle (Grades > Import > CSV file): a header row, one row per student; at
import the instructor maps one column to a user field (email address,
username or ID number) and each grade column to a grade item. The file holds
every identity column the roster provides, the assignment's total and one
column per exercise.

Student ids are mapped through an optional roster CSV with a ``student_id``
column (the course's id, as in grades.csv) and any of ``name``,
``canvas_id``, ``sis_user_id``, ``sis_login_id``, ``section``, ``email``,
``username``, ``idnumber``. Without a roster, or for a student it does not
list, the course's id is used as the login (Canvas ``SIS Login ID``, Moodle
``Username``) and the export says so.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

ROSTER_FIELDS = ("name", "canvas_id", "sis_user_id", "sis_login_id", "section", "email", "username", "idnumber")
FORMATS = ("canvas", "moodle")
# Beside grades.csv: which exports this --out holds and the roster each was written with.
RECORD = ".exports.json"


class ExportError(Exception):
    """The export cannot be written (a bad roster); the message says what to fix."""


def read_roster(path: Path | None) -> dict[str, dict[str, str]]:
    if path is None:
        return {}
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        raise ExportError(f"The roster {path} could not be read ({err}).") from err
    if not rows or "student_id" not in rows[0]:
        raise ExportError(f"The roster {path} needs a header row with a 'student_id' column (the ids of "
                          f"grades.csv) and any of: {', '.join(ROSTER_FIELDS)}.")
    roster: dict[str, dict[str, str]] = {}
    for number, row in enumerate(rows, start=2):
        sid = (row.get("student_id") or "").strip()
        if not sid:
            raise ExportError(f"Line {number} of the roster {path} has no student_id.")
        if sid in roster:
            raise ExportError(f"The roster {path} lists student {sid!r} twice (line {number}).")
        roster[sid] = {k: (row.get(k) or "").strip() for k in ROSTER_FIELDS}
    return roster


def _totals(rows: list[dict[str, str]]) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """{student: {notebook: score}}, {notebook: max} from grades.csv rows."""
    scores: dict[str, dict[str, float]] = {}
    maxima: dict[str, float] = {}
    for row in rows:
        scores.setdefault(row["student_id"], {})[row["notebook"]] = float(row["score"])
        maxima[row["notebook"]] = float(row["max_score"])
    return scores, maxima


def _fmt(x: float) -> str:
    return f"{x:g}"


def canvas_csv(rows: list[dict[str, str]], assignment: str, roster: dict[str, dict[str, str]]) -> str:
    scores, maxima = _totals(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
    writer.writerow(["Points Possible", "", "", "", "", _fmt(sum(maxima.values()))])
    for student in sorted(scores):
        who = roster.get(student, {})
        writer.writerow([who.get("name") or student, who.get("canvas_id", ""), who.get("sis_user_id", ""),
                         who.get("sis_login_id") or ("" if who else student), who.get("section", ""),
                         _fmt(sum(scores[student].values()))])
    return buffer.getvalue()


def moodle_csv(rows: list[dict[str, str]], assignment: str, roster: dict[str, dict[str, str]]) -> str:
    scores, maxima = _totals(rows)
    notebooks = [n for n in sorted(maxima) if maxima[n] > 0]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Full name", "Email address", "Username", "ID number", assignment,
                     *[f"{assignment}: {n}" for n in notebooks]])
    for student in sorted(scores):
        who = roster.get(student, {})
        writer.writerow([who.get("name") or student, who.get("email", ""),
                         who.get("username") or ("" if who else student), who.get("idnumber", ""),
                         _fmt(sum(scores[student].values())),
                         *[_fmt(scores[student].get(n, 0.0)) for n in notebooks]])
    return buffer.getvalue()


def write(fmt: str, grades_csv: Path, out_file: Path, assignment: str, roster_path: Path | None = None) -> list[str]:
    """Write the ``fmt`` export of ``grades_csv`` to ``out_file``; returns notes for the instructor."""
    from autograder.records.report import read_csv

    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}: use one of {', '.join(FORMATS)}.")
    rows = read_csv(grades_csv)
    roster = read_roster(roster_path)
    text = (canvas_csv if fmt == "canvas" else moodle_csv)(rows, assignment, roster)
    tmp = out_file.with_name(out_file.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out_file)
    notes = []
    students = sorted({r["student_id"] for r in rows})
    if roster_path is None:
        notes.append("no --roster given: the course's student ids were written as the platform login "
                     f"({'SIS Login ID' if fmt == 'canvas' else 'Username'})")
    else:
        missing = [s for s in students if s not in roster]
        if missing:
            notes.append(f"{len(missing)} student(s) not in the roster, written with the course id as login: "
                         + ", ".join(missing[:10]))
    return notes


def refresh(out: Path, requested: list[str], assignment: str,
            roster_path: Path | None = None) -> list[tuple[str, Path, list[str]]]:
    """Write the requested exports, and rewrite every other one ``out`` holds from its grades.csv.

    A grade run (a ``--student`` regrade too) replaces grades.csv but leaves OUT/moodle.csv and
    OUT/canvas.csv alone: an export it was not asked for would keep the old scores (issue 23.5).
    Each such file is rewritten with the roster it was written with last time. Returns
    ``(format, file, notes)`` for each file written.
    """
    record = _read_record(out)
    wanted = {fmt: str(Path(roster_path).resolve()) if roster_path else None for fmt in requested}
    for fmt in FORMATS:
        if fmt not in wanted and (out / f"{fmt}.csv").exists():
            wanted[fmt] = record.get(fmt)
    written = []
    for fmt, roster in wanted.items():
        target = out / f"{fmt}.csv"
        notes = write(fmt, out / "grades.csv", target, assignment, Path(roster) if roster else None)
        if fmt not in requested:
            notes.insert(0, "rewritten from the new grades.csv (an earlier run wrote this file)")
        written.append((fmt, target, notes))
    if written:
        (out / RECORD).write_text(json.dumps(wanted, indent=1, sort_keys=True), encoding="utf-8")
    return written


def _read_record(out: Path) -> dict[str, str | None]:
    try:
        record = json.loads((out / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in record.items() if k in FORMATS and (v is None or isinstance(v, str))} \
        if isinstance(record, dict) else {}
