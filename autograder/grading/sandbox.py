"""The sandbox a graded notebook's kernel runs in: bubblewrap (Debian's ``bubblewrap``), not a home-made one.

Without it, a learner's code runs as the grader: it can read the hidden tests
(gradebook, ``source/``), the instructor's environment and HOME, classmates'
hand-ins and results, reach any loopback port, plant a ``.pth`` in the venv,
and leave processes that rewrite grades after the run. Under ``bwrap``:

- own mount, PID, IPC, UTS and network namespaces (network: loopback only,
  its own): the kernel binds its ZMQ sockets as ``ipc://`` unix sockets on its
  own /tmp, and the grader connects through ``/proc/<pid>/root``, so no TCP
  port of anyone is reachable and no host folder is writable from inside;
- the filesystem is the system (``/usr``, ``/etc``), the Python install, the
  venv and the pristine kit, all read-only; writable are only a size-limited
  tmpfs for the working folder and HOME (``/home/learner``), a size-limited
  ``/tmp`` and ``/dev/shm``. The repo,
  gradebooks, ``source/``, submissions, outputs and other students do not exist
  inside;
- an unprivileged uid: run by root, bwrap keeps only CAP_SETUID/SETGID and
  ``setpriv`` drops to a uid of its own (no capability, no new privileges); run
  by another user, a user namespace maps uid 65534 to that user;
- an environment built from scratch (``--clearenv``) from an allowlist;
- ``--die-with-parent``: when the grader goes, so does everything inside;
  the PID namespace ends with its first process.

Per-process limits (memory, processes, file size, CPU time) are set on each
kernel by the warm process that forks it (``autograder/grading/warm_kernels.py``); the
tmpfs sizes bound the disk. ``limit_notes`` turns what hit a limit into the
reason's words.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.paths import SANDBOX_HOME as HOME
from autograder.paths import SANDBOX_KIT as KIT
from autograder.paths import SANDBOX_WITNESS as WITNESS
from autograder.paths import SHARED_RUNS_ENV

UID_BASE = 3_100_000  # root grader: each sandbox runs as a uid of its own, owned by nobody on the host
USERNS_UID = 65534  # non-root grader: the uid the user namespace shows

# Names a kernel's environment may hold: nothing else of the grader's reaches it.
ENV_ALLOWED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH",
               "PYTHONNOUSERSITE", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "IPYTHONDIR", "MPLBACKEND",
               "MPLCONFIGDIR", "COURSE_STORAGE_DIR", "JPY_SESSION_NAME",
               SHARED_RUNS_ENV)


class SandboxUnavailable(Exception):
    """bwrap is missing or cannot build a sandbox on this machine; the message says what to do."""


def parse_size(text: str | int) -> int:
    """'4G', '512M', '1.5GiB', 1073741824 -> bytes."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMgGtT]?)(i?[bB])?\s*", str(text))
    if not match:
        raise ValueError(f"{text!r} is not a size (examples: 4G, 512M)")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


@dataclass
class Limits:
    """What one graded notebook may use. Each one hit is said in the row's reason."""

    memory: int = 4 * 2**30  # address space per process (RLIMIT_AS)
    processes: int = 256  # processes and threads of the sandbox's uid (RLIMIT_NPROC)
    file_size: int = 256 * 2**20  # one file (RLIMIT_FSIZE)
    cpu_seconds: int = 900  # CPU time per process (RLIMIT_CPU)
    work_size: int = 512 * 2**20  # the working folder + HOME (tmpfs size)
    tmp_size: int = 256 * 2**20  # /tmp (tmpfs size); /dev/shm gets a sixteenth of it

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Limits":
        return cls(**(data or {}))


def _mib(n: int) -> str:
    return f"{n / 2**30:g} GiB" if n >= 2**30 else f"{n / 2**20:g} MiB"


def bwrap_path() -> str | None:
    return shutil.which("bwrap") or (os.path.exists("/usr/bin/bwrap") and "/usr/bin/bwrap") or None


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args + ["--ro-bind", "/etc", "/etc"]


