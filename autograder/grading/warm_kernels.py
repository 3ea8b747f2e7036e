"""The grader's side of a worker's warm process: start it, ask it for kernels, reset it after each notebook.

The warm process itself (the "zygote", ``autograder/kernel/zygote.py``) runs in the
worker's bwrap sandbox and forks every kernel from a process that has imported
CrewAI once. Here, on the host, one ``WarmKernelServer`` per worker owns it: the
worker makes it, hands it to ``grade_notebook``, and the kernel manager nbclient
builds for each notebook gets it through ``server.manager_class()`` (a subclass
bound to that server), so no module global carries it. Kernel pids may belong to
the sandbox's PID namespace, so every signal goes through the zygote too. With
``--kernel fresh`` a new sandbox (and zygote) is made per notebook; with
``--no-sandbox`` the zygote runs beside the worker.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from autograder.paths import KERNEL_SOCKETS as SOCKETS
from autograder.paths import ROOT

ZYGOTE = "autograder.kernel.zygote"


class WarmKernelServer:
    """One worker's zygote: started once (again only when a learner's code killed it), reset per notebook."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.sandboxed = bool(getattr(settings, "sandbox", False))
        self.proc: subprocess.Popen | None = None
        self.kit: str | None = None
        self.root_pid: int | None = None
        self._last_exit: int | None = None
        self._asking = threading.Lock()

    # --- the process ---------------------------------------------------------------------

    def start(self, kit: str | None = None) -> None:
        """Start the zygote from ``kit`` (default: the settings' pristine kit), in its sandbox."""
        self.stop()
        kit = kit or self.kit or self.settings.kit
        argv, env = self._command(kit)
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        line = _read_line(proc, 180)
        info = json.loads(line) if line.strip().startswith("{") else {"error": line or "no answer"}
        if "ready" not in info:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"the warm kernel process did not start: {info.get('error')}")
        self.proc, self.kit = proc, kit
        self.root_pid = _sandbox_root_pid(proc.pid) if self.sandboxed else None

    def _command(self, kit: str) -> tuple[list[str], dict[str, str]]:
        if not self.sandboxed:
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
            return [sys.executable, "-m", ZYGOTE, kit], env
        from autograder.grading import sandbox, witness

        env = sandbox.base_env({"PYTHONPATH": sandbox.KIT})
        witness_dir = str(witness.folder_for(self.settings.work)) if getattr(self.settings, "witness", False) else None
        argv = sandbox.command([sys.executable, "-m", ZYGOTE, sandbox.KIT, "--sandboxed"], kit=kit, env=env,
                               limits=sandbox.Limits.from_dict(self.settings.limits),
                               uid=sandbox.sandbox_uid(os.getpid()), witness_dir=witness_dir)
        return argv, env

    def stop(self, force: bool = False) -> None:
        proc, self.proc, self.root_pid = self.proc, None, None
        if proc is None or proc.poll() is not None:
            return
        try:
            if force:
                raise TimeoutError
            proc.stdin.close()
            proc.wait(timeout=5)
        except Exception:
            from autograder.grading import procs

            tree = procs.descendants(proc.pid)
            proc.kill()
            procs.kill_tree(tree)
            proc.wait()

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def ask(self, request: dict, timeout: float = 30.0) -> dict:
        # One request at a time: in a Jupyter server, Validate's kernels are asked from another
        # thread than the lab's, and answers come back in order on one pipe.
        with self._asking:
            return self._ask(request, timeout)

    def _ask(self, request: dict, timeout: float) -> dict:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            raise OSError("the warm kernel process is not running")
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, ValueError) as err:
            raise OSError(f"the warm kernel process is gone ({err})") from err
        line = _read_line(proc, timeout)
        if not line:
            # Stopped (a learner can SIGSTOP its parent) or stuck: end it, the next kernel gets a new one.
            self.stop(force=True)
            raise OSError("the warm kernel process did not answer")
        return json.loads(line)

    # --- per notebook --------------------------------------------------------------------

    def ensure_running(self) -> None:
        """Before a kernel: "fresh" gets a new sandbox per notebook; otherwise the zygote is restarted
        only when a learner's code killed or stopped it (it is the kernel's parent)."""
        if getattr(self.settings, "kernel", "fork") == "fresh" or self.pid() is None:
            self.start()

    def socket_prefix(self) -> str | None:
        """Where the grader reaches the kernel's sockets: through /proc/<pid>/root into the sandbox.

        Nothing on the host is writable by the sandbox: its socket folder is on its own size-limited
        /tmp, and the grader (root, or the user who owns the sandbox) connects through the magic link.
        """
        return f"/proc/{self.root_pid}/root{SOCKETS}" if self.root_pid else None

    def end_of_notebook(self) -> dict:
        """End what the notebook left in the sandbox; what it used, and how its kernel ended."""
        used = {}
        if self.pid() is not None:
            try:
                used = self.ask({"op": "reset"}, timeout=60)
            except (OSError, ValueError):
                used = {}
        code, self._last_exit = self._last_exit, None
        if code is not None and code < 0:
            used["exit_signal"] = -code
        if getattr(self.settings, "kernel", "fork") == "fresh":
            self.stop()  # a fresh kernel's sandbox ends with its notebook
        return used

    def kernel_exited(self, code: int) -> None:
        self._last_exit = code

    def manager_class(self) -> type:
        """The kernel manager class nbclient instantiates, bound to this server."""
        return type("ForkKernelManager", (ForkKernelManager,), {"server": self})


