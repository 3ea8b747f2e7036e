"""`make lab`'s warm kernels (issue 23, learner point 6): forked from one process that imported CrewAI.

A forked kernel must behave as a fresh one does: its own state, the folder it was asked
for, Ctrl-C (interrupt) and restart working; Validate with the lab's own configuration
forks its kernel too and says what a cold kernel's Validate says; and where no warm process
can start, kernels start the ordinary way. The real server path (JupyterLab's kernels,
Validate through its handler) is tests/lab/test_lab_log.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbgrader.validator import Validator
from traitlets.config import Config

from autograder.lab import launcher, warm_kernels
from autograder.lab.warm_kernels import LabWarmProcess, WarmKernelManager
from tests.helpers import ROOT

PROBE = "import os, sys\nprint('crewai' in sys.modules, os.getppid(), os.getcwd())"


@pytest.fixture
def lab_env(tmp_path, monkeypatch):
    """The lab's environment (kernels inherit the server's), as `make lab` sets it."""
    launcher.write_config(tmp_path / "lab-work")  # the folders it names exist, as under make lab (else IPython
    for name, value in launcher.environment(tmp_path / "lab-work").items():  # falls back to a /tmp folder)
        monkeypatch.setenv(name, value)
    return tmp_path


async def _run(client, code: str, timeout: float = 60, shown: list | None = None) -> tuple[str, str]:
    """(stdout, error name) of one execution; the kinds of what it displayed go to ``shown``."""
    msg_id = client.execute(code)
    out, error = "", ""
    while True:
        message = await client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            out += content["text"]
        elif kind == "error":
            error = content["ename"]
        elif kind in ("execute_result", "display_data") and shown is not None:
            shown.append(sorted(content["data"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return out, error


async def _started(manager_class, cwd: Path):
    manager = manager_class(kernel_name="python3")
    await manager.start_kernel(cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    return manager, client


@pytest.mark.slow
def test_forked_kernels_are_fresh_apart_interruptible_and_restartable(lab_env):
    first_dir, second_dir = lab_env / "one", lab_env / "two"
    first_dir.mkdir()
    second_dir.mkdir()

    async def scenario():
        (one, c1), (two, c2) = await _started(WarmKernelManager, first_dir), await _started(WarmKernelManager, second_dir)
        try:
            warm = LabWarmProcess.get(logging.getLogger("test")).pid()
            said = [(await _run(c, PROBE))[0].split() for c in (c1, c2)]
            assert said == [["True", str(warm), str(first_dir)], ["True", str(warm), str(second_dir)]], said
            # A figure shows as a picture, as in a fresh kernel (matplotlib's inline display is set up
            # by the kernel's own shell, never inherited from the warm process).
            shown: list = []
            await _run(c2, "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\nfig", shown=shown)
            assert shown and all("image/png" in kinds for kinds in shown), shown
            await _run(c1, "secret = 42")
            assert (await _run(c2, "print(secret)"))[1] == "NameError"  # nothing shared between kernels
            # Ctrl-C in the lab (Kernel > Interrupt) reaches the forked kernel's code.
            # Interrupted once the cell's own code runs (its first line printed): a SIGINT between the
            # "busy" status and the cell is ipykernel's, not the cell's (seen once under make test's load).
            msg_id = c1.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
            while (await c1.get_iopub_msg(timeout=30))["content"].get("text", "").strip() != "sleeping":
                pass
            await one.interrupt_kernel()
            reply = await c1.get_shell_msg(timeout=30)
            while reply["parent_header"]["msg_id"] != msg_id:  # the replies to the cells before
                reply = await c1.get_shell_msg(timeout=30)
            assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
            # Kernel > Restart: a new fork, with none of the old state.
            await one.restart_kernel()
            await c1.wait_for_ready(timeout=60)
            assert (await _run(c1, "print(secret)"))[1] == "NameError"
            assert (await _run(c1, PROBE))[0].split()[:2] == ["True", str(warm)]
        finally:
            for manager, client in ((one, c1), (two, c2)):
                client.stop_channels()
                await manager.shutdown_kernel(now=True)
        assert not await one.is_alive() and not await two.is_alive()

    asyncio.run(scenario())


@pytest.mark.slow
def test_without_a_warm_process_kernels_start_the_ordinary_way(lab_env, monkeypatch, caplog):
    monkeypatch.setattr(LabWarmProcess, "_server", None)
    monkeypatch.setattr(LabWarmProcess, "_why_not", None)
    monkeypatch.setattr(warm_kernels, "_start", lambda settings: (None, "no fork on this machine"))

    async def scenario():
        manager, client = await _started(WarmKernelManager, lab_env)
        try:
            return (await _run(client, PROBE))[0].split()
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)

    with caplog.at_level(logging.WARNING):
        said = asyncio.run(scenario())
    assert said[0] == "False" and said[2] == str(lab_env), said  # a new Python: CrewAI not yet imported
    assert "no fork on this machine" in caplog.text


def _notebook_with_a_test(path: Path) -> Path:
    """One graded test cell that passes only in a kernel forked from the warm process."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell("import sys\nassert 'crewai' in sys.modules, 'a cold kernel'")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "warm", "locked": True, "points": 1,
                                 "schema_version": 3, "solution": False, "task": False}
    nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def _lab_config(work: Path, warm: bool) -> Config:
    """The configuration nbgrader's Validate handler loads in the lab: the nbgrader_config.json we write."""
    config_dir = launcher.write_config(work, warm=warm)
    return Config(json.loads((config_dir / "nbgrader_config.json").read_text()))


@pytest.mark.slow
def test_validate_with_the_labs_configuration_forks_its_kernel_and_says_the_same(lab_env):
    probe = _notebook_with_a_test(lab_env / "probe.ipynb")
    warm, cold = _lab_config(lab_env / "warm", True), _lab_config(lab_env / "cold", False)
    assert not Validator(config=warm).validate(str(probe)).get("failed")
    assert Validator(config=cold).validate(str(probe)).get("failed")
    # On an untouched exercise, the warm kernel's Validate reports what a cold kernel's does.
    exercise = ROOT / "release" / "crew_processes" / "03_async.ipynb"
    said = [[f.get("raw_error") for f in Validator(config=c).validate(str(exercise))["failed"]] for c in (warm, cold)]
    assert said[0] and said[0] == said[1], said


def test_the_labs_managers_are_what_jupyter_server_and_nbclient_expect():
    from jupyter_server.services.kernels.kernelmanager import ServerKernelManager

    assert issubclass(warm_kernels.ServerWarmKernelManager, ServerKernelManager)
    assert issubclass(WarmKernelManager, AsyncKernelManager)
    names = [warm_kernels.SERVER_CONFIG["AsyncMappingKernelManager"]["kernel_manager_class"],
             warm_kernels.VALIDATE_CONFIG["Execute"]["kernel_manager_class"]]
    from traitlets.utils.importstring import import_item

    assert [import_item(n) for n in names] == [warm_kernels.ServerWarmKernelManager, WarmKernelManager]
