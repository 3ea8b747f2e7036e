"""Kernels forked from a warm process: CrewAI is imported once per worker, not once per notebook.

A fresh Python kernel spends 3-5 s importing CrewAI before the first cell of a
notebook does anything; a class of 200 learners with 5 notebooks each would
spend over an hour of CPU on imports alone. Here each worker keeps one
"zygote" process that has imported CrewAI, ipykernel and every third-party
module the course kit imports, and nothing else: the course kit itself
(``course``, ``autograder``) is NOT imported there, so each kernel imports it
fresh from its own private copy, exactly as a fresh kernel would.

Per notebook, nbgrader's Execute asks its kernel manager for a kernel; the
``ForkProvisioner`` asks the zygote to fork a child, which becomes a normal
ipykernel process (own pid, own session, the notebook's cwd and environment)
and is interrupted, killed and polled like any other kernel. Everything about
grading (nbgrader's preprocessors, timeouts, the gradebook) is unchanged.

Forking is only safe from a single-threaded process: the zygote checks that
it has exactly one thread after its imports and refuses to serve otherwise
(``available()`` is then False and the grader starts fresh kernels instead).
"""

from __future__ import annotations

import ast
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

_server: dict = {}


# --- the zygote (its own process) --------------------------------------------------------

def _third_party_imports(kit: Path) -> list[str]:
    """Third-party modules a kernel will import through the kit (to pre-import in the zygote).

    Followed from course/*.py and autograder/checks/*.py through the kit's own imports,
    so the grader's own modules (nbgrader, jupyter_client...) stay out of kernels.
    """
    names: set[str] = set()
    todo = sorted((kit / "course").glob("*.py")) + sorted((kit / "autograder" / "checks").glob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen or not path.exists():
            continue
        seen.add(path)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, OSError, UnicodeDecodeError):
            continue
        for node in tree.body:
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
                if node.module == "autograder":
                    todo += [kit / "autograder" / f"{alias.name}.py" for alias in node.names]
            for module in modules:
                top = module.split(".")[0]
                if top == "autograder" and module != "autograder":
                    todo.append(kit / "autograder" / (module.split(".", 1)[1].replace(".", "/") + ".py"))
                elif top not in ("course", "autograder", "__future__"):
                    names.add(module)
    return sorted(names)


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return -1


def _serve(sock_path: str, kit: str) -> int:
    kit_path = Path(kit)
    # The quiet, offline settings must be in the environment before CrewAI is imported.
    quiet = {}
    offline = kit_path / "course" / "offline.py"
    if offline.exists():
        tree = ast.parse(offline.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "QUIET_ENV" for t in node.targets):
                quiet = ast.literal_eval(node.value)
    os.environ.update(quiet)
    # numpy's OpenBLAS starts a worker thread per core at import, and a forked child
    # would inherit none of them: one BLAS thread is what a grading worker wants anyway.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    import importlib

    preloaded = []
    for name in ["crewai", *_third_party_imports(kit_path), "ipykernel.kernelapp", "ipykernel.ipkernel",
                 "IPython.core.interactiveshell", "matplotlib_inline.backend_inline"]:
        try:
            importlib.import_module(name)
            preloaded.append(name)
        except Exception:  # a module that cannot load here simply loads in the kernel
            continue
    settle = time.monotonic() + 3
    while _threads() != 1 and time.monotonic() < settle:  # an import may run a short-lived thread
        time.sleep(0.05)
    if _threads() != 1:
        print(json.dumps({"error": f"the warm process has {_threads()} threads after its imports; "
                                   "forking it would be unsafe"}), flush=True)
        return 3
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(16)
    from autograder import procs

    procs.become_subreaper()
    exits: dict[int, int] = {}
    children: set[int] = set()
    selector = selectors.DefaultSelector()
    selector.register(server, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin, selectors.EVENT_READ, "parent")
    print(json.dumps({"ready": os.getpid(), "preloaded": len(preloaded)}), flush=True)

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            exits[pid] = os.waitstatus_to_exitcode(status)
            children.discard(pid)
            if len(exits) > 10_000:
                exits.clear()

    while True:
        for key, _ in selector.select(timeout=0.2):
            if key.data == "parent":
                if not sys.stdin.readline():  # the worker is gone: so is the zygote
                    for pid in children:
                        try:
                            os.killpg(pid, signal.SIGKILL)
                        except OSError:
                            pass
                    return 0
                continue
            conn, _ = server.accept()
            with conn:
                request = json.loads(conn.makefile("r").readline() or "{}")
                reap()
                if request.get("op") == "status":
                    pid = int(request["pid"])
                    code = exits.get(pid)
                    alive = code is None and Path(f"/proc/{pid}").exists()
                    conn.sendall((json.dumps({"code": None if alive else (code if code is not None else 0)})
                                  + "\n").encode())
                    continue
                if request.get("op") != "spawn":
                    continue
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    server.close()
                    conn.close()
                    _become_kernel(request)  # never returns
                children.add(pid)
                conn.sendall((json.dumps({"pid": pid}) + "\n").encode())
        reap()


