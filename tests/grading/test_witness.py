"""The model is the witness, outside the learner's kernel (issue 11).

A class of cheaters, graded once through the real ``grade`` path (sandbox on), each hands in
01_sequential with one cheat that fools every check inside the kernel; the witness, which
answered (or did not answer) the model calls from the grader, scores each faked part 0 with a
reason. An honest classmate keeps 6/6 in the same batch. The witness itself is attacked
directly: flood, garbage, a channel that never closes (bounded by small limits set here).
"""

from __future__ import annotations

import csv
import json
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from autograder.batch import run as batch
from autograder.grading import sandbox, witness, witness_rules
from autograder.grading.learner_code import LearnerCode
from autograder.paths import ROOT

CLASS = ROOT / "autograder" / "sample_class"
NOTEBOOK = "01_sequential"
PARTS = ["test_seq_crew", "test_seq_order", "test_seq_context", "test_seq_determinism"]

# Each cheat replaces the learner's answer cell (seq_build), or goes before the honest answer in it,
# and fools every check in the kernel.
WRONG_CREW = '''
from crewai import Agent, Crew, Process, Task
def build_crew():
    a = Agent(role="Researcher", goal="g", backstory="b")
    return Crew(agents=[a], tasks=[Task(description="Research it", expected_output="x", agent=a)],
                process=Process.sequential)
orders = [["research"]] * 3
'''
NOOP_CHECKS = '''
import types
noop = lambda *a, **k: None
fake = types.SimpleNamespace(**{n: noop for n in ["needs", "integrity", "sequential_crew", "sequential_order",
                                                   "sequential_context", "sequential_determinism"]})
'''
HAND_MADE_RUNS = '''
from datetime import datetime, timedelta, timezone
from course.recording import RecordedRun
from course.examples import sequential_crew
def fake_run(i=0):
    calls = [dict(task_id=n, task_name=n, task=n, role=r, manager=False, start=k, end=k + 0.5,
                  ref=f"{k:06d}", received=[f"{k - 1:06d}"] if k else [], delegated_to=None, thread="t")
             for k, (n, r) in enumerate([("research", "Researcher"), ("write", "Writer"), ("edit", "Editor")])]
    run = RecordedRun.from_model_calls(calls)
    run.crew_id = str(i)
    # dated after every cell began, so the check takes them for runs of the cell that fills `orders`
    run.started_at = datetime.now(timezone.utc) + timedelta(days=1)
    return run
'''
CHEATS = {
    # the checks' `fail` made silent (the guard compares functions, not what names point at)
    "fail_silenced": WRONG_CREW + '''
import sys
import autograder.checks  # loaded now, so that its modules are there to silence
for name, module in list(sys.modules.items()):
    # messages.fail itself is guarded (it is defined there); the names the checks imported are not
    if name.startswith(("autograder.checks.ex", "autograder.checks.common")) and hasattr(module, "fail"):
        module.fail = lambda *a, **k: None
''',
    # the checks' own names for shaped_runs/schedules rebound to hand-made runs
    "hand_made_runs": HAND_MADE_RUNS + '''
import autograder.checks.ex01_sequential as ex01
def build_crew():
    return sequential_crew()
# 1.1 reads one run; 1.2, 1.3 and 1.4 read two thorough schedules
ex01.shaped_runs = lambda make, shape, thorough=False, *a, **k: (None, [fake_run()] * (2 if thorough else 1))
ex01.schedules = lambda *a, **k: [fake_run(), fake_run()]
ex01.learner_runs = lambda: [fake_run(i) for i in range(3)]
orders = [["research", "write", "edit"]] * 3
''',
    # the package attribute the test cells read, replaced after the real package was imported
    "namespace": WRONG_CREW + NOOP_CHECKS + '''
import autograder, autograder.checks
fake.__file__ = autograder.checks.__file__  # the guard reads the package's file through the attribute
autograder.checks = fake
''',
    # an IPython input transformer that empties every test cell
    "input_transformer": WRONG_CREW + '''
def empty_tests(lines):
    return ["pass\\n"] if any("checks." in line for line in lines) else lines
get_ipython().input_transformers_post.append(empty_tests)
''',
    # an AST transformer that drops every statement of a test cell
    "ast_transformer": WRONG_CREW + '''
import ast
class Drop(ast.NodeTransformer):
    def visit_Module(self, node):
        if any(isinstance(n, ast.Name) and n.id == "checks" for n in ast.walk(node)):
            node.body = [ast.Pass()]
        return node
get_ipython().ast_transformers.append(Drop())
''',
    # builtins.__import__ hands the test cells a fake `checks`
    "import_hook": WRONG_CREW + NOOP_CHECKS + '''
import builtins
real_import = builtins.__import__
def hooked(name, globals=None, locals=None, fromlist=(), level=0):
    module = real_import(name, globals, locals, fromlist, level)
    if name == "autograder" and fromlist and "checks" in fromlist:
        return types.SimpleNamespace(checks=fake)
    return module
builtins.__import__ = hooked
''',
    # CrewAI's Crew.kickoff patched to answer with the in-kernel model: right crew, tags the kernel made
    "kickoff_in_kernel": '''
import crewai
from course import scripted_llm
from course.examples import sequential_crew
real_kickoff = crewai.Crew.kickoff
def kickoff(self, *a, **k):
    witness = scripted_llm.routed_to()
    scripted_llm.route_every_call(None)
    try:
        return real_kickoff(self, *a, **k)
    finally:
        scripted_llm.route_every_call(witness)
crewai.Crew.kickoff = kickoff
def build_crew():
    return sequential_crew()
''',
    # the learner's own correct crew, with the kernel's route to the witness switched off for good
    "route_switched_off": ("from course import scripted_llm\nscripted_llm.route_every_call(None)\n", True),
    # the learner's own correct crew on a default model with a reply function of its own, in the kernel
    "own_reply_function": ("import course\nfrom course import scripted_llm\n"
                           "course.reset_default_llm(reply_backend=lambda request, latency, **_: "
                           "scripted_llm.compose(request))\n", True),
    # the recorder patched (caught by the kit's guard as well): still 0 in every part
    "recording_patched": WRONG_CREW + '''
import course.recording
course.recording.RecordedRun.order = lambda self: ["research", "write", "edit"]
''',
    # the recorder's collector swapped for one of the learner's (also caught by the kit's guard)
    "collector_replaced": WRONG_CREW + '''
import course.recording as rec
class Collector(rec._Collector):
    def snapshot(self):
        return []
rec._collector = Collector()
''',
}
GUARDED = {"recording_patched", "collector_replaced"}  # the kit's guard sees these too


