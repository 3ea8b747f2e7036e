# Everything runs from the project environment in .venv (created on first use).
# `make grade` and `make test` are the README's two set-up commands.
SHELL := /bin/bash
# Python 3.11 (any patch release, Debian 12's 3.11.2 included), 3.12 or 3.13: the first found;
# PYTHON=/path/to/python overrides. Others are refused with what to install.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(abspath $(VENV))/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
# nbgrader runs `alembic` from PATH, so the environment's bin/ goes first.
RUN := PATH="$(BIN):$$PATH" COURSE_ROOT="$(CURDIR)"

.PHONY: env grade test bench lab hub release lock browser sandbox postgres node clean drift portability

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else "Python 3.11, 3.12 or 3.13 is needed; $(PYTHON) is " + sys.version.split()[0] + ". Install one (Debian 12: sudo apt install python3.11-venv; Ubuntu 24.04: sudo apt install python3.12-venv; elsewhere: pyenv install 3.12) and run: make PYTHON=/path/to/python3.12 ...")'
	@test -x "$(PY)" || $(PYTHON) -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	"$(PY)" -m pip install -q --disable-pip-version-check -r requirements.lock
	@# The project itself, installed editable by the build backend pyproject.toml names, so that
	@# the environment holds its real metadata: the pytest11 entry point that loads the course's
	@# fixtures in any test suite is declared once, in pyproject.toml (a hand-written dist-info
	@# would be a second copy that goes stale). The backend comes from the lock (setuptools is
	@# pinned there), hence --no-build-isolation: nothing is fetched to build. editable_mode=compat
	@# puts the repo root on the path with a plain .pth, as before: the grader's private copy of the
	@# kit on PYTHONPATH must come first and be the only copy a kernel can import from, which
	@# setuptools' default import hook (it serves missing submodules from the repo) would break.
	@rm -f "$$("$(PY)" -c 'import site; print(site.getsitepackages()[0])')/crew_course.pth"  # the pre-metadata .pth
	"$(PY)" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
	  --config-settings editable_mode=compat -e .
	@touch $(STAMP)

grade: env sandbox
	$(RUN) "$(PY)" -m autograder demo

test: env browser sandbox postgres node
	$(RUN) "$(PY)" -m pytest -q -n auto --dist loadfile --durations=20

# The README's commands from fresh clones under /tmp (paths with a space): Debian's python3.11 as an
# unprivileged user made for it, then pyenv's 3.12 and 3.13 (tools/portability.py; needs the registry).
portability: env sandbox
	$(RUN) "$(PY)" tools/portability.py $(if $(CASE),--case $(CASE))

# Benchmarks, not tests: each section measures its alternatives side by side in one run.
bench: env sandbox
	$(RUN) "$(PY)" -m autograder.bench.kit
	$(RUN) "$(PY)" -m autograder.bench.notebooks
	$(RUN) "$(PY)" -m autograder.bench.grading
	$(RUN) "$(PY)" -m autograder.bench.cluster
	$(RUN) "$(PY)" -m autograder.bench.startup

# Drift canary: the CrewAI fact tests (pytest -m crewai_fact) against another CrewAI release, in a
# throwaway environment under build/drift-<version>/. Prints fact | holds / changed / broken.
# make drift CREWAI=1.15.29
drift: env
	@test -n "$(CREWAI)" || { echo "Which CrewAI release? e.g. make drift CREWAI=1.15.29"; exit 2; }
	$(RUN) "$(PY)" tools/drift.py $(CREWAI)

release: env
	$(RUN) "$(PY)" -m autograder release

# JupyterLab on lab-work/crew_processes/ (copied from release/ where absent). Options:
# make lab LAB_ARGS="--port 9000 --no-browser"  (see: .venv/bin/python -m autograder lab --help)
lab: env
	$(RUN) "$(PY)" -m autograder lab $(LAB_ARGS)

# Debian's Chromium for the browser test (Playwright's own browser download cannot work
# offline; the test launches /usr/bin/chromium). Without root the test is skipped instead.
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser test (once)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: /usr/bin/chromium is missing and apt needs root: the browser test will be skipped (sudo make browser)"; \
	  fi; }

# Debian's bubblewrap: every graded notebook's kernel runs in a bwrap sandbox (autograder/grading/sandbox.py).
# Without it `grade` refuses (unless --no-sandbox) and the sandbox tests are skipped.
sandbox:
	@test -x /usr/bin/bwrap -a -x /usr/bin/setpriv || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's bubblewrap for the grading sandbox (once)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap util-linux >/dev/null; \
	  else \
	    echo "note: /usr/bin/bwrap is missing and apt needs root: grade will refuse without --no-sandbox (sudo make sandbox)"; \
	  fi; }

# Debian's PostgreSQL server for the tests of a shared course gradebook (grade --db postgresql://...):
# the tests start and stop a private server of their own (tests/helpers/pg_server.py); nothing runs as a service.
# A class on JupyterHub on this machine (as root): set-up, a demo class's users (made once; their
# passwords are printed), the instructor's course folder, then the hub until Ctrl-C. README: "A class on JupyterHub".
hub: env sandbox node
	$(RUN) "$(PY)" -m autograder hub demo $(HUB_ARGS)

node:
	@command -v npm >/dev/null && command -v node >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's nodejs and npm for JupyterHub's proxy (once)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else \
	    echo "note: Node.js is missing and apt needs root: the hub test will be skipped (sudo make node)"; \
	  fi; }

postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's postgresql for the gradebook tests (once)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "note: PostgreSQL is missing and apt needs root: the PostgreSQL gradebook tests will be skipped (sudo make postgres)"; \
	  fi; }

# --all keeps setuptools (the build backend `make env` installs the project with); not pip itself.
lock: env
	"$(PY)" -m pip freeze --all --exclude pip --exclude-editable | sed '1i # Every transitive version, frozen from a working install (Python 3.11). Regenerate: make lock' > requirements.lock

clean:
	rm -rf $(VENV) build .pytest_cache
