"""The sandbox works for a clone under /tmp (a path with a space) run by Debian's own Python (issue 21).

bwrap applies its arguments in order: a tmpfs on /tmp mounted after the venv's read-only bind
hid a venv under /tmp, and the start-up probe blamed user namespaces. Nothing big is copied: a
``venv --without-pip`` (a few links) under ``/tmp/crew course XXXX/`` runs the sandbox module
from this checkout; the command it builds runs that venv's python inside the sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.grading import sandbox

from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(sandbox.bwrap_path() is None or not sys.platform.startswith("linux"),
                                reason="bwrap is not installed (apt-get install bubblewrap): no sandbox to build")

# Run by the venv under /tmp: build the sandbox command there, run a trivial command in it.
PROBE = r"""
import json, subprocess, sys
from autograder.grading import sandbox
if sys.argv[1] == "unbound":  # the venv deliberately left out: the probe must name it, not namespaces
    sandbox.python_paths = lambda: []
argv = sandbox.command([sys.executable, "-c", "import sys; print(sys.prefix)"], kit=sys.argv[2],
                       env=sandbox.base_env(), limits=sandbox.Limits(), uid=sandbox.sandbox_uid(7))
done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
print(json.dumps({"rc": done.returncode, "out": done.stdout.strip(), "err": done.stderr.strip(),
                  "problem": sandbox.problem()}))
"""


@pytest.fixture(scope="module")
def tmp_venv():
    """A small venv under /tmp, in a folder whose name has a space; removed afterwards."""
    base = "/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11") else sys.executable
    folder = Path(tempfile.mkdtemp(prefix="crew course ", dir="/tmp"))
    try:
        venv = folder / ".venv"
        subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120,
                       capture_output=True)
        kit = folder / "kit"
        kit.mkdir()
        (kit / "README").write_text("kit\n")
        for path in (folder, kit):
            os.chmod(path, 0o755)  # a clone's folders are readable by others
        yield venv, kit
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _probe(venv: Path, kit: Path, mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([str(venv / "bin" / "python"), "-c", PROBE, mode, str(kit)], capture_output=True,
                          text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_venv_under_tmp_with_a_space_runs_in_the_sandbox(tmp_venv):
    venv, kit = tmp_venv
    result = _probe(venv, kit, "bound")
    assert result["rc"] == 0, result["err"]
    assert result["out"] == os.path.realpath(venv)
    assert result["problem"] is None


def test_probe_names_a_hidden_python_rather_than_namespaces(tmp_venv):
    venv, kit = tmp_venv
    result = _probe(venv, kit, "unbound")
    assert result["rc"] != 0
    problem = result["problem"]
    assert problem and str(venv / "bin" / "python") in problem, problem
    assert "namespace" not in problem, problem
