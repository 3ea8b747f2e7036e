"""Drift canary: do the CrewAI facts the course teaches still hold under another CrewAI release?

``make drift CREWAI=1.15.31`` (or ``python tools/drift.py 1.15.31``):

1. lists the fact tests (``pytest -m crewai_fact``) in the project's own environment, the pinned CrewAI;
2. builds a throwaway environment in ``build/drift-<version>/``: the project's lock with CrewAI and its
   companion packages (crewai-cli, crewai-core, pinned in step with it) replaced by ``crewai==<version>``.
   When that release cannot be installed with the locked versions of everything else, pip resolves the
   project's direct dependencies instead, and the table says so;
3. runs the fact tests there, the repository on the path, and reads pytest's own JUnit XML report;
4. prints one line per fact: ``holds`` (passed), ``changed`` (an assertion failed: CrewAI now behaves
   otherwise) or ``broken`` (any other error: a name, module or signature the course uses has gone).

Exit status: 0 when every fact holds, 1 when one changed or broke, 2 when the facts could not be listed or the
environment could not be built.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
MARKER = "crewai_fact"
# Released in step with crewai and pinned to its exact version: they follow the version under test.
CREWAI_FAMILY = ("crewai", "crewai-cli", "crewai-core")

HOLDS, CHANGED, BROKEN, SKIPPED = "holds", "changed", "broken", "skipped"
_SEVERITY = {HOLDS: 0, SKIPPED: 1, CHANGED: 2, BROKEN: 3}
# Exceptions that mean "the fact was checked and CrewAI answered differently". pytest's own
# ``Failed`` covers ``pytest.raises`` that saw no exception ("DID NOT RAISE") and ``pytest.fail``.
_ASSERTION_TYPES = ("AssertionError", "Failed")


@dataclass(frozen=True)
class Verdict:
    fact: str  # the fact test's node id
    status: str  # holds / changed / broken / skipped
    detail: str = ""  # what failed, one line


# --- classification (pure: tests/crewai_facts/test_drift.py feeds it JUnit XML) ----------------

def _normalize(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", name.lower())


def _exception_type(message: str) -> str:
    """The exception named by a JUnit failure message: ``'AttributeError: ...'`` -> ``'AttributeError'``,
    ``'pydantic_core._pydantic_core.ValidationError: ...'`` -> ``'ValidationError'``. pytest reports a
    plain failed ``assert`` without the type (``'assert 1 == 2'``)."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    if first.startswith("assert "):
        return "AssertionError"
    head = first.split(":", 1)[0].strip()
    return head.rsplit(".", 1)[-1] if re.fullmatch(r"[A-Za-z_][\w.]*", head) else ""


def _one_line(text: str, width: int = 160) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[: width - 3] + "..."


def _case_status(case: ET.Element) -> tuple[str, str]:
    """A JUnit <testcase>'s status: the worst of its failure / error / skipped children."""
    status, detail = HOLDS, ""
    for child in case:
        message = child.get("message") or ""
        if not message or message == "collection failure":  # the reason is in the report's traceback
            raised = [line[1:].strip() for line in (child.text or "").splitlines() if line.startswith("E ")]
            message = (f"{message}: " if message else "") + (raised[-1] if raised else _one_line(child.text or ""))
        if child.tag == "failure":
            found = CHANGED if _exception_type(message) in _ASSERTION_TYPES else BROKEN
        elif child.tag == "error":
            found = BROKEN
        elif child.tag == "skipped":
            found = SKIPPED
        else:
            continue
        if _SEVERITY[found] > _SEVERITY[status]:
            status, detail = found, _one_line(message)
    return status, detail


def _node_id(case: ET.Element) -> str:
    """pytest writes classname "tests.crewai_facts.test_x" and name "test_y[p]" for tests/crewai_facts/test_x.py::test_y[p]."""
    classname, name = case.get("classname", ""), case.get("name", "")
    if not classname:  # a collection error: the name is the module's dotted path
        return name.replace(".", "/") + ".py"
    return classname.replace(".", "/") + ".py::" + name


