"""A demo class's accounts: real, unprivileged system users with a home only they can enter (run as root).

On a department server the accounts already exist (or come from LDAP or an OAuth authenticator):
this module is for trying the hub on one machine and for its test, which removes what it made.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

from autograder.hub.site import HubError

# The account comment of every user this module makes: only such users are ever removed.
MARK = "crew-course hub class"


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def home(name: str) -> Path:
    return Path(pwd.getpwnam(name).pw_dir)


def make(name: str, password: str | None = None) -> str:
    """A new user ``name`` (refused if one exists: never take over an account); returns the password."""
    if exists(name):
        raise HubError(f"A user {name!r} exists already; pick other names (or remove it: userdel -r {name}).")
    password = password or secrets.token_urlsafe(12)
    _run(["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", "--comment", MARK, name])
    home(name).chmod(0o700)  # classmates cannot enter it (Debian's useradd makes it 0755 on older releases)
    _run(["chpasswd"], f"{name}:{password}\n")
    return password


def remove(name: str) -> None:
    """The user, their processes and their home, if ``make`` made them; never anyone else."""
    if not exists(name) or pwd.getpwnam(name).pw_gecos != MARK:
        return
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    folder = home(name)
    _run(["userdel", "--force", name])
    shutil.rmtree(folder, ignore_errors=True)


def run_as(name: str, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
           timeout: float = 600) -> subprocess.CompletedProcess:
    """``argv`` as user ``name`` (their uid, groups, HOME), as a terminal in their server would run it."""
    user = pwd.getpwnam(name)
    base = {"HOME": user.pw_dir, "USER": name, "LOGNAME": name, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8"}
    return subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--", *argv],
                          cwd=cwd or user.pw_dir, env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


def _run(argv: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        raise HubError(f"{argv[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
