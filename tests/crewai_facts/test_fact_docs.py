"""docs/crewai-facts.md and the fact tests stay in step: every fact names a test that exists, and every
fact test (marker crewai_fact) is named by a fact. Reads the sources only; runs no crew."""

from __future__ import annotations

import ast
import re

from tests.helpers import ROOT


def _is_fact_mark(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "crewai_fact"


def _tests() -> tuple[set[str], set[str]]:
    """(every test function in tests/, the ones marked crewai_fact)."""
    every, facts = set(), set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        module = ast.parse(path.read_text())
        module_marked = any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in n.targets)
                            and _is_fact_mark(n.value) for n in module.body)
        for node in module.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                every.add(node.name)
                if module_marked or any(_is_fact_mark(d) for d in node.decorator_list):
                    facts.add(node.name)
    return every, facts


def test_every_fact_names_an_existing_test_and_every_fact_test_is_documented():
    text = (ROOT / "docs" / "crewai-facts.md").read_text()
    named = {name for group in re.findall(r"\[(test_[^\]]+)\]", text) for name in re.findall(r"test_\w+", group)}
    every, facts = _tests()
    assert len(facts) > 40
    assert sorted(named - every) == [], "docs/crewai-facts.md names tests that do not exist"
    assert sorted(facts - named) == [], "fact tests (crewai_fact) that no fact in docs/crewai-facts.md names"
