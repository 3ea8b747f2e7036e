"""Where a class hub keeps its files, and installing each of them (run as root).

- ``env``: the Python environment every user's server and kernel runs. It holds the locked
  packages (requirements.lock) and a copy of ``course/`` and ``autograder/``, nothing else of the
  repository: no ``source/`` (solutions, hidden tests), no gradebook. Root owns it; users read it.
  It is rebuilt only when the lock changes (a minute), the copy of the code on every ``setup``.
- ``root/proxy``: Node's configurable-http-proxy at the version ``proxy/package-lock.json`` pins.
- ``root/exchange``: nbgrader's exchange, writable by all with the sticky bit, so that nobody
  renames or removes what another user put there (nbgrader's docs ask for 777 only).
- ``root/state``: the hub's database and cookie secret, root's alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder.paths import ROOT

HERE = Path(__file__).resolve().parent
DEFAULT_ROOT = Path("/srv/crew-course-hub")
# Kept apart from a hub's root so that a test's hub (in a temp folder) reuses the machine's one
# environment instead of installing its own; like an installed package, it outlives the hub.
DEFAULT_ENV = Path("/opt/crew-course-hub/env")
CODE = ("course", "autograder")
CODE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "sample_class", ".ipynb_checkpoints")
# What of this repository a learner on the hub must not read (solutions, hidden tests, worked answers,
# grades): made root's alone by the set-up. The rest stays readable: the grading sandbox's unprivileged
# kernels use the repository's Python environment.
PRIVATE = ("source", "autograder/sample_class", "gradebook.db", "submitted", "autograded", "feedback", "grades",
           "lab-work", "build")


class HubError(Exception):
    """Set-up cannot go on; the message says what to do."""


@dataclass(frozen=True)
class HubSite:
    root: Path = DEFAULT_ROOT
    env: Path = DEFAULT_ENV
    instructor: str = ""
    students: tuple[str, ...] = field(default_factory=tuple)

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def proxy(self) -> Path:
        return self.root / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def config(self) -> Path:
        return self.root / "jupyterhub_config.py"

    @property
    def python(self) -> Path:
        return self.env / "bin" / "python"

    @property
    def users(self) -> tuple[str, ...]:
        return (self.instructor, *self.students) if self.instructor else self.students


def setup(site: HubSite, say=print) -> None:
    """Everything but the users: environment, proxy, exchange, state folder."""
    if os.geteuid() != 0:
        raise HubError("The hub's set-up makes system folders and starts servers as other users: run it as root.")
    for folder in (site.root, site.env):
        closed = _closed_to_others(folder)
        if closed is not None:
            raise HubError(f"{closed} cannot be entered by other users, so their servers could not start: "
                           f"choose another place (--root, --env) or chmod o+x {closed}.")
    site.root.mkdir(parents=True, exist_ok=True)
    site.root.chmod(0o755)
    for name in PRIVATE:
        if (ROOT / name).exists():
            (ROOT / name).chmod((ROOT / name).stat().st_mode & 0o700)
    install_env(site, say)
    install_proxy(site, say)
    site.exchange.mkdir(exist_ok=True)
    site.exchange.chmod(0o1777)
    site.state.mkdir(exist_ok=True)
    site.state.chmod(0o700)


def _closed_to_others(path: Path) -> Path | None:
    """The first existing folder on the way to ``path`` (or ``path`` itself) other users cannot enter."""
    for folder in reversed([p for p in [path, *path.parents] if p.exists()]):
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def install_env(site: HubSite, say=print) -> None:
    base = base_python()
    lock = (ROOT / "requirements.lock").read_bytes()
    key = hashlib.sha256(lock + base.encode()).hexdigest()[:16]
    stamp = site.env / ".crew-course-lock"
    if not stamp.exists() or stamp.read_text().strip() != key:
        say(f"Installing the learners' Python environment in {site.env} (once per requirements.lock, about a minute)")
        shutil.rmtree(site.env, ignore_errors=True)
        site.env.parent.mkdir(parents=True, exist_ok=True)
        _run([base, "-m", "venv", str(site.env)])
        _run([str(site.python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
              "-r", str(ROOT / "requirements.lock")])
        _readable_by_all(site.env)  # whatever root's umask was
        stamp.write_text(key + "\n")
    install_code(site)


def base_python() -> str:
    """An interpreter every user may run: this one's base, unless it lives in a private folder
    (pyenv's under /root), else the system's python3.11-3.13."""
    names = [getattr(sys, "_base_executable", sys.executable),
             *(f"/usr/bin/python3.{minor}" for minor in (11, 12, 13)), "/usr/bin/python3"]
    for name in names:
        real = Path(os.path.realpath(name))
        if real.exists() and _closed_to_others(real) is None:
            minor = _run([str(real), "-c", "import sys; print(sys.version_info[:2] >= (3, 11) and sys.version_info[1])"])
            if minor.strip() in ("11", "12", "13"):
                return str(real)
    raise HubError("No Python 3.11-3.13 that other users may run (this one is in a private folder): "
                   "install Debian's (apt-get install python3 python3-venv) and run again.")


def install_code(site: HubSite) -> None:
    """This checkout's course/ and autograder/, copied (never linked: the repo holds the solutions)."""
    packages = Path(_run([str(site.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip())
    for name in CODE:
        shutil.rmtree(packages / name, ignore_errors=True)
        shutil.copytree(ROOT / name, packages / name, ignore=CODE_IGNORE)
    _run([str(site.python), "-m", "compileall", "-q", *(str(packages / name) for name in CODE)])
    for name in CODE:
        _readable_by_all(packages / name)


def _readable_by_all(top: Path) -> None:
    """Folders 0755, files readable by all (executables stay so); only root may change them."""
    for folder, _, files in os.walk(top):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode & 0o755 | 0o444)


def install_proxy(site: HubSite, say=print) -> None:
    folder = site.root / "proxy"
    folder.mkdir(exist_ok=True)
    wanted = (HERE / "proxy" / "package-lock.json").read_text()
    installed = folder / "node_modules" / ".package-lock.json"
    if site.proxy.exists() and (folder / "package-lock.json").exists() and \
            (folder / "package-lock.json").read_text() == wanted and installed.exists():
        return
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise HubError("JupyterHub's proxy needs Node.js: apt-get install nodejs npm (make hub does it), then run again.")
    say("Installing configurable-http-proxy (pinned in autograder/hub/proxy/package-lock.json)")
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(HERE / "proxy" / name, folder / name)
    _run(["npm", "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder)


def _run(argv: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise HubError(f"{' '.join(argv[:4])} ... failed ({done.returncode}):\n{(done.stderr or done.stdout)[-2000:]}")
    return done.stdout


def write_config(site: HubSite, ip: str, port: int, hub_port: int, api_port: int) -> Path:
    """The hub's jupyterhub_config.py (root's, mode 600): PAM log-in, one local server per user."""
    values = {
        "bind_url": f"http://{ip}:{port}", "hub_bind_url": f"http://127.0.0.1:{hub_port}",
        "api_url": f"http://127.0.0.1:{api_port}", "proxy": str(site.proxy), "state": str(site.state),
        "python": str(site.python), "exchange": str(site.exchange), "instructor": site.instructor,
        "users": sorted(site.users), "path": f"{site.env / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    }
    text = (HERE / "jupyterhub_config.template.py").read_text().replace(
        "SETTINGS = {}  # filled in by autograder/hub/site.py", f"SETTINGS = {json.dumps(values, indent=4)}")
    site.config.write_text(text)
    site.config.chmod(0o600)
    return site.config
