"""The same notebook gets the same grade on an idle machine and on a busy one (issue 20).

The notebooks whose parts depend on timing (overlap, joins, the timing checkpoint) are graded
twice through the real ``grade`` path: once as they come, once while busy loops keep twice as
many processes as there are cores running. The grades, part by part, are the same.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.batch import run as batch
from autograder.grading import sandbox
from autograder.paths import ROOT

from crew_answers import RUBRIC, worked

pytestmark = pytest.mark.slow

CLASS = ROOT / "autograder" / "sample_class"
HOG_SECONDS = 900  # each busy loop ends by itself even if this test is killed


def _class(root: Path) -> Path:
    klass = root / "class"
    for student in ("ada_perfect", "cleo_partial"):
        folder = klass / student / "crew_processes"
        folder.mkdir(parents=True)
        for name in ("01_sequential", "03_async", "04_mixed_phases"):
            source = CLASS / student / "crew_processes" / f"{name}.ipynb"
            if source.exists():
                folder.joinpath(source.name).write_bytes(source.read_bytes())
    name, answers, _total = RUBRIC["same_role_agents"]
    folder = klass / "same_role" / "crew_processes"
    folder.mkdir(parents=True)
    nbformat.write(worked(name, answers), str(folder / f"{name}.ipynb"))
    return klass


def _grades(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept = [k for k in rows[0] if k not in ("submitted_at", "seconds_late", "late_penalty", "source")]
    return {(r["student_id"], r["notebook"]): {k: r[k] for k in kept} for r in rows}


def _hogs(count: int) -> list[subprocess.Popen]:
    loop = f"import time\nend = time.monotonic() + {HOG_SECONDS}\nwhile time.monotonic() < end: pass"
    return [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(count)]


def test_a_busy_machine_gives_the_same_grades_as_an_idle_one(tmp_path):
    if sandbox.problem() is not None:
        pytest.skip(f"no sandbox here: {sandbox.problem()}")
    klass = _class(tmp_path)
    batch.grade_submissions(klass, tmp_path / "idle", workers=2, work_root=tmp_path / "w1", cell_timeout=60)
    hogs = _hogs(2 * (os.cpu_count() or 1))
    try:
        batch.grade_submissions(klass, tmp_path / "busy", workers=2, work_root=tmp_path / "w2", cell_timeout=60)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    idle, busy = _grades(tmp_path / "idle"), _grades(tmp_path / "busy")
    assert idle == busy
    assert idle[("same_role", "03_async")]["score"] == "8"
    assert idle[("ada_perfect", "03_async")]["score"] == "8" and idle[("cleo_partial", "03_async")]["score"] == "8"
