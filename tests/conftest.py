"""Shared fixtures: every test process imports the course kit first (offline set-up)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import course  # noqa: E402  (sets the offline environment before crewai loads)


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def llm():
    """A fresh default scripted model with no latency, restored afterwards."""
    previous = course.default_llm()
    fresh = course.reset_default_llm()
    yield fresh
    course.routing._default = previous
