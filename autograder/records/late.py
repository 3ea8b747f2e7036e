"""Due dates and late hand-ins, with nbgrader's own semantics, for both grading paths.

nbgrader 0.9.6 keeps an assignment's due date only in its gradebook (set with
``nbgrader db assignment add --duedate`` or the formgrader; the old
``CourseDirectory.db_assignments`` config is ignored with a warning). The
course keeps it in ``nbgrader_config.py`` instead (``DueDates.assignments``), so
that it is versioned with the course and both paths read one value:

- stock ``nbgrader autograde``: ``ApplyDueDate`` (the first sanitize step)
  writes it into the gradebook, then nbgrader's ``AssignLatePenalties`` and its
  ``LateSubmissionPlugin`` do the rest, from ``timestamp.txt`` as usual;
- ``python -m autograder grade``: the submission time is nbgrader's
  ``timestamp.txt`` when the hand-in has one, else the newest notebook's time
  in the zip or folder; the penalty comes from the same configured plugin
  (``AssignLatePenalties.plugin_class``, ``LateSubmissionPlugin.penalty_method``),
  clamped to [0, score] exactly as ``AssignLatePenalties`` clamps it.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from traitlets import Dict
from traitlets.config import Config, Configurable

from nbgrader.preprocessors import NbGraderPreprocessor

LITTER = ("__MACOSX", ".ipynb_checkpoints", ".git", "__pycache__")


class DueDates(Configurable):
    assignments = Dict(
        {}, help="Due date per assignment id, ISO 8601 ('2026-12-04 23:59:00 UTC'; no zone means UTC). "
                 "Empty or missing: no due date."
    ).tag(config=True)


def parse_time(text: str) -> dt.datetime:
    """A time as nbgrader reads it (``parse_utc``: naive UTC), without its two silent misreadings.

    nbgrader 0.9.6 reads "2026-11-01 14:00:00 +02:00" as 14:00 UTC (``gettz("+02:00")`` is None, so
    the offset is dropped) and an unknown zone name as UTC. Here a numeric offset counts and an
    unknown zone is an error.
    """
    import dateutil.tz
    from nbgrader.utils import parse_utc

    text = text.strip()
    match = re.fullmatch(r"(\S+) (\S+) ([+-]\d{2}:?\d{2})", text)
    if match:
        text = f"{match.group(1)} {match.group(2)}{match.group(3)}"
    else:
        parts = text.split(" ")
        if len(parts) == 3 and not re.fullmatch(r"[+-]?\d+", parts[2]) and dateutil.tz.gettz(parts[2]) is None:
            raise ValueError(f"unknown time zone {parts[2]!r} in {text!r} (write UTC, or an offset like +02:00)")
    return parse_utc(text)


def due_date(config: Config, assignment: str) -> dt.datetime | None:
    value = DueDates(config=config).assignments.get(assignment)
    return parse_time(str(value)) if value else None


class ApplyDueDate(NbGraderPreprocessor):
    """Write the configured due date into the gradebook before nbgrader computes lateness."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook, MissingEntry

        info = resources["nbgrader"]
        due = due_date(self.config, info["assignment"])
        if due is None:
            return nb, resources  # none configured: a due date set in the gradebook (formgrader, db) stands
        with Gradebook(info["db_url"]) as gb:
            try:
                assignment = gb.find_assignment(info["assignment"])
            except MissingEntry:
                return nb, resources
            if assignment.duedate != due:
                assignment.duedate = due
                gb.db.commit()
        return nb, resources


# --- submission time -------------------------------------------------------------------

@dataclass
class Handed:
    at: dt.datetime | None  # naive UTC
    source: str  # "timestamp.txt", "zip", "file times" or "" when unknown


def _ignored(parts: tuple[str, ...]) -> bool:
    return any(p in LITTER or p.startswith(".") for p in parts)


