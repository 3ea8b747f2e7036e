# Everything runs from the project environment in .venv (created on first use).
# `make grade` and `make test` are the README's two set-up commands.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(abspath $(VENV))/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
# nbgrader runs `alembic` from PATH, so the environment's bin/ goes first.
RUN := PATH="$(BIN):$$PATH" COURSE_ROOT="$(CURDIR)"

.PHONY: env grade test bench lab release lock browser clean

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is needed, found " + sys.version.split()[0]'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	@# The repo root on the environment's path: `course` and `autograder` import
	@# from notebooks, kernels and nbgrader alike (what an editable install does).
	$(PY) -c 'import site, pathlib; pathlib.Path(site.getsitepackages()[0], "crew_course.pth").write_text("$(CURDIR)\n")'
	@touch $(STAMP)

grade: env
	$(RUN) $(PY) -m autograder demo

test: env browser
	$(RUN) $(PY) -m pytest -q

bench: env
	$(RUN) $(PY) -m autograder.bench

release: env
	$(RUN) $(PY) -m autograder release

lab: env
	$(RUN) $(PY) -m autograder lab

# Debian's Chromium for the browser test (Playwright's own browser download cannot work offline).
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lock: env
	$(PY) -m pip freeze --exclude-editable | sed '1i # Every transitive version, frozen from a working install (Python 3.11). Regenerate: make lock' > requirements.lock

clean:
	rm -rf $(VENV) build .pytest_cache
