"""What grading one notebook gives: the row, the pages and the log, as they cross from a worker to the batch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class NotebookResult:
    student_id: str
    notebook: str
    score: float
    max_score: float
    status: str  # "graded" or "failed"
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    feedback_html: str | None = None  # the file's text, sanitized
    autograded: str | None = None  # the autograded notebook's JSON
    log: str = ""
    seconds: float = 0.0
    cells: dict[str, list[float]] = field(default_factory=dict)  # grade_id -> [score, max_score]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step (bench, logs)
    # Set after grading by autograder/records/late.py (score is then after the penalty).
    submitted_at: str = ""  # UTC, "YYYY-MM-DD HH:MM:SS"; "" when unknown
    seconds_late: float = 0.0
    late_penalty: float = 0.0
    source: str = ""  # the folder or .zip in the submissions folder this came from
    # True when the grader itself failed (no worker, a lost scheduler, a grader bug): the row says
    # nothing about the learner's work, so it never replaces an earlier result (course_records.write).
    grader_failed: bool = False

    feedback_path: str | None = None
    autograded_path: str | None = None
    log_path: str | None = None

    def saved(self, folder: Path) -> dict:
        """Move the bulky texts into files in ``folder``; return JSON-able data (worker -> pool)."""
        folder.mkdir(parents=True, exist_ok=True)
        for key, suffix in (("feedback_html", ".html"), ("autograded", ".ipynb"), ("log", ".log")):
            text = getattr(self, key)
            if text:
                path = folder / f"{self.notebook}{suffix}"
                path.write_text(text, encoding="utf-8")
                setattr(self, key.replace("_html", "") + "_path", str(path))
            setattr(self, key, None if key != "log" else "")
        return asdict(self)

    @classmethod
    def from_saved(cls, data: dict) -> "NotebookResult":
        return cls(**data)


def failed_result(student: str, notebook: str, max_score: float, reason: str) -> NotebookResult:
    from autograder.grading import feedback_pages

    result = NotebookResult(student_id=student, notebook=notebook, score=0.0, max_score=max_score,
                            status="failed", reason=reason)
    result.feedback_html = feedback_pages.finish(None, result, [])
    return result


def grader_failure(student: str, notebook: str, max_score: float, reason: str) -> NotebookResult:
    """A row for a notebook the grader could not grade through no fault of the learner's."""
    result = failed_result(student, notebook, max_score, reason)
    result.grader_failed = True
    return result


def ungraded_result(student: str, notebook: str) -> NotebookResult:
    """A notebook without graded cells: nothing to score, so its cells are not run (it would only cost time)."""
    from autograder.grading import feedback_pages

    result = NotebookResult(student_id=student, notebook=notebook, score=0.0, max_score=0.0, status="graded",
                            reason="This notebook has no graded cells, so the grader did not run it.")
    result.feedback_html = feedback_pages.finish(None, result, [])
    return result
