"""Settings that keep CrewAI offline, quiet and out of $HOME.

They must be in the environment before ``crewai`` is imported, because CrewAI
reads several of them at import time; ``course/__init__.py`` applies them first.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Each of these stops CrewAI from reaching a server or asking a question:
# telemetry holds process exit ~10 s trying its collector, tracing asks
# "Share this execution trace?" and waits, verbose=True asks PyPI for a version.
QUIET_ENV = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "ANONYMIZED_TELEMETRY": "false",  # chromadb, used by memory
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


_OWN: dict[int, Path] = {}  # pid -> the folder that process made (a forked child makes its own)


def storage_dir() -> Path:
    """Where CrewAI may write (kickoff outputs, memory): never under $HOME.

    A folder per process in the temp dir, so that two notebooks or two graders
    never share (or lock) one SQLite file, and a run leaves nothing in the repo.
    mkdtemp makes it private to the user (0700, a fresh name: two users never
    collide), and it is removed when the process that made it ends.
    """
    chosen = os.environ.get("COURSE_STORAGE_DIR")
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        return path.resolve()
    pid = os.getpid()
    if pid not in _OWN:
        _OWN[pid] = Path(tempfile.mkdtemp(prefix=f"crew-course-{pid}-")).resolve()
        atexit.register(_remove_own, pid)
    return _OWN[pid]


def _remove_own(pid: int) -> None:
    # atexit handlers survive fork: only the process that made the folder removes it.
    if os.getpid() == pid and pid in _OWN:
        shutil.rmtree(_OWN.pop(pid), ignore_errors=True)


class private_home:
    """While CrewAI is imported, $HOME points into the storage folder.

    crewai_core fixes its config path (~/.config/crewai) at import time and
    creates a credentials key under ~/.local/share; neither is needed offline,
    and a course must not write into a learner's home. $HOME is restored after.
    """

    def __enter__(self) -> Path:
        self._saved = {k: os.environ.get(k) for k in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
        home = storage_dir() / "home"
        home.mkdir(exist_ok=True)
        os.environ["HOME"] = str(home)
        os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
        os.environ["XDG_DATA_HOME"] = str(home / ".local" / "share")
        return home

    def __exit__(self, *exc: object) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def private_locks() -> None:
    """CrewAI's named locks as files in this process's own storage folder.

    By default CrewAI keeps them in the system temp dir as ``crewai:<md5>.lock``:
    the first user's file (0644) then stops every other user's kickoff, and it is
    never removed. What they guard (CrewAI's SQLite files) lives in the storage
    folder, which is this process's alone, so the lock can live there too.
    """
    import contextlib
    import hashlib

    import portalocker
    from crewai_core import lock_store

    @contextlib.contextmanager
    def in_storage(name: str, *, timeout: float = 120):
        digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
        with portalocker.Lock(str(storage_dir() / f"crewai-{digest}.lock"), timeout=timeout):
            yield

    lock_store.set_lock_backend(in_storage)


def apply() -> None:
    """Put the quiet settings in the environment.

    They overwrite what the shell had: a course that runs offline for everyone
    cannot let a stray CREWAI_TRACING_ENABLED=true reach a server.
    """
    os.environ.update(QUIET_ENV)
    os.environ["CREWAI_STORAGE_DIR"] = str(storage_dir())


# --- the network guard ------------------------------------------------------------
# An audit hook sees every socket connect and name lookup in the process. The
# course refuses those that leave the machine, and keeps a list, so that a test
# (or an instructor) can prove a run stayed offline. Loopback stays allowed:
# Jupyter and the browser test talk to 127.0.0.1.

import ipaddress  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

_attempts: list[str] = []
_attempts_lock = threading.Lock()
_guard = {"installed": False, "blocking": True}


class OfflineError(ConnectionRefusedError):
    """Raised when code tries to reach the network while the course is offline."""


def _is_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = str(host).strip("[]").lower()
    if name in {"localhost", "", "ip6-localhost"} or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect":
        address = args[1]
        if not isinstance(address, tuple):  # AF_UNIX paths are local
            return
        host = address[0]
    elif event == "socket.getaddrinfo":
        host = args[0]
    else:
        return
    if _is_local(host):
        return
    with _attempts_lock:
        _attempts.append(f"{event} {host}")
    if _guard["blocking"]:
        raise OfflineError(
            f"This course runs offline, so the connection to {host!r} was refused. "
            "Nothing in the exercises needs the internet: use the course's scripted model."
        )


def install_network_guard() -> None:
    if not _guard["installed"]:
        sys.addaudithook(_audit)  # audit hooks cannot be removed: install once
        _guard["installed"] = True


def network_attempts() -> list[str]:
    """Every refused attempt to reach another machine in this process so far."""
    with _attempts_lock:
        return list(_attempts)


def allow_network(allowed: bool = True) -> None:
    """Stop refusing connections (they are still listed). For instructors' experiments only."""
    _guard["blocking"] = not allowed
