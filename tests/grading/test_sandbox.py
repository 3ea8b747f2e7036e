"""A hostile class, graded once through the real `grade` path, proves each containment of the sandbox.

Every attacker hands in one small notebook whose answer cell tries an attack, lists in
``found`` what it could reach, and defines a correct ``double`` only if it reached nothing:
a contained attack scores 2/2, an escape scores 0. The host side is checked as well (the
loopback listener saw no connection, no file was planted, no process is left). Bounded:
memory and disk bombs run against small limits set for this batch (a contained bomb
allocates nothing), the only network is a listener this test starts on 127.0.0.1, and
every process an attack starts ends by itself within a minute.
"""

from __future__ import annotations

import os
import socket
import sysconfig
import threading
from pathlib import Path

import pytest

from autograder.batch import run as batch
from autograder.records import report
from autograder.grading import sandbox
from autograder.paths import ROOT

from tests.helpers import autograder_synth as synth
from tests.helpers.processes import processes_with

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sandbox.problem() is not None, reason=f"no sandbox here: {sandbox.problem()}")]

LIMITS = sandbox.Limits(memory=2 * 2**30, processes=64, file_size=8 * 2**20, cpu_seconds=4,
                        work_size=32 * 2**20, tmp_size=32 * 2**20)
SECRET = "tok-3f1c9b-not-for-learners"

VERDICT = "\nprint('found:', found)\ndef double(x):\n    return 2 * x if not found else 0\n"


def _readable(paths: str) -> str:
    """Attack code: every given path that exists or can be read goes into ``found``."""
    return ("import os, glob\nfound = []\n"
            f"for pattern in {paths}:\n"
            "    for p in glob.glob(pattern, recursive=True) or [pattern]:\n"
            "        try:\n"
            "            if os.path.isdir(p):\n"
            "                os.listdir(p); found.append(p)\n"
            "            elif os.path.exists(p):\n"
            "                open(p, 'rb').read(64); found.append(p)\n"
            "        except OSError:\n"
            "            pass\n")


# Everything of the grader's in the kernel's kit but its kernel side (paths.KIT_PARTS) is a find: with the
# whole package copied, as before issue 22, a notebook could import and read the grader's host code.
HOST_CODE_IN_KIT = (
    "import os\n"
    "kernel_side = {'__init__.py', 'paths.py', 'checks', 'kernel', '__pycache__'}\n"
    "try:\n"
    "    found += ['/opt/course-kit/autograder/' + n for n in os.listdir('/opt/course-kit/autograder')\n"
    "              if n not in kernel_side]\n"
    "except OSError as err:\n"
    "    found.append(f'no kit to look at ({err})')\n")


