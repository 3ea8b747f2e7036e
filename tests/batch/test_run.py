"""The whole batch with real nbgrader runs, on a tiny synthetic assignment full of bad submissions.

One class is graded once (module fixture); each test reads its results. Every
bad case must end with a clear status and reason, earn no point it did not
earn, and leave the other students alone.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.batch import run as batch
from autograder.grading import feedback_pages
from autograder.paths import ROOT

from tests.helpers import autograder_synth as synth

pytestmark = pytest.mark.slow

CELL_TIMEOUT = 3
WRONG_DOUBLE = {"answer_double": "def double(x):\n    return 0"}
SWALLOW = ("import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
           "    except KeyboardInterrupt:\n        pass")
NETWORK = ("import course\nimport urllib.request\ntry:\n    urllib.request.urlopen('http://example.com', timeout=3)\n"
           "except Exception as err:\n    print(type(err).__name__)\ndef double(x):\n    return 2 * x")
TAMPER_KIT = ("import pathlib, autograder\n"
              "checks = pathlib.Path(autograder.__file__).parent / 'checks' / '__init__.py'\n"
              "checks.write_text(checks.read_text() + '\\n# every check passes now\\n')")
# The grader's own bytecode of the checks (autograder/grading/kit.py writes it; kernels and the guard trust a
# .pyc made from its source's exact bytes): a notebook swaps in code of its own under the same header.
TAMPER_BYTECODE = ("import importlib.util, marshal, pathlib, autograder\n"
                   "source = pathlib.Path(autograder.__file__).parent / 'checks' / '__init__.py'\n"
                   "pyc = pathlib.Path(importlib.util.cache_from_source(str(source)))\n"
                   "pyc.write_bytes(pyc.read_bytes()[:16] + marshal.dumps(compile('def integrity(): pass', "
                   "str(source), 'exec')))")
TAMPER_GRADEBOOK = ("import pathlib, sqlite3\n"
                    "db = sqlite3.connect(pathlib.Path.cwd().parents[2] / 'gradebook.db')\n"
                    "db.execute(\"UPDATE source_cell SET source = 'pass'\")\n"
                    "db.execute('UPDATE grade_cells SET max_score = 100')\n"
                    "db.commit()")
TAMPER_REPO = ("import os, pathlib\n"
               "p = pathlib.Path(os.environ['AUTOGRADER_TEST_REPO_KIT']) / 'course' / 'routing.py'\n"
               "p.write_text(p.read_text() + '\\n# changed by a submission\\n')")
BACKGROUND = "import subprocess\nsubprocess.Popen(['sleep', '600'], start_new_session=True)"
HUGE = "for i in range(30000):\n    print('x' * 100)"

# student -> notebook -> (status, score); max is 2 for 00_double and 3 for 01_greet
EXPECTED = {
    "perfect": {"00_double": ("graded", 2), "01_greet": ("graded", 3)},
    "renamed": {"00_double": ("graded", 2), "01_greet": ("graded", 3)},
    "untouched": {"00_double": ("graded", 0), "01_greet": ("graded", 0)},
    "partial": {"00_double": ("graded", 2), "01_greet": ("graded", 1)},
    "loop": {"00_double": ("graded", 0), "01_greet": ("graded", 3)},
    "swallow": {"00_double": ("failed", 0), "01_greet": ("graded", 3)},
    "raises": {"00_double": ("graded", 0), "01_greet": ("graded", 3)},
    "dies": {"00_double": ("failed", 0), "01_greet": ("graded", 3)},
    "malformed": {"00_double": ("failed", 0), "01_greet": ("graded", 3)},
    "missing": {"00_double": ("failed", 0), "01_greet": ("graded", 3)},
    "deleted_test": {"00_double": ("graded", 2), "01_greet": ("graded", 0)},
    "edited_test": {"00_double": ("graded", 0), "01_greet": ("graded", 3)},
    "huge_output": {"00_double": ("graded", 2), "01_greet": ("graded", 0)},
    "network": {"00_double": ("graded", 2), "01_greet": ("graded", 0)},
    # In the sandbox the kit is read-only and the gradebook out of sight: each attempt is a cell
    # error, and the notebook is graded as written, the attempt reported (tests/grading/test_sandbox.py).
    "tamper_kit": {"00_double": ("graded", 2), "01_greet": ("graded", 3)},
    "tamper_bytecode": {"00_double": ("graded", 2), "01_greet": ("graded", 3)},
    "tamper_gradebook": {"00_double": ("graded", 0), "01_greet": ("graded", 0)},
    "tamper_repo": {"00_double": ("graded", 2), "01_greet": ("graded", 0)},
    "background": {"00_double": ("graded", 2), "01_greet": ("graded", 0)},
    "unknown_metadata": {"00_double": ("graded", 2), "01_greet": ("graded", 0)},
    "zipped": {"00_double": ("graded", 2), "01_greet": ("graded", 3)},
}
REASONS = {
    ("loop", "00_double"): ["ran longer than 3 s and was stopped"],
    ("swallow", "00_double"): ["did not stop when interrupted", "did not run"],
    ("dies", "00_double"): ["kernel stopped", "did not run"],
    ("malformed", "00_double"): ["damaged", "not valid notebook JSON"],
    ("missing", "00_double"): ["was not handed in"],
    ("deleted_test", "00_double"): ["'test_double' was deleted", "put back and graded"],
    ("deleted_test", "01_greet"): ["'test_greet' was deleted"],
    ("edited_test", "00_double"): ["'test_double' was edited"],
    ("edited_test", "01_greet"): ["points of 'test_greet' were changed"],
    ("huge_output", "00_double"): ["was cut"],
    ("network", "00_double"): ["tried to reach the network (example.com)"],
    ("background", "00_double"): ["background process"],
    ("tamper_kit", "00_double"): ["tried to rewrite the course kit", "autograder/checks/__init__.py", "sandbox refused",
                                  "graded on its answers"],
    ("tamper_bytecode", "00_double"): ["tried to rewrite the course kit",
                                       f"autograder/checks/__pycache__/__init__.{sys.implementation.cache_tag}.pyc", "sandbox refused"],
}


def _release(tmp_root: Path) -> dict[str, nbformat.NotebookNode]:
    return synth.released(tmp_root)[1]


def _class(root: Path, rel: dict) -> Path:
    S, good, wrong_greet = synth.student_notebook, synth.GOOD, {"answer_greet": "def greet(name):\n    return 0"}
    d, g = rel["00_double"], rel["01_greet"]
    klass = root / "class"
    students = {
        "perfect": {"00_double": S(d, good), "01_greet": S(g, good)},
        "untouched": {"00_double": d, "01_greet": g},
        "partial": {"00_double": S(d, good), "01_greet": S(g, {"answer_greet": "def greet(name):\n    return 'hi a'"})},
        "loop": {"00_double": S(d, {"answer_double": "while True:\n    pass"}), "01_greet": S(g, good)},
        "swallow": {"00_double": S(d, {"answer_double": SWALLOW}), "01_greet": S(g, good)},
        "raises": {"00_double": S(d, {"answer_double": "raise ValueError('not done')"}), "01_greet": S(g, good)},
        "dies": {"00_double": S(d, {"answer_double": "import os\nos._exit(1)"}), "01_greet": S(g, good)},
        "malformed": {"00_double": '{"cells": [{"cell_type": "code", "source": "x',
                      "01_greet": S(g, good)},
        "missing": {"00_double": None, "01_greet": S(g, good)},
        "deleted_test": {"00_double": S(d, good, drop=("test_double",)),
                         "01_greet": S(g, wrong_greet, drop=("test_greet", "test_greet_hidden"))},
        "edited_test": {"00_double": S(d, WRONG_DOUBLE, edit={"test_double": "pass"}),
                        "01_greet": S(g, good, points={"test_greet": 100})},
        "huge_output": {"00_double": S(d, good, append=[HUGE]), "01_greet": g},
        "network": {"00_double": S(d, {"answer_double": NETWORK}), "01_greet": g},
        "tamper_kit": {"00_double": S(d, good, insert_before={"test_double": TAMPER_KIT}), "01_greet": S(g, good)},
        "tamper_bytecode": {"00_double": S(d, good, insert_before={"test_double": TAMPER_BYTECODE}),
                            "01_greet": S(g, good)},
        "tamper_gradebook": {"00_double": S(d, WRONG_DOUBLE, insert_before={"test_double": TAMPER_GRADEBOOK}),
                             "01_greet": g},
        "tamper_repo": {"00_double": S(d, good, insert_before={"test_double": TAMPER_REPO}), "01_greet": g},
        "background": {"00_double": S(d, good, append=[BACKGROUND]), "01_greet": g},
    }
    for student, notebooks in students.items():
        synth.write_student(klass / student, notebooks, layout="nested" if student == "perfect" else "flat")
    # A cell that kept nbgrader metadata the gradebook does not know (crashes stock nbgrader
    # with add_missing_cells), posing as a 50-point test.
    fake = S(d, good, append=["print('bonus')"])
    fake.cells[-1].metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "locked": False, "points": 50,
                                           "schema_version": 3, "solution": False}
    synth.write_student(klass / "unknown_metadata", {"00_double": fake, "01_greet": g})
    # Names a learning platform gives files: another case, a copy mark, the student's name in front.
    (klass / "renamed").mkdir()
    nbformat.write(S(d, good), str(klass / "renamed" / "00_Double (1).ipynb"))
    nbformat.write(S(g, good), str(klass / "renamed" / "Rena Med_01-greet-1.ipynb"))
    with zipfile.ZipFile(klass / "zipped.zip", "w") as zf:
        for name in synth.MAX:
            zf.writestr(f"zipped/crew_processes/{name}.ipynb", nbformat.writes(S(rel[name], good)))
    return klass


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    rel = _release(root)
    klass = _class(root, rel)
    repo_kit = root / "repo-kit"
    for package in ("course", "autograder"):
        shutil.copytree(ROOT / package, repo_kit / package,
                        ignore=shutil.ignore_patterns("__pycache__", "sample_class"))
    os.environ["AUTOGRADER_TEST_REPO_KIT"] = str(repo_kit)
    before = synth.folder_digest(klass)
    # The temp dir every process of the batch inherits, watched: the grading processes are killed
    # at the end (their own clean-up never runs), so what they leave there stays unless removed.
    temp = root / "temp"
    temp.mkdir(mode=0o700)
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = str(temp), None
    try:
        result = batch.grade_submissions(klass, root / "out", 2, source_root=root / "course" / "source",
                                         kit_root=repo_kit, cell_timeout=CELL_TIMEOUT, work_root=root / "work",
                                         progress_stream=open(os.devnull, "w"))
    finally:
        os.environ.pop("AUTOGRADER_TEST_REPO_KIT", None)
        if saved[0] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[0]
        tempfile.tempdir = saved[1]
    rows = {(r.student_id, r.notebook): r for r in result.results}
    return {"result": result, "rows": rows, "root": root, "klass": klass, "before": before, "rel": rel,
            "temp_left": sorted(p.name for p in temp.iterdir())}


def test_every_student_and_notebook_has_exactly_the_expected_grade(graded):
    got = {(s, n): (r.status, r.score, r.max_score) for (s, n), r in graded["rows"].items()}
    want = {(s, n): (status, score, synth.MAX[n]) for s, nbs in EXPECTED.items() for n, (status, score) in nbs.items()}
    assert got == want


def test_a_renamed_notebook_is_graded_and_its_row_says_which_file(graded):
    rows = graded["rows"]
    assert rows[("renamed", "00_double")].reason.startswith("Graded 00_Double (1).ipynb as 00_double.ipynb (renamed).")
    assert "Rena Med_01-greet-1.ipynb" in rows[("renamed", "01_greet")].reason


def test_grades_csv_matches_the_results(graded):
    from autograder.records import report

    rows = report.read_csv(graded["root"] / "out" / "grades.csv")
    assert len(rows) == len(graded["rows"])
    for row in rows:
        r = graded["rows"][(row["student_id"], row["notebook"])]
        assert row["assignment"] == "crew_processes"
        assert (row["status"], float(row["score"]), float(row["max_score"])) == (r.status, r.score, r.max_score)
        if row["status"] == "failed":
            assert len(row["reason"]) > 30, row


@pytest.mark.parametrize("key", sorted(REASONS))
def test_bad_cases_say_what_happened(graded, key):
    reason = graded["rows"][key].reason
    for words in REASONS[key]:
        assert words in reason, reason


def test_one_feedback_page_per_student_and_notebook_without_hidden_tests_or_paths(graded):
    out = graded["root"] / "out" / "feedback"
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == len(graded["rows"])
    hidden = ["assert double(21) == 42", "assert greet('zz') == 'hi zz'"]
    roots = [str(graded["root"]), "/dev/shm", str(ROOT), sys.prefix, str(Path.home())]
    for page in pages:
        text = page.read_text()
        assert feedback_pages.leaks(text, hidden, roots) == [], page
        assert "autograder-status" in text
    partial = (out / "partial" / "crew_processes" / "01_greet.html").read_text()
    assert "greet must work for any name" in partial  # the hidden test's message is the learner's hint
    huge = out / "huge_output" / "crew_processes" / "00_double.html"
    assert huge.stat().st_size < 1_500_000


def test_a_failed_notebook_without_a_run_still_gets_a_page_that_says_why(graded):
    page = (graded["root"] / "out" / "feedback" / "malformed" / "crew_processes" / "00_double.html").read_text()
    assert "damaged" in page and "0 / 2 points" in page


def test_the_learners_folder_is_untouched(graded):
    assert synth.folder_digest(graded["klass"]) == graded["before"]


def test_the_repository_kit_is_out_of_reach_of_a_notebook(graded):
    """The repo (and the grader's environment naming it) do not exist inside the sandbox."""
    assert graded["result"].warnings == []
    tamper = graded["rows"][("tamper_repo", "00_double")]
    assert (tamper.status, tamper.score) == ("graded", 2)
    autograded = graded["root"] / "out" / "autograded" / "tamper_repo" / "crew_processes" / "00_double.ipynb"
    assert "KeyError" in autograded.read_text()  # AUTOGRADER_TEST_REPO_KIT is not in the kernel's environment


def test_without_a_sandbox_a_kit_or_gradebook_change_scores_0_and_says_so(graded, tmp_path):
    """--no-sandbox keeps the older defences: private kit and gradebook copies, compared afterwards."""
    klass = tmp_path / "class"
    for student in ("tamper_kit", "tamper_bytecode", "tamper_gradebook"):
        shutil.copytree(graded["klass"] / student, klass / student)
    result = batch.grade_submissions(klass, tmp_path / "out", 2, source_root=graded["root"] / "course" / "source",
                                     cell_timeout=CELL_TIMEOUT, work_root=tmp_path / "work", sandbox=False,
                                     progress_stream=open(os.devnull, "w"))
    rows = {(r.student_id, r.notebook): r for r in result.results}
    kit, book = rows[("tamper_kit", "00_double")], rows[("tamper_gradebook", "00_double")]
    assert (kit.status, kit.score) == ("failed", 0) and "autograder/checks/__init__.py" in kit.reason
    bytecode = rows[("tamper_bytecode", "00_double")]
    assert (bytecode.status, bytecode.score) == ("failed", 0)
    assert f"autograder/checks/__pycache__/__init__.{sys.implementation.cache_tag}.pyc was changed" in bytecode.reason
    assert (book.status, book.score) == ("failed", 0) and "changed the grader's gradebook" in book.reason
    assert all(batch.NO_SANDBOX_NOTE in r.reason for r in result.results)
    assert "Sandbox: OFF" in (tmp_path / "out" / "summary.txt").read_text()


def test_no_process_is_left_behind(graded):
    import subprocess

    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "sleep 600" not in ps


def test_nothing_is_left_in_the_temp_dir(graded):
    # Issue 21: 24 crew-course-<pid>-* folders and dask-scratch-space were left after one `make grade`.
    assert graded["temp_left"] == []


def test_regrading_is_safe_and_gives_the_same_result_in_fresh_kernels(graded, tmp_path):
    """A second run (other kernel mode, same out folder) changes nothing for the same students."""
    klass = tmp_path / "class"
    for student in ("perfect", "dies", "malformed", "tamper_kit", "edited_test"):
        shutil.copytree(graded["klass"] / student, klass / student)
    out = graded["root"] / "out-again"
    other = "fresh" if batch.default_kernel() == "fork" else "fork"
    for kernel in (other, other):
        result = batch.grade_submissions(klass, out, 2, source_root=graded["root"] / "course" / "source",
                                         cell_timeout=CELL_TIMEOUT, kernel=kernel, work_root=tmp_path / "work",
                                         progress_stream=open(os.devnull, "w"))
        again = {(r.student_id, r.notebook): (r.status, r.score) for r in result.results}
        students = {s for s, _ in again}
        assert again == {k: (r.status, r.score) for k, r in graded["rows"].items() if k[0] in students}
        assert len(again) == 10