# A kernel that attacks the witness itself, then answers the exercise correctly (ada's answer).
HOSTILE = '''
import json, socket
path = "/opt/course-witness/model.sock"
def send(payload):
    try:
        with socket.socket(socket.AF_UNIX) as channel:
            channel.settimeout(10)
            channel.connect(path)
            channel.sendall(payload)
            channel.recv(100_000)
    except OSError:
        pass
send(b"\\x00 garbage\\n")
send(b"{" + b"x" * (2 << 20) + b"\\n")
held = socket.socket(socket.AF_UNIX)
held.connect(path)  # never closed
call = {"request": {"messages": [["user", "hi"]], "role": "R", "task": "T", "coworkers": None,
                    "tool_arguments": []}, "latency": 0}
line = (json.dumps(call) + "\\n").encode()
with socket.socket(socket.AF_UNIX) as channel:
    channel.connect(path)
    stream = channel.makefile("rwb")
    for _ in range(5_100):
        stream.write(line)
        stream.flush()
        if not stream.readline():
            break
'''


def _student(folder: Path, source: str | None, notebook: str = NOTEBOOK, answer: str = "seq_build",
             before: bool = False) -> None:
    nb = nbformat.read(str(CLASS / "ada_perfect" / "crew_processes" / f"{notebook}.ipynb"), as_version=4)
    if source is not None:
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id == answer:
                cell.source = source + cell.source if before else source
            elif grade_id in ("seq_orders",) and "orders" in source:
                cell.source = "pass"
    (folder / "crew_processes").mkdir(parents=True)
    nbformat.write(nb, str(folder / "crew_processes" / f"{notebook}.ipynb"))


