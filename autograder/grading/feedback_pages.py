"""Feedback a learner may read: results and messages, never a hidden test, never a server path.

nbgrader's feedback HTML shows hidden tests, absolute paths of the grading
machine, and, in a failing test's traceback, the very line of the test that
failed. Feedback here is nbgrader's own (GenerateFeedback, its template and
scores), with three changes:

- ``ClearHiddenTestsInTestCells`` removes hidden test regions from the test cells (a learner's
  own cell that mentions the markers is left as written);
- ``SanitizeOutputs`` reduces a test cell's error to "ErrorName: message" (a
  traceback would show the failing line of the test) and shortens every
  absolute path in every output;
- ``finish`` puts the grading status and reason at the top of the page, and
  writes a page of its own for a notebook that could not be graded at all.
"""

from __future__ import annotations

import functools
import html as html_lib
import os
import re
import sys
import sysconfig
import tempfile
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from traitlets import List
from traitlets.config import Config

from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from autograder.grading.cellmeta import is_test_cell
from autograder.paths import ROOT

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def path_roots(extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """(absolute prefix, what to show instead), most specific first."""
    roots = list(extra or [])
    for key in ("purelib", "platlib"):
        roots.append((sysconfig.get_paths()[key], "site-packages"))
    roots += [(sys.prefix, "python"), (sys.base_prefix, "python"), (str(ROOT), ""),
              (tempfile.gettempdir(), "tmp"), (os.path.expanduser("~"), "~")]
    seen, unique = set(), []
    for prefix, label in roots:
        prefix = str(prefix).rstrip("/")
        if prefix and prefix != "/" and prefix not in seen:
            seen.add(prefix)
            unique.append((prefix, label))
    return sorted(unique, key=lambda pair: len(pair[0]), reverse=True)


def shorten_paths(text: str, roots: list[tuple[str, str]]) -> str:
    for prefix, label in roots:
        if prefix in text:
            pattern = re.escape(prefix) + r"/?"
            replacement = (label + "/") if label else ""
            text = re.sub(pattern, lambda _m, r=replacement: r, text)
    return text


def short_error(output: NotebookNode) -> NotebookNode:
    ename = str(output.get("ename", "Error"))
    evalue = ANSI.sub("", str(output.get("evalue", ""))).strip()
    if ename in ("AssertionError",) and not evalue:
        evalue = "a test failed (it gives no message)"
    line = f"{ename}: {evalue}" if evalue else ename
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[line])


HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*$(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*$", re.M | re.S)
HIDDEN_SHOWN = "[hidden test]"


def hidden_lines(nb: NotebookNode) -> list[str]:
    """Every line of the notebook's hidden tests (and their markers), longest first."""
    found = {"### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"}
    for cell in nb.cells:
        if is_test_cell(cell):
            for region in HIDDEN_REGION.findall(cell.source):
                # Short lines (``pass``, a bracket) say nothing of the test and are everywhere.
                found.update(line.strip() for line in region.splitlines() if len(line.strip()) >= 8)
    return sorted(found, key=len, reverse=True)


def _scrub(text: str, lines: list[str]) -> str:
    for line in lines:
        if line in text:
            text = text.replace(line, HIDDEN_SHOWN)
    return text


def scrub_hidden_tests(nb: NotebookNode) -> NotebookNode:
    """No output of any cell shows a hidden test's source, whatever the kernel printed.

    The kernel runs the hidden tests, so it can print them (a ``pre_run_cell`` hook printing
    ``info.raw_cell`` does): every line of a hidden region is cut from every output.
    """
    lines = hidden_lines(nb)
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if "text" in output:
                output.text = _scrub(str(output.text), lines)
            if output.get("output_type") == "error":
                output.evalue = _scrub(str(output.get("evalue", "")), lines)
                output.traceback = [_scrub(str(line), lines) for line in output.get("traceback", [])]
            for mime, value in list(output.get("data", {}).items()):
                if isinstance(value, str):
                    output.data[mime] = _scrub(value, lines)
    return nb


def _display_priority() -> List:
    """nbconvert's HTML exporter configures ``display_data_priority`` for every step it runs;
    ``NbGraderPreprocessor`` declares that trait without ``config=True``, so each of nbgrader's
    own steps made ``generate_feedback`` warn "Config option `display_data_priority` not
    recognized" (tests/e2e/test_nbgrader_stock.py). Declared configurable, it is taken quietly."""
    return List(NbGraderPreprocessor.class_traits()["display_data_priority"].default()).tag(config=True)


class ScrubHiddenTests(NbGraderPreprocessor):
    """``scrub_hidden_tests`` as a feedback step (before the hidden regions are cut from the test cells)."""

    display_data_priority = _display_priority()

    def preprocess(self, nb, resources):
        return scrub_hidden_tests(nb), resources


class SanitizeOutputs(NbGraderPreprocessor):
    """Short errors in test cells; no absolute path anywhere in the outputs."""

    display_data_priority = _display_priority()

    roots = List([], help="[prefix, replacement] pairs for absolute paths").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        roots = [tuple(pair) for pair in self.roots]
        test = is_test_cell(cell)
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                if test:
                    output = short_error(output)
                output.evalue = shorten_paths(str(output.get("evalue", "")), roots)
                output.traceback = [shorten_paths(str(line), roots) for line in output.get("traceback", [])]
            elif output.get("output_type") == "stream":
                output.text = shorten_paths(str(output.get("text", "")), roots)
            else:
                data = output.get("data", {})
                for mime, value in list(data.items()):
                    if isinstance(value, str):
                        data[mime] = shorten_paths(value, roots)
            outputs.append(output)
        cell.outputs = outputs
        return cell, resources


class ClearHiddenTestsInTestCells(ClearHiddenTests):
    """Hidden tests are cut from test cells only.

    nbgrader's own step reads every cell, and raises on a learner's cell that merely
    contains the words ``### BEGIN HIDDEN TESTS`` (no END, or outside a graded cell), so
    that learner got no feedback page at all. Hidden tests only ever live in test cells,
    which the grader restored from the gradebook, so nothing hidden is left behind.
    """

    display_data_priority = _display_priority()

    def preprocess_cell(self, cell, resources, cell_index):
        if is_test_cell(cell):
            return super().preprocess_cell(cell, resources, cell_index)
        return cell, resources


def feedback_steps() -> list[type]:
    """``GenerateFeedback.preprocessors`` for both paths: ``grade``'s and stock ``generate_feedback``."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    return [GetGrades, ScrubHiddenTests, ClearHiddenTestsInTestCells, SanitizeOutputs, CSSHTMLHeaderPreprocessor]


class _TemplateCache:
    """Compiled Jinja templates kept between pages: nbgrader compiles its feedback
    template anew for every notebook, which costs more than rendering it."""

    def __new__(cls):
        import jinja2

        class MemoryCache(jinja2.BytecodeCache):
            store: dict[str, bytes] = {}

            def load_bytecode(self, bucket):
                if bucket.key in self.store:
                    bucket.bytecode_from_string(self.store[bucket.key])

            def dump_bytecode(self, bucket):
                self.store[bucket.key] = bucket.bytecode_to_string()

        return MemoryCache()


@functools.cache
def exporter_class():
    """One exporter class per process, with one template cache: made on first use, then reused."""
    from nbconvert.exporters import HTMLExporter

    cache = _TemplateCache()

    class FeedbackExporter(HTMLExporter):
        def _create_environment(self):
            environment = super()._create_environment()
            environment.bytecode_cache = cache
            return environment

    return FeedbackExporter


def feedback_config(autograde_config: Config, roots: list[tuple[str, str]] | None = None) -> Config:
    c = Config()
    c.CourseDirectory = autograde_config.CourseDirectory
    c.GenerateFeedback.preprocessors = feedback_steps()
    c.SanitizeOutputs.roots = [list(pair) for pair in (roots or path_roots())]
    c.GenerateFeedback.exporter_class = exporter_class()
    return c


STATUS_STYLE = {
    "graded": "background:#eef7ee;border:1px solid #7bb77b",
    "failed": "background:#fdecea;border:1px solid #d9534f",
}


def banner(result) -> str:
    title = ("Graded" if result.status == "graded" else "Could not be fully graded")
    reason = result.reason or "All cells ran; the scores below are final."
    return (f'<div class="autograder-status" style="{STATUS_STYLE.get(result.status, "")};'
            'padding:12px 16px;margin:12px auto;max-width:960px;border-radius:6px;font-family:sans-serif">'
            f"<strong>{html_lib.escape(result.notebook)}: {title}: "
            f"{result.score:g} / {result.max_score:g} points.</strong>"
            f"<p style=\"margin:6px 0 0 0\">{html_lib.escape(reason)}</p></div>")


def standalone_page(result) -> str:
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html_lib.escape(result.notebook)} feedback</title></head><body>"
            f"{banner(result)}</body></html>\n")


def finish(html: str | None, result, roots: list[tuple[str, str]]) -> str:
    """The page a learner gets: nbgrader's feedback with the status on top, paths shortened."""
    if html is None:
        return standalone_page(result)
    html = shorten_paths(html, roots or path_roots())
    match = re.search(r"<body[^>]*>", html)
    if match:
        html = html[: match.end()] + "\n" + banner(result) + html[match.end():]
    else:
        html = banner(result) + html
    return html


def leaks(html: str, hidden_sources: list[str], roots: list[str]) -> list[str]:
    """Hidden test lines or absolute paths found in a feedback page (used by the tests and ``release``)."""
    found = []
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", html))
    for line in hidden_sources:
        line = line.strip()
        if len(line) > 8 and line in text:
            found.append(f"hidden test line {line!r}")
    for root in roots:
        if root and root != "/" and root in text:
            found.append(f"path {root}")
    return found
