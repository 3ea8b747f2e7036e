"""The guarantees the home-made pool gave, kept on Dask (autograder/batch/cluster.py): a notebook over its
time budget, a grading process, warm process or whole Dask worker killed by a submission -> that
notebook fails with a reason, every other notebook is still graded."""

from __future__ import annotations

import os

import pytest

from autograder.batch import run as batch
from autograder.paths import ROOT

from tests.helpers import autograder_synth as synth

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("pool")
    return synth.released(root)


def _grade(tmp_path, source, students, **options):
    klass = tmp_path / "class"
    for name, notebooks in students.items():
        synth.write_student(klass / name, notebooks)
    result = batch.grade_submissions(klass, tmp_path / "out", 2, source_root=source, cell_timeout=30,
                                     work_root=tmp_path / "work", progress_stream=open(os.devnull, "w"),
                                     **options)
    return {(r.student_id, r.notebook): r for r in result.results}


def test_a_notebook_over_its_budget_is_stopped_and_the_student_goes_on(tmp_path, course):
    source, rel = course
    slow = synth.student_notebook(rel["00_double"], synth.GOOD, append=["import time\ntime.sleep(25)"])
    rows = _grade(tmp_path, source, {
        "slow": {"00_double": slow, "01_greet": synth.student_notebook(rel["01_greet"], synth.GOOD)},
        "quick": {"00_double": synth.student_notebook(rel["00_double"], synth.GOOD)},
    }, notebook_budget=8)
    assert rows[("slow", "00_double")].status == "failed"
    assert "longer than 8 s" in rows[("slow", "00_double")].reason
    assert (rows[("slow", "01_greet")].status, rows[("slow", "01_greet")].score) == ("graded", 3)
    assert (rows[("quick", "00_double")].status, rows[("quick", "00_double")].score) == ("graded", 2)


KILL_PARENT = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(1)"


def test_a_notebook_that_kills_its_worker_fails_alone(tmp_path, course):
    source, rel = course
    rows = _grade(tmp_path, source, {
        "killer": {"00_double": synth.student_notebook(rel["00_double"], {"answer_double": KILL_PARENT}),
                   "01_greet": synth.student_notebook(rel["01_greet"], synth.GOOD)},
        "other": {"00_double": synth.student_notebook(rel["00_double"], synth.GOOD)},
    }, kernel="fresh", sandbox=False)  # without a sandbox, a fresh kernel's parent is the worker itself
    assert rows[("killer", "00_double")].status == "failed"
    assert "died twice" in rows[("killer", "00_double")].reason
    assert (rows[("killer", "01_greet")].status, rows[("killer", "01_greet")].score) == ("graded", 3)
    assert (rows[("other", "00_double")].status, rows[("other", "00_double")].score) == ("graded", 2)


# The kernel's grandparent, without a sandbox and with a fresh kernel: the Dask worker process itself
# (kernel -> grading process -> Dask worker).
KILL_DASK_WORKER = ("import os, signal\n"
                    "stat = open(f'/proc/{os.getppid()}/stat').read()\n"
                    "os.kill(int(stat[stat.rfind(')') + 2:].split()[1]), signal.SIGKILL)\n"
                    "import time\ntime.sleep(5)")


def test_a_notebook_that_kills_its_dask_worker_twice_is_failed_as_killed_worker(tmp_path, course):
    """On a cluster whose workers are processes (loopback, with nannies that restart them, and the
    scheduler's allowed-failures at 1): the first loss sends the notebook to a worker again, the
    second is Dask's KilledWorker, a failed row with the reason, and nobody else's notebook."""
    from tests.helpers import dask_loopback

    source, rel = course
    with dask_loopback.Cluster(tmp_path / "dask", workers=2, nanny=True, config={
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
            "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}) as loopback:
        rows = _grade(tmp_path, source, {
            "killer": {"00_double": synth.student_notebook(rel["00_double"], {"answer_double": KILL_DASK_WORKER}),
                       "01_greet": synth.student_notebook(rel["01_greet"], synth.GOOD)},
            "other": {"00_double": synth.student_notebook(rel["00_double"], synth.GOOD)},
        }, kernel="fresh", sandbox=False, scheduler=loopback.address)
    assert (rows[("killer", "00_double")].status, rows[("killer", "00_double")].score) == ("failed", 0)
    assert "Dask workers died each time they graded this notebook" in rows[("killer", "00_double")].reason
    assert (rows[("killer", "01_greet")].status, rows[("killer", "01_greet")].score) == ("graded", 3)
    assert (rows[("other", "00_double")].status, rows[("other", "00_double")].score) == ("graded", 2)


def test_a_notebook_that_kills_the_warm_process_does_not_hurt_the_next(tmp_path, course):
    """A forked kernel's parent is the warm process, the first process of its sandbox: killing it
    ends that sandbox (and the kernel with it); the next notebook gets a new one."""
    source, rel = course
    kill_then_answer = KILL_PARENT + "\ndef double(x):\n    return 2 * x"
    stop_then_answer = KILL_PARENT.replace("SIGKILL", "SIGSTOP") + "\ndef double(x):\n    return 2 * x"
    rows = _grade(tmp_path, source, {
        "killer": {"00_double": synth.student_notebook(rel["00_double"], {"answer_double": kill_then_answer}),
                   "01_greet": synth.student_notebook(rel["01_greet"], synth.GOOD)},
        # SIGSTOP instead: the warm process stops answering, and is replaced as if killed.
        "stopper": {"00_double": synth.student_notebook(rel["00_double"], {"answer_double": stop_then_answer}),
                    "01_greet": synth.student_notebook(rel["01_greet"], synth.GOOD)},
    }, kernel="fork")
    assert (rows[("stopper", "01_greet")].status, rows[("stopper", "01_greet")].score) == ("graded", 3)
    assert (rows[("killer", "00_double")].status, rows[("killer", "00_double")].score) == ("failed", 0)
    assert "kernel stopped" in rows[("killer", "00_double")].reason
    assert (rows[("killer", "01_greet")].status, rows[("killer", "01_greet")].score) == ("graded", 3)


def test_grading_that_cannot_run_says_why(tmp_path, course):
    source, rel = course
    klass = tmp_path / "class"
    synth.write_student(klass / "ann", {"00_double": rel["00_double"]})
    with pytest.raises(batch.BatchError, match="No source notebooks"):
        batch.grade_submissions(klass, tmp_path / "out", 1, source_root=tmp_path / "nothing",
                                work_root=tmp_path / "work")
    with pytest.raises(batch.BatchError, match="overlaps the submissions folder"):
        batch.grade_submissions(klass, klass / "out", 1, source_root=source, work_root=tmp_path / "work")
    with pytest.raises(batch.BatchError, match="overlaps the submissions folder"):  # grade y/feedback --out y
        batch.grade_submissions(klass, tmp_path, 1, source_root=source, work_root=tmp_path / "work")
    for course_folder in (source, source.parent, ROOT):
        with pytest.raises(batch.BatchError, match="overlaps|nbgrader course folder"):
            batch.grade_submissions(klass, course_folder, 1, source_root=source, work_root=tmp_path / "work")
    assert (klass / "ann").is_dir()
