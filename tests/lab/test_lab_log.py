"""`make lab`'s terminal stays readable: the server log after a learner's session has no flood.

JupyterLab is started the way ``make lab`` starts it (``autograder.lab.launcher``), on
127.0.0.1. Through its REST API the test does what a learner's browser does:
opens an exercise (a kernel starts and runs a cell), saves it, and presses
Validate (nbgrader starts a second kernel and runs the whole notebook). Then it
reads the server log, where each kernel used to write "Kernel is running over
TCP without encryption" and each copied notebook "Notebook ... is not trusted".
The kernels must have run (the session went idle, Validate returned), over
encrypted TCP.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from pathlib import Path

import pytest

from autograder.lab import launcher as lab

from tests.helpers import ROOT

NOTEBOOK = f"{lab.ASSIGNMENT}/01_sequential.ipynb"


def _call(server: lab.LabServer, method: str, path: str, body: dict | None = None, timeout: float = 30) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.base_url}/{path}", data=data, method=method, headers={
        "Authorization": f"token {server.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        text = reply.read().decode()
    return json.loads(text) if text else {}


def _execute(server: lab.LabServer, kernel_id: str, code: str, timeout: float = 90) -> str:
    """Run ``code`` in the kernel over the server's websocket, as JupyterLab does; return its stdout."""
    from tornado.websocket import websocket_connect

    async def run() -> str:
        url = f"ws://{server.ip}:{server.port}/api/kernels/{kernel_id}/channels?token={server.token}"
        socket = await websocket_connect(url)
        msg_id = uuid.uuid4().hex
        socket.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": msg_id,
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        out, replied, idle = "", False, False
        # The reply (shell) and the output (iopub) travel apart: the output is complete only once
        # iopub says the kernel is idle again for this request.
        while not (replied and idle):
            message = json.loads(await socket.read_message())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                out += message["content"]["text"]
            replied = replied or message["msg_type"] == "execute_reply"
            idle = idle or (message["msg_type"] == "status" and message["content"].get("execution_state") == "idle")
        socket.close()
        return out

    return asyncio.run(asyncio.wait_for(run(), timeout))


@pytest.mark.slow
def test_a_learner_session_leaves_no_encryption_or_trust_warnings_in_the_log(tmp_path):
    work = tmp_path / "lab-work"
    copied = lab.prepare(work, release=ROOT / "release")
    assert any(p.name == "01_sequential.ipynb" for p in copied)
    log = tmp_path / "jupyterlab.log"
    server = lab.LabServer(work, log=log)
    server.start(timeout=90)
    try:
        # Open the notebook: JupyterLab reads it (trust is checked) and starts its kernel.
        model = _call(server, "GET", f"api/contents/{NOTEBOOK}?content=1")
        session = _call(server, "POST", "api/sessions", {
            "path": NOTEBOOK, "type": "notebook", "name": "01_sequential.ipynb", "kernel": {"name": "python3"}})
        # The server talks to its kernel over encrypted TCP (keys in the connection file).
        assert kernels_encrypted(work)
        kernel = session["kernel"]["id"]
        assert _execute(server, kernel, "print(6 * 7)").strip() == "42"
        # Forked from the lab's one warm process (issue 23, learner point 6): CrewAI is there
        # before any cell imported it, and the kernel's parent is the server's warm process.
        assert _forked_from_the_servers_warm_process(server, kernel)
        _call(server, "POST", f"api/kernels/{kernel}/restart", {}, timeout=90)  # Kernel > Restart
        assert _forked_from_the_servers_warm_process(server, kernel)
        # Save it, as JupyterLab does (and Validate does first): trust is checked again.
        _call(server, "PUT", f"api/contents/{NOTEBOOK}", {"type": "notebook", "format": "json",
                                                          "content": model["content"]})
        # Validate: nbgrader runs the notebook in a kernel of its own.
        result = _call(server, "POST", f"assignments/validate?path={NOTEBOOK}&_={uuid.uuid4().hex}", {},
                       timeout=180)
        assert result["success"] is True, result  # it ran (the untouched exercise fails its tests inside)
        _call(server, "DELETE", f"api/sessions/{session['id']}")
    finally:
        server.stop()
    text = log.read_text(errors="replace")
    assert "Kernel started" in text or "Kernel" in text  # the log really holds the session
    assert "without encryption" not in text, [line for line in text.splitlines() if "encryption" in line][:3]
    assert "is not trusted" not in text, [line for line in text.splitlines() if "trusted" in line][:3]
    assert "Traceback" not in text, text[-3000:]
    assert "ordinary way" not in text, text[-3000:]  # every kernel, Validate's too, was forked
    assert "will not work" not in text, text[-3000:]  # ipykernel's note for a kernel started by hand


def _forked_from_the_servers_warm_process(server: lab.LabServer, kernel_id: str) -> bool:
    import psutil

    said = _execute(server, kernel_id, "import os, sys\nprint('crewai' in sys.modules, os.getppid())").split()
    parent = psutil.Process(int(said[1]))
    return (said[0] == "True" and "autograder.kernel.zygote" in parent.cmdline()
            and parent.ppid() == server.process.pid)


def kernels_encrypted(work: Path) -> bool:
    """Whether a kernel's connection file (if still there) carries CurveZMQ keys."""
    files = list(lab.jupyter_dirs(work)["JUPYTER_RUNTIME_DIR"].glob("kernel-*.json"))
    return bool(files) and all("curve_secretkey" in json.loads(f.read_text()) for f in files)
