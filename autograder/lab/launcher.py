"""`make lab`: JupyterLab for a self-study learner, on a working copy of the release.

    python -m autograder lab [--work DIR] [--port N] [--ip ADDR] [--token T] [--no-browser]

What it does, in order:

1. Copies ``release/crew_processes/`` into ``lab-work/crew_processes/``, file by
   file and only where a file is absent: the learner's work persists between
   sessions, a deleted notebook comes back fresh, and ``release/`` (committed,
   generated) is never opened for writing, not even by Validate, which saves the
   notebook first.
2. Writes a Jupyter configuration into ``lab-work/.jupyter/`` (never under
   $HOME) and points JUPYTER_CONFIG_DIR, JUPYTER_DATA_DIR, JUPYTER_RUNTIME_DIR,
   IPYTHONDIR and MPLCONFIGDIR there. That configuration turns off what a
   self-study learner does not need and what would show an error or a toast:

   - nbgrader's Assignment List and Course List (lab plugins and server
     extensions): they need a shared exchange directory on a class server and
     otherwise show "exchange directory ... does not exist";
   - nbgrader's Formgrader and Create Assignment, and the Nbgrader menu that
     opens them: instructor tools;
   - JupyterLab's news feed and update check (the "official Jupyter news?" toast
     and a request to the internet).

   nbgrader's Validate button (the validate_assignment extension) stays: it is
   how the learner checks an exercise.

   It also keeps the terminal readable. Every kernel (one per open notebook,
   one per Validate) logged "Kernel is running over TCP without encryption"
   (ipykernel 7 says so for any kernel on TCP without CurveZMQ keys): here the
   kernel manager gives each kernel CurveZMQ keys, as the warning asks
   (``KernelManager.transport_encryption = "auto"``: only kernels whose
   kernelspec declares ``supported_encryption: curve``, as ipykernel's does),
   for the server's kernels and, through ``nbgrader_config.json``, for
   Validate's. (IPC sockets would also do, but their paths must stay under 107
   characters, which a project folder deep in a home directory breaks.) And
   every notebook copied from release/ logged "Notebook ... is not trusted"
   when opened and again when saved: the copies are signed with this lab's own
   notebook secret, the way
   ``jupyter trust`` does, because they are the course's own files.
3. Starts JupyterLab on 127.0.0.1 with a token, waits until it answers, prints
   the URL, and stops it (with its kernels) on Ctrl-C.

The browser test (tests/e2e/test_browser.py) starts the server through the same
``prepare`` and ``LabServer``, so what it proves is what ``make lab`` serves.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import psutil  # pinned in requirements.lock (ipykernel's dependency)

from autograder.paths import ASSIGNMENT, IGNORE, RELEASE, ROOT  # IGNORE: never copied from release/

DEFAULT_WORK = ROOT / "lab-work"
FIRST_NOTEBOOK = "00_tour.ipynb"


# JupyterLab plugins turned off, with the reason the README gives.
DISABLED_LAB_PLUGINS = {
    "@jupyter/nbgrader:assignment-list": "needs a class exchange directory",
    "@jupyter/nbgrader:course-list": "needs a class exchange directory",
    "@jupyter/nbgrader:formgrader": "instructor tool",
    "@jupyter/nbgrader:create-assignment": "instructor tool",
    "@jupyter/nbgrader:menu": "only opens the tools above",
}
# Server extensions turned off (validate_assignment stays on: the Validate button).
DISABLED_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.formgrader",
)
# Kernels get CurveZMQ keys from their manager: encrypted TCP, and no "running
# over TCP without encryption" warning from each kernel.
KERNEL_TRANSPORT = {"KernelManager": {"transport_encryption": "auto"}}

# Written only when absent, so that a learner's own choices survive.
DEFAULT_USER_SETTINGS = {
    # No news feed, no update check: no toast asking about news, no request out.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


# --- the working copy and its configuration ------------------------------------------


def copy_release(work: Path, release: Path = RELEASE, assignment: str = ASSIGNMENT) -> list[Path]:
    """Copy every release file that is absent from ``work/assignment``; return what was copied."""
    source = release / assignment
    if not source.is_dir():
        raise SystemExit(f"No released notebooks in {source}: run `make release` first.")
    target = work / assignment
    copied = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part == pattern or Path(part).match(pattern) for part in relative.parts for pattern in IGNORE):
            continue
        destination = target / relative
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            copied.append(destination)
    return copied


def jupyter_dirs(work: Path) -> dict[str, Path]:
    """Where this lab keeps its Jupyter state: inside the working folder, hidden."""
    base = work / ".jupyter"
    return {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "IPYTHONDIR": base / "ipython",
        "MPLCONFIGDIR": base / "matplotlib",
    }


def write_config(work: Path, warm: bool = True, keep: frozenset[str] = frozenset(),
                 nbgrader: dict | None = None) -> Path:
    """Write the self-study configuration; return the Jupyter config dir.

    ``warm``: kernels (the lab's and Validate's) forked from one warm process
    (autograder/lab/warm_kernels.py); otherwise each starts as a new Python.
    ``keep``: names from DISABLED_LAB_PLUGINS and DISABLED_SERVER_EXTENSIONS left on (a class
    hub's learners keep the Assignment List, its instructor the Formgrader: autograder/hub/);
    ``nbgrader``: more nbgrader configuration (the hub's exchange and course id).
    """
    from autograder.lab import warm_kernels

    dirs = jupyter_dirs(work)
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    config = dirs["JUPYTER_CONFIG_DIR"]
    server = {
        "ServerApp": {"jpserver_extensions": {name: False for name in DISABLED_SERVER_EXTENSIONS if name not in keep}},
        "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
        **KERNEL_TRANSPORT,
        **(warm_kernels.SERVER_CONFIG if warm else {}),
    }
    _write_json(config / "jupyter_server_config.json", server)
    # nbgrader's Validate handler reads nbgrader_config.* from the Jupyter config dirs
    # and hands that config to the kernel manager it starts for the notebook.
    _write_json(config / "nbgrader_config.json",
                {**KERNEL_TRANSPORT, **(warm_kernels.VALIDATE_CONFIG if warm else {}), **(nbgrader or {})})
    labconfig = config / "labconfig"
    labconfig.mkdir(exist_ok=True)
    _write_json(labconfig / "page_config.json",
                {"disabledExtensions": {k: True for k in DISABLED_LAB_PLUGINS if k not in keep}})
    settings = config / "lab" / "user-settings"
    for plugin, values in DEFAULT_USER_SETTINGS.items():
        package, _, name = plugin.rpartition("/")
        path = settings / package / f"{name}.jupyterlab-settings"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_json(path, values)
    return config


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def prepare(work: Path = DEFAULT_WORK, release: Path = RELEASE, warm: bool = True) -> list[Path]:
    """The working copy plus its configuration; returns the files newly copied."""
    work.mkdir(parents=True, exist_ok=True)
    copied = copy_release(work, release)
    write_config(work, warm)
    trust(copied, work)
    return copied


def trust(paths: list[Path], work: Path) -> None:
    """Sign the course's own notebooks with this lab's secret (what ``jupyter trust`` does)."""
    from nbformat import read
    from nbformat.sign import NotebookNotary

    notebooks = [p for p in paths if p.suffix == ".ipynb"]
    if not notebooks:
        return
    notary = NotebookNotary(data_dir=str(jupyter_dirs(work)["JUPYTER_DATA_DIR"]))
    try:
        for path in notebooks:
            notebook = read(path, as_version=4)
            if not notary.check_signature(notebook):
                notary.sign(notebook)
    finally:
        notary.store.close()


def environment(work: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment (kernels inherit it): project-local Jupyter dirs, kit importable."""
    env = dict(os.environ if base is None else base)
    env.update({key: str(path) for key, path in jupyter_dirs(work).items()})
    # The venv's bin/ first (nbgrader's tools), the repo on the path (`import course`,
    # `from autograder import checks`) even without the venv's .pth file.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, *[p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir]])
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    env["COURSE_ROOT"] = str(ROOT)
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_PLATFORM_DIRS", None)
    return env


def server_command(work: Path, port: int, token: str, ip: str = "127.0.0.1", open_browser: bool = False) -> list[str]:
    config = jupyter_dirs(work)["JUPYTER_CONFIG_DIR"]
    command = [
        sys.executable, "-m", "jupyterlab",
        f"--ip={ip}", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work}",
        f"--LabApp.workspaces_dir={config / 'lab' / 'workspaces'}",
        f"--LabApp.user_settings_dir={config / 'lab' / 'user-settings'}",
        "--ServerApp.open_browser=" + str(bool(open_browser)),
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def free_port(ip: str = "127.0.0.1", preferred: range | None = None) -> int:
    """A port nobody listens on: the first free one of ``preferred``, else one the OS picks."""
    for port in [*(preferred or []), 0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((ip, port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


# --- the server -------------------------------------------------------------------------


class LabServer:
    """JupyterLab in a session of its own; ``stop`` ends it and every kernel it started."""

    def __init__(self, work: Path, *, ip: str = "127.0.0.1", port: int | None = None, token: str | None = None,
                 open_browser: bool = False, log: Path | None = None, quiet: bool = False):
        self.work = Path(work).resolve()
        self.ip = ip
        self.port = port or free_port(ip)
        self.token = token or secrets.token_hex(24)
        self.open_browser = open_browser
        self.log = log
        self.quiet = quiet
        self.process: subprocess.Popen | None = None
        self._log_file = None

    @property
    def base_url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def url(self, path: str = "lab", **query: str) -> str:
        """A URL of the lab with the token, e.g. ``url("lab/tree/crew_processes/01.ipynb", reset="")``."""
        parts = [f"{k}={quote(v)}" if v else k for k, v in query.items()] + [f"token={self.token}"]
        return f"{self.base_url}/{quote(path)}?{'&'.join(parts)}"

    def start(self, timeout: float = 60.0) -> "LabServer":
        command = server_command(self.work, self.port, self.token, self.ip, self.open_browser)
        if self.quiet:  # the learner sees our URL and warnings, not Jupyter's start-up chatter
            command += ["--ServerApp.log_level=WARN", "--LabApp.log_level=WARN"]
        output = None
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log, "wb")
            output = self._log_file
        # Its own session: Ctrl-C in the terminal reaches only us, and we stop the
        # server (and what it started) in order.
        self.process = subprocess.Popen(command, cwd=ROOT, env=environment(self.work), stdin=subprocess.DEVNULL,
                                        stdout=output, stderr=subprocess.STDOUT if output else None,
                                        start_new_session=True)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        wait_answering(self.process, f"{self.base_url}/api/status?token={self.token}", timeout, "JupyterLab",
                       f" (log: {self.log})" if self.log else "")

    def stop(self, timeout: float = 20.0) -> list["psutil.Process"]:
        """Stop the server, then anything it started that is still running; return them all.

        Kernels run in sessions of their own, so the server is asked first (SIGTERM shuts
        its kernels down); whatever survives it is then ended by its process id.
        """
        process, self.process = self.process, None
        started = stop_tree(process, timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return started

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_answering(process: subprocess.Popen, url: str, timeout: float, name: str, where: str = "") -> None:
    """Until ``url`` answers 200; RuntimeError if ``process`` exits first, TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode}{where}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not answer at {url.split('?')[0]} within {timeout:.0f} s{where}")
        time.sleep(0.2)


def stop_tree(process: subprocess.Popen | None, timeout: float) -> list["psutil.Process"]:
    """SIGTERM to ``process`` (a server stops what it started), then end whatever of it survived; all of them."""
    if process is None:
        return []
    try:
        started = [psutil.Process(process.pid), *descendants(process.pid)]
    except psutil.Error:  # already gone
        started = []
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    for child in started[1:]:
        _end(child)
    return started


def descendants(pid: int) -> list["psutil.Process"]:
    """Every process ``pid`` started (children, kernels, their children)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def running(proc: "psutil.Process") -> bool:
    """Still running (psutil also checks that the id was not reused by another process)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _end(proc: "psutil.Process", grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds, to one process that is still running."""
    for stop in (proc.terminate, proc.kill):
        if not running(proc):
            return
        try:
            stop()
        except psutil.Error:
            return
        deadline = time.monotonic() + grace
        while running(proc) and time.monotonic() < deadline:
            time.sleep(0.1)


# --- the command ----------------------------------------------------------------------------


def _display_available() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help="the working folder (default: lab-work/ in the repository)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: the first free one from 8888)")
    parser.add_argument("--token", default=None, help="access token (default: a new random one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument("--prepare-only", action="store_true",
                        help="make the working copy and configuration, then exit")
    parser.add_argument("--cold-kernels", action="store_true",
                        help="start each kernel as a new Python (slower) instead of forking it from a warm one")
    args = parser.parse_args(argv)

    work = args.work.resolve()
    copied = prepare(work, warm=not args.cold_kernels)
    notebooks = work / ASSIGNMENT
    shown = notebooks.relative_to(ROOT) if notebooks.is_relative_to(ROOT) else notebooks
    if copied:
        print(f"Copied {len(copied)} file(s) from release/{ASSIGNMENT}/ into {shown}/")
    if args.prepare_only:
        print(f"Working copy and configuration ready in {shown}/")
        return 0

    # Ctrl-C and `kill` stop the server and its kernels (a shell may have started us
    # with SIGINT ignored; JupyterLab runs in its own session and never sees the key).
    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)

    port = args.port or free_port(args.ip, range(8888, 8900))
    server = LabServer(work, ip=args.ip, port=port, token=args.token,
                       open_browser=not args.no_browser and _display_available(), quiet=True)
    print(f"Starting JupyterLab on {server.base_url} ...", flush=True)
    try:
        server.start(timeout=120)
    except KeyboardInterrupt:
        print("\nStopped.")
        return 130
    except (RuntimeError, TimeoutError) as error:
        print(f"JupyterLab did not start: {error}", file=sys.stderr)
        return 1
    first = notebooks / FIRST_NOTEBOOK
    url = server.url(f"lab/tree/{ASSIGNMENT}/{FIRST_NOTEBOOK}") if first.exists() else server.url("lab")
    print(
        "\n"
        f"  JupyterLab is running on your working copy: {shown}/\n"
        f"  (release/ is never changed; delete a notebook here to get it back fresh)\n\n"
        f"  Open:  {url}\n\n"
        "  Check an exercise with the Validate button in the notebook's toolbar.\n"
        "  Stop with Ctrl-C.\n",
        flush=True,
    )
    stopping = False
    try:
        server.process.wait()
    except KeyboardInterrupt:
        stopping = True
        print("\nStopping JupyterLab ...", flush=True)
    finally:
        code = server.process.returncode if server.process else None
        server.stop()
    if stopping:
        print("Stopped. Your work is in", f"{shown}/")
        return 0
    print(f"JupyterLab exited (code {code}).", file=sys.stderr)
    return 1 if code else 0


if __name__ == "__main__":
    sys.exit(main())