def _read_line(proc, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def _sandbox_root_pid(outer: int) -> int | None:
    """The host pid of the sandbox's first process (bwrap's child of ``outer``): its /proc root is the sandbox's."""
    from autograder.grading import procs

    children = [pid for pid, parent in procs._parents().items() if parent == outer]
    return min(children) if children else None


class _ForkedProcess:
    """What LocalProvisioner expects of a Popen, for a kernel the zygote forked.

    Its pid may be in the sandbox's PID namespace, so every signal goes through the zygote:
    the grader never signals a number that could mean another process on the host.
    """

    stdin = stdout = stderr = None

    def __init__(self, server: WarmKernelServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = self.server.ask({"op": "status", "pid": self.pid}, timeout=10)["code"]
            except (OSError, ValueError, KeyError):
                self.returncode = -9  # the zygote is gone, and its kernels with it
            if self.returncode is not None:
                self.server.kernel_exited(self.returncode)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.05)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int, group: bool = False) -> None:
        try:
            self.server.ask({"op": "signal", "pid": self.pid, "sig": int(signum), "group": group}, timeout=10)
        except (OSError, ValueError):
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL, group=True)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM, group=True)


class ForkProvisioner(LocalProvisioner):
    server: WarmKernelServer  # set by ForkKernelManager

    async def launch_kernel(self, cmd, **kwargs):
        server = self.server
        if server.pid() is None:
            raise RuntimeError("the warm kernel process is not running")
        try:
            args = cmd[cmd.index("ipykernel_launcher") + 1:]
        except ValueError:
            args = cmd[1:]
        request = {"op": "spawn", "args": args, "env": dict(kwargs.get("env") or {}), "zygote_kit": server.kit}
        if server.sandboxed:
            request.update(self._sandboxed_request(server))
        else:
            request["cwd"] = str(kwargs.get("cwd") or os.getcwd())
            # As jupyter_client's launcher does with JPY_PARENT_PID (which ipykernel reads at import,
            # in the zygote): the kernel knows its parent (it ends with it) and does not print the
            # "Ctrl-C will not work" note meant for a kernel started by hand.
            request["args"] = [*args, f"--IPKernelApp.parent_handle={server.pid()}"]
        answer = server.ask(request)
        if "pid" not in answer:
            raise RuntimeError(f"the warm kernel process could not fork a kernel: {answer}")
        self.process = _ForkedProcess(server, int(answer["pid"]))
        self.pid = self.process.pid
        self.pgid = None  # never os.killpg a pid that may belong to another namespace
        self.cwd = kwargs.get("cwd", Path.cwd())
        return self.connection_info

    def _sandboxed_request(self, server: WarmKernelServer) -> dict:
        from autograder.grading import sandbox

        # The kernel's copy names the socket folder as the kernel sees it.
        connection = json.loads(Path(self.parent.connection_file).read_text())
        connection["ip"] = SOCKETS + "/" + Path(connection["ip"]).name
        return {"cwd": f"{sandbox.HOME}/{getattr(server.settings, 'assignment', 'work')}",
                "connection": json.dumps(connection),
                "limits": sandbox.Limits.from_dict(server.settings.limits).to_dict(),
                "zygote_kit": sandbox.KIT}

    async def send_signal(self, signum: int) -> None:
        if self.process:
            self.process.send_signal(signum, group=True)


class ForkKernelManager(AsyncKernelManager):
    """A kernel forked by ``server`` (a class attribute: see ``WarmKernelServer.manager_class``)."""

    server: WarmKernelServer

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.server.sandboxed:
            # ZMQ over unix sockets: the kernel's network namespace has no route to any TCP
            # port, and needs none.
            self.transport = "ipc"

    async def _async_pre_start_kernel(self, **kw):
        self.server.ensure_running()
        if self.transport == "ipc":
            prefix = self.server.socket_prefix()
            if prefix is None:
                raise RuntimeError("the sandbox's first process was not found")
            self.ip = f"{prefix}/k{os.urandom(4).hex()}"
        fork_from(self.server, self, kw)
        return await super()._async_pre_start_kernel(**kw)


def fork_from(server: WarmKernelServer, manager: AsyncKernelManager, kw: dict) -> None:
    """Give ``manager`` a provisioner that forks its kernel from ``server`` (kept across restarts)."""
    if manager.provisioner is None:
        manager.kernel_id = manager.kernel_id or kw.pop("kernel_id", None) or uuid.uuid4().hex
        manager.provisioner = ForkProvisioner(kernel_id=manager.kernel_id, kernel_spec=manager.kernel_spec,
                                              parent=manager)
        manager.provisioner.server = server


def available() -> bool:
    """Fork kernels need Linux's fork and /proc; the zygote itself checks it is single-threaded."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and Path("/proc/self/task").exists()
