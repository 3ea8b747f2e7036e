"""The kernel's side of the witness (``autograder/grading/witness.py``): only while a notebook is graded.

The grader runs ``install(path)`` in the kernel before the first cell. From then on the
course's ``ScriptedLLM`` sends each agent's call over the witness's unix socket and waits
for the reply (the witness waits the latency, so its clock sees calls overlap as they
really do): ``install`` hands the course model a reply function through the model's own
``course.scripted_llm.route_every_call``, the one route that reaches every thread of the
kernel (why one per process: ``_ProcessRoute`` there). The kernel is not trusted with
anything here: it can only fail to show the witness its work. Learners' JupyterLab never
runs this: there the model answers in-process.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import socket
import sys
import threading
from typing import Any

TIMEOUT = 60.0  # a witness that does not answer (it never should) fails the call, not the kernel


class WitnessUnavailable(RuntimeError):
    """The grader's model did not answer."""


def _ask(path: str, message: dict) -> dict:
    data = (json.dumps(message) + "\n").encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as channel:
        channel.settimeout(TIMEOUT)
        channel.connect(path)
        channel.sendall(data)
        chunks = []
        while True:
            chunk = channel.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                break
    answer = json.loads(b"".join(chunks) or b"{}")
    if not isinstance(answer, dict) or "reply" not in answer:
        raise WitnessUnavailable(f"the grader's model refused this call: {answer.get('error', 'no answer')}")
    return answer


def install(path: str) -> None:
    """Send every agent's model call to the witness at ``path``, from the moment the course is imported.

    The course is not imported here (its import sets CrewAI up and starts the cell log): a notebook
    that never imports it runs as it would anyway. So when the model's module is not loaded yet,
    a finder waits for its first import and then makes the same call.
    """
    def use(module: Any) -> None:
        module.route_every_call(_backend(path))

    module = sys.modules.get(MODEL_MODULE)
    if module is not None:
        use(module)
    else:
        sys.meta_path.insert(0, _WhenImported(MODEL_MODULE, use))


def _backend(path: str):
    def backend(request: Any, latency: float, from_agent: Any = None, from_task: Any = None) -> str:
        from crewai.execution import get_execution_uuid

        from course import graph

        # The run and task labels only group calls; a false label can only hide work from the witness.
        message = {
            "request": request.to_dict(), "latency": float(latency or 0.0),
            "run": str(get_execution_uuid() or ""),
            "task_id": str(getattr(from_task, "id", "") or request.task),
            "task_name": graph.task_name(from_task) if from_task is not None else request.task[:40],
            "thread": threading.current_thread().name,
        }
        return str(_ask(path, message)["reply"])

    return backend


MODEL_MODULE = "course.scripted_llm"


class _WhenImported(importlib.abc.MetaPathFinder):
    """Runs ``then(module)`` right after ``name`` is first imported (then steps aside).

    It only defers ``install``'s call to the module's own function; it sets nothing in the module.
    """

    def __init__(self, name: str, then) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _ThenLoader(spec.loader, self.then)
        return spec


class _ThenLoader(importlib.abc.Loader):
    def __init__(self, loader, then) -> None:
        self._loader, self._then = loader, then

    def create_module(self, spec):  # noqa: ANN001
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:  # noqa: ANN001
        self._loader.exec_module(module)
        self._then(module)

    def __getattr__(self, name: str):  # get_source, get_filename...: the real loader's
        return getattr(self._loader, name)
