"""The scripted manager's documented rule decides who does each task."""

from __future__ import annotations

import pytest

import course
from course import delegation, examples
from course.delegation import Coworker

TEAM = [Coworker("Research Specialist", "Gather comprehensive information"),
        Coworker("Data Analyst", "Analyze data and find insights"),
        Coworker("Content Writer", "Create clear, engaging content")]


@pytest.mark.parametrize("task, expected", [
    ("Research the topic of machine learning in healthcare", "Research Specialist"),
    ("Analyze the research and identify key trends", "Data Analyst"),
    ("Write a report combining research and analysis", "Content Writer"),
    ("Summarize everything into one story", "Content Writer"),  # synthesis is related to writing
])
def test_rule_picks_the_best_matching_coworker(task, expected):
    assert delegation.choose(task, TEAM).role == expected


def test_ties_go_to_the_coworker_listed_first():
    twins = [Coworker("Alpha"), Coworker("Beta")]
    assert delegation.choose("Do something unusual", twins).role == "Alpha"
    assert delegation.choose("Do something unusual", twins[::-1]).role == "Beta"


def test_goal_words_break_a_tie_between_similar_roles():
    team = [Coworker("Researcher", "Cover sports news"), Coworker("Researcher 2", "Cover medicine and healthcare")]
    assert delegation.choose("Research healthcare robots", team).role == "Researcher 2"


def test_no_coworkers_is_a_clear_error():
    with pytest.raises(ValueError, match="at least one coworker"):
        delegation.choose("anything", [])


@pytest.mark.parametrize("manager", ["agent", "llm", "string"])
def test_each_manager_form_delegates_by_the_rule(scripted_llm, manager):
    examples.hierarchical_crew(manager).kickoff()
    run = course.last_run()
    assert run.process == "hierarchical"
    assert run.workers() == {"research": "Research Specialist", "analysis": "Data Analyst",
                             "report": "Content Writer"}
    assert [d.coworker for d in run.delegations] == ["Research Specialist", "Data Analyst", "Content Writer"]
    # The manager passed the coworker's answer on: the task output is the worker's work.
    assert all(f"by {t.worker}" in t.output for t in run.tasks)