def submission_time(origin: Path) -> Handed:
    """When a hand-in (folder or .zip) was handed in: nbgrader's timestamp.txt, else its notebooks' times."""
    origin = Path(origin)
    if origin.is_dir():
        stamps = sorted((p for p in origin.rglob("timestamp.txt") if not _ignored(p.relative_to(origin).parts)),
                        key=lambda p: len(p.parts))
        for stamp in stamps:
            try:
                return Handed(parse_time(stamp.read_text(encoding="utf-8")), "timestamp.txt")
            except (ValueError, OSError):
                continue
        times = [p.stat().st_mtime for p in origin.rglob("*.ipynb")
                 if not _ignored(p.relative_to(origin).parts) and p.is_file() and not p.is_symlink()]
        if times:
            return Handed(dt.datetime.fromtimestamp(max(times), dt.timezone.utc).replace(tzinfo=None), "file times")
        return Handed(None, "")
    try:
        with zipfile.ZipFile(origin) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()
                       and not _ignored(PurePosixPath(m.filename.replace("\\", "/")).parts)]
            for member in sorted(members, key=lambda m: m.filename.count("/")):
                if PurePosixPath(member.filename).name == "timestamp.txt" and member.file_size < 1000:
                    try:
                        return Handed(parse_time(zf.read(member).decode("utf-8")), "timestamp.txt")
                    except (ValueError, UnicodeDecodeError):
                        continue
            # Zip entries carry a local time without a zone; learning platforms write UTC.
            times = [dt.datetime(*m.date_time) for m in members if m.filename.endswith(".ipynb")]
            return Handed(max(times), "zip") if times else Handed(None, "")
    except (zipfile.BadZipFile, OSError):
        return Handed(None, "")


# --- the policy --------------------------------------------------------------------------

@dataclass
class LatePolicy:
    due: dt.datetime | None
    config: Config

    @classmethod
    def from_config(cls, config: Config, assignment: str) -> "LatePolicy":
        return cls(due=due_date(config, assignment), config=config)

    def seconds_late(self, at: dt.datetime | None) -> float:
        """nbgrader's ``SubmittedAssignment.total_seconds_late``."""
        if at is None or self.due is None:
            return 0.0
        return max(0.0, (at - self.due).total_seconds())

    def penalty(self, student: str, score: float, seconds_late: float) -> float:
        """What nbgrader's ``AssignLatePenalties`` would record for one notebook."""
        if seconds_late <= 0:
            return 0.0
        from nbgrader.preprocessors import AssignLatePenalties

        step = AssignLatePenalties(config=self.config)
        plugin = step.plugin_class(parent=step)
        penalty = plugin.late_submission_penalty(student, score, seconds_late)
        if penalty is None:
            return 0.0
        return float(min(max(penalty, 0.0), score))


def describe_late(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"]
    if seconds < 1:  # late all the same: "0 s after the due date" read as on time (issue 24's hub test)
        return "less than a second"
    return " ".join(parts[:2]) if seconds >= 60 else f"{int(seconds)} s"


def apply(results, handed: dict[str, Handed], policy: LatePolicy) -> None:
    """Set each result's submission time, lateness and penalty (score after penalty), and tell the learner."""
    for r in results:
        info = handed.get(r.student_id, Handed(None, ""))
        r.submitted_at = info.at.isoformat(sep=" ") if info.at else ""
        r.seconds_late = policy.seconds_late(info.at)
        r.late_penalty = policy.penalty(r.student_id, r.score, r.seconds_late)
        if r.late_penalty:
            r.score -= r.late_penalty
        if r.seconds_late > 0:
            note = (f"Handed in {describe_late(r.seconds_late)} after the due date "
                    f"({policy.due:%Y-%m-%d %H:%M} UTC; handed in {info.at:%Y-%m-%d %H:%M} UTC, from its "
                    f"{info.source}): late penalty {r.late_penalty:g} point(s).")
            r.reason = (r.reason + " " + note).strip()
            _add_to_feedback(r, note)


def _add_to_feedback(r, note: str) -> None:
    box = ('<div class="autograder-late" style="background:#fff8e1;border:1px solid #e0a800;padding:8px 16px;'
           'margin:12px auto;max-width:960px;border-radius:6px;font-family:sans-serif">'
           f"{html_lib.escape(note)}</div>")
    page = r.feedback_html
    path = Path(r.feedback_path) if not page and r.feedback_path else None
    if path is not None and path.exists():
        page = path.read_text(encoding="utf-8")
    if not page:
        return
    # The banner states the score: it must be the score after the penalty.
    page = re.sub(r"(: )([0-9.]+)( / [0-9.]+ points\.</strong>)",
                  lambda m: f"{m.group(1)}{r.score:g}{m.group(3)}", page, count=1)
    match = re.search(r'<div class="autograder-status"[^>]*>.*?</div>', page, flags=re.S)
    page = page[:match.end()] + box + page[match.end():] if match else box + page
    if path is not None:
        path.write_text(page, encoding="utf-8")
    else:
        r.feedback_html = page
