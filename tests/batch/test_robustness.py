"""The batch never dies for one student, and never runs over another run or over the course.

Intake of a hostile hand-in, entries that are not graded, a worker that cannot start, a
locked or overlapping --out, SIGTERM: each ends with rows that say why, or a clear refusal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.batch import run as batch, intake
from autograder.grading import kit, sandbox
from autograder.records import report

from tests.helpers import autograder_synth as synth

NAMES = ["00_double", "01_greet"]


def _nb() -> str:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))


def test_a_deeply_nested_hand_in_gets_rows_and_the_class_goes_on(tmp_path):
    klass = tmp_path / "class"
    (klass / "nester").mkdir(parents=True)
    (klass / "nester" / "00_double.ipynb").write_text("[" * 200_000)  # RecursionError in a JSON parser
    (klass / "ann").mkdir()
    for name in NAMES:
        (klass / "ann" / f"{name}.ipynb").write_text(_nb())
    students = {s.student_id: s for s in intake.take_in_class(klass, NAMES, tmp_path / "clean", "crew_processes")}
    assert students["ann"].gradable == NAMES
    assert "nested thousands of levels deep" in students["nester"].notebooks["00_double"].problem


def test_a_hand_in_that_breaks_intake_fails_alone(tmp_path, monkeypatch):
    klass = tmp_path / "class"
    for student in ("ann", "bob"):
        (klass / student).mkdir(parents=True)
        for name in NAMES:
            (klass / student / f"{name}.ipynb").write_text(_nb())
    real = intake.take_in

    def breaks_on_bob(sid, origin, *args, **kwargs):
        if sid == "bob":
            raise MemoryError("simulated")
        return real(sid, origin, *args, **kwargs)

    monkeypatch.setattr(intake, "take_in", breaks_on_bob)
    students = {s.student_id: s for s in intake.take_in_class(klass, NAMES, tmp_path / "clean", "crew_processes")}
    assert students["ann"].gradable == NAMES
    assert all("could not be read (MemoryError" in item.problem for item in students["bob"].notebooks.values())


def test_every_skipped_entry_gets_rows_with_a_reason(tmp_path):
    klass = tmp_path / "class"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (klass / ".eve").mkdir(parents=True)
    (klass / ".eve" / "00_double.ipynb").write_text(_nb())
    (klass / "linked").symlink_to(elsewhere)
    (klass / "loose.ipynb").write_text(_nb())
    (klass / "README.txt").write_text("names")
    (klass / ".DS_Store").write_text("")
    (klass / "ann").mkdir()
    ignored: list[str] = []
    students = {s.student_id: s for s in intake.take_in_class(klass, NAMES, tmp_path / "clean", "crew_processes",
                                                              ignored)}
    assert set(students) == {"ann", "eve", "linked", "loose.ipynb"}
    reasons = {sid: students[sid].notebooks["00_double"].problem for sid in ("eve", "linked", "loose.ipynb")}
    assert "starts with a dot" in reasons["eve"] and "link" in reasons["linked"]
    assert "not a hand-in" in reasons["loose.ipynb"]
    assert {students[sid].origin for sid in reasons} == {".eve", "linked", "loose.ipynb"}
    assert ignored == ["README.txt"]  # batch names such files on one summary line (tests/batch/test_run.py)


def test_a_second_run_into_a_locked_out_refuses_clearly(tmp_path):
    klass = tmp_path / "class"
    (klass / "ann").mkdir(parents=True)
    held = batch._lock_out(tmp_path / "out")
    try:
        with pytest.raises(batch.BatchError, match="Another grading run .* is writing into"):
            batch.grade_submissions(klass, tmp_path / "out", 1, source_root=tmp_path / "src",
                                    work_root=tmp_path / "work", sandbox=False)
    finally:
        held.close()
    with pytest.raises(batch.BatchError, match="No source notebooks"):  # the lock is free again
        batch.grade_submissions(klass, tmp_path / "out", 1, source_root=tmp_path / "src",
                                work_root=tmp_path / "work", sandbox=False)


def test_without_a_sandbox_grade_refuses_unless_told(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "problem", lambda: "bwrap is not installed (test)")
    klass = tmp_path / "class"
    (klass / "ann").mkdir(parents=True)
    with pytest.raises(batch.BatchError, match="No sandbox can be built.*--no-sandbox"):
        batch.grade_submissions(klass, tmp_path / "out", 1, source_root=tmp_path / "src",
                                work_root=tmp_path / "work")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_workers_that_cannot_start_fail_their_notebooks_with_a_row(tmp_path, monkeypatch):
    source = synth.write_source(tmp_path / "course")
    klass = tmp_path / "class"
    synth.write_student(klass / "ann", {n: synth.source_notebooks()[n] for n in synth.MAX})
    real = kit.snapshot
    # A kit snapshot that no longer matches its manifest: every worker refuses to start.
    monkeypatch.setattr(kit, "snapshot", lambda dest, root: {**real(dest, root), "course/forged.py": "0"})
    result = batch.grade_submissions(klass, tmp_path / "out", 1, source_root=source, work_root=tmp_path / "work",
                                     progress_stream=open(os.devnull, "w"))
    rows = report.read_csv(tmp_path / "out" / "grades.csv")
    assert [(r["notebook"], r["status"]) for r in rows] == [("00_double", "failed"), ("01_greet", "failed")]
    assert all("could not start a worker" in r["reason"] for r in rows)
    assert all(r["source"] == "ann" for r in rows)
    assert len(result.results) == 2


@pytest.mark.slow
def test_sigterm_cleans_up_like_ctrl_c(tmp_path):
    from autograder.paths import BUILD, SAMPLE_CLASS

    klass = tmp_path / "class"
    (klass / "ada").mkdir(parents=True)
    for path in (SAMPLE_CLASS / "ada_perfect").rglob("*.ipynb"):
        (klass / "ada" / path.name).write_bytes(path.read_bytes())
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(klass), "--out", str(tmp_path / "out"),
                             "--workers", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    run = None
    while time.monotonic() < deadline and proc.poll() is None:  # wait until hand-ins and hidden tests are on disk
        runs = list((BUILD / "grading").glob(f"run-{proc.pid}-*"))
        if runs and (runs[0] / "settings.json").exists():
            run = runs[0]
            break
        time.sleep(0.2)
    assert run is not None, proc.communicate()
    time.sleep(2)  # workers starting
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Interrupted" in err
    assert not run.exists()
    assert not Path(f"/dev/shm/crew-grading-{run.name}").exists()
    assert not (tmp_path / "out" / "grades.csv").exists()
    left = subprocess.run(["pgrep", "-f", str(run)], capture_output=True, text=True).stdout.split()
    assert left == []


def test_memory_flag_takes_sizes_and_refuses_nonsense(tmp_path):
    assert sandbox.parse_size("4G") == 4 * 2**30 and sandbox.parse_size("512M") == 512 * 2**20
    assert sandbox.parse_size("1.5GiB") == int(1.5 * 2**30)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path), "--out", str(tmp_path / "o"),
                           "--memory", "lots"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--memory: 'lots' is not a size" in done.stderr
