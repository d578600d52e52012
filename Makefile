# Two commands do everything: `make lab` and `make test`. Each sets up its own environment on first use.
PYTHON ?= python3
# A learner's environment (`make lab`): the workbook and JupyterLab, nothing else. No nbgrader: its instructor
# tools (Formgrader, Create Assignment) would show in the learner's JupyterLab.
LAB_VENV := .venv-lab
# The workbook's developers' environment (`make test`, `make bench`, `make learner-copies`, `python -m authoring`):
# the workbook with its `test` extra (pytest, nbval, nbgrader, the independent peers from PyPI).
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Learners work here (untracked): `make lab` adds the chapters it lacks and never overwrites a file in it.
WORKSPACE := workspace
# pytest's processes for `make test`: whole test files (and notebooks) are dealt out to them.
WORKERS ?= 3
NBVAL := --nbval --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout 120 \
	--nbval-kernel-startup-timeout 300

.PHONY: lab test bench mutants learner-copies clean

$(LAB_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LAB_VENV)
	$(LAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LAB_VENV)/bin/python -m pip install --quiet -e .
	touch $@

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Twisted's tools (twistd, trial, ckeygen, conch) are on PATH in the lab and its terminals, and in the tests.
lab: export PATH := $(abspath $(LAB_VENV)/bin):$(PATH)
lab: $(LAB_VENV)/.installed
	$(LAB_VENV)/bin/python -m authoring workspace notebooks/learner $(WORKSPACE)
	$(LAB_VENV)/bin/jupyter lab $(WORKSPACE)/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# One pytest run: the tests and nbval of every complete notebook, on $(WORKERS) processes.
test bench mutants learner-copies: export PATH := $(abspath $(BIN)):$(PATH)
test: $(INSTALLED)
	$(BIN)/python -m pytest tests notebooks/[0-9][0-9]-*.ipynb $(NBVAL) -p no:cacheprovider \
		-n $(WORKERS) --dist loadfile --durations=20

bench: $(INSTALLED)
	$(BIN)/python -m tests.benchmarks

# Mutation runs of every exercise's solution against its check (slow: about a minute per chapter); CHAPTERS="5 8"
# for some. Prints made/killed/survived per exercise and fails when one kills less than 90 %.
mutants: $(INSTALLED)
	$(BIN)/python -m authoring.mutants $(CHAPTERS)

learner-copies: $(INSTALLED)
	$(BIN)/python -m authoring learner-copies notebooks

clean:
	rm -rf $(VENV) $(LAB_VENV)
