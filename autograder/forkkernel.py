"""Kernels forked from a warm process: CrewAI is imported once per worker, not once per notebook.

A fresh Python kernel spends 3-5 s importing CrewAI before the first cell of a
notebook does anything; a class of 200 learners with 5 notebooks each would
spend over an hour of CPU on imports alone. Here each worker keeps one
"zygote" process that has imported CrewAI, ipykernel and every third-party
module the course kit imports, and nothing else: the course kit itself
(``course``, ``autograder``) is NOT imported there, so each kernel imports it
fresh from the kit, exactly as a fresh kernel would.

The zygote lives inside the worker's bwrap sandbox (``autograder/sandbox.py``),
so the warm state never crosses into the grader's world: it forks each kernel
there, sets the kernel's limits (memory, processes, file size, CPU), and after
each notebook (``reset``) kills every other process of the sandbox's PID
namespace and empties its writable folders, so the next notebook starts from
what a fresh sandbox holds. It is driven over its stdin/stdout (spawn, status,
signal, reset): a pipe the kernels close, not a socket they could find. Kernel
pids may belong to the sandbox's PID namespace, so every signal goes through
the zygote too. With ``--kernel fresh`` a new sandbox (and zygote) is made per
notebook; with ``--no-sandbox`` the zygote runs beside the worker as before.

Forking is only safe from a single-threaded process: the zygote checks that
it has exactly one thread after its imports and refuses to serve otherwise
(``available()`` is then False and the grader starts fresh kernels instead).
"""

from __future__ import annotations

import ast
import json
import os
import select
import signal
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


def _control_streams():
    """The zygote's protocol runs on its stdin/stdout; anything else it prints goes to stderr.

    A pipe rather than a socket on disk: a kernel (the zygote's child) closes its copy, so no
    code in a notebook can reach the zygote and ask it for anything.
    """
    out_fd = os.dup(1)
    os.dup2(2, 1)
    os.set_inheritable(out_fd, False)
    return os.fdopen(0, "r", buffering=1), os.fdopen(out_fd, "w", buffering=1), out_fd


def _in_own_pid_namespace() -> bool:
    """True only inside the sandbox: bwrap is pid 1 and the zygote its first child (pid 2).

    ``kill(-1)`` there ends every process of the sandbox; on the host it would end every
    process of the grader's user, so reset refuses to use it anywhere else.
    """
    return os.getpid() == 2 and os.getppid() == 1


def _serve(kit: str, sandboxed: bool) -> int:
    control_in, control_out, control_fd = _control_streams()
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
    # ipykernel.debugger (debugpy) is imported while each kernel starts: about half of a forked
    # kernel's start-up CPU when it was left to the kernel.
    for name in ["crewai", *_third_party_imports(kit_path), "ipykernel.kernelapp", "ipykernel.ipkernel",
                 "ipykernel.debugger", "IPython.core.interactiveshell", "matplotlib_inline.backend_inline",
                 "matplotlib.font_manager"]:
        try:
            importlib.import_module(name)
            preloaded.append(name)
        except Exception:  # a module that cannot load here simply loads in the kernel
            continue
    settle = time.monotonic() + 3
    while _threads() != 1 and time.monotonic() < settle:  # an import may run a short-lived thread
        time.sleep(0.05)
    if _threads() != 1:
        control_out.write(json.dumps({"error": f"the warm process has {_threads()} threads after its imports; "
                                               "forking it would be unsafe"}) + "\n")
        return 3
    from autograder import procs

    procs.become_subreaper()
    if sandboxed:
        # Kernels run as the zygote's uid: non-dumpable, it cannot be ptraced or read through /proc.
        _prctl(PR_SET_DUMPABLE, 0)
    exits: dict[int, int] = {}
    children: set[int] = set()
    control_out.write(json.dumps({"ready": os.getpid(), "preloaded": len(preloaded)}) + "\n")

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in children:
                exits[pid] = os.waitstatus_to_exitcode(status)
            children.discard(pid)
            if len(exits) > 10_000:
                exits.clear()

    def answer(data: dict) -> None:
        control_out.write(json.dumps(data) + "\n")

    while True:
        ready, _, _ = select.select([control_in], [], [], 0.2)
        if not ready:
            reap()
            continue
        line = control_in.readline()
        if not line:  # the worker is gone: so is the zygote (and, in a sandbox, everything in it)
            for pid in children:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
            return 0
        try:
            request = json.loads(line)
        except ValueError:
            answer({"error": "not JSON"})
            continue
        reap()
        op = request.get("op")
        if op == "status":
            pid = int(request["pid"])
            code = exits.get(pid)
            alive = code is None and pid in children
            answer({"code": None if alive else (code if code is not None else 0)})
        elif op == "signal":
            pid = int(request["pid"])
            if pid not in children:
                answer({"ok": False})
                continue
            try:
                (os.killpg if request.get("group") else os.kill)(pid, int(request["sig"]))
                answer({"ok": True})
            except OSError as err:
                answer({"ok": False, "error": str(err)})
        elif op == "reset":
            answer(_reset(children, sandboxed, reap))
        elif op == "spawn":
            pid = os.fork()
            if pid == 0:
                os.close(control_fd)
                _become_kernel(request, sandboxed)  # never returns
            children.add(pid)
            answer({"pid": pid})
        else:
            answer({"error": f"unknown op {op!r}"})


