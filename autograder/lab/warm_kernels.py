"""Warm kernels for `make lab`: every notebook's kernel and every Validate's forked from one warm process.

A fresh kernel spends seconds importing CrewAI before a notebook's first cell runs, and
Validate starts one more kernel each time it is pressed (issue 23, learner point 6). The
grader already forks its kernels from a process that has imported CrewAI once
(``autograder/kernel/zygote.py``); the learner's Jupyter server keeps one such process too,
not sandboxed (the machine and the code are the learner's own), and both of its kernel
managers fork from it:

- JupyterLab's, ``ServerWarmKernelManager`` (named in jupyter_server_config.json);
- nbgrader Validate's, ``WarmKernelManager`` (named in nbgrader_config.json: the Validate
  handler runs nbgrader's Validator inside the server process).

Jupyter builds kernel managers from class names, so the server's one warm process is held by
``LabWarmProcess`` (a class, one per server process) and started by the first kernel asked
for. Where it cannot start (not Linux, a thread left after the imports) each kernel starts
the ordinary way, and the server's log says why once.
"""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass

from jupyter_client.manager import AsyncKernelManager
from jupyter_server.services.kernels.kernelmanager import ServerKernelManager

from autograder.grading.warm_kernels import WarmKernelServer, available, fork_from
from autograder.paths import ROOT


@dataclass(frozen=True)
class LabKernelSettings:
    """What ``WarmKernelServer`` reads: the project itself as the kit, no sandbox, kernels forked."""

    kit: str = str(ROOT)
    sandbox: bool = False
    kernel: str = "fork"


class LabWarmProcess:
    """The Jupyter server's one warm process, started on first use; None where there can be none."""

    _server: WarmKernelServer | None = None
    _why_not: str | None = None
    _lock = threading.Lock()

    @classmethod
    def get(cls, log: logging.Logger) -> WarmKernelServer | None:
        with cls._lock:
            if cls._server is None and cls._why_not is None:
                cls._server, cls._why_not = _start(LabKernelSettings())
                if cls._why_not:
                    log.warning("Kernels start the ordinary way (a few seconds each): %s", cls._why_not)
            return cls._server


def _start(settings: LabKernelSettings) -> tuple[WarmKernelServer | None, str | None]:
    if not available():
        return None, "forking kernels needs Linux"
    server = WarmKernelServer(settings)
    try:
        server.start()
    except (OSError, RuntimeError) as err:
        return None, str(err)
    atexit.register(server.stop)
    return server, None


class WarmKernelManager(AsyncKernelManager):
    """A kernel forked from the server's warm process (or started the ordinary way without one)."""

    async def _async_pre_start_kernel(self, **kw):
        server = LabWarmProcess.get(self.log)
        if server is not None and self.provisioner is None:
            try:
                server.ensure_running()  # started again if a learner's code killed it
                fork_from(server, self, kw)
            except (OSError, RuntimeError) as err:
                self.log.warning("This kernel starts the ordinary way: %s", err)
        return await super()._async_pre_start_kernel(**kw)


class ServerWarmKernelManager(WarmKernelManager, ServerKernelManager):
    """JupyterLab's kernels: what jupyter_server's own manager does (activity, restarts), forked."""


# The two configuration entries that switch them on (autograder/lab/launcher.py writes them).
SERVER_CONFIG = {"AsyncMappingKernelManager": {"kernel_manager_class": f"{__name__}.ServerWarmKernelManager"}}
VALIDATE_CONFIG = {"Execute": {"kernel_manager_class": f"{__name__}.WarmKernelManager"}}
