"""The course gradebook on a real PostgreSQL server, written by two graders at once.

Two `grade` commands (two sections of a class, as on two machines) run at the same time into
one PostgreSQL gradebook; then nbgrader's own `export`, configured with that db_url, gives
every student the score grades.csv gives. The server is Debian's PostgreSQL (`make postgres`),
started by this module on a unix socket in a temporary folder and stopped at the end
(tests/helpers/pg_server.py); nothing is mocked.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.records import report
from autograder.release import sample_class as sample_class_gen
from autograder.paths import ASSIGNMENT, ROOT, SAMPLE_CLASS

from tests.helpers import pg_server

pytestmark = [pytest.mark.slow, pytest.mark.skipif(pg_server.problem() is not None,
                                                   reason=f"no PostgreSQL here: {pg_server.problem()}")]

# Two sections; each student hands in two notebooks of the sample class.
SECTIONS = {"a": {"ann": "ada_perfect", "dev": "dev_wrong_ideas"}, "b": {"bob": "cleo_partial"}}
NOTEBOOKS = ("01_sequential", "03_async")


def _env() -> dict[str, str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("COURSE_ROOT", None)
    return env


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("pg")
    course = base / "course"
    course.mkdir()
    with pg_server.Server() as pg:
        db_url = pg.create("gradebook")
        (course / "nbgrader_config.py").write_text(
            (ROOT / "nbgrader_config.py").read_text() + f"\nc.CourseDirectory.db_url = {db_url!r}\n")
        for section, students in SECTIONS.items():
            for sid, sample in students.items():
                dest = base / f"class-{section}" / sid / ASSIGNMENT
                dest.mkdir(parents=True)
                for name in NOTEBOOKS:
                    shutil.copy(next((SAMPLE_CLASS / sample).rglob(f"{name}.ipynb")), dest / f"{name}.ipynb")
        runs = {section: subprocess.Popen(
            [sys.executable, "-m", "autograder", "grade", str(base / f"class-{section}"), "--out",
             str(base / f"out-{section}"), "--course-dir", str(course), "--db", db_url, "--workers", "1",
             "--timeout", "30"], cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for section in SECTIONS}
        done = {section: proc.communicate(timeout=900) for section, proc in runs.items()}
        codes = {section: proc.returncode for section, proc in runs.items()}
        export = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "export", "--to",
                                 str(base / "export.csv")], cwd=course, env=_env(), capture_output=True, text=True,
                                timeout=600)
        yield dict(base=base, done=done, codes=codes, export=export, db_url=db_url)


def test_two_graders_write_one_postgres_gradebook_and_nbgrader_export_agrees(graded):
    for section, code in graded["codes"].items():
        assert code == 0, graded["done"][section][1][-3000:]
        assert "Gradebook: postgresql" in graded["done"][section][0]
    assert graded["export"].returncode == 0, graded["export"].stderr[-3000:]
    with open(graded["base"] / "export.csv", newline="") as handle:
        exported = {r["student_id"]: r for r in csv.DictReader(handle) if r["assignment"] == ASSIGNMENT}
    assert set(exported) == {"ann", "dev", "bob"}
    expected = {(r["student_id"], r["notebook"]): float(r["score"]) for r in sample_class_gen.read_expected()}
    for section, students in SECTIONS.items():
        rows = report.read_csv(graded["base"] / f"out-{section}" / "grades.csv")
        for sid, sample in students.items():
            mine = {r["notebook"]: float(r["score"]) for r in rows if r["student_id"] == sid}
            handed = {n: expected[(sample, n)] for n in NOTEBOOKS}
            assert {n: mine[n] for n in NOTEBOOKS} == handed  # the sample class's known scores
            assert float(exported[sid]["score"]) == sum(mine.values()) == sum(handed.values())
