"""The README's path 1, line for line: its bash block, run in a copy of the course (a path with a space).

Issue 23.3: the sequence as the README wrote it stopped at ``nbgrader release_feedback``
("Unwritable directory ... build/exchange", then FileNotFoundError for the timestamp.txt and
submission_secret.txt of hand-ins copied into submitted/ by hand). Here the hand-ins are a
platform's download: a folder with a renamed notebook, a zip, a partly done student.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.release import sample_class as sample_class_gen
from autograder.paths import ASSIGNMENT, ROOT, SAMPLE_CLASS

pytestmark = pytest.mark.slow  # runs nbgrader's whole path 1 on a copy of the course

STUDENTS = ("ada_perfect", "cleo_partial", "ivy_zipped")


def readme_block() -> str:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### Path 1: nbgrader's own commands", 1)[1]
    return re.search(r"```bash\n(.*?)```", section.split("### Path 2", 1)[0], re.S).group(1)


def _copy_course(dest: Path) -> None:
    """The tracked files, as a fresh clone has them, and the project environment."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    (dest / ".venv").symlink_to(ROOT / ".venv")


def _download(dest: Path) -> None:
    """As a learning platform gives a class: ada's 01 renamed, ivy a zip."""
    for name in STUDENTS:
        src = SAMPLE_CLASS / name if name != "ivy_zipped" else SAMPLE_CLASS / f"{name}.zip"
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dest / src.name)
    ada = dest / "ada_perfect" / ASSIGNMENT
    (ada / "01_sequential.ipynb").rename(ada / "01_Sequential (1).ipynb")


@pytest.fixture(scope="module")
def path1(tmp_path_factory):
    base = tmp_path_factory.mktemp("path1")
    course, handins = base / "course clone", base / "download"
    _copy_course(course)
    _download(handins)
    env = {k: v for k, v in os.environ.items() if k != "COURSE_ROOT"}  # a real course has none
    env["HANDINS"] = str(handins)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_block()], cwd=course, env=env,
                          capture_output=True, text=True, timeout=1500)
    return course, done


def test_the_readmes_path_1_runs_to_release_feedback_from_a_platforms_download(path1):
    course, done = path1
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Unwritable directory" not in done.stderr and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "01_Sequential (1).ipynb taken as 01_sequential.ipynb (renamed)" in done.stdout, done.stdout


def test_each_students_scores_are_the_expected_ones_in_nbgraders_export(path1):
    course, _ = path1
    expected: dict[str, float] = {}
    for row in sample_class_gen.read_expected():
        if row["student_id"] in STUDENTS:
            expected[row["student_id"]] = expected.get(row["student_id"], 0.0) + float(row["score"])
    with open(course / "grades.csv", newline="") as handle:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert exported == expected


def test_released_feedback_is_where_fetch_feedback_looks_for_each_students_notebooks(path1):
    from nbgrader.utils import notebook_hash

    course, _ = path1
    released = course / "build" / "exchange" / "crew-processes" / "feedback"
    for student in STUDENTS:
        submitted = course / "submitted" / student / ASSIGNMENT
        secret = (submitted / "submission_secret.txt").read_text()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} UTC", (submitted / "timestamp.txt").read_text())
        for notebook in sorted(submitted.glob("*.ipynb")):
            page = released / f"{notebook_hash(secret=secret, notebook_id=notebook.stem)}.html"
            assert page.is_file(), f"{student}/{notebook.name}: no released feedback at {page.name}"
