"""Grading on an existing Dask cluster (`grade --scheduler`): a scheduler and two worker processes
on 127.0.0.1, started here with Dask's own entry points (tests/helpers/dask_loopback.py).

A worker killed in the middle of a batch loses no student: its notebooks go to the other
worker, and its grading process (with its sandbox) ends with it. Bounded: the only network is
the loopback cluster this module starts, every process it starts is stopped at the end.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.batch import run as batch, cluster
from autograder.records import report
from autograder.paths import ROOT

from tests.helpers import autograder_synth as synth
from tests.helpers import dask_loopback
from tests.helpers.processes import processes_with

pytestmark = pytest.mark.slow

STUDENTS = ("ann", "bob", "cal", "dee", "eve", "fay")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return synth.released(tmp_path_factory.mktemp("cluster-course"))


@pytest.fixture()
def loopback(tmp_path):
    with dask_loopback.Cluster(tmp_path / "dask", workers=2) as running:
        yield running


def _class(folder: Path, rel) -> Path:
    # A second of work in each notebook, so that a worker is always busy when one is killed.
    good = {"answer_double": synth.GOOD["answer_double"] + "\nimport time\ntime.sleep(1)",
            "answer_greet": synth.GOOD["answer_greet"]}
    for name in STUDENTS:
        synth.write_student(folder / name, {n: synth.student_notebook(rel[n], good) for n in synth.MAX})
    return folder


class _KillOnFirstStudent:
    """The progress stream: when the first student is done, one worker is killed (mid-batch)."""

    def __init__(self, loopback: dask_loopback.Cluster, victim: str) -> None:
        self.loopback, self.victim, self.killed_at, self.lines = loopback, victim, None, []

    def write(self, text: str) -> None:
        self.lines.append(text)
        if text.startswith("[") and self.killed_at is None:
            self.loopback.kill(self.victim)
            self.killed_at = len(self.lines)

    def flush(self) -> None:
        pass


def test_a_worker_killed_mid_batch_loses_no_student(tmp_path, course, loopback):
    source, rel = course
    klass = _class(tmp_path / "class", rel)
    stream = _KillOnFirstStudent(loopback, "w1")
    result = batch.grade_submissions(klass, tmp_path / "out", None, source_root=source, cell_timeout=30,
                                     work_root=tmp_path / "work", progress_stream=stream,
                                     scheduler=loopback.address)
    assert stream.killed_at is not None, stream.lines
    assert any("Dask: 2 worker(s) at tcp://127.0.0.1" in line for line in stream.lines)
    rows = report.read_csv(tmp_path / "out" / "grades.csv")
    assert sorted((r["student_id"], r["notebook"]) for r in rows) == sorted(
        (s, n) for s in STUDENTS for n in synth.MAX)
    assert [(r["student_id"], r["notebook"], r["status"], float(r["score"])) for r in rows
            if (r["status"], float(r["score"])) != ("graded", synth.MAX[r["notebook"]])] == []
    assert len(result.results) == len(STUDENTS) * len(synth.MAX)
    # The dead worker's grading process (and the sandbox under it) ended with it.
    victim_dir = str(loopback.base / "w1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and processes_with(victim_dir):
        time.sleep(0.5)
    assert processes_with(victim_dir) == []


class _KillSchedulerOnFirstResult(_KillOnFirstStudent):
    def write(self, text: str) -> None:
        self.lines.append(text)
        if text.startswith("[") and self.killed_at is None:
            self.loopback.kill_scheduler()
            self.killed_at = len(self.lines)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_lost_scheduler_keeps_the_earlier_results_and_says_the_batch_is_incomplete(tmp_path, course, loopback):
    """Issue 23.2: a killed scheduler wrote 'failed' rows over a complete earlier run and exited 0."""
    source, rel = course
    out = tmp_path / "out"
    first = batch.grade_submissions(_class(tmp_path / "class", rel), out, None, source_root=source, cell_timeout=30,
                                    work_root=tmp_path / "work", progress_stream=open(os.devnull, "w"),
                                    scheduler=loopback.address)
    assert first.incomplete == []
    earlier = {(r["student_id"], r["notebook"]): r for r in report.read_csv(out / "grades.csv")}
    assert {r["status"] for r in earlier.values()} == {"graded"}
    # Second run: every answer wrong, so a row this run wrote can be told from an earlier one.
    wrong = tmp_path / "wrong"
    for name in STUDENTS:
        synth.write_student(wrong / name, {n: synth.student_notebook(rel[n], {"answer_double": "def double(x):\n"
                                           "    import time; time.sleep(1); return 0"}) for n in synth.MAX})
    stream = _KillSchedulerOnFirstResult(loopback, "")
    dask_said = _Records()
    client_log = logging.getLogger("distributed.client")
    client_log.addHandler(dask_said)
    try:
        second = batch.grade_submissions(wrong, out, None, source_root=source, cell_timeout=30,
                                         work_root=tmp_path / "work2", progress_stream=stream,
                                         scheduler=loopback.address)
    finally:
        client_log.removeHandler(dask_said)
    # Dask's own "Failed to reconnect" and its CancelledError tracebacks: the rows and summary say it once.
    assert [r.getMessage()[:80] for r in dask_said.records if r.levelno >= logging.ERROR] == []
    assert stream.killed_at is not None, stream.lines
    assert second.incomplete, "the batch lost its scheduler yet says it is complete"
    lost = [r for r in second.results if r.grader_failed]
    assert lost and all("stopped answering" in r.reason for r in lost), [r.reason for r in lost]
    now = {(r["student_id"], r["notebook"]): r for r in report.read_csv(out / "grades.csv")}
    for student in second.incomplete:  # every earlier row of theirs, exactly as it was
        assert {k: v for k, v in now.items() if k[0] == student} == {k: v for k, v in earlier.items()
                                                                       if k[0] == student}
    assert "INCOMPLETE" in second.summary and ", ".join(second.incomplete[:3]) in second.summary


def test_grade_takes_the_cluster_from_dask_scheduler_address(tmp_path, loopback):
    """The real command line, on the course's own notebooks, told only by Dask's own variable."""
    from autograder.paths import SAMPLE_CLASS

    klass = tmp_path / "class"
    (klass / "ada").mkdir(parents=True)
    src = next((SAMPLE_CLASS / "ada_perfect").rglob("01_sequential.ipynb"))
    (klass / "ada" / src.name).write_bytes(src.read_bytes())
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               DASK_SCHEDULER_ADDRESS=loopback.address)
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(klass), "--out", str(tmp_path / "out"),
                           "--no-gradebook", "--timeout", "20"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"on the Dask cluster at {loopback.address}" in done.stderr
    assert f"Dask: 2 worker(s) at {loopback.address}" in done.stderr
    rows = {r["notebook"]: r for r in report.read_csv(tmp_path / "out" / "grades.csv")}
    assert (rows["01_sequential"]["status"], rows["01_sequential"]["score"]) == ("graded", "6")


def test_a_scheduler_that_does_not_answer_is_said_clearly(tmp_path, course, monkeypatch):
    import socket

    source, rel = course
    klass = tmp_path / "class"
    synth.write_student(klass / "ann", {"00_double": synth.student_notebook(rel["00_double"], synth.GOOD)})
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 3)
    with pytest.raises(batch.BatchError, match=f"no Dask scheduler answers at tcp://127.0.0.1:{port}"):
        batch.grade_submissions(klass, tmp_path / "out", None, source_root=source, work_root=tmp_path / "work",
                                progress_stream=open(os.devnull, "w"), scheduler=f"tcp://127.0.0.1:{port}")
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_a_cluster_without_workers_gives_every_notebook_a_row_that_says_so(tmp_path, course, monkeypatch):
    source, rel = course
    klass = tmp_path / "class"
    synth.write_student(klass / "ann", {n: synth.student_notebook(rel[n], synth.GOOD) for n in synth.MAX})
    monkeypatch.setattr(cluster, "WORKERS_TIMEOUT", 3)
    with dask_loopback.Cluster(tmp_path / "dask", workers=0) as empty:
        batch.grade_submissions(klass, tmp_path / "out", None, source_root=source, work_root=tmp_path / "work",
                                progress_stream=open(os.devnull, "w"), scheduler=empty.address)
    rows = report.read_csv(tmp_path / "out" / "grades.csv")
    assert [(r["notebook"], r["status"]) for r in rows] == [("00_double", "failed"), ("01_greet", "failed")]
    assert all("No Dask worker joined the cluster" in r["reason"] for r in rows)


def _tar_with(member: "tarfile.TarInfo", payload: bytes = b"") -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(member, io.BytesIO(payload) if member.isfile() else None)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["symlink", "dotdot", "absolute"])
def test_unpack_refuses_an_archive_that_reaches_outside_its_folder(tmp_path, kind):
    # Checked by the course itself, so Pythons without tarfile's filter= (Debian 12's 3.11.2) are as safe.
    import hashlib
    import tarfile

    from autograder.batch import cluster

    member = tarfile.TarInfo({"symlink": "kit/link", "dotdot": "kit/../../evil", "absolute": "/evil"}[kind])
    if kind == "symlink":
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    data = _tar_with(member, b"x")
    with pytest.raises(ValueError, match="not a plain file"):
        cluster.unpack(data, hashlib.sha256(data).hexdigest(), tmp_path / "dest")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "dest" / "kit").exists()


def test_unpack_restores_pack_and_teardown_after_a_failed_setup_is_quiet(tmp_path):
    import hashlib

    from autograder.batch import cluster

    (tmp_path / "t").mkdir(); (tmp_path / "k" / "course").mkdir(parents=True)
    (tmp_path / "t" / "a.txt").write_text("template"); (tmp_path / "k" / "course" / "b.py").write_text("kit")
    data, digest = cluster.pack(tmp_path / "t", tmp_path / "k")
    home = cluster.unpack(data, digest, tmp_path / "dest")
    assert (home / "template" / "a.txt").read_text() == "template"
    assert (home / "kit" / "course" / "b.py").read_text() == "kit"
    # A damaged archive makes setup raise; Dask then calls teardown, which must not raise in turn.
    plugin = cluster.GradingPlugin(data, "0" * 64, {}, "run")

    class Worker:
        local_directory = str(tmp_path / "worker")

    with pytest.raises(ValueError, match="damaged"):
        plugin.setup(Worker())
    plugin.teardown(Worker())
