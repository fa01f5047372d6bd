# qunbot: `make run` starts the bot on the embedded default, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml

.PHONY: run test test-fast bench bench-quick lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the stamps re-install when pyproject.toml changes
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/qunbot run --config $(CONFIG)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

# the inner loop: no browser, no subprocesses, no fault suite
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -n 2 -m "not browser and not slow and not faults"

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run_all.py

bench-quick: $(VENV)/.installed-dev
	$(BIN)/python bench/run_all.py --quick

# ruff, then mypy (configured in pyproject.toml: the five packages, no errors allowed)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
