# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
DEMO_OUTPUT ?= demo-output

.PHONY: demo test lint typecheck clean bench

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

test: $(VENV)/.dev-installed
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

# Benchmark (see README "Performance"): BENCH_ARGS="--events 1000000 --scaling 1000000 --repeat 1" for a quick look
bench: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)
