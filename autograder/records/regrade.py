"""``grade --student ID[,ID...]``: regrade some students and merge them into an existing ``--out``.

Every other student's grades.csv line is kept as it was, byte for byte, and
their feedback/, autograded/ and logs/ folders are not touched. The regraded
students' new files are written into a staging folder first and then swapped
in, one rename per student folder, grades.csv last (a rename too): an
interrupted regrade leaves either the old or the new grades.csv, never a
half-written one.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

from autograder.records import report
from autograder.grading.result import NotebookResult

FOLDERS = ("feedback", "autograded", "logs")


class RegradeError(Exception):
    """The existing --out cannot take a merge; the message says what to do instead."""


def existing_header(out: Path) -> list[str]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def merge_outputs(out: Path, results: list[NotebookResult], assignment: str, parts: list, students: list[str]) -> str:
    """Merge ``results`` (of ``students`` only) into ``out``; returns the new summary."""
    grades = out / "grades.csv"
    if not grades.exists():
        raise RegradeError(f"--student needs an earlier run's results in {out} (grades.csv is missing): "
                           "grade the whole class first, without --student.")
    new_text = report.csv_text(results, assignment, parts)
    new_records = _split(new_text)
    old_records = _split(grades.read_text(encoding="utf-8"))
    if old_records[0][0] != new_records[0][0]:
        raise RegradeError(f"{grades} has other columns than this version of the grader writes: "
                           "grade the whole class again, without --student.")
    header = old_records[0][1]
    chosen = set(students)
    kept = [rec for rec in old_records[1:] if rec[0] and rec[0][0] not in chosen]
    merged = sorted(kept + new_records[1:], key=lambda rec: (rec[0][0], rec[0][2]))
    text = header + "".join(raw for _, raw in merged)

    rows = [NotebookResult(student_id=f[0], notebook=f[2], score=float(f[3]), max_score=float(f[4]), status=f[5])
            for f, _ in merged]
    summary = report.summary_table(rows)

    staging = out / f".regrade-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        report.write_outputs(staging, results, assignment, summary, parts)
        olds = []
        for folder in FOLDERS:
            for student in sorted(chosen):
                new, current = staging / folder / student, out / folder / student
                old = out / folder / f".old-{student}-{os.getpid()}"
                current.parent.mkdir(parents=True, exist_ok=True)
                if current.exists():
                    current.rename(old)
                    olds.append(old)
                if new.exists():
                    new.rename(current)
        tmp = out / f".grades-{os.getpid()}.csv"
        tmp.write_text(text, encoding="utf-8")
        (staging / "summary.txt").replace(out / "summary.txt")
        tmp.replace(grades)
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _split(text: str) -> list[tuple[list[str], str]]:
    """The records of a CSV text with their exact source text."""
    records = []
    lines = text.splitlines(keepends=True)
    pending = ""
    for line in lines:
        pending += line
        try:
            fields = next(csv.reader(io.StringIO(pending)))
        except (StopIteration, csv.Error):
            continue
        if pending.count('"') % 2:  # inside a quoted field that spans lines
            continue
        records.append((fields, pending))
        pending = ""
    return records
