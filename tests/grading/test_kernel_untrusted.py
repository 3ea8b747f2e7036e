"""No points without the learner's own work: the kernel is untrusted (issue 20).

One class, graded once through the real ``grade`` path (sandbox and witness on):

- every rubric case (alternative answers, each wrong idea, the cases of issue 20) and every
  notebook of the sample class, each also handed in *disarmed* (``tests/helpers/disarmed.py``: no
  kernel check can fail): the grader's evidence alone must give the same score, part by part;
- the attacks of issue 20 on an untouched or kit-driven notebook: each scores what the untouched
  notebook scores (0) in every part the kit's crews could fake, with a reason;
- a kernel that prints every cell's source: no hidden test reaches a page.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.batch import run as batch
from autograder.grading import sandbox
from autograder.paths import ROOT

from crew_answers import ALTERNATIVE, FULL_SCORES, MISSING_JOIN_03, RUBRIC, WRONG, WRONG_SCORES, worked
from tests.helpers.disarmed import disarm

pytestmark = pytest.mark.slow

CLASS = ROOT / "autograder" / "sample_class"
EXERCISES = ["01_sequential", "02_hierarchical", "03_async", "04_mixed_phases"]
SAMPLE = ["ada_perfect", "ben_untouched", "cleo_partial", "dev_wrong_ideas", "eli_runaway", "fay_tamperer",
          "gus_hardcoder", "hal_messy"]

# Every crew of the kit, kicked off in threads (plain kickoff() needs no event loop there).
KIT_CREWS = '''
import threading
from course import examples
KIT = [examples.sequential_crew, lambda: examples.hierarchical_crew("agent"), examples.async_crew,
       lambda: examples.async_crew(parallel=False), examples.mixed_phases_crew]
def run_kit(makers=KIT):
    for make in makers:
        try:
            make().kickoff()
        except BaseException:
            pass
def in_thread(target):
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread
'''
ATTACKS = {
    # build_crew hands back the kit's own crews; every other answer is the reference's.
    "kit_crews": {
        "01_sequential": {"seq_build": "from course.examples import sequential_crew\n"
                                       "def build_crew():\n    return sequential_crew()"},
        "02_hierarchical": {"hier_build": "from course.examples import hierarchical_crew\n"
                                          "def build_crew():\n    return hierarchical_crew('llm')"},
        "03_async": {"async_build": "from course.examples import async_crew\n"
                                    "def build_crew(parallel=True):\n    return async_crew(parallel=parallel)"},
        "04_mixed_phases": {"mixed_build": "from course.examples import mixed_phases_crew\n"
                                           "def build_crew():\n    return mixed_phases_crew()"},
    },
}
# Disarmed, answers untouched, and the kit's crews run where the tests look.
DISARMED_ATTACKS = {
    "disarmed_only": "",
    # a pre_run_cell hook runs the kit's crews whenever a test cell starts, and three runs now
    "kit_in_test_windows": KIT_CREWS + '''
def hook(info):
    if "checks." in (info.raw_cell or ""):
        in_thread(run_kit).join()
get_ipython().events.register("pre_run_cell", hook)
for _ in range(3):
    in_thread(run_kit).join()
''',
    # a thread that keeps running the kit's crews while the tests run
    "kit_in_a_loop": KIT_CREWS + '''
def forever():
    while True:
        run_kit()
in_thread(forever)
''',
    # the kit's requests captured once, then replayed over the socket with new run labels and their timing
    "replayed_requests": KIT_CREWS + '''
import json, socket, time, uuid
import autograder.kernel.witness_client as client
captured = []
real_ask = client._ask
def spy(path, message):
    captured.append((time.monotonic(), dict(message)))
    return real_ask(path, message)
client._ask = spy
in_thread(run_kit).join()
client._ask = real_ask
def send(message):
    try:
        with socket.socket(socket.AF_UNIX) as channel:
            channel.connect("/opt/course-witness/model.sock")
            channel.sendall((json.dumps(message) + "\\n").encode())
            channel.recv(1 << 20)
    except OSError:
        pass
def replay():
    if not captured:
        return
    labels, began, first = {}, time.monotonic(), captured[0][0]
    threads = []
    for at, message in captured:
        time.sleep(max(0.0, began + (at - first) - time.monotonic()))
        message = dict(message, run=labels.setdefault(message.get("run"), str(uuid.uuid4())))
        threads.append(in_thread(lambda m=message: send(m)))
    for thread in threads:
        thread.join()
def hook(info):
    if "checks." in (info.raw_cell or ""):
        replay()
get_ipython().events.register("pre_run_cell", hook)
''',
}
# A kernel that prints the source of every cell it runs: hidden tests included.
PRINT_CELLS = '''
def hook(info):
    print(info.raw_cell)
get_ipython().events.register("pre_run_cell", hook)
'''


def _write(klass: Path, student: str, notebooks: dict[str, nbformat.NotebookNode]) -> None:
    folder = klass / student / "crew_processes"
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, str(folder / f"{name}.ipynb"))


def _release(name: str) -> nbformat.NotebookNode:
    return nbformat.read(str(ROOT / "release" / "crew_processes" / f"{name}.ipynb"), as_version=4)


def _cases() -> dict[str, dict[str, nbformat.NotebookNode]]:
    """Each honest or wrong hand-in of the rubric, as it is: student -> notebooks."""
    cases = {"alternative": {n: worked(n, ALTERNATIVE[f"{n}.ipynb"]) for n in EXERCISES},
             "wrong": {n: worked(n, WRONG[f"{n}.ipynb"]) for n in EXERCISES},
             "missing_join": {"03_async": worked("03_async", {"async_build": MISSING_JOIN_03})}}
    for case, (name, answers, _total) in RUBRIC.items():
        cases[case] = {name: worked(name, answers)}
    return cases


def _copy_sample_student(klass: Path, student: str) -> None:
    """The sample student's folder as handed in, and a copy with every readable notebook disarmed.

    A damaged notebook (hal_messy's 01) cannot be disarmed: both copies keep it as it is.
    """
    shutil.copytree(CLASS / student, klass / student)
    shutil.copytree(CLASS / student, klass / f"{student}__disarmed")
    for path in (klass / f"{student}__disarmed").rglob("*.ipynb"):
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:
            continue
        nbformat.write(disarm(nb), str(path))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if sandbox.problem() is not None:
        pytest.skip(f"no sandbox here: {sandbox.problem()}")
    root = tmp_path_factory.mktemp("untrusted")
    klass = root / "class"
    for student, notebooks in _cases().items():
        _write(klass, student, notebooks)
        _write(klass, f"{student}__disarmed", {n: disarm(nb) for n, nb in notebooks.items()})
    for student in SAMPLE:
        _copy_sample_student(klass, student)
    for attack, answers in ATTACKS.items():
        _write(klass, attack, {n: worked(n, answers[n]) for n in EXERCISES})
    for attack, extra in DISARMED_ATTACKS.items():
        _write(klass, attack, {n: disarm(_release(n), extra) for n in EXERCISES})
    printer = nbformat.read(str(CLASS / "ada_perfect" / "crew_processes" / "01_sequential.ipynb"), as_version=4)
    _write(klass, "prints_cells", {"01_sequential": disarm(printer, PRINT_CELLS)})
    out = root / "out"
    result = batch.grade_submissions(klass, out, workers=2, work_root=root / "work", cell_timeout=60)
    yield {(r.student_id, r.notebook): r for r in result.results}, out
    shutil.rmtree(root, ignore_errors=True)


def _parts(result) -> dict[str, float]:
    return {grade_id: pair[0] for grade_id, pair in result.cells.items()}


def test_the_disarmed_kernel_changes_no_score_of_any_rubric_case_or_sample_student(graded):
    results, _out = graded
    pairs = [(student, name) for student, notebooks in _cases().items() for name in notebooks]
    pairs += [(student, name) for student in SAMPLE for name in EXERCISES]
    changed = []
    for student, name in pairs:
        kept, disarmed = results[(student, name)], results[(f"{student}__disarmed", name)]
        same = (disarmed.score, disarmed.status) == (kept.score, kept.status) and (
            kept.status != "graded" or _parts(disarmed) == _parts(kept))
        if not same:
            changed.append((student, name, kept.score, _parts(kept), disarmed.score, _parts(disarmed),
                            disarmed.reason))
    assert changed == []
    assert len(pairs) >= 45  # 16 rubric notebooks and the sample class's 32


def test_each_rubric_case_scores_what_the_rubric_says(graded):
    results, _out = graded
    for case, (name, _answers, total) in RUBRIC.items():
        assert results[(case, name)].score == total, (case, _parts(results[(case, name)]), results[(case, name)].reason)
    for name in EXERCISES:
        assert results[("alternative", name)].score == FULL_SCORES[f"{name}.ipynb"], results[("alternative", name)].reason
        assert _parts(results[("wrong", name)]) == WRONG_SCORES[f"{name}.ipynb"], results[("wrong", name)].reason
    assert results[("missing_join", "03_async")].score == 6


def test_the_sample_class_keeps_its_expected_scores(graded):
    results, _out = graded
    with open(CLASS / "expected.csv", newline="") as handle:
        expected = {(r["student_id"], r["notebook"]): float(r["score"]) for r in csv.DictReader(handle)}
    for student in SAMPLE:
        for name in EXERCISES:
            assert results[(student, name)].score == expected[(student, name)], (student, name,
                                                                                  results[(student, name)].reason)


@pytest.mark.parametrize("attack", sorted(ATTACKS) + sorted(DISARMED_ATTACKS))
def test_each_attack_scores_nothing_the_kits_crews_could_earn(graded, attack):
    results, _out = graded
    for name in EXERCISES:
        result = results[(attack, name)]
        parts = _parts(result)
        # A DAG typed right is 4.1's answer itself; nothing else the kit can do earns a point.
        typed = {"test_mixed_dag"} if attack == "kit_crews" else set()
        assert {p: s for p, s in parts.items() if p not in typed and s} == {}, (attack, name, parts, result.reason)
        if any(s for p, s in parts.items()) or attack == "kit_crews":
            continue
        if attack != "disarmed_only":
            assert "never saw the work" in result.reason or result.score == 0, result.reason


def test_a_kernel_that_prints_every_cell_shows_no_hidden_test_anywhere(graded):
    results, out = graded
    page = (out / "feedback" / "prints_cells" / "crew_processes" / "01_sequential.html").read_text()
    notebook = (out / "autograded" / "prints_cells" / "crew_processes" / "01_sequential.ipynb").read_text()
    printed = "checks.sequential_context(build_crew, thorough=True)"  # a hidden test's line
    graded_nb = nbformat.reads(notebook, as_version=4)
    outputs = "".join(str(o) for c in graded_nb.cells for o in c.get("outputs", []))
    assert "checks.needs(" in outputs  # the kernel did print the cells it ran
    for text in (page, outputs):
        assert printed not in text and "BEGIN HIDDEN TESTS" not in text
    assert results[("prints_cells", "01_sequential")].score == 6
