"""How the scripted manager picks a coworker: one documented, deterministic rule.

For a task (its description and expected output) and each coworker (role, goal):

1. kind match: the kind of work the task names first (research, analysis,
   write, edit, synthesis, design, review; see ``course.replies.KINDS``) against
   the kind the coworker's role names (its goal when the role names none):
   same kind 6 points, a related kind (table below) 3 points;
2. shared words: +2 for each word stem the task shares with the role,
   +1 for each it shares with the goal (stems: lower case, first 5 letters,
   words of 4+ letters, common words ignored);
3. the highest score wins; a tie goes to the coworker listed first in the crew.

So the same crew always delegates the same way, and a learner can predict it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from course.replies import kind_in

RELATED = {
    ("synthesis", "write"), ("write", "synthesis"),
    ("review", "edit"), ("edit", "review"),
    ("analysis", "research"), ("research", "analysis"),
    ("design", "write"),
}
_COMMON = {
    "with", "from", "that", "this", "into", "your", "their", "have", "about", "based", "should",
    "expert", "skilled", "final", "each", "what", "which", "will", "make", "sure", "task", "team",
    "work", "good", "best", "great", "very", "more", "most", "all", "using",
}
_WORD = re.compile(r"[a-z]{4,}")


@dataclass(frozen=True)
class Coworker:
    role: str
    goal: str = ""


def stems(text: str) -> set[str]:
    return {word[:5] for word in _WORD.findall(text.lower()) if word not in _COMMON}


def score(task: str, coworker: Coworker) -> int:
    task_kind = kind_in(task)
    worker_kind = kind_in(coworker.role) or kind_in(coworker.goal)
    points = 0
    if task_kind and worker_kind:
        if task_kind == worker_kind:
            points += 6
        elif (task_kind, worker_kind) in RELATED:
            points += 3
    task_stems = stems(task)
    points += 2 * len(task_stems & stems(coworker.role))
    points += len(task_stems & stems(coworker.goal))
    return points


def choose(task: str, coworkers: list[Coworker]) -> Coworker:
    if not coworkers:
        raise ValueError("a manager needs at least one coworker to delegate to")
    # max() keeps the first of equal scores: ties go to the earlier coworker.
    return max(coworkers, key=lambda c: score(task, c))
