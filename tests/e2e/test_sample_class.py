"""The bundled sample class: current with the notebooks, graded to exactly the expected scores,
feedback without hidden tests; and the command line around it."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.batch import run as batch
from autograder.grading import feedback_pages
from autograder.release import check as release_check, sample_class as sample_class_gen
from autograder.records import report
from autograder.paths import ASSIGNMENT, RELEASE, ROOT, SAMPLE_CLASS, SOURCE

pytestmark = pytest.mark.slow

def _zip_entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_the_committed_sample_class_is_current_with_the_notebooks(tmp_path):
    fresh = tmp_path / "sample_class"
    sample_class_gen.generate(fresh)
    committed = sorted(p.relative_to(SAMPLE_CLASS) for p in SAMPLE_CLASS.rglob("*") if p.is_file())
    made = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert committed == made, "run `python -m autograder.release.sample_class` and commit autograder/sample_class/"
    for rel in made:
        if rel.suffix == ".zip":
            assert _zip_entries(SAMPLE_CLASS / rel) == _zip_entries(fresh / rel), rel
        else:
            assert filecmp.cmp(SAMPLE_CLASS / rel, fresh / rel, shallow=False), (
                f"{rel} is stale: run `python -m autograder.release.sample_class` and commit the result")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    result = batch.grade_submissions(SAMPLE_CLASS, root / "out", None, cell_timeout=10, work_root=root / "work",
                                     progress_stream=open(os.devnull, "w"))
    return root / "out", result


def _rows(out: Path) -> dict[tuple[str, str], dict]:
    return {(r["student_id"], r["notebook"]): r for r in report.read_csv(out / "grades.csv")}


def test_every_sample_student_gets_exactly_the_expected_score(graded):
    out, _ = graded
    got = _rows(out)
    expected = {(r["student_id"], r["notebook"]): r for r in sample_class_gen.read_expected()}
    assert set(got) == set(expected)
    wrong = {}
    for key, want in expected.items():
        row = got[key]
        if (row["status"], float(row["score"]), float(row["max_score"])) != (
                want["status"], float(want["score"]), float(want["max_score"])):
            wrong[key] = (row["status"], row["score"], row["max_score"], row["reason"][:200])
    assert wrong == {}


def _comparable(row: dict) -> tuple:
    """A grades.csv row as the grade it gives: every column, a failed row's reason without its numbers.

    A graded row's reason may name who refused a typed answer (the kernel's check or, when that let
    it through, the witness), and which one does depends on load; the points never do.
    """
    import re

    def shown(key: str, value: str) -> str:
        if key != "reason":
            return value
        return re.sub(r"[0-9.]+", "#", value) if row["status"] != "graded" else ""

    return tuple(sorted((k, shown(k, v)) for k, v in row.items()))


def test_a_loopback_dask_cluster_grades_the_sample_class_exactly_as_the_local_default(graded, tmp_path):
    """`grade --scheduler`: a scheduler and two worker processes on 127.0.0.1 (tests/helpers/dask_loopback.py)."""
    from tests.helpers import dask_loopback

    out, local = graded
    with dask_loopback.Cluster(tmp_path / "dask", workers=2) as loopback:
        remote = batch.grade_submissions(SAMPLE_CLASS, tmp_path / "out", None, cell_timeout=10,
                                         work_root=tmp_path / "work", progress_stream=open(os.devnull, "w"),
                                         scheduler=loopback.address)
    assert remote.timings.get("cluster") == 2 and local.timings.get("cluster") == batch.default_workers()
    mine, theirs = _rows(out), _rows(tmp_path / "out")
    assert set(mine) == set(theirs)
    assert {k: _comparable(r) for k, r in theirs.items()} == {k: _comparable(r) for k, r in mine.items()}


def test_the_rebuilt_grader_says_what_the_old_one_said(graded):
    """Issue 22 rebuilt autograder/ with behaviour unchanged: every row (scores, statuses, reasons, per-part
    columns), every feedback page's banner and every test cell's message are those recorded before it."""
    import json

    from tests.helpers import golden_digest

    out, _ = graded
    want = json.loads((ROOT / "tests" / "golden" / "sample_class.json").read_text(encoding="utf-8"))
    got = json.loads(json.dumps(golden_digest.digest(out)))
    assert got["rows"] == want["rows"]
    assert got["banners"] == want["banners"]
    changed = {nb: {gid: (errors, got["test_errors"].get(nb, {}).get(gid)) for gid, errors in cells.items()
                    if got["test_errors"].get(nb, {}).get(gid) != errors}
               for nb, cells in want["test_errors"].items()}
    assert not {nb: c for nb, c in changed.items() if c}, changed
    assert set(got["test_errors"]) == set(want["test_errors"])


def test_hand_typed_results_earn_no_points(graded):
    # Typed-in orders, answers and timings: each check that reads them compares with real runs.
    out, _ = graded
    got = _rows(out)
    row = got[("gus_hardcoder", "03_async")]
    assert float(row["score"]) == 6 and float(row["3.5 test_async_timing"]) == 0  # loses the 2 timing points
    # Typed-in seconds time no run: the kernel's check says so, or, where its wider window let them
    # through (an idle machine), the witness does (witness_rules._measured). Either way, not a point.
    import html
    import re

    page = html.unescape(re.sub(r"<[^>]+>", "", (out / "feedback" / "gus_hardcoder" / ASSIGNMENT / "03_async.html")
                                .read_text()))
    witness_said = "test_async_timing" in row["reason"] and "never saw" in row["reason"]
    assert witness_said or "does not match any run of your crew" in page, row["reason"]


def test_sample_feedback_never_shows_a_hidden_test_or_a_server_path(graded):
    out, _ = graded
    hidden = release_check.hidden_test_lines(SOURCE / ASSIGNMENT)
    assert hidden, "the source has hidden tests: this test must see them"
    pages = sorted((out / "feedback").rglob("*.html"))
    assert len(pages) == len(_rows(out))
    roots = [str(ROOT), "/dev/shm", sys.prefix, str(Path.home()), "/tmp/"]
    for page in pages:
        assert feedback_pages.leaks(page.read_text(), hidden, roots) == [], page


def test_a_graded_notebooks_pictures_are_images_in_its_feedback(graded):
    """Each figure a graded kernel shows is a PNG, in the autograded notebook and on the feedback page.

    A warm kernel forked from a process that had imported matplotlib's inline backend showed every
    figure as the text ``<Figure size 1000x475 with 1 Axes>`` (fixed in 1b99520); this catches it."""
    out, _ = graded
    for path in sorted((out / "autograded" / "ada_perfect").rglob("*.ipynb")):
        outputs = [o for cell in nbformat.read(str(path), as_version=4).cells if cell.cell_type == "code"
                   for o in cell.get("outputs", []) if o.get("output_type") in ("display_data", "execute_result")]
        figures = [o for o in outputs if str(o.get("data", {}).get("text/plain", "")).startswith("<Figure")]
        assert all("image/png" in o["data"] for o in figures), (path.name, [o["data"]["text/plain"] for o in figures])
        pngs = sum("image/png" in o.get("data", {}) for o in outputs)
        page = (out / "feedback" / path.relative_to(out / "autograded")).with_suffix(".html").read_text()
        assert page.count("data:image/png;base64,") == pngs, path.name
        assert "&lt;Figure size" not in page, path.name
    pictures = [nb for nb in (out / "autograded" / "ada_perfect").rglob("*.ipynb")
                if "image/png" in nb.read_text()]
    assert len(pictures) >= 4, "ada's notebooks draw Gantt charts and DAGs: their outputs must hold PNGs"


def test_the_summary_names_every_student_with_total_and_failures(graded):
    out, result = graded
    summary = (out / "summary.txt").read_text()
    for student in sample_class_gen.STUDENTS:
        line = next(line for line in summary.splitlines() if line.startswith(student))
        totals = report.per_student(result.results)[student]
        assert f"{totals['score']:g} / {totals['max']:g}" in line
    # The sample class's own README.md and expected.csv are named once, not as an intake note each.
    assert "Not hand-ins, not graded (neither a folder nor a .zip): README.md, expected.csv" in summary
    assert "README.md" not in summary.split("Intake notes:")[-1].split("Not hand-ins")[0]


def test_the_release_is_what_learners_may_get():
    """Static half of `release` (the executed half is the sample class: perfect and untouched students)."""
    assert release_check.static_problems(SOURCE / ASSIGNMENT, RELEASE / ASSIGNMENT) == []
    assert release_check.stale_problems(SOURCE, RELEASE / ASSIGNMENT) == []


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_cli_grades_a_folder_prints_the_table_and_where_things_are(tmp_path):
    klass = tmp_path / "class"
    for student in ("ada_perfect", "ben_untouched"):
        (klass / student).mkdir(parents=True)
        for path in (SAMPLE_CLASS / student).rglob("01_sequential.ipynb"):
            (klass / student / path.name).write_bytes(path.read_bytes())
    done = _cli("grade", str(klass), "--out", str(tmp_path / "out"), "--workers", "2", "--timeout", "20",
                "--no-gradebook")  # the course gradebook path: tests/records/test_nbgrader_gradebook.py
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ada_perfect" in done.stdout and "6 / 28" in done.stdout  # one of four graded notebooks handed in
    assert f"{tmp_path / 'out'}/grades.csv" in done.stdout.replace(str(ROOT) + "/", "")
    rows = report.read_csv(tmp_path / "out" / "grades.csv")
    assert {(r["student_id"], r["notebook"], r["score"], r["status"]) for r in rows if r["notebook"] == "01_sequential"} \
        == {("ada_perfect", "01_sequential", "6", "graded"), ("ben_untouched", "01_sequential", "0", "graded")}
    assert "[2/2]" in done.stderr  # progress, one line per student when not on a terminal


def test_cli_says_why_when_grading_cannot_run(tmp_path):
    done = _cli("grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _cli("grade", str(empty), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "No student was found" in done.stderr
