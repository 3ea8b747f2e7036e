"""One grading worker: a long-lived process that grades the students the pool hands it.

    python -m autograder.worker SETTINGS.json RESULTS_DIR

Protocol (one JSON object per line): the pool writes a task to stdin,
``{"student": ..., "notebooks": {name: path or null}, "problems": {...},
"maxima": {...}}``; the worker answers on its original stdout with
``{"result": {...}}`` per notebook as soon as it is graded, then
``{"done": student}``. Anything else printed (nbgrader, kernels) goes to
stderr, which the pool sends to a log file. Imports happen once per worker,
not once per student: that is most of what a stock ``nbgrader autograde``
process spends before grading anything.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path


def _protocol_stream():
    """Keep the real stdout for the protocol; everything else printed goes to stderr."""
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    return os.fdopen(fd, "w", buffering=1)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    settings_path, results_dir = Path(args[0]), Path(args[1])
    out = _protocol_stream()
    warnings.filterwarnings("ignore")  # nbgrader's SQLAlchemy warnings would bury the useful log lines

    from autograder import grading, procs
    from autograder.paths import with_venv_on_path

    os.environ["PATH"] = with_venv_on_path()["PATH"]
    procs.become_subreaper()
    settings = grading.Settings.from_json(settings_path.read_text())
    grading.kit_files(settings)  # read (and check) the pristine kit before any learner code runs
    grading.preload()
    if settings.kernel == "fork" or settings.sandbox:
        from autograder import forkkernel

        forkkernel.use(settings)
        if settings.kernel == "fork":
            try:
                forkkernel.start_server(settings)
            except Exception as err:  # noqa: BLE001  retried per notebook; one that cannot start fails alone
                print(f"the warm kernel process did not start ({err}); retrying per notebook", file=sys.stderr)
    out.write(json.dumps({"ready": os.getpid()}) + "\n")

    for line in sys.stdin:
        if not line.strip():
            continue
        task = json.loads(line)
        student = task["student"]

        def report(result, student=student):
            data = result.saved(results_dir / student)
            out.write(json.dumps({"result": data}) + "\n")

        grading.grade_student(settings, student, task["notebooks"], task.get("problems", {}),
                              task.get("maxima", {}), progress=report)
        out.write(json.dumps({"done": student}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
