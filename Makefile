# Two commands run the course: `make lab` (set up, open JupyterLab) and `make test` (set up, run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# jupyter refuses to run as root unless told it is on purpose (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab test lint execute student self-study slides freeze clean

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

lab: setup
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 $(ROOT_FLAG) notebooks/

lint: setup
	$(BIN)/ruff check course_utils tests benchmarks tools notebooks conftest.py

test: lint
	$(BIN)/python -m pytest

# Re-run every notebook top to bottom on a fresh kernel and store its outputs (what nbval then compares against).
execute: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb

# Hand-out copies, each with course_utils inside: student/ for a class (solutions replaced by stubs, outputs
# cleared, checks kept) and self-study/ (the same, with each solution folded below its check).
student: setup
	$(BIN)/python -m course_utils.student notebooks student

self-study: setup
	$(BIN)/python -m course_utils.student --self-study notebooks self-study

# Offline reveal.js decks of the core notebooks in slides/ (fetches reveal.js and MathJax with npm once).
slides: setup
	$(BIN)/python tools/build_slides.py slides

freeze: setup
	{ head -n 2 constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) student self-study slides .pytest_cache
