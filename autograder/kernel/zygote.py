"""The warm process ("zygote") inside a worker's sandbox: CrewAI imported once, kernels forked from it.

A fresh Python kernel spends 3-5 s importing CrewAI before the first cell of a
notebook does anything; a class of 200 learners with 5 notebooks each would
spend over an hour of CPU on imports alone. So each worker keeps one process
that has imported CrewAI, ipykernel and every third-party module the course kit
imports, and nothing else: the course kit itself (``course``, the kernel side of
``autograder``) is NOT imported here, so each kernel imports it fresh from the
kit, exactly as a fresh kernel would.

This module runs inside the sandbox (``python -m autograder.kernel.zygote KIT``),
from the kit, so it imports nothing of the grader's host code. It forks each
kernel, sets the kernel's limits (memory, processes, file size, CPU), and after
each notebook (``reset``) kills every other process of the sandbox's PID
namespace and empties its writable folders, so the next notebook starts from
what a fresh sandbox holds. It is driven over its stdin/stdout (spawn, status,
signal, reset): a pipe the kernels close, not a socket they could find. The
grader's side of that pipe is ``autograder/grading/warm_kernels.py``.

Forking is only safe from a single-threaded process: the zygote checks that
it has exactly one thread after its imports and refuses to serve otherwise.
"""

from __future__ import annotations

import ast
import json
import os
import select
import signal
import sys
import time
from pathlib import Path

from autograder.kernel import linux
from autograder.paths import KERNEL_SOCKETS as SOCKETS
from autograder.paths import SANDBOX_HOME

def _third_party_imports(kit: Path) -> list[str]:
    """Third-party modules a kernel will import through the kit (to pre-import in the zygote).

    Followed from course/*.py, autograder/checks/*.py and autograder/kernel/*.py through the kit's own imports,
    so the grader's own modules (nbgrader, jupyter_client...) stay out of kernels.
    """
    names: set[str] = set()
    todo = (sorted((kit / "course").glob("*.py")) + sorted((kit / "autograder" / "checks").glob("*.py"))
            + sorted((kit / "autograder" / "kernel").glob("*.py")))
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
    preloaded = _warm_up(Path(kit))
    if _threads() != 1:
        control_out.write(json.dumps({"error": f"the warm process has {_threads()} threads after its imports; "
                                               "forking it would be unsafe"}) + "\n")
        return 3
    linux.become_subreaper()
    if sandboxed:
        # Kernels run as the zygote's uid: non-dumpable, it cannot be ptraced or read through /proc.
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
    control_out.write(json.dumps({"ready": os.getpid(), "preloaded": len(preloaded)}) + "\n")
    return _Zygote(control_out, control_fd, sandboxed).serve(control_in)


