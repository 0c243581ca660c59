# Two commands run the course: `make lab` (set up, open JupyterLab) and `make test` (set up, run every test).
# Pick another Python with PYTHON, e.g. `PYTHON=python3.12 make test` (3.11, 3.12 and 3.13 are supported).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One stamp per Python version and requirement set, so switching PYTHON rebuilds the venv for it.
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
COURSE := $(VENV)/.course-$(PY_VERSION)
TESTING := $(VENV)/.testing-$(PY_VERSION)
SETUP := $(PYTHON) tools/setup_venv.py $(VENV)
SETUP_INPUTS := tools/setup_venv.py constraints.txt $(wildcard constraints-py*.txt) pyproject.toml binder/overrides.json \
	$(wildcard binder/voila/*.json binder/voila/templates/foundations/*)
# jupyter refuses to run as root unless told it is on purpose (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Scratch venvs for checking the other Python versions by hand (not in CI: torch comes from PyPI there).
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null)

.PHONY: setup setup-test colab-env hub-proxy lab voila test test-quick lint execute student self-study slides freeze sizes \
	check-pythons clean publish grading

setup: $(COURSE)
setup-test: $(TESTING)

$(COURSE): requirements.txt $(SETUP_INPUTS)
	$(SETUP) requirements.txt
	touch $@

# The tests need the course and the test tools; a testing venv is a course venv too.
$(TESTING): requirements.txt requirements-test.txt $(SETUP_INPUTS)
	$(SETUP) requirements.txt requirements-test.txt
	touch $@ $(COURSE)

# A second venv with Google Colab's widget stack (ipywidgets 7, IPython 7, ipykernel 6) for tests/test_colab_kernel.py:
# its pins in one step, then course_utils as a plain install, redone whenever the package's files change.
COLAB_VENV := .venv-colab
COLAB_PINS := $(COLAB_VENV)/.pins-$(PY_VERSION)
COLAB_COURSE := $(COLAB_VENV)/.course-$(PY_VERSION)
colab-env: $(COLAB_COURSE)

$(COLAB_PINS): requirements-colab.txt tools/colab_env.py tools/setup_venv.py
	$(PYTHON) tools/colab_env.py $(COLAB_VENV) pins
	touch $@

$(COLAB_COURSE): $(COLAB_PINS) pyproject.toml README.md $(shell find course_utils -type f -not -path '*/__pycache__/*')
	$(PYTHON) tools/colab_env.py $(COLAB_VENV) course
	touch $@

# notebook_shim (classic-notebook config support, unused here) reads a deprecated setting and warns on every start.
# The news pop-up is turned off by binder/overrides.json, which setup copies into the venv.
lab: setup
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.jpserver_extensions=notebook_shim=False $(ROOT_FLAG) notebooks/

# The initialization explorer alone, as a page without code (http://127.0.0.1:8866).
voila: setup
	$(BIN)/voila --Voila.ip=127.0.0.1 notebooks/explorer_app.ipynb

lint: setup-test
	$(BIN)/ruff check course_utils tests benchmarks tools notebooks conftest.py

# The class test (tests/test_hub.py) needs JupyterHub's proxy from npm; without npm it is skipped, except in CI.
HUB_PROXY := tools/hub/node_modules/.bin/configurable-http-proxy
# Three workers side by side (measured on two cores: 2:40 with three, 2:47 with two, 3:15 with four, which
# contend for the cores); --dist loadscope keeps each test module (and each notebook's cells) on one worker, and
# --no-loadscope-reorder keeps the order conftest.py sets (the longest modules first).
test: lint colab-env $(if $(shell command -v npm),$(HUB_PROXY))
	$(BIN)/python -m pytest -n 3 --dist loadscope --no-loadscope-reorder

# The unit tests alone, for the edit-and-check loop: no notebooks, servers, browsers or
# extra venvs. Never what CI runs.
test-quick: setup-test
	$(BIN)/python -m pytest -m "not slow" tests

hub-proxy: $(HUB_PROXY)
$(HUB_PROXY): tools/hub/package.json tools/hub/package-lock.json
	cd tools/hub && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Re-run every notebook top to bottom on a fresh kernel and store its outputs (what nbval then compares against).
execute: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb

# Hand-out copies, each with course_utils inside: student/ for a class (solutions replaced by stubs, outputs
# cleared, checks kept) and self-study/ (the same, with each solution folded below its check).
student: setup
	$(BIN)/python tools/handout.py notebooks student

self-study: setup
	$(BIN)/python tools/handout.py --self-study notebooks self-study

# Offline reveal.js decks of the core notebooks in slides/ (fetches reveal.js and MathJax with npm once).
slides: setup
	@command -v npm >/dev/null || { echo "make slides needs npm (Node.js) to fetch reveal.js and MathJax once: sudo apt install npm (Debian/Ubuntu) or brew install node (macOS)." >&2; exit 1; }
	$(BIN)/python tools/build_slides.py slides

# Write the course's real address into every link, badge and setup cell (README, docs, notebooks, Voila page, hub
# files, tests): make publish REPO=owner/name [BRANCH=main] [HUB=hub.school.edu]. The address is kept in publish.json.
publish: setup
	@test -n "$(REPO)" || { echo "usage: make publish REPO=owner/name [BRANCH=main] [HUB=hub.school.edu]" >&2; exit 2; }
	$(BIN)/python tools/publish.py --repo "$(REPO)" $(if $(BRANCH),--branch "$(BRANCH)") $(if $(HUB),--hub "$(HUB)")

# nbgrader's course folder in grading/: the notebooks with solution cells and autograded checks (docs/grading.md).
grading: setup-test
	$(BIN)/python tools/grading.py

# Rewrite constraints.txt from a working testing venv: every package pinned.
freeze: setup-test
	{ head -n 2 constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.new
	mv constraints.new constraints.txt

# Download and installed size of a fresh course setup (what the README states).
sizes:
	$(PYTHON) tools/measure_setup.py

# Python 3.12 and 3.13 in scratch venvs under /tmp: resolve the pins, import, unit tests. Slow (torch from PyPI).
check-pythons:
	tools/check_pythons.sh $(PYENV_ROOT)

clean:
	rm -rf $(VENV) $(COLAB_VENV) student self-study slides grading .pytest_cache
