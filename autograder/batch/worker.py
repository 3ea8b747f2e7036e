"""The grading process one Dask worker keeps: grades the notebooks its Dask worker hands it.

    python -m autograder.batch.worker SETTINGS.json

Started and owned by ``autograder/batch/cluster.py`` (one per Dask worker, through
its WorkerPlugin). It holds the warm state: nbgrader and the grader imported
once, and the warm CrewAI process that kernels are forked from
(``autograder/grading/warm_kernels.py``), inside its bwrap sandbox. A process of its own,
not the Dask worker itself, so that a notebook over its time budget, or one
that kills its parent, costs this process only: the Dask worker kills it, says
why, and starts a new one, while the cluster never sees a worker die.

Protocol (one JSON object per line): ``{"ready": pid}`` once on start; then
for each line ``{"student", "notebook", "path", "max_score"}`` on stdin, one
``{"result": {...}}`` on its original stdout, the whole ``NotebookResult``
with the autograded notebook, the feedback page and the log as text. Anything
else printed (nbgrader, kernels) goes to stderr, which the Dask worker sends to
a log file.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import warnings
from dataclasses import asdict
from pathlib import Path


def _protocol_stream():
    """Keep the real stdout for the protocol; everything else printed goes to stderr."""
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    return os.fdopen(fd, "w", buffering=1)


def _end_with_parent() -> None:
    """A Dask worker killed hard (SIGKILL, OOM) cannot stop its grading process: it ends itself.

    Its kernels and the sandbox go with it, so nothing of the lost worker grades on.
    """
    parent = os.getppid()

    def watch() -> None:
        from autograder.grading import procs

        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                procs.kill_tree(procs.descendants())
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    settings_path = Path(args[0])
    out = _protocol_stream()
    warnings.filterwarnings("ignore")  # nbgrader's SQLAlchemy warnings would bury the useful log lines
    _end_with_parent()

    from autograder.grading import procs
    from autograder.grading.notebook import NotebookGrader, preload
    from autograder.grading.settings import Settings
    from autograder.paths import with_venv_on_path

    os.environ["PATH"] = with_venv_on_path()["PATH"]
    procs.become_subreaper()
    settings = Settings.from_json(settings_path.read_text())
    if settings.sandbox:
        from autograder.grading import sandbox

        problem = sandbox.problem()
        if problem:
            print(f"no sandbox can be built on this worker: {problem}", file=sys.stderr)
            return 3
    grader = NotebookGrader(settings)
    grader.kit_files()  # read (and check) the pristine kit before any learner code runs
    preload()
    grader.server = _warm_server(settings)
    out.write(json.dumps({"ready": os.getpid()}) + "\n")

    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        name = job["notebook"]
        result = grader.grade_student(job["student"], {name: job["path"]}, {}, {name: float(job["max_score"])})[0]
        out.write(json.dumps({"result": asdict(result)}) + "\n")
    return 0


def _warm_server(settings):
    """This worker's warm-kernel server (started now for "fork"; "fresh" starts one per notebook)."""
    if not settings.warm_kernels:
        return None
    from autograder.grading.warm_kernels import WarmKernelServer

    server = WarmKernelServer(settings)
    if settings.kernel == "fork":
        try:
            server.start()
        except Exception as err:  # noqa: BLE001  retried per notebook; one that cannot start fails alone
            print(f"the warm kernel process did not start ({err}); retrying per notebook", file=sys.stderr)
    return server


if __name__ == "__main__":
    sys.exit(main())
