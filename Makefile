# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
DEMO_OUTPUT ?= demo-output

.PHONY: demo test lint typecheck clean server system-deps-postgresql system-deps-chromium

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

test: $(VENV)/.dev-installed system-deps-postgresql system-deps-chromium
	$(BIN)/ruff check .
	$(BIN)/mypy scoring
	$(BIN)/pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy scoring

# A Prefect server (on PostgreSQL when its binaries are installed, else SQLite) and a serve
# process with the deployments: open http://127.0.0.1:4200 and click. Ctrl-C stops all.
server: $(VENV)/.runtime-installed
	$(BIN)/python -m deployments.local_stack

# Test-only system packages (CI is a fresh machine): installed once, skipped when present.
system-deps-postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update && apt-get install -y postgresql)

system-deps-chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

clean:
	rm -rf $(VENV) $(DEMO_OUTPUT) output .pytest_cache .mypy_cache .ruff_cache .prefect-server
