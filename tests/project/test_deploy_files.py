"""The deployment files carry no trap (issue 23): read, not run (no container builder or batch system here)."""

from __future__ import annotations

import re

import yaml

from autograder.paths import ROOT

DEPLOY = ROOT / "docs" / "deploy"


def _patterns(path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


def test_the_image_leaves_out_every_working_folder_of_a_course():
    # `COPY . .` in the Dockerfile copies the build context: without these a working course folder
    # would ship its .venv, gradebook, hand-ins, feedback and grades into the image.
    assert "COPY . ." in (DEPLOY / "Dockerfile").read_text()
    ignored = _patterns(ROOT / ".dockerignore")
    for working in ("/gradebook.db", "/grades.csv", "/submitted/", "/autograded/", "/feedback/", "/grades/",
                    "/lab-work/", "/build/", ".venv/", ".git/"):
        assert working in ignored, f".dockerignore does not leave out {working}"
    # Everything git ignores as a course's working data is left out of the image too.
    assert _patterns(ROOT / ".gitignore") <= ignored | {"__pycache__/", ".ipynb_checkpoints/"}


def test_jobqueue_workers_start_the_images_python_not_the_submit_hosts():
    config = yaml.safe_load((DEPLOY / "jobqueue.yaml").read_text())
    workdir = re.search(r"^WORKDIR (\S+)", (DEPLOY / "Dockerfile").read_text(), re.M).group(1)
    for system, settings in config["jobqueue"].items():
        assert settings.get("python") == f"{workdir}/.venv/bin/python", system
        assert f"cd {workdir}" in settings["job-script-prologue"][0], system
