"""What a batch leaves behind: grades.csv, one feedback page per student and notebook, a summary.

Everything is first written to a staging folder inside ``--out`` and then
moved into place, so an interrupted run leaves the previous results whole: a
grade is never half-written, and re-running is always safe.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

from autograder.grading.result import NotebookResult

COLUMNS = ["student_id", "assignment", "notebook", "score", "max_score", "status", "reason"]
OUTPUTS = ("grades.csv", "summary.txt", "feedback", "autograded", "logs")


def fmt(x: float) -> str:
    return f"{x:g}"


# After the base columns: the hand-in time and late penalty (autograder/records/late.py), then one column
# per graded part, "1.1 <grade_id>" ... (autograder/records/parts.py), empty in other notebooks' rows.
LATE_COLUMNS = ["submitted_at", "seconds_late", "late_penalty"]
SOURCE_COLUMNS = ["source"]  # the folder or .zip in the submissions folder each row came from


def csv_text(results: list[NotebookResult], assignment: str, parts: list | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    parts = list(parts or [])
    writer.writerow(COLUMNS + LATE_COLUMNS + SOURCE_COLUMNS + [p.column for p in parts])
    for r in sorted(results, key=lambda r: (r.student_id, r.notebook)):
        cells = r.cells or {}
        part_scores = [fmt(cells[p.grade_id][0]) if p.grade_id in cells
                       else ("0" if p.notebook == r.notebook else "") for p in parts]
        writer.writerow([r.student_id, assignment, r.notebook, fmt(r.score), fmt(r.max_score), r.status,
                         " ".join(r.reason.split()), r.submitted_at, fmt(round(r.seconds_late)),
                         fmt(r.late_penalty), r.source, *part_scores])
    return buffer.getvalue()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def per_student(results: list[NotebookResult]) -> dict[str, dict]:
    table: dict[str, dict] = defaultdict(lambda: {"score": 0.0, "max": 0.0, "failed": [], "notebooks": 0,
                                                  "late_penalty": 0.0, "late": False})
    for r in results:
        row = table[r.student_id]
        row["score"] += r.score
        row["late_penalty"] += r.late_penalty
        row["late"] = row["late"] or r.seconds_late > 0
        row["max"] += r.max_score
        row["notebooks"] += 1
        if r.status != "graded":
            row["failed"].append(r.notebook)
    return dict(sorted(table.items()))


def summary_table(results: list[NotebookResult], seconds: float | None = None) -> str:
    rows = per_student(results)
    width = max([len("student")] + [len(s) for s in rows])
    lines = [f"{'student':<{width}}  {'total':>13}  failures"]
    lines.append("-" * len(lines[0]) + "-" * 12)
    for student, row in rows.items():
        total = f"{fmt(row['score'])} / {fmt(row['max'])}"
        failed = f"{len(row['failed'])} ({', '.join(sorted(row['failed']))})" if row["failed"] else "0"
        if row["late"]:  # the total is after the penalty: say so, or it contradicts the progress lines
            failed += f"; late, penalty {fmt(row['late_penalty'])}"
        lines.append(f"{student:<{width}}  {total:>13}  {failed}")
    graded = sum(1 for r in results if r.status == "graded")
    tail = f"{len(rows)} students, {len(results)} notebooks: {graded} graded, {len(results) - graded} failed"
    if seconds is not None:
        tail += f", in {seconds:.0f} s"
    lines += ["", tail + "."]
    return "\n".join(lines) + "\n"


def _copy(src: str | None, dest: Path) -> None:
    if src and Path(src).exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)


def write_outputs(out: Path, results: list[NotebookResult], assignment: str, summary: str,
                  parts: list | None = None) -> None:
    """Write every output into a staging folder, then swap it into ``out`` piece by piece."""
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    (staging / "grades.csv").write_text(csv_text(results, assignment, parts), encoding="utf-8")
    (staging / "summary.txt").write_text(summary, encoding="utf-8")
    for r in results:
        page = staging / "feedback" / r.student_id / assignment / f"{r.notebook}.html"
        if r.feedback_html:
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(r.feedback_html, encoding="utf-8")
        else:
            _copy(r.feedback_path, page)
        _copy(r.autograded_path, staging / "autograded" / r.student_id / assignment / f"{r.notebook}.ipynb")
        if r.log:
            log = staging / "logs" / r.student_id / f"{r.notebook}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(r.log, encoding="utf-8")
        else:
            _copy(r.log_path, staging / "logs" / r.student_id / f"{r.notebook}.log")
    for name in OUTPUTS:
        new, current = staging / name, out / name
        if not new.exists():
            new.mkdir()
        old = out / f".old-{name}-{os.getpid()}"
        if current.exists():
            current.rename(old)
        new.rename(current)
        if old.exists():
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    shutil.rmtree(staging, ignore_errors=True)


class Progress:
    """A progress bar on a terminal, one line per finished student elsewhere (logs, CI)."""

    def __init__(self, students: dict[str, int], stream=None, late: set[str] = frozenset()) -> None:
        self.stream = stream or sys.stderr
        self.late = late  # handed in after the due date: the penalty comes after grading
        self.left = dict(students)  # notebooks still to come, per student
        self.done_students = 0
        self.total = sum(students.values())
        self.scores: dict[str, list] = defaultdict(lambda: [0.0, 0.0, 0])
        self.started = time.monotonic()
        self.bar = None
        if getattr(self.stream, "isatty", lambda: False)():
            try:
                from tqdm import tqdm

                width = shutil.get_terminal_size((80, 20)).columns or 80
                self.bar = tqdm(total=self.total, unit="notebook", file=self.stream, ncols=min(width, 100),
                                desc="grading")
            except ImportError:
                self.bar = None

    def update(self, result: NotebookResult) -> None:
        row = self.scores[result.student_id]
        row[0] += result.score
        row[1] += result.max_score
        row[2] += result.status != "graded"
        self.left[result.student_id] = self.left.get(result.student_id, 1) - 1
        finished = self.left[result.student_id] <= 0
        if finished:
            self.done_students += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{self.done_students}/{len(self.left)} students")
        elif finished:
            failed = f", {row[2]} failed" if row[2] else ""
            self.stream.write(f"[{self.done_students}/{len(self.left)}] {result.student_id}: "
                              f"{fmt(row[0])} / {fmt(row[1])}{failed}"
                              f"{' before the late penalty' if result.student_id in self.late else ''} "
                              f"({time.monotonic() - self.started:.0f} s)\n")
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