def classify(junit_xml: str | Path, facts: list[str]) -> list[Verdict]:
    """One verdict per fact, in the given order, from pytest's JUnit XML report.

    A fact with no result of its own is broken: its module failed to import (the module's
    collection error is the detail) or the test no longer exists under that name.
    """
    tree = ET.parse(junit_xml)
    results: dict[str, tuple[str, str]] = {}
    module_errors: dict[str, str] = {}
    for case in tree.iter("testcase"):
        node = _node_id(case)
        status, detail = _case_status(case)
        if "::" not in node:
            module_errors[node] = detail or "the module could not be collected"
            continue
        previous = results.get(node)
        if previous is None or _SEVERITY[status] > _SEVERITY[previous[0]]:
            results[node] = (status, detail)
    verdicts = []
    for fact in facts:
        if fact in results:
            status, detail = results[fact]
            verdicts.append(Verdict(fact, status, detail))
            continue
        module = fact.split("::", 1)[0]
        reason = module_errors.get(module)
        verdicts.append(Verdict(fact, BROKEN, f"not collected: {reason}" if reason else "no result (not collected)"))
    return verdicts


def table(verdicts: list[Verdict], version: str, note: str = "") -> str:
    """The report: one row per fact, the fact named by its test, then a count."""
    width = max([len(_short(v.fact)) for v in verdicts] + [4])
    lines = [f"CrewAI {version}: the course's facts (measured on the pinned release){note}", "",
             f"{'fact':<{width}} | result", f"{'-' * width}-+-{'-' * 8}"]
    for v in verdicts:
        lines.append(f"{_short(v.fact):<{width}} | {v.status}" + (f"  ({v.detail})" if v.detail else ""))
    counts = {s: sum(v.status == s for v in verdicts) for s in (HOLDS, CHANGED, BROKEN, SKIPPED)}
    lines += ["", ", ".join(f"{n} {s}" for s, n in counts.items() if n or s == HOLDS) + f" of {len(verdicts)} facts"]
    return "\n".join(lines)


def _short(node: str) -> str:
    path, _, name = node.partition("::")
    return f"{Path(path).stem}::{name}" if name else node


# --- the environment and the run ---------------------------------------------------------------