def _ro_tree(path: str, made: set[str]) -> list[str]:
    """Read-only bind of ``path`` at the same place, its parents created traversable (0755)."""
    args = []
    parents = list(Path(path).parents)[::-1][1:]  # without "/"
    for parent in parents:
        p = str(parent)
        if p in made or p in ("/usr", "/etc"):
            continue
        made.add(p)
        args += ["--perms", "0755", "--dir", p]
    made.add(path)
    return args + ["--ro-bind", path, path]


def _shelf(path: str, made: set[str]) -> str | None:
    """For a venv in a clone under /tmp (or another writable tmpfs): the folder just below that
    tmpfs that holds it, which gets a small tmpfs of its own, made read-only once the venv's
    parents are in it; in the writable /tmp they would be the sandbox user's to write into."""
    for top in ("/tmp", "/dev/shm", HOME):
        rel = Path(path).relative_to(top).parts if path.startswith(top + "/") else ()
        if len(rel) > 1 and f"{top}/{rel[0]}" not in made:
            made.add(f"{top}/{rel[0]}")
            return f"{top}/{rel[0]}"
    return None


def python_paths() -> list[str]:
    """The interpreter's install and the venv, as real paths (the venv's python links into the install)."""
    paths = []
    for prefix in (sys.base_prefix, sys.prefix):
        real = os.path.realpath(prefix)
        if not real.startswith(("/usr/", "/etc/")) and real not in paths:
            paths.append(real)
    # A venv's bin/python is a link to the install's python: follow it wherever it points.
    target = os.path.realpath(sys.executable)
    if not any(target.startswith(p + "/") for p in paths) and not target.startswith("/usr/"):
        paths.append(os.path.dirname(os.path.dirname(target)))
    return paths


def sandbox_uid(slot: int) -> int:
    return UID_BASE + slot % 100_000


