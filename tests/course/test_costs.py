"""What Exercise 2 tells learners about the manager's cost, measured from recorded runs."""

from __future__ import annotations

import pytest

import course
from course.examples import hierarchical_crew, sequential_crew


def _text_sent(recorded) -> int:
    return sum(len(call.prompt) + len(call.reply) for call in recorded.llm_calls)


@pytest.mark.crewai_fact
def test_a_manager_triples_the_calls_and_moves_about_twelve_times_the_text():
    with course.record() as rec:
        sequential_crew(topic="AI trends in healthcare").kickoff()
        hierarchical_crew().kickoff()
    sequential, hierarchical = rec.runs
    assert (len(sequential.llm_calls), len(hierarchical.llm_calls)) == (3, 9)
    ratio = _text_sent(hierarchical) / _text_sent(sequential)
    assert 10 < ratio < 14, ratio  # 02's wrap-up says "about 12x" (measured 2.4k vs 30k characters)
