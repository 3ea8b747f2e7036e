"""``python -m autograder collect SUBMISSIONS``: a class's download -> nbgrader's ``submitted/``.

Path 1 (nbgrader's own commands) reads ``submitted/<student>/<assignment>/`` with the
``timestamp.txt`` and ``submission_secret.txt`` that nbgrader's ``submit`` and ``collect``
write. Hand-ins downloaded from a learning platform have neither, and their notebooks are often
renamed ("01_Sequential (1).ipynb"). Copied by hand, ``nbgrader release_feedback`` then stopped
with ``FileNotFoundError`` (issue 23.3). This command reads them as ``grade`` does (intake.py:
folders or zips, renamed files matched, broken notebooks refused with a reason) and writes each
student's folder as nbgrader's ``collect`` leaves it: the notebooks, ``timestamp.txt`` (the
hand-in's time, read as late.py reads it) and ``submission_secret.txt`` (the hand-in's own, else a
new one, as ``submit`` makes). It also makes the exchange folder ``nbgrader_config.py`` names,
which ``release_feedback`` writes into. The test: tests/e2e/test_nbgrader_path1.py.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import tempfile
from pathlib import Path

from autograder.batch import intake
from autograder.records import late


class CollectError(Exception):
    """Nothing can be collected; the message says what to do."""


def collect(submissions: Path, course_dir: Path, assignment: str, exchange: Path | None) -> list[str]:
    """Every student of ``submissions`` into ``course_dir/submitted/``; one line per student (and notes)."""
    submissions, course_dir = Path(submissions).resolve(), Path(course_dir).resolve()
    submitted = course_dir / "submitted"
    if submissions == submitted or submitted in submissions.parents:
        raise CollectError(f"{submissions} is nbgrader's own submitted/ folder already: nothing to collect. "
                           f"Run `nbgrader autograde {assignment}` next.")
    notebooks = sorted(p.stem for p in (course_dir / "release" / assignment).glob("*.ipynb"))
    if not notebooks:
        raise CollectError(f"{course_dir}/release/{assignment} holds no notebook: run "
                           f"`nbgrader generate_assignment {assignment} --force` first.")
    lines: list[str] = []
    ignored: list[str] = []
    with tempfile.TemporaryDirectory(prefix="crew-collect-") as staging:
        try:
            students = intake.take_in_class(submissions, notebooks, Path(staging), assignment, ignored)
        except intake.IntakeError as err:
            raise CollectError(str(err)) from None
        for student in students:
            lines.append(_place(student, submissions, submitted, assignment))
    if ignored:
        lines.append(f"Not hand-ins, not collected (neither a folder nor a .zip): {', '.join(sorted(ignored))}")
    if exchange is not None:
        exchange.mkdir(parents=True, exist_ok=True)  # release_feedback refuses a missing exchange
    return lines


def _place(student: intake.StudentIntake, submissions: Path, submitted: Path, assignment: str) -> str:
    sid = student.student_id
    taken = [item for item in student.notebooks.values() if item.path is not None]
    missing = [item for item in student.notebooks.values() if item.path is None]
    if not taken:
        return f"{sid}: nothing collected. {missing[0].problem}" if missing else f"{sid}: nothing collected."
    origin = submissions / student.origin
    dest = submitted / sid / assignment
    fresh = dest.with_name(f".{assignment}.collecting")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    for item in taken:
        shutil.copyfile(item.path, fresh / f"{item.name}.ipynb")
    handed = late.submission_time(origin)
    when = handed.at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    (fresh / "timestamp.txt").write_text(f"{when:%Y-%m-%d %H:%M:%S.%f} UTC", encoding="utf-8")
    (fresh / "submission_secret.txt").write_text(_secret(origin), encoding="utf-8")
    replaced = dest.exists()
    if replaced:
        shutil.rmtree(dest)
    fresh.rename(dest)
    said = [f"{sid}: {len(taken)} notebook(s) into submitted/{sid}/{assignment}/, handed in "
            f"{when:%Y-%m-%d %H:%M} UTC ({handed.source or 'no time found: now'})"
            + ("; the earlier copy there was replaced" if replaced else "")]
    said += [f"  {item.found_at} taken as {item.name}.ipynb (renamed)" for item in taken if item.renamed]
    said += [f"  {item.problem}" for item in missing]
    said += [f"  note: {note}" for note in student.notes]
    return "\n".join(said)


def _secret(origin: Path) -> str:
    """The hand-in's own secret (it came through nbgrader's exchange), else a new one as ``submit`` makes."""
    if origin.is_dir():
        for found in sorted(origin.rglob("submission_secret.txt"), key=lambda p: len(p.parts)):
            text = found.read_text(encoding="utf-8", errors="replace").strip()
            if text and len(text) < 1000:
                return text
    return secrets.token_hex(64)
