"""What a user's server on the class hub runs, as that user: the lab's configuration, then JupyterHub's server.

    python -m autograder.hub.singleuser --role learner|instructor --exchange DIR [jupyterhub-singleuser args]

The same configuration ``make lab`` writes (autograder/lab/launcher.py: warm kernels for the notebooks
and Validate, no news or update check, quiet kernels), in the user's own ``~/.jupyter/``, with what a
class needs left on: nbgrader's Assignment List and Course List for everyone, pointed at the hub's
exchange, and the Formgrader and Create Assignment for the instructor, whose course folder is
``~/crew_course`` (``python -m autograder hub course`` makes it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autograder.lab import launcher
from autograder.paths import COURSE_ID

COURSE_FOLDER = "crew_course"  # in the instructor's home
CLASS_TOOLS = frozenset({
    "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:menu",
    "nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.course_list",
})
INSTRUCTOR_TOOLS = CLASS_TOOLS | {
    "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "nbgrader.server_extensions.formgrader",
}


def nbgrader_settings(role: str, home: Path, exchange: str) -> dict:
    settings: dict = {"CourseDirectory": {"course_id": COURSE_ID}, "Exchange": {"root": exchange}}
    if role == "instructor":
        settings["CourseDirectory"]["root"] = str(home / COURSE_FOLDER)
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.hub.singleuser")
    parser.add_argument("--role", choices=("learner", "instructor"), required=True)
    parser.add_argument("--exchange", required=True)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    home = Path.home()
    tools = INSTRUCTOR_TOOLS if args.role == "instructor" else CLASS_TOOLS
    launcher.write_config(home, warm=True, keep=tools, nbgrader=nbgrader_settings(args.role, home, args.exchange))
    env = launcher.environment(home)
    os.chdir(home)
    command = [sys.executable, "-m", "jupyterhub.singleuser", *rest]
    os.execve(sys.executable, command, env)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