# Exercise 3 has parts that only read the crew's structure (3.1, 3.2) and one about the learner's
# own timing (3.5): the namespace cheat with a one-task crew fakes all five.
ASYNC_PARTS = ["test_async_shape", "test_async_agents", "test_async_overlap", "test_async_join", "test_async_timing"]
ASYNC_CHEAT = '''
import types
from crewai import Agent, Crew, Process, Task
def build_crew(parallel=True):
    a = Agent(role="Researcher", goal="g", backstory="b")
    return Crew(agents=[a], tasks=[Task(description="Research it", expected_output="x", agent=a)],
                process=Process.sequential)
noop = lambda *a, **k: None
fake = types.SimpleNamespace(**{n: noop for n in ["needs", "integrity", "async_shape", "async_agents",
                                                   "async_overlap", "async_join", "async_timing"]})
import autograder, autograder.checks
fake.__file__ = autograder.checks.__file__
autograder.checks = fake
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if sandbox.problem() is not None:
        pytest.skip(f"no sandbox here: {sandbox.problem()}")
    root = tmp_path_factory.mktemp("witness")
    klass = root / "class"
    _student(klass / "honest", None)
    for name, source in CHEATS.items():
        # (text, True): put before the honest answer, which then runs as it is
        text, before = source if isinstance(source, tuple) else (source, False)
        _student(klass / name, text, before=before)
    _student(klass / "namespace_async", ASYNC_CHEAT, "03_async", "async_build")
    _student(klass / "hostile", HOSTILE, before=True)
    out = root / "out"
    batch.grade_submissions(klass, out, workers=2, work_root=root / "work", cell_timeout=60)
    with open(out / "grades.csv", newline="") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)
                if r["notebook"] == ("03_async" if r["student_id"] == "namespace_async" else NOTEBOOK)}
    return rows, out


def _cells(out: Path, student: str, notebook: str = NOTEBOOK) -> dict[str, list[str]]:
    """Each test cell's error names in the graded notebook."""
    nb = nbformat.read(str(out / "autograded" / student / "crew_processes" / f"{notebook}.ipynb"), as_version=4)
    return {c.metadata.nbgrader["grade_id"]: [o.get("ename", "") for o in c.get("outputs", [])
                                                if o.get("output_type") == "error"]
            for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


@pytest.mark.slow
def test_the_honest_classmate_keeps_full_marks(graded):
    rows, out = graded
    assert (rows["honest"]["score"], rows["honest"]["status"]) == ("6", "graded")
    assert "never saw" not in rows["honest"]["reason"]


@pytest.mark.slow
@pytest.mark.parametrize("cheat", sorted(set(CHEATS) - GUARDED))
def test_each_cheat_scores_0_in_every_part_it_faked_with_a_reason(graded, cheat):
    rows, out = graded
    row = rows[cheat]
    assert float(row["score"]) == 0, row
    assert "the model never saw the work" in row["reason"], row["reason"]
    errors = _cells(out, cheat)
    for part in PARTS:
        # The kernel's check passed (the cheat worked there); the witness alone scored it 0.
        assert errors[part] == ["NotWitnessed"], (part, errors[part])
        assert float(row[f"1.{PARTS.index(part) + 1} {part}"]) == 0
    page = (out / "feedback" / cheat / "crew_processes" / f"{NOTEBOOK}.html").read_text()
    assert "the model never saw the work" in page


@pytest.mark.slow
def test_a_kernel_that_floods_sends_garbage_and_holds_a_channel_gets_reasons_and_the_batch_goes_on(graded):
    rows, out = graded
    row = rows["hostile"]
    assert row["status"] == "graded"
    for words in ("made more than 5,000 model calls", "sent the model something that is not a model call",
                  "sent the model a request longer than 1,048,576 bytes"):
        assert words in row["reason"], (words, row["reason"])
    # Past its bound the witness answers nothing more: the crews this notebook runs afterwards fail.
    assert float(row["score"]) == 0
    assert rows["honest"]["score"] == "6"


@pytest.mark.slow
def test_structure_and_timing_parts_of_exercise_3_are_not_faked_either(graded):
    rows, out = graded
    row = rows["namespace_async"]
    assert float(row["score"]) == 0 and "the model never saw the work" in row["reason"], row
    errors = _cells(out, "namespace_async", "03_async")
    assert {part: errors[part] for part in ASYNC_PARTS} == {part: ["NotWitnessed"] for part in ASYNC_PARTS}


@pytest.mark.slow
@pytest.mark.parametrize("cheat", sorted(GUARDED))
def test_a_patched_recorder_scores_0_in_every_part(graded, cheat):
    rows, out = graded
    assert float(rows[cheat]["score"]) == 0
    assert all(float(rows[cheat][f"1.{i + 1} {part}"]) == 0 for i, part in enumerate(PARTS))
    assert "replaced parts of the course or the grader" in rows[cheat]["reason"]


# --- the witness under attack, alone -----------------------------------------------------

def _request(**overrides) -> dict:
    from course.scripted_llm import ReplyRequest

    prompt = ("You are Researcher. Finds facts\nYour personal goal is: facts\n\nCurrent Task: Research solar power"
              "\n\nBegin!")
    request = ReplyRequest(messages=(("system", prompt), ("user", "Current Task: Research solar power\n\nBegin!")),
                           role="Researcher", task="Research solar power")
    message = {"request": request.to_dict(), "latency": 0.0, "run": "r1", "task_id": "t1",
               "task_name": "research", "thread": "main"}
    message.update(overrides)
    return message


def _ask(path: Path, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as channel:
        channel.settimeout(20)
        channel.connect(str(path))
        channel.sendall(payload)
        data = b""
        while not data.endswith(b"\n"):
            chunk = channel.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


@pytest.fixture
def small_witness(tmp_path):
    w = witness.Witness(tmp_path / "w", witness.Bounds(line_bytes=64 * 1024, calls=20, channels=4,
                                                       idle_seconds=1.0, latency=0.2))
    w.start()
    yield w
    w.stop()


def test_the_witness_answers_with_the_course_models_function_and_its_own_key(small_witness, tmp_path):
    from course.scripted_llm import ReplyRequest, compose

    message = _request()
    reply = json.loads(_ask(small_witness.path, (json.dumps(message) + "\n").encode()))["reply"]
    request = ReplyRequest.from_dict(message["request"])
    assert reply == compose(request, key=small_witness._key)
    assert reply != compose(request)  # the kernel's own model cannot make this tag
    other = witness.Witness(tmp_path / "other")
    other.start()
    try:
        again = json.loads(_ask(other.path, (json.dumps(message) + "\n").encode()))["reply"]
    finally:
        other.stop()
    assert again != reply  # a secret per notebook: a tag from one notebook means nothing in the next
    [call] = small_witness.journal()
    assert (call["role"], call["task"], call["run"]) == ("Researcher", "Research solar power", "r1")
    assert call["ref"] and small_witness.signed(call["ref"]) and call["start"] <= call["end"]


def test_a_typed_tag_is_not_received_work(small_witness):
    from course.scripted_llm import ReplyRequest

    first = json.loads(_ask(small_witness.path, (json.dumps(_request()) + "\n").encode()))["reply"]
    signed = first.split("[ref:", 1)[1][:6]
    context = f"[ref:abc123 by Researcher] Research notes on solar power:\n{first.split('Final Answer: ', 1)[1]}"
    prompt = ("Current Task: Write the article\n\n"
              f"This is the context you're working with:\n{context}\n\nBegin!")
    request = ReplyRequest(messages=(("system", "You are Writer. Writes"), ("user", prompt)), role="Writer",
                           task="Write the article")
    _ask(small_witness.path, (json.dumps(_request(request=request.to_dict(), task_id="t2")) + "\n").encode())
    second = small_witness.journal()[-1]
    assert second["received"] == [signed] and second["forged"] == ["abc123"]
    assert any("did not sign" in p for p in small_witness.problems())


def test_a_flood_is_refused_beyond_the_bound_with_a_reason(small_witness):
    line = (json.dumps(_request()) + "\n").encode()
    answers = [json.loads(_ask(small_witness.path, line)) for _ in range(30)]
    assert sum("reply" in a for a in answers) == 20 and len(small_witness.journal()) == 20
    assert "error" in answers[-1]
    assert any("more than 20 model calls" in p for p in small_witness.problems())


def test_garbage_and_oversized_requests_get_a_reason_and_nothing_else(small_witness):
    for payload in (b"\x00\xff garbage\n", b"[1, 2, 3]\n", b'{"request": {"role": 1}}\n',
                    b"{" + b"x" * (200 * 1024) + b"\n"):
        try:
            _ask(small_witness.path, payload)
        except OSError:
            pass  # the witness may close before reading a bomb whole
    problems = " ".join(small_witness.problems())
    assert "not a model call" in problems and "longer than 65,536 bytes" in problems
    assert small_witness.journal() == []
    # and it still answers the next honest call
    assert "reply" in json.loads(_ask(small_witness.path, (json.dumps(_request()) + "\n").encode()))


def test_channels_that_never_close_are_closed_and_bounded(small_witness):
    idle = []
    for _ in range(6):  # more than the 4 channels allowed at once, none of which ever sends
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        channel.connect(str(small_witness.path))
        idle.append(channel)
    try:
        for channel in idle:
            channel.settimeout(20)
            assert channel.recv(10) == b""  # the witness closed it (at its idle bound, or at once over the cap)
    finally:
        for channel in idle:
            channel.close()
    problems = " ".join(small_witness.problems())
    assert "without a request" in problems and "more than 4 channels" in problems
    stopper = threading.Thread(target=small_witness.stop)
    stopper.start()
    stopper.join(30)
    assert not stopper.is_alive()


def test_stop_never_waits_on_a_kernel_that_holds_its_channel(tmp_path):
    w = witness.Witness(tmp_path / "w", witness.Bounds(idle_seconds=3600))
    w.start()
    held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    held.connect(str(w.path))
    held.sendall(b'{"request": ')  # half a request, then silence
    stopper = threading.Thread(target=w.stop)
    stopper.start()
    stopper.join(30)
    held.close()
    assert not stopper.is_alive() and not w.path.exists()


# --- the rules, on runs the witness saw --------------------------------------------------

def _alternative(notebook: str, cell: str):
    """An alternative-correct answer's build function (source/crew_answers.py), defined here."""
    from crewai import Agent, Crew, Process, Task

    from crew_answers import ALTERNATIVE

    namespace = {"Agent": Agent, "Crew": Crew, "Process": Process, "Task": Task}
    exec(ALTERNATIVE[notebook][cell], namespace)  # noqa: S102  the test's own answer text
    return namespace["build_crew"]


def _witnessed(tmp_path, monkeypatch, crews: dict) -> tuple[list[dict], list[dict]]:
    """The crews' calls through a real witness, in cells as a notebook would make them."""
    import time

    import course  # noqa: F401
    from course import scripted_llm
    from autograder.kernel import witness_client
    from autograder.checks import common

    # Here "learner" cells call common.run as well; with the test cells' shared runs on, the test
    # windows would read those runs instead of making their own, which no real notebook does.
    monkeypatch.setenv(common.SHARING_SWITCH, "0")
    w = witness.Witness(tmp_path / "w", kit=(witness_rules.KIT_MARK,))
    w.start()
    saved = scripted_llm.routed_to()
    windows: list[dict] = []
    try:
        witness_client.install(str(w.path))

        def cell(test: bool, grade_id: str | None, action) -> None:
            start = time.monotonic()
            action()
            windows.append({"index": len(windows), "grade_id": grade_id, "test": test, "start": start,
                            "end": time.monotonic()})

        seq, hier, par, mixed = crews["seq"], crews["hier"], crews["async"], crews["mixed"]
        cell(False, None, lambda: [common.run(seq) for _ in range(3)])
        cell(True, "test_seq_crew", lambda: common.runs(seq, 2, (0.0, 0.03)))
        cell(True, "test_hier_setup", lambda: common.run(hier, latency=0.01))
        cell(False, None, lambda: (common.run(par, latency=0.05), common.run(par, latency=0.05, parallel=False)))
        cell(True, "test_async_overlap", lambda: (common.run(par, latency=0.05),
                                                  common.run(par, latency=0.05, parallel=False)))
        cell(True, "test_mixed_parallel", lambda: common.run(mixed, latency=0.05))
    finally:
        scripted_llm.route_every_call(saved)
        w.stop()
    return w.journal(), windows


# Parts judged on runs alone (the typed answers' parts are graded end to end in test_kernel_untrusted.py).
RUN_PARTS = {g for g, part in witness_rules.PARTS.items() if not part.answers}
WRITES = LearnerCode(keywords=frozenset({"context", "async_execution"}))


def test_every_witnessed_part_confirms_a_learners_crews_and_refuses_a_one_task_crew(tmp_path, monkeypatch):
    """In one process: alternative-correct crews' calls through a real witness, judged by each part's rule."""
    journal, windows = _witnessed(tmp_path, monkeypatch, {
        "seq": _alternative("01_sequential.ipynb", "seq_build"), "hier": _alternative("02_hierarchical.ipynb",
                                                                                      "hier_build"),
        "async": _alternative("03_async.ipynb", "async_build"), "mixed": _alternative("04_mixed_phases.ipynb",
                                                                                     "mixed_build")})
    # Every part's rule is judged in the last test window, which may use every earlier test window.
    cells = windows + [{"index": 99, "grade_id": g, "test": True, "start": 1e12, "end": 1e12} for g in sorted(RUN_PARTS)]
    assert witness_rules.judge(journal, cells, RUN_PARTS, WRITES) == {}
    # What the model cannot see is read from the hand-in: without context= and async_execution there
    assert set(witness_rules.judge(journal, cells, RUN_PARTS, LearnerCode())) == {
        "test_seq_context", "test_async_join", "test_async_shape"}
    lonely = [c for c in journal if c["role"] == "Rust scout"]  # one task of the async crew, alone
    denied = witness_rules.judge(lonely, cells, RUN_PARTS, WRITES)
    # 3.1 asks only that the grader's runs reached the model (a crew's async flags leave no other trace)
    assert set(denied) == RUN_PARTS - {"test_async_shape"}, sorted(RUN_PARTS - set(denied))
    assert set(witness_rules.judge([], cells, RUN_PARTS, WRITES)) == RUN_PARTS  # nothing seen: nothing confirmed


def test_the_kits_own_crews_confirm_no_part(tmp_path, monkeypatch):
    """course.examples solve the exercises' shapes; run where the tests look, they still confirm nothing."""
    from course import examples

    journal, windows = _witnessed(tmp_path, monkeypatch, {
        "seq": examples.sequential_crew, "hier": examples.hierarchical_crew, "async": examples.async_crew,
        "mixed": examples.mixed_phases_crew})
    assert journal and all(call["kit"] for call in journal)
    cells = windows + [{"index": 99, "grade_id": g, "test": True, "start": 1e12, "end": 1e12} for g in sorted(RUN_PARTS)]
    assert set(witness_rules.judge(journal, cells, RUN_PARTS, WRITES)) == RUN_PARTS
    # The same calls without the kit's mark would have confirmed every part: the mark alone refuses them.
    unmarked = [dict(call, kit=False) for call in journal]
    assert witness_rules.judge(unmarked, cells, RUN_PARTS, WRITES) == {}


# Alternative-correct and typical wrong answers through the witness: tests/grading/test_kernel_untrusted.py
# grades them as they are and with every kernel check disarmed.


def test_the_socket_belongs_to_the_sandbox_alone(tmp_path):
    import os
    import stat

    if os.geteuid() != 0:
        pytest.skip("giving the socket to the sandbox's uid needs root (otherwise the grader's own user owns it)")
    w = witness.Witness(tmp_path / "w", owner=sandbox.sandbox_uid(4242))
    w.start()
    try:
        info = os.stat(w.path)
        folder = os.stat(w.folder)
    finally:
        w.stop()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (sandbox.sandbox_uid(4242), 0o600)
    assert stat.S_IMODE(folder.st_mode) == 0o711  # others may pass through, not list


def test_a_run_whose_first_call_comes_just_after_its_cell_still_belongs_to_that_cell():
    """One agent on three async tasks: a crew fails in one thread while another is about to call the
    model, so that call can land after the test cell ended (seen as a flaky 3.1 denial under load)."""
    late = [dict(task_id="a", task_name="Research topic A", task="Research topic A", role="Researcher",
                 manager=False, start=10.4, end=10.5, ref="000001", received=[], delegated_to=None,
                 thread="t1", run="r1")]
    cells = [{"index": 0, "grade_id": None, "test": False, "start": 0.0, "end": 5.0},
             {"index": 3, "grade_id": "test_async_overlap", "test": True, "start": 9.0, "end": 10.3},
             {"index": 4, "grade_id": "test_async_join", "test": True, "start": 10.6, "end": 11.0}]
    assert list(witness_rules.runs_by_cell(late, cells)) == [3]
    assert witness_rules.runs_by_cell(late, [{"index": 9, "test": True, "start": 11.0, "end": 12.0}]) == {}
    shape = [{"index": 1, "grade_id": "test_async_shape", "test": True, "start": 1.0, "end": 2.0}] + cells[1:]
    assert witness_rules.judge(late, shape, {"test_async_shape"}, WRITES) == {}
