"""nbgrader's Execute step, made safe for a class of unknown code.

Stock ``Execute`` (nbgrader 0.9.6 over nbclient 0.11) turns a dead kernel or a
loop that swallows KeyboardInterrupt into an exception that fails the whole
student, keeps any amount of output, and lets test cells that never ran count
as passed (nbgrader scores a test cell by the absence of an error in its
outputs). ``GradingExecute`` keeps nbgrader's semantics for every cell that
did run, and:

- stops a notebook cleanly when its kernel dies or cannot be interrupted, and
  marks every cell that did not run with an error, so no test scores by default;
- caps each cell's output, so one ``print`` in a loop cannot fill the disk,
  the feedback or the grader's memory;
- runs the kernel with a private course kit first on its path, private HOME
  and IPython dirs (a startup file written there reaches nobody), and asks it
  afterwards which network connections were refused;
- reports what happened in ``resources["execution_report"]``, which the
  converter hands to its writer (``notebook.CourseAutograde`` keeps it) and the
  grader turns into a status and a reason.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.client import NotebookClient
from nbformat.notebooknode import NotebookNode
from traitlets import Dict, Integer, Unicode

from nbgrader.preprocessors import Execute

from autograder.grading.cellmeta import is_test_cell

NOT_RUN = "CellNotRun"


@dataclass
class ExecutionReport:
    """What happened while one notebook ran, for the status and reason."""

    interrupted: list[str] = field(default_factory=list)  # cells stopped at the time limit, notebook went on
    stopped_at: str | None = None  # the cell where the notebook could not go on
    stop_kind: str | None = None  # "died", "hung" or "startup"
    stop_detail: str = ""
    truncated: list[str] = field(default_factory=list)  # cells whose output was cut
    network: list[str] = field(default_factory=list)  # refused connections, as the kernel listed them
    tampered: list[str] = field(default_factory=list)  # what the guard found replaced before a test cell
    cells_not_run: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # where the seconds went (bench, logs)
    # When each code cell ran, on the worker's clock (time.monotonic, the witness's clock too):
    # {"index", "grade_id", "test", "locked", "start", "end"}, and for a test cell that judges typed
    # answers, "answers": {name: repr of its value as the test began}.
    cells: list[dict] = field(default_factory=list)
    witness: str = ""  # why the kernel could not reach the model's witness ("" when it could)


REPORT_KEY = "execution_report"  # where GradingExecute leaves its ExecutionReport in ``resources``


def describe_cell(cell: NotebookNode, index: int) -> str:
    """A cell as a person finds it again: its grade id, else its first line."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("grade_id") and (meta.get("grade") or meta.get("solution") or meta.get("locked")):
        return f"cell '{meta['grade_id']}'"
    for line in cell.get("source", "").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return f"the cell starting `{line[:50]}`" + ("..." if len(line) > 50 else "")
    return f"cell {index + 1}"


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _output_size(out: NotebookNode) -> int:
    if out.get("output_type") == "stream":
        return len(out.get("text", ""))
    if out.get("output_type") == "error":
        return sum(len(line) for line in out.get("traceback", [])) + len(out.get("evalue", ""))
    data = out.get("data", {})
    return sum(len(v) if isinstance(v, str) else len(str(v)) for v in data.values())