def command(argv: list[str], *, kit: str, env: dict[str, str], limits: Limits,
            uid: int, cwd: str = HOME, witness_dir: str | None = None) -> list[str]:
    """The full command line that runs ``argv`` in a fresh sandbox.

    ``witness_dir``: the host folder of the model's witness (``autograder/grading/witness.py``), mounted
    read-only at ``WITNESS``: its socket is the one channel out of the sandbox.
    """
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable("bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)")
    made: set[str] = set()
    args = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "grading"]
    root = os.geteuid() == 0
    if not root:
        args += ["--unshare-user", "--uid", str(USERNS_UID), "--gid", str(USERNS_UID), "--disable-userns"]
    args += _system_mounts()
    args += ["--perms", "0755", "--dir", "/opt", "--ro-bind", kit, KIT]
    if witness_dir:
        args += ["--ro-bind", witness_dir, WITNESS]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs", "/tmp"]
    args += ["--perms", "1777", "--size", str(max(2**20, limits.tmp_size // 16)), "--tmpfs", "/dev/shm"]
    args += ["--remount-ro", "/dev"]  # a user-namespace /dev is the sandbox user's: no unbounded RAM there
    args += ["--perms", "0755", "--dir", "/home"]
    args += ["--perms", "1777", "--size", str(limits.work_size), "--tmpfs", HOME]
    # bwrap mounts in order: a tmpfs hides whatever was bound beneath it before, so the Python
    # install and the venv come after the tmpfs mounts (a clone under /tmp keeps its .venv visible).
    made.update(("/tmp", "/dev", "/dev/shm", "/home", HOME, "/proc"))  # exist already: no --dir over them
    sealed = []
    for path in python_paths():
        shelf = _shelf(path, made)
        if shelf:
            sealed.append(shelf)
            args += ["--perms", "0755", "--size", str(2**20), "--tmpfs", shelf]
        args += _ro_tree(path, made)
    # The root is bwrap's own tmpfs, and the folders it made (/opt, /home, the venv's parents)
    # belong to a user-namespace sandbox's user: read-only, a write lands only where a mount allows.
    for mount in ["/", *sealed]:
        args += ["--remount-ro", mount]
    args += ["--chdir", cwd, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    if root:
        # Privileged bwrap keeps only the two capabilities setpriv needs to leave root for good.
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        args += ["--cap-add", "CAP_SETUID,CAP_SETGID", "--", setpriv, f"--reuid={uid}", f"--regid={uid}",
                 "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    else:
        args += ["--"]
    return args + list(argv)


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A kernel's environment: the allowlist, from scratch, with the kernel's own settings on top."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": HOME, "USER": "learner", "LOGNAME": "learner", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra or {})
    env.setdefault("MPLCONFIGDIR", f"{env['HOME']}/.config/matplotlib")
    return {k: str(v) for k, v in env.items() if k in ENV_ALLOWED}


@functools.cache
def problem() -> str | None:
    """None when a sandbox can be built here; else why not, in words that say what to do (asked once
    per process: whether this machine can build a sandbox does not change while it grades)."""
    answer: str | None = None
    if not sys.platform.startswith("linux"):
        answer = f"sandboxes need Linux namespaces, and this is {sys.platform}"
    elif bwrap_path() is None:
        answer = "bwrap is not installed (Debian/Ubuntu: `apt-get install bubblewrap`, or `make sandbox`)"
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as kit:
            os.chmod(kit, 0o755)
            try:
                argv = command([sys.executable, "-c", "import os; print(os.getuid())"], kit=kit, env=base_env(), limits=Limits(), uid=sandbox_uid(0))
                done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
                if done.returncode != 0:
                    answer = _why_failed(kit, (done.stderr.strip().splitlines() or ["no message"])[-1])
                elif done.stdout.strip() == "0":
                    answer = "the sandbox ran as root; refusing to use it"
            except (OSError, subprocess.SubprocessError) as err:
                answer = f"bwrap could not be run ({err})"
    return answer


def _why_failed(kit: str, message: str) -> str:
    """Why the probe's python failed: a path the sandbox cannot see, python itself, or no namespaces."""
    paths = [sys.executable, *python_paths()]
    script = 'for p do [ -e "$p" ] || echo "$p"; done'
    try:
        argv = command(["/bin/sh", "-c", script, "sh", *paths], kit=kit, env=base_env(), limits=Limits(),
                       uid=sandbox_uid(0))
        shell = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        shell = None
    if shell is not None and shell.returncode == 0:
        hidden = shell.stdout.split("\n")[:-1]
        if hidden:
            return (f"the sandbox works, but cannot see {', '.join(hidden)} (bound read-only from the host: "
                    f"hidden by a later mount, or not readable by the sandbox's uid; the folder must be "
                    f"readable by others, e.g. chmod o+rx); python said: {message}")
        return f"the sandbox works, but {sys.executable} fails inside it ({message})"
    return ("bwrap could not build a sandbox here (" + message + "); user namespaces may be switched off "
            "(sysctl kernel.unprivileged_userns_clone=1) or the machine is a container without them")


# --- what hit a limit, in the reason's words -------------------------------------------------

def limit_notes(outputs_text: str, limits: Limits, *, exit_signal: int | None = None,
                used: dict | None = None, killed: int = 0) -> list[str]:
    """Plain phrases for each limit a notebook hit (outputs: every cell output's text, joined)."""
    import signal as sig

    notes = []
    if "MemoryError" in outputs_text or exit_signal == sig.SIGSEGV and "MemoryError" in outputs_text:
        notes.append(f"a cell hit the memory limit ({_mib(limits.memory)} per process) and got a MemoryError")
    if exit_signal == sig.SIGXCPU:
        notes.append(f"the kernel used more than {limits.cpu_seconds} s of CPU time and was stopped")
    if "Resource temporarily unavailable" in outputs_text or "can't start new thread" in outputs_text \
            or killed >= limits.processes // 2:
        notes.append(f"it hit the limit of {limits.processes} processes and threads")
    if "File too large" in outputs_text or exit_signal == sig.SIGXFSZ:
        notes.append(f"a file hit the size limit ({_mib(limits.file_size)})")
    used = used or {}
    full = [where for where, size in (("working folder", limits.work_size), ("/tmp", limits.tmp_size))
            if used.get(where, 0) >= size - 2**20]
    if full or "No space left on device" in outputs_text:
        notes.append(f"it filled its {' and '.join(full) or 'disk space'} (limit {_mib(limits.work_size)} for "
                     f"the working folder and HOME, {_mib(limits.tmp_size)} for /tmp)")
    return notes