def _become_kernel(request: dict) -> None:
    code = 1
    try:
        os.setsid()
        # The zygote's stdout is its pipe to the worker, which nobody reads any more.
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(2, 1)
        # Our own modules came with the zygote's start; the kernel must import the kit afresh.
        for name in list(sys.modules):
            if name.split(".")[0] in ("autograder", "course"):
                del sys.modules[name]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(request["env"])
        cwd = request.get("cwd") or os.getcwd()
        os.chdir(cwd)
        # The path a fresh `python -m ipykernel_launcher` would have: cwd, then PYTHONPATH
        # (the private kit), then the interpreter's own entries.
        extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        base = [p for p in sys.path[1:] if p not in extra and p != request.get("zygote_kit")]
        sys.path[:] = [cwd, *extra, *base]
        import random

        random.seed()
        sys.argv = ["ipykernel_launcher", *request["args"]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001  whatever happens, this process must not return into the zygote
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


# --- the worker side ---------------------------------------------------------------------

def _ask(request: dict, timeout: float = 30.0) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(_server["socket"])
        sock.sendall((json.dumps(request) + "\n").encode())
        return json.loads(sock.makefile("r").readline() or "{}")


def start_server(settings, kit: str | None = None) -> None:
    """Start this worker's zygote from ``kit`` (default: the settings' pristine kit)."""
    stop_server()
    kit = kit or settings.kit
    folder = Path(settings.work) / ".zygotes"
    folder.mkdir(parents=True, exist_ok=True)
    sock_path = str(folder / f"zygote-{os.getpid()}.sock")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1])] +
                                        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    proc = subprocess.Popen([sys.executable, "-m", "autograder.forkkernel", sock_path, kit],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    info = json.loads(line) if line.strip().startswith("{") else {"error": line or "no answer"}
    if "ready" not in info:
        proc.kill()
        raise RuntimeError(f"the warm kernel process did not start: {info.get('error')}")
    _server.update({"proc": proc, "socket": sock_path, "kit": kit, "settings": settings})


def stop_server() -> None:
    proc = _server.pop("proc", None)
    if proc is not None and proc.poll() is not None:
        proc = None
    if proc is not None:
        try:
            proc.stdin.close()
            proc.wait(timeout=5)
        except Exception:
            proc.kill()
    _server.clear()


def server_pid() -> int | None:
    proc = _server.get("proc")
    return proc.pid if proc is not None and proc.poll() is None else None


class _ForkedProcess:
    """What LocalProvisioner expects of a Popen, for a kernel the zygote forked."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = _ask({"op": "status", "pid": self.pid}, timeout=10)["code"]
            except (OSError, ValueError, KeyError):
                self.returncode = None if Path(f"/proc/{self.pid}").exists() else -9
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.05)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):
    async def launch_kernel(self, cmd, **kwargs):
        if server_pid() is None and _server.get("settings") is not None:
            # A learner's code can kill the zygote (it is the kernel's parent): start a new one,
            # so that only that learner's notebook was affected.
            start_server(_server["settings"], _server.get("kit"))
        if not _server.get("socket") or server_pid() is None:
            raise RuntimeError("the warm kernel process is not running")
        try:
            args = cmd[cmd.index("ipykernel_launcher") + 1:]
        except ValueError:
            args = cmd[1:]
        env = kwargs.get("env") or dict(os.environ)
        answer = _ask({"op": "spawn", "args": args, "env": dict(env), "cwd": str(kwargs.get("cwd") or os.getcwd()),
                       "zygote_kit": _server.get("kit")})
        if "pid" not in answer:
            raise RuntimeError(f"the warm kernel process could not fork a kernel: {answer}")
        self.process = _ForkedProcess(int(answer["pid"]))
        self.pid = self.process.pid
        self.pgid = self.process.pid  # the child called setsid(): it leads its own group
        self.cwd = kwargs.get("cwd", Path.cwd())
        return self.connection_info


class ForkKernelManager(AsyncKernelManager):
    async def _async_pre_start_kernel(self, **kw):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or __import__("uuid").uuid4().hex
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


_available: dict[str, bool] = {}


def available() -> bool:
    """Fork kernels need Linux's fork and /proc; the zygote itself checks it is single-threaded."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and Path("/proc/self/task").exists()


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1], sys.argv[2]))
