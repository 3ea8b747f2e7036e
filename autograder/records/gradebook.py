"""``grade``'s results in the course's nbgrader gradebook, so nbgrader's own tools work after it.

``grade`` autogrades each notebook in a private course folder with a private
gradebook (see grading.py); the course gradebook never sees a learner's code.
Afterwards this module writes what nbgrader's ``SaveAutoGrades`` and
``AssignLatePenalties`` would have written, through nbgrader's own
``Gradebook`` API (so any SQLAlchemy URL nbgrader's ``db_url`` accepts works):

- the assignment's definition (notebooks, test cells, points, the locked
  cells' sources) comes from nbgrader's ``generate_assignment``, run on the
  batch's template course with the course gradebook as its database, exactly
  as the instructor's own ``generate_assignment`` would record it;
- each student, submission (with its time), notebook, and each test cell's
  ``auto_score``; a notebook that could not be graded is ``flagged`` for the
  formgrader, with the reason in its comments;
- the late penalty per notebook.

The gradebook may be shared: SQLite (the default, one file in the course
directory) or a PostgreSQL server that several graders write to, e.g. one
``grade`` per section on different machines (``--db postgresql://...``, which
needs the ``psycopg2`` driver the project pins). On PostgreSQL each ``record``
holds a session advisory lock while it writes, so two graders never race to
create the same student or submission rows
(``tests/records/test_gradebook_postgres.py``).

Re-grading updates the same rows (nbgrader's ``update_or_create_*``); a score
the instructor set in the formgrader (``manual_score``) is kept and the cell
marked "needs manual grade" again, as nbgrader's own autograde does.

``publish`` also puts the graded notebooks and feedback pages where the
formgrader and ``release_feedback`` look for them (``autograded/`` and
``feedback/`` in the course directory), with the hand-in's ``timestamp.txt``
and ``submission_secret.txt`` when nbgrader's exchange made them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import warnings
from pathlib import Path

from autograder.nbgrader_setup import run_converter
from autograder.paths import COURSE_ID


class GradebookError(Exception):
    """The course gradebook could not be written; the message says why and what to do."""


def default_url(course_dir: Path) -> str:
    return f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


def define_assignment(db_url: str, template: Path, assignment: str, due: dt.datetime | None = None) -> None:
    """Record the assignment's definition with nbgrader's generate_assignment (template course -> db_url)."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    from autograder.batch import template as course_template

    config = course_template.nbgrader_config(Path(template), assignment)
    config.CourseDirectory.db_url = db_url
    app = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
    app.force = True
    ok, log, error = run_converter(app)
    if not ok:
        lines = [line for line in log.splitlines() if "ERROR" in line]
        raise GradebookError(f"nbgrader could not record the assignment in the gradebook {_safe(db_url)}: "
                             + ("; ".join(lines[-3:]) or error))
    from nbgrader.api import Gradebook

    with Gradebook(db_url, COURSE_ID) as gb:
        record = gb.find_assignment(assignment)
        if due is not None and record.duedate != due:  # none configured: the gradebook's own stands
            record.duedate = due
            gb.db.commit()


def _safe(db_url: str) -> str:
    """A URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:
        return "(the configured database)"


def record(db_url: str, template: Path, assignment: str, results, submitted_at: dict[str, dt.datetime | None],
           due: dt.datetime | None = None) -> None:
    """Write every result into the gradebook at ``db_url`` (created if needed)."""
    with _exclusive(db_url):
        _record(db_url, template, assignment, results, submitted_at, due)


# Any fixed number: every grader of this course takes the same lock.
ADVISORY_LOCK = 0x6372_6577  # "crew"


class _exclusive:
    """One writer at a time on a shared PostgreSQL gradebook (a no-op on SQLite, which locks its file)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.engine = self.connection = None

    def __enter__(self):
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        if make_url(self.db_url).get_backend_name() == "postgresql":
            self.engine = create_engine(self.db_url)
            self.connection = self.engine.connect()
            self.connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK})
        return self

    def __exit__(self, *exc) -> None:
        if self.connection is not None:
            from sqlalchemy import text

            try:
                self.connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK})
            finally:
                self.connection.close()
                self.engine.dispose()


