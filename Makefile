# Two commands do everything: `make lab` and `make test`. Each sets up .venv itself on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Learners work here (untracked): `make lab` adds the chapters it lacks and never overwrites a file in it.
WORKSPACE := workspace
# Twisted's tools (twistd, trial, ckeygen, conch) are on PATH in the lab, its terminals and the tests.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: lab test bench learner-copies clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

lab: $(INSTALLED)
	$(BIN)/python -m labkit workspace notebooks/learner $(WORKSPACE)
	$(BIN)/jupyter lab $(WORKSPACE)/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

test: $(INSTALLED)
	$(BIN)/python -m pytest tests --durations=20
	$(BIN)/python -m pytest --nbval notebooks/*.ipynb --nbval-sanitize-with notebooks/sanitize.cfg \
		--nbval-cell-timeout 120 -p no:cacheprovider

bench: $(INSTALLED)
	$(BIN)/python -m tests.benchmarks

learner-copies: $(INSTALLED)
	$(BIN)/python -m labkit learner-copies notebooks

clean:
	rm -rf $(VENV)