def _run(command: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(command, text=True, capture_output=True, **kw)


def list_facts(python: str = sys.executable) -> list[str]:
    """The fact tests' node ids, collected in the project's environment (the pinned CrewAI)."""
    done = _run([python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", MARKER],
                cwd=ROOT, timeout=600)
    facts = [line.strip() for line in done.stdout.splitlines() if "::" in line and not line.startswith(" ")]
    if done.returncode != 0 or not facts:
        print(f"drift: could not list the fact tests in the project environment (make test should show why):\n"
              f"{done.stdout[-2000:]}{done.stderr[-2000:]}", file=sys.stderr)
        raise SystemExit(2)
    return facts


def _locked_requirements(version: str) -> str:
    family = {_normalize(n) for n in CREWAI_FAMILY}
    kept = [line for line in LOCK.read_text().splitlines()
            if line.strip() and not line.startswith("#") and _normalize(re.split(r"[=<>!~ ;\[]", line, 1)[0]) not in family]
    return "\n".join([f"crewai=={version}", *kept]) + "\n"


def _direct_requirements(version: str) -> str:
    text = PYPROJECT.read_text()
    block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
    pins = re.findall(r'"([^"]+)"', block.group(1)) if block else []
    kept = [p for p in pins if _normalize(re.split(r"[=<>!~ ;\[]", p, 1)[0]) not in {"crewai"}]
    return "\n".join([f"crewai=={version}", *kept]) + "\n"


def build_env(version: str, where: Path) -> tuple[Path, str]:
    """A venv in ``where`` with crewai==version; returns (its python, how it was resolved)."""
    python = where / "bin" / "python"
    stamp = where / ".installed"
    wanted = hashlib.sha256((version + LOCK.read_text() + PYPROJECT.read_text()).encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().split("\n")[0] == wanted:
        return python, stamp.read_text().split("\n", 1)[1]
    where.mkdir(parents=True, exist_ok=True)
    if not python.exists():
        done = _run([sys.executable, "-m", "venv", str(where)])
        if done.returncode != 0:
            print(f"drift: python -m venv failed:\n{done.stderr}", file=sys.stderr)
            raise SystemExit(2)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    how = "the project's lock, crewai replaced"
    locked = where / "requirements-locked.txt"
    locked.write_text(_locked_requirements(version))
    print(f"drift: installing crewai=={version} with the project's lock into {where} ...", flush=True)
    done = _run([*pip, "-r", str(locked)], timeout=3600)
    if done.returncode != 0:
        (where / "pip-lock-attempt.txt").write_text(done.stdout + done.stderr)
        # pip names the clash ("ERROR: Cannot install A and B because ...") and, with -q off, why
        # ("X depends on Y", one line per side).
        reasons = [line.strip().removeprefix("ERROR: ") for line in done.stderr.splitlines()
                   if " depends on " in line or line.startswith("ERROR: Cannot install")]
        conflict = _one_line("; ".join(reasons) or (done.stderr.strip().splitlines() or ["pip failed"])[-1], 300)
        print(f"drift: the lock does not fit crewai=={version} ({conflict}); resolving the direct "
              "dependencies instead ...", flush=True)
        direct = where / "requirements-direct.txt"
        direct.write_text(_direct_requirements(version))
        done = _run([*pip, "-r", str(direct)], timeout=3600)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(2)
        how = f"direct dependencies resolved by pip (the lock conflicts: {conflict})"
    installed = _run([str(python), "-c", "import importlib.metadata as m; print(m.version('crewai'))"]).stdout.strip()
    if installed != version:
        print(f"drift: asked for crewai {version}, the environment has {installed!r}", file=sys.stderr)
        raise SystemExit(2)
    stamp.write_text(wanted + "\n" + how)
    return python, how


def run_facts(python: Path, facts: list[str], report: Path) -> subprocess.CompletedProcess:
    """The fact tests under ``python``, the repository on the path; results in JUnit XML at ``report``."""
    files = sorted({fact.split("::", 1)[0] for fact in facts})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COURSE_ROOT": str(ROOT),
           "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("VIRTUAL_ENV", None)
    report.unlink(missing_ok=True)
    return _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", MARKER,
                 "--continue-on-collection-errors", f"--junitxml={report}", "-o", "junit_family=xunit2", *files],
                cwd=ROOT, env=env, timeout=1800)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", help="the CrewAI release to try, e.g. 1.15.29")
    parser.add_argument("--where", type=Path, help="the throwaway environment (default build/drift-<version>)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", args.version):
        parser.error(f"{args.version!r} is not a version number (try: make drift CREWAI=1.15.29)")
    where = args.where or ROOT / "build" / f"drift-{args.version}"
    facts = list_facts()
    print(f"drift: {len(facts)} fact tests", flush=True)
    python, how = build_env(args.version, where)
    report = where / "facts-junit.xml"
    done = run_facts(python, facts, report)
    (where / "pytest-output.txt").write_text(done.stdout + done.stderr)
    if not report.exists():
        # Typically tests/conftest.py's `import course` failed: the course kit itself no longer fits.
        output = done.stdout + done.stderr
        raised = [line[1:].strip() for line in output.splitlines() if line.startswith("E ")]
        cause = raised[-1] if raised else f"exit status {done.returncode}"
        tail = "\n".join(output.strip().splitlines()[-15:])
        print(f"drift: pytest wrote no report, so no fact could be checked ({cause}):\n{tail}\n")
        verdicts = [Verdict(f, BROKEN, "pytest could not start") for f in facts]
        note = f"\npytest could not start: {cause}"
    else:
        verdicts = classify(report, facts)
        note = ""
    print(table(verdicts, args.version, f"\nenvironment: {where} ({how}){note}"))
    print(f"\npytest's own output: {where / 'pytest-output.txt'}")
    return 0 if all(v.status == HOLDS for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
