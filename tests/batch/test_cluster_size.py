"""How many grading processes a batch runs at once: warm-ups take turns, one per core
(autograder/batch/cluster.py), and a local cluster is no bigger than the notebooks to grade
(autograder/batch/run.py). No kernel runs here."""

from __future__ import annotations


def test_warm_ups_take_turns_one_per_core_and_leave_no_file(tmp_path, monkeypatch):
    """Issue 23.6: six workers warming at once on two cores all waited ~19 s; turns keep it to one per core."""
    import threading

    from autograder.batch import cluster

    monkeypatch.setattr(cluster.os, "sched_getaffinity", lambda pid: {0, 1})
    run = tmp_path / "run"
    inside, most, lock = [0], [0], threading.Lock()
    gate = threading.Barrier(5)

    def warm():
        gate.wait()
        with cluster.warm_slot(run):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            threading.Event().wait(0.2)  # hold the turn while the others try (not a timing assertion)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=warm) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most[0] == 2  # both turns used, never a third at once
    cluster._leave_run_folder(run)
    assert not run.exists()


def test_the_local_cluster_is_no_bigger_than_the_notebooks_to_grade(tmp_path):
    from autograder.batch.run import BatchOptions, _Batch

    klass = tmp_path / "class"
    (klass / "only_student").mkdir(parents=True)
    batch = _Batch(klass, tmp_path / "out", BatchOptions(workers=6))
    notebooks = len(list((batch.o.source_root / batch.o.assignment).glob("*.ipynb")))
    assert 1 <= notebooks < 6
    assert batch._cluster_size() == notebooks
    assert _Batch(klass, tmp_path / "out", BatchOptions(workers=6, students=["a", "b"]))._cluster_size() == 6
