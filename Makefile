# Two commands on a fresh machine: `make up`, then `make test`. Everything runs from .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv up down status test unit integration bench lint clean

venv: $(STAMP)

# Re-runs only when the project or its lock file changes; otherwise a no-op.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

up: venv
	$(BIN)/harness up

down: venv
	$(BIN)/harness down

status: venv
	@$(BIN)/harness status

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: venv
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m harness.bench

lint: venv
	$(BIN)/ruff check harness functions tests
	$(BIN)/ruff format --check harness functions tests

clean: down
	rm -rf .harness
