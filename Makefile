# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
DEMO_OUTPUT ?= demo-output

.PHONY: demo test lint typecheck clean system-deps-chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# --compile: byte-compile at install (Great Expectations imports in ~3 s instead of ~10 s)
$(VENV)/.runtime-installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --compile -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --compile -e '.[dev]'
	touch $@ $(VENV)/.runtime-installed

demo: $(VENV)/.runtime-installed
	$(BIN)/engage demo --output $(DEMO_OUTPUT)

# Headless browser for the Data Docs (and UI) tests; skipped when already installed.
system-deps-chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: $(VENV)/.dev-installed system-deps-chromium
	$(BIN)/ruff check .
	$(BIN)/mypy scoring
	$(BIN)/pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy scoring

clean:
	rm -rf $(VENV) $(DEMO_OUTPUT) output .pytest_cache .mypy_cache .ruff_cache
