"""The README's commands from a fresh clone, as new users run them (issue 21): `make portability`.

Each case clones this repository's HEAD into a folder under /tmp whose name has a space, runs
`make env` with one Python, `make grade` (which exits 1 unless every sample student gets the grade
expected.csv gives) and a focused set of tests, then checks that nothing was left in the case's
TMPDIR, in /tmp or in /dev/shm. With root, the Debian-Python case runs as an unprivileged user made
for it with useradd (removed afterwards, with everything it started).

    python tools/portability.py                 # every case; exit 1 if one fails or its Python is missing
    python tools/portability.py --case 3.13     # one case

Not part of `make test`: a fresh `make env` installs from the package registry, and the test suite
stays offline. CI runs it after `make test` (.ci/run). Each step's time is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
USER = "crewcheck"
# What the course, CrewAI, Dask, pytest, bwrap and tempfile name their folders: a case run as root
# sees every user's new entries in /tmp, so only these count there (the unprivileged case counts
# everything its user owns).
OURS = ("crew*", "dask*", "tmp*", "pytest-of-*", "pymp-*", "mp-*", "psm_*", "sem.*", "wrk_*", "*.sock",
        "jupyter*", "ipykernel*", "nbgrader*", "crewai*", "chroma*", "*.db", "*.lock", "*.pid", ".s.PGSQL*")
STEP_TIMEOUT = 1500  # seconds: make env on 2 shared cores takes 2-3 minutes, make grade 1.5-2.5


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    python_names: tuple[str, ...]  # the first found on PATH or in pyenv wins
    tests: tuple[str, ...]
    unprivileged: bool = False


CASES = (
    # Debian 12's own Python (3.11.2), as a user who is not root: the grading and sandbox tests.
    Case("debian-3.11", ("/usr/bin/python3.11",),
         ("tests/grading/test_sandbox.py", "tests/grading/test_witness.py",
          "tests/grading/test_sandbox_portability.py"), unprivileged=True),
    Case("3.12", ("python3.12", "3.12"), ("tests/release/test_release.py", "tests/checks/test_checks.py")),
    Case("3.13", ("python3.13", "3.13"), ("tests/release/test_release.py", "tests/checks/test_checks.py")),
)


def find_python(names: tuple[str, ...]) -> str | None:
    """An interpreter by path, by name on PATH, or by version among pyenv's: its real executable.

    A pyenv shim on PATH only works with pyenv's own settings (the cases run with a HOME of their
    own), so each candidate is run once and its sys.executable is what the case uses.
    """
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for name in names:
        if name.startswith("/"):
            candidates = [name]
        elif name.startswith("python"):
            candidates = [shutil.which(name)] if shutil.which(name) else []
        else:
            candidates = sorted(glob.glob(f"{pyenv}/versions/{name}.*/bin/python{name}"))[::-1]
        for candidate in candidates:
            real = _executable(candidate)
            if real:
                return real
    return None


def _executable(python: str) -> str | None:
    try:
        done = subprocess.run([python, "-c", "import sys; print(sys.executable)"], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


class Runner:
    """Runs one case's commands as root or as the case's user, timing each, with a bounded time."""

    def __init__(self, folder: Path, user: pwd.struct_passwd | None) -> None:
        self.folder, self.user = folder, user
        self.home, self.tmp = folder / "home", folder / "tmp"
        self.times: list[tuple[str, float, int]] = []

    def env(self) -> dict[str, str]:
        # What a fresh login has, no more: nothing of this process's venv or settings leaks in.
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home), "TMPDIR": str(self.tmp),
               "LANG": "C.UTF-8"}
        if self.user is None:  # root keeps its package cache (a fresh user starts with none)
            env["PIP_CACHE_DIR"] = os.path.expanduser("~/.cache/pip")
        return env

    def run(self, label: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
        if self.user is not None:
            argv = ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}", "--clear-groups",
                    *argv]
        began = time.monotonic()
        with open(self.folder / f"{label.split()[0]}.log", "ab") as log:
            try:
                done = subprocess.run(argv, cwd=cwd, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                      timeout=STEP_TIMEOUT)
                code = done.returncode
            except subprocess.TimeoutExpired:
                code = -1
        self.times.append((label, time.monotonic() - began, code))
        print(f"    {label:<40} {time.monotonic() - began:7.1f} s  {'ok' if code == 0 else f'FAILED ({code})'}",
              flush=True)
        if code:  # the case's folder is removed at the end: what went wrong is shown now
            tail = (self.folder / f"{label.split()[0]}.log").read_text(errors="replace").splitlines()[-25:]
            print("\n".join("      | " + line for line in tail), flush=True)
        return subprocess.CompletedProcess(argv, code)


def make_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", USER],
                       check=True)
        return pwd.getpwnam(USER)


def remove_user(user: pwd.struct_passwd) -> None:
    subprocess.run(["pkill", "-KILL", "-u", user.pw_name], check=False)
    subprocess.run(["userdel", user.pw_name], check=False, capture_output=True)


def temp_entries(user: pwd.struct_passwd | None) -> set[str]:
    """What lies in /tmp and /dev/shm: everything, or only the entries the user owns."""
    found = set()
    for top in ("/tmp", "/dev/shm"):
        for entry in os.scandir(top):
            try:
                if user is None or entry.stat(follow_symlinks=False).st_uid == user.pw_uid:
                    found.add(entry.path)
            except OSError:
                continue
    return found


def run_case(case: Case, python: str, user: pwd.struct_passwd | None) -> list[str]:
    """The case's failures (empty when it passed)."""
    folder = Path(tempfile.mkdtemp(prefix=f"crew course {case.name} ", dir="/tmp"))
    before = temp_entries(user)
    runner = Runner(folder, user)
    try:
        for sub in (runner.home, runner.tmp):
            sub.mkdir(mode=0o700)
        clone = folder / "course clone"
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True)
        if user is not None:
            shutil.chown(folder, user.pw_uid, user.pw_gid)
            subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(folder)], check=True)
        failures = steps(case, python, runner, clone)
        failures += leftovers(runner, before, user, folder)
        return failures
    finally:
        if user is not None:
            subprocess.run(["pkill", "-KILL", "-u", user.pw_name], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def steps(case: Case, python: str, runner: Runner, clone: Path) -> list[str]:
    failures = []
    if runner.run("make env", ["make", "env", f"PYTHON={python}"], clone).returncode:
        return ["make env failed"]
    if runner.run("make grade", ["make", "grade"], clone).returncode:
        failures.append("make grade failed or the sample class's grades differ from expected.csv")
    # pytest keeps its tmp_path folders after a run: here they go in the case's folder, not its TMPDIR.
    pytest = [str(clone / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
              f"--basetemp={runner.folder / 'pytest'}", *case.tests]
    if runner.run("pytest " + " ".join(Path(t).stem for t in case.tests), pytest, clone).returncode:
        failures.append(f"tests failed: {' '.join(case.tests)}")
    return failures


def leftovers(runner: Runner, before: set[str], user: pwd.struct_passwd | None, folder: Path) -> list[str]:
    left = sorted(p.name for p in runner.tmp.iterdir())
    failures = [f"left in its TMPDIR: {', '.join(left[:5])}"] if left else []
    new = sorted(temp_entries(user) - before - {str(folder)})
    if user is None:  # as root every user's files show: count only names the project and its tools make
        others = [p for p in new if not any(fnmatch.fnmatch(os.path.basename(p), o) for o in OURS)]
        if others:
            print(f"    (new in /tmp or /dev/shm while it ran, not counted: {', '.join(others[:5])})", flush=True)
        new = [p for p in new if p not in others]
    if new:
        failures.append(f"left in /tmp or /dev/shm: {', '.join(new[:5])}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", choices=[c.name for c in CASES],
                        help="run only this case (repeatable)")
    args = parser.parse_args(argv)
    root = os.geteuid() == 0
    user = make_user() if root and any(c.unprivileged for c in CASES) else None
    failed: dict[str, list[str]] = {}
    try:
        for case in (c for c in CASES if not args.case or c.name in args.case):
            failed[case.name] = one(case, user if case.unprivileged else None, root)
    finally:
        if user is not None:
            remove_user(user)
    for name, failures in failed.items():
        print(f"{name:<12} " + ("passed" if not failures else "FAILED: " + "; ".join(failures)))
    return 1 if any(failed.values()) else 0


def one(case: Case, user: pwd.struct_passwd | None, root: bool) -> list[str]:
    python = find_python(case.python_names)
    who = f"as {user.pw_name} (unprivileged)" if user else ("as root" if root else "as this user")
    print(f"{case.name}: {python or 'no interpreter found'} {who}", flush=True)
    if python is None:
        return [f"no {case.python_names[-1]} here: install it (apt install python3.11-venv on Debian 12; "
                f"pyenv install {case.python_names[-1].split('python')[-1]}) and run again"]
    return run_case(case, python, user)


if __name__ == "__main__":
    sys.exit(main())