PR_SET_DUMPABLE = 4


def _prctl(option: int, value: int) -> None:
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _used_bytes(path: str) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def _wipe(folder: str) -> None:
    """Empty a writable folder of the sandbox, whatever modes the notebook left on its files."""
    def unlock(func, path, _exc):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
            func(path)
        except OSError:
            pass

    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for name in entries:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            if os.path.ismount(path):  # the kernel's socket folder: empty it, keep the mount
                _wipe(path)
                continue
            import shutil

            shutil.rmtree(path, onerror=unlock)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _reset(children: set[int], sandboxed: bool, reap) -> dict:
    """After a notebook: end every process it left, measure and empty its writable folders.

    In the sandbox, ``kill(-1, SIGKILL)`` reaches every process of the PID namespace but
    bwrap and the zygote, in one sweep the kernel makes atomic against fork: a chain that
    changes its PID every millisecond is ended with the rest.
    """
    killed = 0
    if sandboxed and _in_own_pid_namespace():
        for _ in range(50):
            others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
            if not others:
                break
            killed = max(killed, len(others))
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                try:
                    if os.waitpid(-1, 0)[0] == 0:
                        break
                except ChildProcessError:
                    break
        reap()
        from autograder.sandbox import HOME

        used = {"working folder": _used_bytes(HOME), "/tmp": _used_bytes("/tmp")}
        for folder in (HOME, "/tmp", "/dev/shm"):
            _wipe(folder)
        return {"killed": killed, "used": used}
    for pid in list(children):
        try:
            os.killpg(pid, signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    reap()
    return {"killed": killed, "used": {}}


def _set_limits(limits: dict) -> None:
    import resource

    for name, key in (("RLIMIT_AS", "memory"), ("RLIMIT_NPROC", "processes"), ("RLIMIT_FSIZE", "file_size"),
                      ("RLIMIT_CPU", "cpu_seconds")):
        value = limits.get(key)
        if value:
            # CPU: SIGXCPU at the soft limit (it names the cause), SIGKILL a second later.
            hard = int(value) + 1 if key == "cpu_seconds" else int(value)
            resource.setrlimit(getattr(resource, name), (int(value), hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _become_kernel(request: dict, sandboxed: bool = False) -> None:
    code = 1
    try:
        os.setsid()
        # The zygote's stdout is its pipe to the worker, which nobody reads any more.
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(2, 1)
        if sandboxed:
            _prctl(PR_SET_DUMPABLE, 1)  # its own /proc entries, as any process has
            _set_limits(request.get("limits") or {})
        # Our own modules came with the zygote's start; the kernel must import the kit afresh.
        for name in list(sys.modules):
            if name.split(".")[0] in ("autograder", "course"):
                del sys.modules[name]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(request["env"])
        cwd = request.get("cwd") or os.getcwd()
        os.makedirs(cwd, exist_ok=True)
        if sandboxed:
            os.makedirs(SOCKETS, mode=0o700, exist_ok=True)
        os.chdir(cwd)
        args = list(request["args"])
        if request.get("connection") is not None and "-f" in args:
            # The grader's connection file is outside the sandbox: the kernel gets its own copy.
            path = f"/tmp/.kernel-{os.getpid()}.json"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(request["connection"])
            args[args.index("-f") + 1] = path
        # The path a fresh `python -m ipykernel_launcher` would have: cwd, then PYTHONPATH
        # (the private kit), then the interpreter's own entries.
        extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        base = [p for p in sys.path[1:] if p not in extra and p != request.get("zygote_kit")]
        sys.path[:] = [cwd, *extra, *base]
        import random

        random.seed()
        sys.argv = ["ipykernel_launcher", *args]
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
    proc = _server.get("proc")
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
        stop_server(force=True)
        raise OSError("the warm kernel process did not answer")
    return json.loads(line)


def _read_line(proc, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


SOCKETS = "/tmp/.kernel-sockets"  # inside the sandbox: the kernel binds its ZMQ sockets here


def _sandbox_root_pid(outer: int) -> int | None:
    """The host pid of the sandbox's first process (bwrap's child of ``outer``): its /proc root is the sandbox's."""
    from autograder import procs

    children = [pid for pid, parent in procs._parents().items() if parent == outer]
    return min(children) if children else None


def host_socket_prefix() -> str | None:
    """Where the grader reaches the kernel's sockets: through /proc/<pid>/root into the sandbox.

    Nothing on the host is writable by the sandbox: its socket folder is on its own size-limited
    /tmp, and the grader (root, or the user who owns the sandbox) connects through the magic link.
    """
    pid = _server.get("root_pid")
    return f"/proc/{pid}/root{SOCKETS}" if pid else None


def start_server(settings, kit: str | None = None) -> None:
    """Start this worker's zygote from ``kit`` (default: the settings' pristine kit), in its sandbox."""
    stop_server()
    kit = kit or settings.kit
    sandboxed = bool(getattr(settings, "sandbox", False))
    if sandboxed:
        from autograder import sandbox

        uid = sandbox.sandbox_uid(os.getpid())
        env = sandbox.base_env({"PYTHONPATH": sandbox.KIT})
        witness_dir = None
        if getattr(settings, "witness", False):
            from autograder import witness

            witness_dir = str(witness.folder_for(settings.work))
        argv = sandbox.command([sys.executable, "-m", "autograder.forkkernel", sandbox.KIT, "--sandboxed"],
                               kit=kit, env=env, limits=sandbox.Limits.from_dict(settings.limits),
                               uid=uid, witness_dir=witness_dir)
    else:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1])] +
                                            [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        argv = [sys.executable, "-m", "autograder.forkkernel", kit]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    line = _read_line(proc, 180)
    info = json.loads(line) if line.strip().startswith("{") else {"error": line or "no answer"}
    if "ready" not in info:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the warm kernel process did not start: {info.get('error')}")
    _server.update({"proc": proc, "kit": kit, "settings": settings, "sandboxed": sandboxed,
                    "root_pid": _sandbox_root_pid(proc.pid) if sandboxed else None})


def stop_server(force: bool = False) -> None:
    proc = _server.pop("proc", None)
    if proc is not None and proc.poll() is not None:
        proc = None
    if proc is not None:
        try:
            if force:
                raise TimeoutError
            proc.stdin.close()
            proc.wait(timeout=5)
        except Exception:
            from autograder import procs

            tree = procs.descendants(proc.pid)
            proc.kill()
            procs.kill_tree(tree)
            proc.wait()
    for key in ("kit", "settings", "sandboxed", "root_pid"):
        _server.pop(key, None)


def server_pid() -> int | None:
    proc = _server.get("proc")
    return proc.pid if proc is not None and proc.poll() is None else None


def reset() -> dict:
    """End whatever the last notebook left in the zygote's sandbox; what it used ({} without a zygote)."""
    if server_pid() is None:
        return {}
    try:
        return _ask({"op": "reset"}, timeout=60)
    except (OSError, ValueError):
        return {}


class _ForkedProcess:
    """What LocalProvisioner expects of a Popen, for a kernel the zygote forked.

    Its pid may be in the sandbox's PID namespace, so every signal goes through the zygote:
    the grader never signals a number that could mean another process on the host.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = _ask({"op": "status", "pid": self.pid}, timeout=10)["code"]
            except (OSError, ValueError, KeyError):
                self.returncode = -9  # the zygote is gone, and its kernels with it
            if self.returncode is not None:
                _last["exit"] = self.returncode
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
            _ask({"op": "signal", "pid": self.pid, "sig": int(signum), "group": group}, timeout=10)
        except (OSError, ValueError):
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL, group=True)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM, group=True)


class ForkProvisioner(LocalProvisioner):
    async def launch_kernel(self, cmd, **kwargs):
        settings = _server.get("settings") or _settings.get("settings")
        if server_pid() is None:
            raise RuntimeError("the warm kernel process is not running")
        try:
            args = cmd[cmd.index("ipykernel_launcher") + 1:]
        except ValueError:
            args = cmd[1:]
        env = kwargs.get("env") or {}
        request = {"op": "spawn", "args": args, "env": dict(env), "zygote_kit": _server.get("kit")}
        if _server.get("sandboxed"):
            from autograder import sandbox

            request["cwd"] = f"{sandbox.HOME}/{getattr(settings, 'assignment', 'work')}"
            # The kernel's copy names the socket folder as the kernel sees it.
            connection = json.loads(Path(self.parent.connection_file).read_text())
            connection["ip"] = SOCKETS + "/" + Path(connection["ip"]).name
            request["connection"] = json.dumps(connection)
            request["limits"] = sandbox.Limits.from_dict(settings.limits).to_dict()
            request["zygote_kit"] = sandbox.KIT
        else:
            request["cwd"] = str(kwargs.get("cwd") or os.getcwd())
        answer = _ask(request)
        if "pid" not in answer:
            raise RuntimeError(f"the warm kernel process could not fork a kernel: {answer}")
        self.process = _ForkedProcess(int(answer["pid"]))
        self.pid = self.process.pid
        self.pgid = None  # never os.killpg a pid that may belong to another namespace
        self.cwd = kwargs.get("cwd", Path.cwd())
        return self.connection_info

    async def send_signal(self, signum: int) -> None:
        if self.process:
            self.process.send_signal(signum, group=True)


_settings: dict = {}
_last: dict = {}


def last_exit() -> int | None:
    """How the last kernel ended (negative: the signal that ended it), then forgotten."""
    return _last.pop("exit", None)


def use(settings) -> None:
    """The settings kernels are started with (the worker calls this once)."""
    _settings["settings"] = settings


class ForkKernelManager(AsyncKernelManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = _settings.get("settings")
        if settings is not None and getattr(settings, "sandbox", False):
            # ZMQ over unix sockets: the kernel's network namespace has no route to any TCP
            # port, and needs none.
            self.transport = "ipc"

    async def _async_pre_start_kernel(self, **kw):
        settings = _server.get("settings") or _settings.get("settings")
        if settings is not None:
            fresh = getattr(settings, "kernel", "fork") == "fresh"
            if fresh or server_pid() is None:
                # "fresh": a new sandbox (and warm process) per notebook. Otherwise the zygote is
                # restarted only when a learner's code killed or stopped it (it is the kernel's parent).
                start_server(settings, _server.get("kit") or settings.kit)
            if self.transport == "ipc":
                prefix = host_socket_prefix()
                if prefix is None:
                    raise RuntimeError("the sandbox's first process was not found")
                self.ip = f"{prefix}/k{os.urandom(4).hex()}"
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or __import__("uuid").uuid4().hex
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


_available: dict[str, bool] = {}


def available() -> bool:
    """Fork kernels need Linux's fork and /proc; the zygote itself checks it is single-threaded."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and Path("/proc/self/task").exists()


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1], "--sandboxed" in sys.argv[2:]))
