# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
DEMO_OUTPUT ?= demo-output

.PHONY: demo test lint typecheck clean bench server system-deps-postgresql system-deps-chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# --compile: byte-compile at install (Great Expectations imports in ~3 s instead of ~10 s)
$(VENV)/.runtime-installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --compile -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --compile -e '.[dev]'
	touch $@ $(VENV)/.runtime-installed

# Spark for the reader-contract test, in its own venv: installed beside Great Expectations,
# pyspark changes what GX imports (and warns). Java 17 comes from Debian when missing.
SPARK_VENV := .venv-spark
$(SPARK_VENV)/.installed:
	command -v java >/dev/null || (apt-get update && apt-get install -y openjdk-17-jre-headless)
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip --disable-pip-version-check install --quiet "pyspark>=3.5,<5"
	touch $@

demo: $(VENV)/.runtime-installed
	$(BIN)/engage demo --output $(DEMO_OUTPUT)

# The source tests start a real PostgreSQL server: install Debian's when it is missing.
system-deps-postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ apt-get update && apt-get install -y --no-install-recommends postgresql; }

# Headless browser for the Data Docs (and UI) tests; skipped when already installed.
system-deps-chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: $(VENV)/.dev-installed $(SPARK_VENV)/.installed system-deps-postgresql system-deps-chromium
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy scoring
	$(BIN)/pytest --numprocesses=auto --maxprocesses=4 --dist=loadfile --durations=25

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy scoring

# A Prefect server (on PostgreSQL when its binaries are installed, else SQLite) and a serve
# process with the deployments: open http://127.0.0.1:4200 and click. Ctrl-C stops all.
server: $(VENV)/.runtime-installed
	$(BIN)/python -m deployments.local_stack

clean:
	rm -rf $(VENV) $(SPARK_VENV) $(DEMO_OUTPUT) output .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .prefect-server

# The backtest on the demo data: does the score predict the planted churn? (see docs/backtest.md)
.PHONY: demo-backtest
demo-backtest: demo
	$(BIN)/engage backtest --events $(DEMO_OUTPUT)/input/events.csv \
		--customers $(DEMO_OUTPUT)/input/customers.csv --config scoring/default_config.yaml \
		--from 2026-01-08 --to 2026-03-31 --output $(DEMO_OUTPUT)

# Benchmark (see docs/performance.md): BENCH_ARGS="--events 1000000 --scaling 1000000 --repeat 1" for a quick look
bench: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)
