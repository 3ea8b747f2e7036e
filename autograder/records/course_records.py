"""What a batch writes after grading: late policy, grades.csv (whole or merged), the course gradebook.

Kept out of batch.py so the grading engine stays about grading: batch calls
``only`` (``--student``), ``handed_times``, ``apply_late_policy`` and ``write``.
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from autograder.records import gradebook, late, parts as parts_mod, regrade, report


class RecordsError(Exception):
    """The results could not be written or recorded; the message says why and what to do."""


def held_students(results: list) -> set[str]:
    """The students with a notebook the grader itself failed on."""
    return {r.student_id for r in results if r.grader_failed}


def incomplete_note(held: set[str], earlier: bool, out: Path) -> str:
    names = ", ".join(sorted(held)[:10]) + (" ..." if len(held) > 10 else "")
    kept = (f"Their earlier results in {out} and in the gradebook are kept as they were." if earlier else
            "Their rows say 'failed' for now, with the reason.")
    return (f"\nINCOMPLETE: the grader itself failed for {len(held)} student(s) ({names}), not through their "
            f"work. {kept} Run the same command again to grade them.\n")


def only(intakes: list, students: list[str]) -> list:
    """The intakes of ``students`` (``--student``); an unknown id is an error that lists the known ones."""
    known = {s.student_id for s in intakes}
    unknown = [s for s in students if s not in known]
    if unknown:
        raise RecordsError(f"No hand-in for {', '.join(unknown)} in the submissions folder. Student ids there: "
                           + ", ".join(sorted(known)[:20]) + ("..." if len(known) > 20 else ""))
    return [s for s in intakes if s.student_id in set(students)]


def handed_times(intakes: list, submissions: Path, course_config: Config | None,
                 assignment: str) -> tuple[dict[str, late.Handed], set[str]]:
    """When each student handed in, and who did so after the due date (known before grading)."""
    policy = late.LatePolicy.from_config(course_config or Config(), assignment)
    handed = {s.student_id: late.submission_time(Path(submissions) / s.origin) for s in intakes}
    return handed, {sid for sid, info in handed.items() if policy.seconds_late(info.at) > 0}


def apply_late_policy(results: list, handed: dict[str, late.Handed], course_config: Config | None,
                      assignment: str) -> None:
    late.apply(results, handed, late.LatePolicy.from_config(course_config or Config(), assignment))


def write(out: Path, results: list, assignment: str, summary: str, template: Path, *, students: list[str] | None,
          gradebook_url: str | None, course_dir: Path | None, handed: dict[str, late.Handed],
          intakes: list, submissions: Path, course_config: Config | None) -> str:
    """grades.csv and the rest into ``out`` (merged when ``students``), then the gradebook; returns the summary.

    A student the grader failed on (``NotebookResult.grader_failed``) keeps every earlier result, in
    ``out`` and in the gradebook: such a row says nothing of their work. Only when ``out`` holds no
    earlier grades.csv is the failed row written, so that the student is not missing from it.
    """
    assignment_parts = parts_mod.parts(Path(template) / "source" / assignment)
    held = held_students(results)
    earlier = (Path(out) / "grades.csv").exists()
    if held and earlier:
        everyone = students or sorted({r.student_id for r in results})
        students = [s for s in everyone if s not in held]
        results = [r for r in results if r.student_id not in held]
    try:
        if held and earlier and not students:
            pass  # nobody's results can be trusted from this run: out stays exactly as it was
        elif students:
            summary = regrade.merge_outputs(out, results, assignment, assignment_parts, students)
        else:
            report.write_outputs(out, results, assignment, summary, assignment_parts)
    except regrade.RegradeError as err:
        raise RecordsError(str(err)) from err
    except OSError as err:
        raise RecordsError(f"The results could not be written to {out}: {err}") from err
    if held:
        note = incomplete_note(held, earlier, out)
        summary += note
        if students or not earlier:  # a summary.txt was written by this run: it says so too
            with open(Path(out) / "summary.txt", "a", encoding="utf-8") as handle:
                handle.write(note)
    results = [r for r in results if r.student_id not in held]
    intakes = [s for s in intakes if s.student_id not in held]
    if gradebook_url and results:
        due = late.LatePolicy.from_config(course_config or Config(), assignment).due
        try:
            gradebook.record(gradebook_url, template, assignment, results,
                             {sid: h.at for sid, h in handed.items()}, due)
            if course_dir:
                gradebook.publish(course_dir, out, results, assignment, intakes, Path(submissions), handed)
        except Exception as err:  # a database that refuses: grades.csv is written, say so
            raise RecordsError(f"grades.csv and the feedback are in {out}, but the gradebook could not be "
                               f"written ({type(err).__name__}: {err}). Fix the gradebook (or pass another "
                               "--db) and run the same command again: re-grading updates, never duplicates.") \
                from err
    return summary