class GradingExecute(Execute):
    """Execute, hardened: see the module docstring."""

    max_cell_output = Integer(
        200_000, help="Characters of output kept per cell; the rest is dropped with a note."
    ).tag(config=True)
    max_notebook_output = Integer(
        2_000_000, help="Characters of output kept per notebook; the rest is dropped with a note."
    ).tag(config=True)
    kernel_env = Dict(
        {}, help="Environment variables set for the kernel (on top of the allowlisted base, autograder/grading/sandbox.py)."
    ).tag(config=True)
    report_key = Unicode("", help="Key under which the run is reported (student/notebook).").tag(config=True)
    guard_module = Unicode(
        "", help="The kit's integrity module, run fresh from this file before every test cell."
    ).tag(config=True)
    witness_socket = Unicode(
        "", help="The model's witness socket as the kernel sees it (autograder/grading/witness.py); empty: no witness."
    ).tag(config=True)
    answer_names = Dict(
        {}, help="Test cell grade_id -> the names of the typed answers it judges, read just before it runs "
                 "(autograder/grading/witness_rules.py judges them outside the kernel)."
    ).tag(config=True)

    # --- output cap -------------------------------------------------------------------
    def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
        out = super().output(outs, msg, display_id, cell_index)
        if out is None:
            return out
        size = _output_size(out)
        self._cell_chars = getattr(self, "_cell_chars", 0) + size
        self._nb_chars = getattr(self, "_nb_chars", 0) + size
        if self._cell_chars > self.max_cell_output or self._nb_chars > self.max_notebook_output:
            if outs and outs[-1] is out:
                outs.pop()
            if not getattr(self, "_cut_this_cell", False):
                self._cut_this_cell = True
                self._report.truncated.append(describe_cell(self.nb.cells[cell_index], cell_index))
            if out.get("output_type") == "error":  # an error still decides the score: keep it, short
                outs.append(_error_output(out.get("ename", "Error"), str(out.get("evalue", ""))[:2000]))
        return out

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        if getattr(self, "_cut_this_cell", False):
            cell = kwargs["cell"]
            cell.outputs.append(NotebookNode(
                output_type="stream", name="stdout",
                text=f"\n[The grader cut this cell's output: it was longer than {self.max_cell_output:,} "
                     "characters. Print less, e.g. a summary instead of every line.]\n"))

    # --- timeouts -------------------------------------------------------------------
    async def _async_handle_timeout(self, timeout, cell=None):
        if cell is not None:
            index = self.nb.cells.index(cell) if cell in self.nb.cells else 0
            self._report.interrupted.append(describe_cell(cell, index))
        return await super()._async_handle_timeout(timeout, cell)

    # --- the run ----------------------------------------------------------------------
    def _kernel_env(self) -> dict[str, str]:
        """Built from an allowlist: nothing of the grader's environment (keys, tokens) reaches a kernel."""
        from autograder.grading.sandbox import base_env

        return base_env({k: str(v) for k, v in self.kernel_env.items()})

    def preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._report = report = ExecutionReport()
        self._nb_chars = 0
        self._test_cpu_start: float | None = None
        stop_index: int | None = None
        import time

        clock = time.monotonic()
        try:
            with self.setup_kernel(env=self._kernel_env()):
                report.timings["kernel start"] = time.monotonic() - clock
                assert self.kc is not None
                info_msg = self.wait_for_reply(self.kc.kernel_info())
                if info_msg is None:
                    raise DeadKernelError("no reply to kernel_info")
                self.nb.metadata["language_info"] = info_msg["content"]["language_info"]
                self._count_cpu("start cpu", 0.0)  # what the kernel used to start, before any cell
                if self.witness_socket:
                    report.witness = self._use_witness()
                for index, cell in enumerate(self.nb.cells):
                    self._cell_chars = 0
                    self._cut_this_cell = False
                    began = time.monotonic()
                    test = is_test_cell(cell)
                    replaced = self._guard() if test else []
                    marks = cell.get("metadata", {}).get("nbgrader", {})
                    window = {"index": index, "grade_id": marks.get("grade_id"), "test": test,
                              "locked": bool(marks.get("locked")) and not marks.get("solution"),
                              "start": time.monotonic(), "end": float("inf")}
                    if test and marks.get("grade_id") in self.answer_names:
                        window["answers"] = self._answers(self.answer_names[marks["grade_id"]])
                    if cell.cell_type == "code":
                        report.cells.append(window)
                    try:
                        self.preprocess_cell(cell, resources, index)
                        window["end"] = time.monotonic()
                        if replaced:
                            self._void_test(cell, replaced)
                        if cell.cell_type == "code":
                            report.timings[describe_cell(cell, index)] = time.monotonic() - began
                        if test:
                            self._count_cpu("test cpu", self._test_cpu_start)
                    except DeadKernelError:
                        stop_index = index
                        self._stop(report, cell, index, "died",
                                   "The Python kernel stopped while this cell ran (it exited, crashed or ran "
                                   "out of memory), so this cell and every cell after it could not run.")
                        break
                    except CellTimeoutError:
                        stop_index = index
                        self.shutdown_kernel = "immediate"
                        self._stop(report, cell, index, "hung",
                                   f"This cell was still running after {self.timeout} s and did not stop when "
                                   "interrupted (a loop that catches KeyboardInterrupt?), so the kernel was "
                                   "stopped and no later cell could run.")
                        break
                if stop_index is None:
                    report.network = self._probe()
                clock = time.monotonic()
            report.timings["kernel stop"] = time.monotonic() - clock
        except (DeadKernelError, RuntimeError, TimeoutError) as err:
            if stop_index is None:
                # The kernel did not start or died before the first cell: nothing of the
                # learner's ran, so this is the grading machine's problem, not theirs.
                stop_index = 0
                report.stop_kind = "startup"
                report.stop_detail = f"The grader could not start a Python kernel ({err})."
                report.stopped_at = "the first cell"
        if stop_index is not None:
            report.cells_not_run = self._mark_not_run(stop_index + (0 if report.stop_kind == "startup" else 1),
                                                      report)
        self.set_widgets_metadata()
        self.resources[REPORT_KEY] = report
        return self.nb, self.resources

    def _stop(self, report: ExecutionReport, cell: NotebookNode, index: int, kind: str, detail: str) -> None:
        report.stopped_at = describe_cell(cell, index)
        report.stop_kind = kind
        report.stop_detail = detail
        if cell.cell_type == "code":
            cell.setdefault("outputs", []).append(
                _error_output("KernelDied" if kind == "died" else "CellTimeoutError", detail))

    def _mark_not_run(self, start: int, report: ExecutionReport) -> int:
        why = report.stop_detail or "the notebook stopped earlier"
        count = 0
        for cell in self.nb.cells[start:]:
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            cell.outputs = [_error_output(NOT_RUN, f"This cell did not run: {why}")]
            count += 1
        return count

    # --- where the kernel's CPU goes (make bench: the learner's cells against the grader's work) ----
    _CPU = "sum(__import__('resource').getrusage(0)[:2])"

    def _kernel_cpu(self, reply: dict | None, key: str) -> float | None:
        try:
            return float(reply["content"]["user_expressions"][key]["data"]["text/plain"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return None

    def _count_cpu(self, name: str, since: float | None) -> None:
        """Add the kernel's CPU since ``since`` to ``name`` (one silent request after a test cell)."""
        if since is None:
            return
        try:
            assert self.kc is not None
            now = self._kernel_cpu(self.wait_for_reply(self.kc.execute(
                "", silent=True, store_history=False, user_expressions={"cpu": self._CPU})), "cpu")
        except Exception:  # noqa: BLE001 (a measurement must never cost a learner a grade)
            return
        if now is not None:
            self._report.timings[name] = self._report.timings.get(name, 0.0) + max(0.0, now - since)

    def _guard(self) -> list[str]:
        """What the learner's code replaced in the course or the grader, checked just before a test.

        The hidden tests call ``checks.integrity()``, but a notebook can replace that very
        function (and every check) before the tests run. This runs the kit's integrity check
        from its file, as a module of its own, so replacing ``checks.*`` does not silence it.
        The same request reads the kernel's CPU before and after the check.
        """
        self._test_cpu_start = None
        if not self.guard_module:  # the grader sets it only where the kit has one
            return []
        expression = (
            "((lambda u: (lambda s: (lambda m: (s.loader.exec_module(m), m.problems())[1])"
            "(u.module_from_spec(s)))(u.spec_from_file_location('_autograder_guard', "
            f"{self.guard_module!r})))(__import__('importlib.util', fromlist=['util'])) "
            "if 'course' in __import__('sys').modules else [])")
        try:
            assert self.kc is not None
            msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={
                "cpu before": self._CPU, "guard": expression, "cpu after": self._CPU})
            reply = self.wait_for_reply(msg_id)
            answer = reply["content"]["user_expressions"]["guard"]  # type: ignore[index]
        except Exception:
            return []  # the kernel is gone or hung: the cell itself will say so
        before, after = self._kernel_cpu(reply, "cpu before"), self._kernel_cpu(reply, "cpu after")
        if before is not None and after is not None:
            self._report.timings["guard cpu"] = self._report.timings.get("guard cpu", 0.0) + max(0.0, after - before)
            self._test_cpu_start = after
        if answer.get("status") != "ok":
            found = [f"the integrity check itself could not run ({answer.get('ename', 'error')})"]
        else:
            try:
                value = ast.literal_eval(answer["data"]["text/plain"])
                found = [str(v) for v in value] if isinstance(value, list) else ["unexpected answer"]
            except (KeyError, ValueError, SyntaxError):
                found = ["the integrity check gave an unreadable answer"]
        for item in found:
            if item not in self._report.tampered:
                self._report.tampered.append(item)
        return found

    ANSWER_CHARS = 20_000  # a typed answer is a few names or numbers; anything longer is not one

    def _answers(self, names: list[str]) -> dict[str, str]:
        """The typed answers ``names`` as their repr, read from the kernel just before a test cell.

        They are the learner's answers, nothing more: the grader judges them against what it saw
        itself (the witness's journal), so a kernel that reports a value only says what it answers.
        """
        expressions = {name: f"repr({name})[:{self.ANSWER_CHARS}]" for name in names if name.isidentifier()}
        try:
            assert self.kc is not None
            reply = self.wait_for_reply(self.kc.execute("", silent=True, store_history=False,
                                                        user_expressions=expressions))
            found = reply["content"]["user_expressions"]  # type: ignore[index]
        except Exception:  # noqa: BLE001  a kernel that does not answer has no answers to judge
            return {}
        answers = {}
        for name, value in found.items():
            try:
                answers[name] = ast.literal_eval(value["data"]["text/plain"])
            except (KeyError, TypeError, ValueError, SyntaxError):
                continue
        return answers

    def _use_witness(self) -> str:
        """Before the first cell: the kernel's scripted model sends its calls to the witness."""
        code = (f"__import__('autograder.kernel.witness_client', fromlist=['install']).install({self.witness_socket!r})")
        try:
            assert self.kc is not None
            reply = self.wait_for_reply(self.kc.execute(code, silent=True, store_history=False))
            content = (reply or {}).get("content", {})
        except Exception as err:  # noqa: BLE001  the cells will show what is wrong with the kernel
            return f"the kernel did not answer ({type(err).__name__})"
        if content.get("status") != "ok":
            return f"{content.get('ename', 'error')}: {content.get('evalue', '')}"[:300]
        return ""

    def _void_test(self, cell: NotebookNode, replaced: list[str]) -> None:
        cell.outputs.append(_error_output(
            "GradingIntegrityError",
            "This test does not count: code in this notebook replaced parts of the course or the grader "
            f"before it ran ({'; '.join(replaced[:3])})."))

    def _probe(self) -> list[str]:
        """Ask the kernel which connections the course's network guard refused."""
        expression = ("__import__('sys').modules['course.offline'].network_attempts() "
                      "if 'course.offline' in __import__('sys').modules else []")
        try:
            assert self.kc is not None
            msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={
                "attempts": expression, "cpu": "sum(__import__('resource').getrusage(0)[:2])"})
            reply = self.wait_for_reply(msg_id)
            expressions = reply["content"]["user_expressions"]  # type: ignore[index]
            try:
                self._report.timings["kernel cpu"] = float(expressions["cpu"]["data"]["text/plain"])
            except (KeyError, ValueError, TypeError):
                pass
            data = expressions["attempts"]["data"]["text/plain"]
            value = ast.literal_eval(data)
            return [str(v) for v in value][:20] if isinstance(value, list) else []
        except Exception:  # a probe must never cost a learner a grade
            return []
