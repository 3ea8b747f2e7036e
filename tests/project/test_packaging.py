"""The pins stay consistent: pyproject, environment.yml and the lock agree."""

from __future__ import annotations

import re
import tomllib

from tests.helpers import ROOT

PIN = re.compile(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==([^\s#]+)")


def _pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        match = PIN.match(line)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def project_pins() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return _pins(data["project"]["dependencies"])


def test_crewai_is_pinned_exactly():
    assert project_pins()["crewai"] == "1.15.30"
    assert project_pins()["nbgrader"] == "0.9.6"


def test_every_direct_dependency_is_pinned():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert len(project_pins()) == len(data["project"]["dependencies"])


def test_environment_yml_matches_pyproject():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- python=3\.11\s*$", text, re.M)
    assert _pins(text.splitlines()) == project_pins()


def test_lock_holds_the_same_direct_pins_and_every_transitive_one():
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    for name, version in project_pins().items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"
    assert len(lock) > 150  # the whole tree, not just the direct pins
    unpinned = [l for l in (ROOT / "requirements.lock").read_text().splitlines()
                if l.strip() and not l.startswith("#") and "==" not in l]
    assert unpinned == []


def test_the_build_backend_and_the_plugin_entry_point_are_declared_once_and_locked():
    """`make env` installs the project with --no-build-isolation: its backend must come from the lock."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    backend = data["build-system"]["requires"]
    assert [re.match(r"[A-Za-z0-9_.\-]+", r).group(0) for r in backend] == ["setuptools"]
    assert "setuptools" in lock, "requirements.lock must pin the build backend pyproject.toml names"
    assert tuple(int(p) for p in lock["setuptools"].split(".")[:2]) >= (70, 1)  # has bdist_wheel built in (no `wheel`)
    assert data["project"]["entry-points"]["pytest11"] == {"crew_course": "course.pytest_plugin"}


def test_the_environment_holds_the_projects_metadata_and_entry_point():
    from importlib.metadata import distribution, entry_points

    meta = distribution("crew-processes-course")
    assert meta.version == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("crew_course") == "course.pytest_plugin", "run `make env` to install the project's metadata"