def _attacks(root: Path, klass: Path, port: int, grader_home: Path) -> dict[str, str]:
    venv_site = sysconfig.get_paths()["purelib"]
    hidden = [str(root / "**" / "gradebook.db"), str(ROOT / "source"), str(ROOT / "source" / "**" / "*.ipynb"),
              str(root / "course" / "source"), str(ROOT / "autograder" / "sample_class"),
              # The grader's host code (grading, batch, records...): not in the repo's view, nor in the kit.
              str(ROOT / "autograder" / "grading"), str(ROOT / "autograder" / "batch")]
    classmates = [str(klass / "zed"), str(klass / "zed" / "*.ipynb"), str(root / "work" / "**" / "zed"),
                  str(root / "out"), "/dev/shm/crew-grading-*", str(klass)]
    plant = (
        "import os\nfound = []\n"
        f"targets = [{venv_site!r} + '/zz_planted.pth', {str(ROOT / 'course' / 'zz_planted.py')!r},\n"
        f"           {str(ROOT / 'zz_planted.txt')!r}, '/opt/course-kit/autograder/zz_planted.py',\n"
        f"           {str(klass / 'zed' / 'zz_planted.txt')!r}, {str(root / 'out' / 'zz_planted.txt')!r}]\n"
        "for t in targets:\n"  # no makedirs: a folder made in the sandbox's own /tmp proves nothing
        "    try:\n"
        "        with open(t, 'w') as f:\n"
        "            f.write('import os')\n"
        "        found.append(t)\n"
        "    except OSError:\n"
        "        pass\n"
        "open('planted_feedback.html', 'w').write('<h1>forged</h1>')\n")
    network = (
        "import socket, subprocess, sys\nfound = []\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).close(); found.append('socket')\n"
        "except OSError:\n"
        "    pass\n"
        f"child = subprocess.run([sys.executable, '-c', \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\"],\n"
        "                       capture_output=True, timeout=30)\n"
        "if child.returncode == 0:\n"
        "    found.append('child python')\n"
        f"bash = subprocess.run(['bash', '-c', 'echo hi > /dev/tcp/127.0.0.1/{port}'], capture_output=True, timeout=30)\n"
        "if bash.returncode == 0:\n"
        "    found.append('bash /dev/tcp')\n"
        "import ctypes, ctypes.util\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)\n"
        "s = socket.socket()\n"
        f"addr = bytes([2, 0]) + ({port}).to_bytes(2, 'big') + bytes([127, 0, 0, 1]) + bytes(8)\n"
        "if libc.connect(s.fileno(), addr, 16) == 0:\n"
        "    found.append('ctypes connect')\n")
    env_home = (
        "import os, glob\nfound = []\n"
        f"if any({SECRET!r} in v for v in os.environ.values()):\n"
        "    found.append('environ')\n"
        "for path in glob.glob('/proc/[0-9]*/environ'):\n"
        "    try:\n"
        f"        if {SECRET!r}.encode() in open(path, 'rb').read():\n"
        "            found.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        f"for p in [{str(grader_home)!r}, {str(grader_home / 'secret.txt')!r}, os.path.expanduser('~root') + '/.bashrc']:\n"
        "    try:\n"
        "        open(p).read() if os.path.isfile(p) else os.listdir(p)\n"
        "        found.append(p)\n"
        "    except OSError:\n"
        "        pass\n")
    leftover = (
        "import subprocess, sys\n"
        "subprocess.Popen(['sleep', '987'], start_new_session=True)\n"
        "subprocess.Popen(['bash', '-c', '(sleep 986 &) &'])\n"
        # A chain that changes its PID every millisecond (ends by itself after 60 s).
        "subprocess.Popen([sys.executable, '-c', 'import os, sys, time\\nend = time.time() + 60\\n'\n"
        "    'while time.time() < end:\\n    if os.fork(): os._exit(0)\\n    time.sleep(0.001)', 'chain-marker-985'],\n"
        "    start_new_session=True)\n"
        "found = []\n")
    memory = ("import numpy\nfound = []\ntry:\n    block = numpy.ones(6 * 2**30, dtype=numpy.uint8)\n"
              "    found.append('6 GiB')\nexcept MemoryError as err:\n    print(repr(err))\n")
    disk = (
        "import os\nfound = []\n"
        "try:\n"
        "    with open('/tmp/one-big-file', 'wb') as f:\n"
        "        f.write(b'y' * 12 * 2**20)\n"
        "    found.append('12 MiB file')\n"
        "except OSError as err:\n"
        "    print(err)\n"
        "def fill(folder, chunk=4 * 2**20, most=256 * 2**20):\n"
        "    written = 0\n"
        "    try:\n"
        "        while written < most:\n"
        "            with open(os.path.join(folder, f'f{written}'), 'wb') as f:\n"
        "                f.write(b'x' * chunk)\n"
        "            written += chunk\n"
        "    except OSError:\n"
        "        pass\n"
        "    return written\n"
        "for folder in (os.getcwd(), os.path.expanduser('~'), '/tmp', '/dev/shm'):\n"
        "    if fill(folder) > 40 * 2**20:\n"
        "        found.append(folder)\n")
    writable = (
        # Every folder a write could land in. Below a read-only mount only other mounts can be
        # writable, so the walk skips the rest: it stays well inside the kernel's 4 s of CPU.
        "import os, time\nfound = []\nallowed = ('/home/learner', '/tmp', '/dev/shm')\nend = time.time() + 60\n"
        "mounts = [line.split()[1] for line in open('/proc/self/mounts')]\n"
        "for top, dirs, files in os.walk('/'):\n"
        "    if top in ('/proc', '/sys') or time.time() > end:\n"
        "        dirs[:] = []\n"
        "        continue\n"
        "    if os.statvfs(top).f_flag & os.ST_RDONLY:\n"
        "        dirs[:] = [d for d in dirs if any(m == os.path.join(top, d) or m.startswith(os.path.join(top, d) + '/')\n"
        "                                          for m in mounts)]\n"
        "        continue\n"
        "    if any(top == a or top.startswith(a + '/') for a in allowed) or not os.access(top, os.W_OK):\n"
        "        continue\n"
        "    try:\n"
        "        open(os.path.join(top, 'zz_probe'), 'w').close()\n"
        "        found.append(top)\n"
        "    except OSError:\n"
        "        pass\n"
        "print('walked until', time.time() < end, 'cpu', round(time.process_time(), 2))\n")
    forks = (
        "import subprocess\nfound = []\nprocs = []\n"
        "for _ in range(150):\n"
        "    try:\n"
        "        procs.append(subprocess.Popen(['sleep', '30']))\n"
        "    except OSError as err:\n"
        "        print(err)\n"
        "        break\n"
        "if len(procs) >= 100:\n"
        "    found.append(f'{len(procs)} processes')\n"
        "for p in procs:\n"
        "    p.kill()\n")
    return {
        "hidden": _readable(hidden) + HOST_CODE_IN_KIT + VERDICT,
        "classmates": _readable(classmates) + VERDICT,
        "plant": plant + VERDICT,
        "network": network + VERDICT,
        "env_home": env_home + VERDICT,
        "leftover": leftover + VERDICT,
        "memory": memory + VERDICT,
        "disk": disk + VERDICT,
        "forks": forks + VERDICT,
        "writable": writable + VERDICT,
        "cpu": "found = []" + VERDICT + "x = 0\nwhile True:\n    x += 1\n",
    }


