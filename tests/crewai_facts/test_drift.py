"""tools/drift.py: the canary's verdicts come from pytest's own JUnit report.

Not a CrewAI fact (no crewai_fact marker): this checks the classification on a report that a real
pytest run writes for tests that pass, fail an assertion, raise, fail in a fixture, are skipped, or
live in a module that cannot be imported.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tools import drift

FACTS = textwrap.dedent('''
    import pytest

    @pytest.fixture
    def gone():
        raise ImportError("cannot import name 'Process' from 'crewai'")

    def test_still_true():
        assert 1 + 1 == 2

    def test_answer_changed():
        assert [] == ["B"], "C received other outputs"

    def test_plain_assert_failed():
        received = 1
        assert received == 2

    def test_message_reworded():
        with pytest.raises(ValueError, match="must end with at most one"):
            raise ValueError("the crew may end with one async task only")

    def test_no_longer_refused():
        with pytest.raises(ValueError):
            pass

    def test_attribute_gone():
        import types
        types.SimpleNamespace().parallel

    def test_fixture_broke(gone):
        pass

    def test_not_here_any_more():
        pytest.skip("for the classification test")

    @pytest.mark.parametrize("how", ["kickoff", "akickoff"])
    def test_per_kickoff(how):
        assert how == "kickoff"
''')


def _report(tmp_path):
    (tmp_path / "facts").mkdir()
    (tmp_path / "facts" / "test_facts.py").write_text(FACTS)
    (tmp_path / "facts" / "test_unimportable.py").write_text("import no_such_module_since_the_upgrade\n\ndef test_x():\n    pass\n")
    report = tmp_path / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                    "--continue-on-collection-errors", f"--junitxml={report}", "-o", "junit_family=xunit2", "facts"],
                   cwd=tmp_path, capture_output=True, text=True, timeout=120)
    return report


def test_classify_tells_holds_changed_broken_from_a_real_pytest_report(tmp_path):
    module = "facts/test_facts.py::"
    facts = [module + name for name in (
        "test_still_true", "test_answer_changed", "test_plain_assert_failed", "test_message_reworded",
        "test_no_longer_refused", "test_attribute_gone",
        "test_fixture_broke", "test_not_here_any_more", "test_per_kickoff[kickoff]", "test_per_kickoff[akickoff]",
        "test_renamed_since")] + ["facts/test_unimportable.py::test_x"]
    verdicts = {v.fact.split("::")[1]: v for v in drift.classify(_report(tmp_path), facts)}
    assert {name: v.status for name, v in verdicts.items()} == {
        "test_still_true": "holds",
        "test_answer_changed": "changed",  # an assertion failed
        "test_plain_assert_failed": "changed",  # reported as "assert 1 == 2", no type named
        "test_message_reworded": "changed",  # pytest.raises(match=...) did not match
        "test_no_longer_refused": "changed",  # pytest.raises saw nothing: Failed: DID NOT RAISE
        "test_attribute_gone": "broken",  # AttributeError
        "test_fixture_broke": "broken",  # an error outside the test body
        "test_not_here_any_more": "skipped",
        "test_per_kickoff[kickoff]": "holds",
        "test_per_kickoff[akickoff]": "changed",
        "test_renamed_since": "broken",  # no result at all
        "test_x": "broken",  # its module does not import
    }
    assert "C received other outputs" in verdicts["test_answer_changed"].detail
    assert "DID NOT RAISE" in verdicts["test_no_longer_refused"].detail
    assert "AttributeError" in verdicts["test_attribute_gone"].detail
    assert "No module named 'no_such_module_since_the_upgrade'" in verdicts["test_x"].detail
    assert verdicts["test_still_true"].detail == ""


def test_table_names_each_fact_and_counts(tmp_path):
    verdicts = [drift.Verdict("tests/crewai_facts/test_fact_x.py::test_wait_rule", "holds"),
                drift.Verdict("tests/course/test_traps.py::test_process_parallel_does_not_exist", "changed",
                              "DID NOT RAISE")]
    text = drift.table(verdicts, "9.9.9")
    assert "test_fact_x::test_wait_rule" in text and "| holds" in text
    assert "test_traps::test_process_parallel_does_not_exist | changed  (DID NOT RAISE)" in text
    assert text.endswith("1 holds, 1 changed of 2 facts")


def test_lock_for_another_release_swaps_the_whole_crewai_family():
    lines = drift._locked_requirements("1.15.29").splitlines()
    assert lines[0] == "crewai==1.15.29"
    assert not any(line.startswith(("crewai==1.15.30", "crewai-cli==", "crewai-core==")) for line in lines)
    assert any(line.startswith("pydantic==") for line in lines)  # everything else stays locked
    direct = drift._direct_requirements("1.15.29").splitlines()
    assert direct[0] == "crewai==1.15.29" and "nbgrader==0.9.6" in direct and len(direct) == len(set(direct))
