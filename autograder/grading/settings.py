"""How to grade: one object, the same for every notebook of a batch, sent to each worker as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from autograder import paths


@dataclass
class Settings:
    """How to grade; the same for every student of a batch."""

    template: str  # course folder with source/<assignment>, gradebook.db, release/<assignment>
    kit: str  # pristine copy of the kit (paths.KIT_PARTS)
    work: str  # where per-notebook course folders are made
    assignment: str = paths.ASSIGNMENT
    course_id: str = paths.COURSE_ID
    cell_timeout: int = paths.CELL_TIMEOUT
    iopub_timeout: int = paths.IOPUB_TIMEOUT
    startup_timeout: int = paths.STARTUP_TIMEOUT
    max_cell_output: int = paths.MAX_CELL_OUTPUT
    kernel: str = "fresh"  # "fresh" (a new python per notebook) or "fork" (see autograder/grading/warm_kernels.py)
    keep_work: bool = False
    kit_manifest: dict = field(default_factory=dict)  # the kit as it was before any learner code ran
    run_ungraded: bool = False  # also execute notebooks that have no graded cell (0 points)
    sandbox: bool = True  # every kernel in a bwrap sandbox (autograder/grading/sandbox.py); False: --no-sandbox
    limits: dict = field(default_factory=dict)  # sandbox.Limits as a dict (defaults when empty)
    shared_runs: bool = True  # test cells share the grader's crew runs; False: each runs its own (bench)
    witness: bool = True  # the model answers from the grader and confirms each test (autograder/grading/witness.py)

    @property
    def warm_kernels(self) -> bool:
        """Kernels come from a warm process (always in a sandbox: it is the sandbox's first process)."""
        return self.kernel == "fork" or self.sandbox

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Settings":
        return cls(**json.loads(text))
