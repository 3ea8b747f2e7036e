"""The hub process, and the ``python -m autograder hub`` command (see autograder/hub/__init__.py)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from autograder.hub import accounts, course
from autograder.hub.site import DEFAULT_ENV, DEFAULT_ROOT, HubError, HubSite, setup, write_config
from autograder.lab.launcher import free_port, stop_tree, wait_answering

DEMO = ("crew-teacher", "crew-ada", "crew-bo")  # `make hub`'s class: an instructor, two learners


class HubServer:
    """JupyterHub (and its proxy) for ``site``, in a session of its own; ``stop`` ends it and every user's server."""

    def __init__(self, site: HubSite, *, ip: str = "127.0.0.1", port: int | None = None, log: Path | None = None):
        self.site, self.ip = site, ip
        self.port = port or free_port(ip, range(8000, 8010))
        self.log = log or site.root / "jupyterhub.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def start(self, timeout: float = 90.0) -> "HubServer":
        config = write_config(self.site, self.ip, self.port, free_port(), free_port())
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [str(self.site.python), "-m", "jupyterhub", "-f", str(config)], cwd=self.site.state,
                env={"PATH": f"{self.site.env / 'bin'}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        try:
            wait_answering(self.process, f"{self.url}/hub/api/", timeout, "JupyterHub", f": see {self.log}")
        except (RuntimeError, TimeoutError) as err:
            raise HubError(str(err)) from None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the hub (it stops every user's server: cleanup_servers), then whatever survived."""
        process, self.process = self.process, None
        stop_tree(process, timeout)

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder hub", description="A class on JupyterHub (as root).")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"the hub's files (default {DEFAULT_ROOT})")
    parser.add_argument("--env", type=Path, default=DEFAULT_ENV,
                        help=f"the learners' Python environment (default {DEFAULT_ENV})")
    steps = parser.add_subparsers(dest="step", required=True)
    steps.add_parser("setup", help="the environment, the proxy, the exchange")
    users = steps.add_parser("users", help="make a demo class's system users; prints their passwords")
    users.add_argument("instructor")
    users.add_argument("students", nargs="+")
    made = steps.add_parser("course", help="the instructor's course folder, ~INSTRUCTOR/crew_course")
    made.add_argument("instructor")
    demo = steps.add_parser("demo", help="make hub: set-up, a demo class (made once), its course folder, start")
    demo.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=None, help="port (default: the first free from 8000)")
    start = steps.add_parser("start", help="run the hub until Ctrl-C")
    start.add_argument("instructor")
    start.add_argument("students", nargs="+")
    start.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    start.add_argument("--port", type=int, default=None, help="port (default: the first free from 8000)")
    args = parser.parse_args(argv)
    site = HubSite(args.root.resolve(), args.env.resolve(), getattr(args, "instructor", DEMO[0]),
                   tuple(getattr(args, "students", DEMO[1:])))
    try:
        return _STEPS[args.step](site, args)
    except HubError as err:
        print(f"hub: {err}", file=sys.stderr)
        return 2


def _setup(site: HubSite, args) -> int:
    setup(site)
    print(f"Hub set up in {site.root} (learners' environment: {site.env}).")
    return 0


def _users(site: HubSite, args) -> int:
    for name in site.users:
        print(f"{name}\t{accounts.make(name)}")
    return 0


def _course(site: HubSite, args) -> int:
    print(f"Course folder: {course.make(site.instructor, site.exchange)}")
    return 0


def _demo(site: HubSite, args) -> int:
    """What `make hub` runs: everything for a demo class on this machine, then the hub."""
    setup(site)
    passwords = site.state / "demo-passwords.txt"  # root's alone, like the rest of state/
    if not passwords.exists():
        lines = [f"{name}\t{accounts.make(name)}" for name in site.users if not accounts.exists(name)]
        passwords.write_text("".join(line + "\n" for line in lines))
        passwords.chmod(0o600)
    if not (accounts.home(site.instructor) / course.COURSE_FOLDER).exists():
        course.make(site.instructor, site.exchange)
    print(f"Demo class (user, password), also in {passwords}:")
    print(passwords.read_text(), end="")
    return _start(site, args)


def _start(site: HubSite, args) -> int:
    with HubServer(site, ip=args.ip, port=args.port) as hub:
        print(f"JupyterHub for {len(site.students)} learners and {site.instructor}: {hub.url}  (Ctrl-C stops it)")
        try:
            hub.process.wait()
        except KeyboardInterrupt:
            pass
    return 0


_STEPS = {"demo": _demo, "setup": _setup, "users": _users, "course": _course, "start": _start}