def _quiet_env(kit: Path) -> dict[str, str]:
    """The course's QUIET_ENV (course/offline.py), read from the kit without importing the course."""
    offline = kit / "course" / "offline.py"
    if not offline.exists():
        return {}
    for node in ast.parse(offline.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "QUIET_ENV" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _warm_up(kit: Path) -> list[str]:
    """Import what every kernel will import; the names that loaded."""
    import importlib

    # The quiet, offline settings must be in the environment before CrewAI is imported.
    os.environ.update(_quiet_env(kit))
    # matplotlib reads its backend once, at import (here): the one ipykernel sets for a fresh kernel.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # numpy's OpenBLAS starts a worker thread per core at import, and a forked child
    # would inherit none of them: one BLAS thread is what a grading worker wants anyway.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    preloaded = []
    # ipykernel.debugger (debugpy) is imported while each kernel starts: about half of a forked
    # kernel's start-up CPU when it was left to the kernel.
    # Not matplotlib_inline.backend_inline: it registers the Figure display with the IPython shell
    # that exists when it is first imported, and here there is none (a kernel would show figures
    # as text only).
    for name in ["crewai", *_third_party_imports(kit), "ipykernel.kernelapp", "ipykernel.ipkernel",
                 "ipykernel.debugger", "IPython.core.interactiveshell", "matplotlib.font_manager"]:
        try:
            importlib.import_module(name)
            preloaded.append(name)
        except Exception:  # a module that cannot load here simply loads in the kernel
            continue
    settle = time.monotonic() + 3
    while _threads() != 1 and time.monotonic() < settle:  # an import may run a short-lived thread
        time.sleep(0.05)
    return preloaded


class _Zygote:
    """The request loop: spawn, status, signal, reset, one JSON line each way."""

    def __init__(self, control_out, control_fd: int, sandboxed: bool) -> None:
        self.out, self.control_fd, self.sandboxed = control_out, control_fd, sandboxed
        self.exits: dict[int, int] = {}
        self.children: set[int] = set()

    def answer(self, data: dict) -> None:
        self.out.write(json.dumps(data) + "\n")

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.children:
                self.exits[pid] = os.waitstatus_to_exitcode(status)
            self.children.discard(pid)
            if len(self.exits) > 10_000:
                self.exits.clear()

    def serve(self, control_in) -> int:
        while True:
            ready, _, _ = select.select([control_in], [], [], 0.2)
            if not ready:
                self.reap()
                continue
            line = control_in.readline()
            if not line:  # the worker is gone: so is the zygote (and, in a sandbox, everything in it)
                for pid in self.children:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return 0
            try:
                request = json.loads(line)
            except ValueError:
                self.answer({"error": "not JSON"})
                continue
            self.reap()
            self.handle(request)

    def handle(self, request: dict) -> None:
        op = request.get("op")
        if op == "status":
            pid = int(request["pid"])
            code = self.exits.get(pid)
            alive = code is None and pid in self.children
            self.answer({"code": None if alive else (code if code is not None else 0)})
        elif op == "signal":
            self.answer(self._signal(int(request["pid"]), int(request["sig"]), bool(request.get("group"))))
        elif op == "reset":
            self.answer(_reset(self.children, self.sandboxed, self.reap))
        elif op == "spawn":
            pid = os.fork()
            if pid == 0:
                os.close(self.control_fd)
                _become_kernel(request, self.sandboxed)  # never returns
            self.children.add(pid)
            self.answer({"pid": pid})
        else:
            self.answer({"error": f"unknown op {op!r}"})

    def _signal(self, pid: int, sig: int, group: bool) -> dict:
        if pid not in self.children:
            return {"ok": False}
        try:
            (os.killpg if group else os.kill)(pid, sig)
            return {"ok": True}
        except OSError as err:
            return {"ok": False, "error": str(err)}


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
        used = {"working folder": _used_bytes(SANDBOX_HOME), "/tmp": _used_bytes("/tmp")}
        for folder in (SANDBOX_HOME, "/tmp", "/dev/shm"):
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
            linux.prctl(linux.PR_SET_DUMPABLE, 1)  # its own /proc entries, as any process has
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
            _run_exit_handlers()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _run_exit_handlers() -> None:
    """What the kernel's code registered to do at exit (the course removes its temp folder): os._exit
    skips it, and a kernel that ends must do what a fresh one does.

    All but ipykernel's own ``IPKernelApp.close``: it stops the IOPub thread, then joins the Control
    thread, which may still be flushing output after the shutdown reply and then waits for that
    IOPub thread (10 s): the grader then sends SIGTERM at 2.5 s. Measured on cleo_partial's 01, one
    kernel stop in five took 3 s. Closing zmq sockets tidily is all it adds, and os._exit ends them.
    """
    import atexit

    from ipykernel.kernelapp import IPKernelApp

    if IPKernelApp.initialized():
        atexit.unregister(IPKernelApp.instance().close)
    atexit._run_exitfuncs()


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1], "--sandboxed" in sys.argv[2:]))
