"""`import course` keeps CrewAI offline, quiet and out of $HOME."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

import course
from course import examples


def _run_all_kinds() -> None:
    examples.sequential_crew().kickoff()
    examples.hierarchical_crew("agent").kickoff()
    examples.hierarchical_crew("string").kickoff()
    examples.async_crew().kickoff()


@pytest.mark.crewai_fact
def test_no_connection_is_attempted_in_sequential_hierarchical_and_async_runs(scripted_llm):
    before = course.network_attempts()
    seen: list[str] = []
    hook_active = [True]

    def audit(event, args):  # an independent witness, beside the course's own guard
        if hook_active[0] and event in ("socket.connect", "socket.getaddrinfo"):
            seen.append(f"{event} {args[1] if event == 'socket.connect' else args[0]}")

    sys.addaudithook(audit)
    try:
        _run_all_kinds()
    finally:
        hook_active[0] = False
    assert course.network_attempts() == before
    outside = [s for s in seen if "127.0.0.1" not in s and "localhost" not in s and "'::1'" not in s]
    assert outside == []


def test_a_network_attempt_is_refused_and_listed():
    before = len(course.network_attempts())
    with pytest.raises(course.OfflineError, match="runs offline"):
        socket.create_connection(("example.com", 80), timeout=1)
    with pytest.raises(course.OfflineError):
        socket.getaddrinfo("pypi.org", 443)
    attempts = course.network_attempts()[before:]
    assert any("example.com" in a for a in attempts) and any("pypi.org" in a for a in attempts)


def test_loopback_stays_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=2)
    client.close()
    server.close()


SCRIPT = textwrap.dedent("""
    import course
    from course import examples
    crew = examples.sequential_crew(verbose=True)
    result = crew.kickoff()
    examples.async_crew().kickoff()
    examples.hierarchical_crew("string").kickoff()
    print("RESULT", result.raw[:40])
    print("ATTEMPTS", course.network_attempts())
""")


@pytest.fixture(scope="module")
def fresh_process_run(tmp_path_factory):
    """A seed-style crew in a new process with an empty $HOME and no stdin."""
    home = tmp_path_factory.mktemp("home")
    temp = tmp_path_factory.mktemp("tmpdir")  # the process's own temporary directory, watched below
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI", "OTEL", "COURSE_STORAGE"))}
    env.update(HOME=str(home), TMPDIR=str(temp))
    done = subprocess.run([sys.executable, "-c", SCRIPT + PEEK], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    return home, done, temp


PEEK = textwrap.dedent("""
    import os, stat
    from course import offline
    where = offline.storage_dir()
    print("STORAGE", where, oct(stat.S_IMODE(os.stat(where).st_mode)), os.listdir(where) != [])
""")


def test_crewai_storage_is_private_to_the_process_and_removed_when_it_ends(fresh_process_run):
    # Two users (or two graders) never share one folder, and nothing is left in the temporary directory.
    _home, done, temp = fresh_process_run
    line = next(x for x in done.stdout.splitlines() if x.startswith("STORAGE "))
    _, where, mode, used = line.split(" ", 3)
    assert where.startswith(str(temp.resolve())) and mode == "0o700" and used == "True", line
    assert list(temp.iterdir()) == []


def test_fresh_process_runs_without_prompt_or_network(fresh_process_run):
    _home, done, _temp = fresh_process_run
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RESULT [ref:" in done.stdout
    assert "ATTEMPTS []" in done.stdout
    assert "Share this execution trace" not in done.stdout + done.stderr


def test_nothing_is_written_under_home(fresh_process_run):
    home, _done, _temp = fresh_process_run
    written = [str(p.relative_to(home)) for p in home.rglob("*")]
    assert written == []


def test_a_normal_run_prints_no_alarming_warnings(fresh_process_run):
    _home, done, _temp = fresh_process_run
    alarming = [line for line in done.stderr.splitlines()
                if any(word in line for word in ("Warning", "WARNING", "Error", "Traceback", "approximate"))]
    assert alarming == []