class _Listener:
    """A TCP listener on loopback that counts who reaches it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    source, rel = synth.released(root)
    klass = root / "class"
    grader_home = root / "grader-home"
    grader_home.mkdir()
    (grader_home / "secret.txt").write_text(SECRET)
    listener = _Listener()
    attacks = _attacks(root, klass, listener.port, grader_home)
    for student, code in attacks.items():
        synth.write_student(klass / student, {"00_double": synth.student_notebook(
            rel["00_double"], {"answer_double": code})})
    # An honest classmate, and one whose own cell mentions the hidden-test marker.
    synth.write_student(klass / "zed", {n: synth.student_notebook(rel[n], synth.GOOD) for n in synth.MAX})
    marker = synth.student_notebook(rel["00_double"], {
        "answer_double": "# ### BEGIN HIDDEN TESTS (my own note)\ndef double(x):\n    return x * 2"})
    synth.write_student(klass / "marker", {"00_double": marker})
    before = synth.folder_digest(klass)
    saved = {k: os.environ.get(k) for k in ("HOME", "AUTOGRADER_TEST_TOKEN")}
    os.environ.update({"HOME": str(grader_home), "AUTOGRADER_TEST_TOKEN": SECRET})
    try:
        result = batch.grade_submissions(klass, root / "out", 2, source_root=source, cell_timeout=20,
                                         kernel="fork", work_root=root / "work", limits=LIMITS,
                                         progress_stream=open(os.devnull, "w"))
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        listener.close()
    rows = {(r.student_id, r.notebook): r for r in result.results}
    return {"rows": rows, "root": root, "klass": klass, "before": before, "listener": listener,
            "attacks": attacks, "result": result}


def _contained(hostile, student: str) -> None:
    row = hostile["rows"][(student, "00_double")]
    assert (row.status, row.score) == ("graded", 2), (student, row.status, row.score, row.reason, _found(row))


def _found(row) -> str:
    """The attack's own 'found: [...]' line from the graded notebook: what it reached."""
    if not row.autograded_path or not Path(row.autograded_path).exists():
        return "(no graded notebook)"
    text = Path(row.autograded_path).read_text(errors="replace")
    return next((line for line in text.split("\\n") if "found:" in line), "(no 'found:' line)")[:600]


@pytest.mark.parametrize("student", ["hidden", "classmates", "plant", "network", "env_home", "leftover",
                                     "memory", "disk", "forks", "writable"])
def test_each_attack_reaches_nothing(hostile, student):
    _contained(hostile, student)


def test_the_loopback_listener_saw_no_connection(hostile):
    assert hostile["listener"].connections == 0


def test_nothing_was_planted_in_the_venv_the_repo_the_class_or_the_outputs(hostile):
    assert not Path(sysconfig.get_paths()["purelib"], "zz_planted.pth").exists()
    assert not (ROOT / "course" / "zz_planted.py").exists() and not (ROOT / "zz_planted.txt").exists()
    assert synth.folder_digest(hostile["klass"]) == hostile["before"]
    assert not list((hostile["root"] / "out").rglob("zz_planted*"))


def test_only_the_notebooks_pages_reach_feedback(hostile):
    files = [p for p in (hostile["root"] / "out" / "feedback").rglob("*") if p.is_file()]
    assert files and all(p.suffix == ".html" and p.stem in synth.MAX for p in files), files


def test_no_process_outlives_the_batch(hostile):
    assert processes_with("sleep 987") == [] and processes_with("sleep 986") == []
    assert processes_with("chain-marker-985") == []
    assert "background process" in hostile["rows"][("leftover", "00_double")].reason


@pytest.mark.parametrize("student, words", [
    ("memory", "memory limit (2 GiB per process)"),
    ("disk", "filled its working folder"),
    ("disk", "file hit the size limit (8 MiB)"),
    ("forks", "limit of 64 processes"),
    ("cpu", "more than 4 s of CPU time"),
])
def test_each_limit_hit_is_a_reason_in_grades_csv(hostile, student, words):
    rows = {(r["student_id"], r["notebook"]): r for r in report.read_csv(hostile["root"] / "out" / "grades.csv")}
    assert words in rows[(student, "00_double")]["reason"]


def test_a_kernel_over_its_cpu_time_is_stopped_and_the_rest_go_on(hostile):
    row = hostile["rows"][("cpu", "00_double")]
    assert row.status == "failed" and "did not run" in row.reason


def test_honest_classmate_keeps_full_marks(hostile):
    assert {n: (hostile["rows"][("zed", n)].status, hostile["rows"][("zed", n)].score) for n in synth.MAX} \
        == {"00_double": ("graded", 2), "01_greet": ("graded", 3)}


def test_a_learners_own_hidden_test_marker_does_not_break_their_feedback(hostile):
    row = hostile["rows"][("marker", "00_double")]
    assert (row.status, row.score) == ("graded", 2)
    page = (hostile["root"] / "out" / "feedback" / "marker" / "crew_processes" / "00_double.html").read_text()
    assert "my own note" in page and "2 / 2 points" in page
    assert synth.HIDDEN_LINE.split(",")[0] not in page  # the real hidden test is still cut