def _record(db_url: str, template: Path, assignment: str, results, submitted_at: dict, due) -> None:
    from nbgrader.api import Gradebook

    define_assignment(db_url, template, assignment, due)
    by_student: dict[str, list] = {}
    for r in results:
        by_student.setdefault(r.student_id, []).append(r)
    with Gradebook(db_url, COURSE_ID) as gb:
        for student, rows in sorted(by_student.items()):
            gb.update_or_create_student(student)
            when = submitted_at.get(student)
            # Without a known time the recorded one stays (the formgrader compares it with timestamp.txt).
            with _quiet_backrefs():
                gb.update_or_create_submission(assignment, student, **({"timestamp": when} if when else {}))
            for r in rows:
                _record_notebook(gb, assignment, r)
        gb.db.commit()


@contextlib.contextmanager
def _quiet_backrefs():
    """Without nbgrader 0.9.6's SQLAlchemy 2 warning on every new submission.

    ``Gradebook.add_submission`` builds the submission's notebooks, grades and comments through
    backrefs before it adds the submission to the session, so SQLAlchemy says "Object of type
    <SubmittedAssignment> not in session, add operation along ... will not proceed" three times
    per student. Nothing is lost: the ``db.add(submission)`` that follows cascades to all of them
    (tests/records/test_nbgrader_gradebook.py checks the rows). To the instructor it read like a failure.
    """
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Object of type <Submitted\w*> not in session", category=SAWarning)
        yield


def _record_notebook(gb, assignment: str, r) -> None:
    from nbgrader.api import MissingEntry

    try:
        nb = gb.find_submission_notebook(r.notebook, assignment, r.student_id)
    except MissingEntry:
        return  # a notebook the assignment does not define (cannot happen for a batch's own results)
    for grade in nb.grades:
        pair = (r.cells or {}).get(grade.name)
        grade.auto_score = float(pair[0]) if pair else 0.0
        # nbgrader's SaveAutoGrades: an instructor's manual score stays, and asks to be looked at again.
        grade.needs_manual_grade = grade.manual_score is not None
    nb.flagged = r.status != "graded"
    reason = " ".join((r.reason or "").split())
    for comment in nb.comments:
        comment.auto_comment = reason if r.status != "graded" else None
    penalty = getattr(r, "late_penalty", 0.0) or 0.0
    nb.late_submission_penalty = penalty if penalty else None


def publish(course_dir: Path, out: Path, results, assignment: str, intakes: list, submissions: Path,
            handed: dict) -> None:
    """Hand-ins, graded notebooks and feedback pages into the course directory, where the formgrader and
    release_feedback look: ``submitted/`` (with ``timestamp.txt`` equal to the gradebook's time, which the
    formgrader compares), ``autograded/``, ``feedback/`` (with ``timestamp.txt`` and, from nbgrader's
    exchange, ``submission_secret.txt``)."""
    course_dir = Path(course_dir).resolve()
    for r in results:
        graded = out / "autograded" / r.student_id / assignment / f"{r.notebook}.ipynb"
        page = out / "feedback" / r.student_id / assignment / f"{r.notebook}.html"
        for src, dest in ((graded, course_dir / "autograded" / r.student_id / assignment / graded.name),
                          (page, course_dir / "feedback" / r.student_id / assignment / page.name)):
            if src.exists():
                _copy(src, dest)
    for student in intakes:
        sid = student.student_id
        submitted = course_dir / "submitted" / sid / assignment
        origin = (Path(submissions) / student.origin).resolve()
        into_itself = origin == submitted or origin == submitted.parent
        if not into_itself:
            for item in student.notebooks.values():
                if item.path is not None and Path(item.path).exists():
                    _copy(Path(item.path), submitted / f"{item.name}.ipynb")
        secret = None
        if origin.is_dir():
            found = sorted(origin.rglob("submission_secret.txt"), key=lambda p: len(p.parts))
            secret = found[0] if found else None
        when = handed.get(sid)
        stamp = f"{when.at:%Y-%m-%d %H:%M:%S.%f} UTC" if when is not None and when.at else None
        for folder in ([] if into_itself else [submitted]) + [course_dir / "feedback" / sid / assignment]:
            folder.mkdir(parents=True, exist_ok=True)
            if stamp:
                (folder / "timestamp.txt").write_text(stamp, encoding="utf-8")
            if secret is not None and secret.parent != folder:
                _copy(secret, folder / "submission_secret.txt")


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dest)
