# The user-facing entry points. Everything runs inside .venv, created on first use.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SCALE  ?= 10000
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: demo test test-fast ui bench install lint clean chromium

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@# dbt parse once at install time, so the first `make demo` does not pay it (about 6 s)
	$(BIN)/python -c "from orchestration.defs.dbt.project import crm_dbt_project; crm_dbt_project()"
	@touch $(STAMP)

install: $(STAMP)

# Headless Chromium renders the HTML report and the Data Docs in tests. Installed from Debian's
# packages where we can (root with apt-get); otherwise those tests skip and say why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian chromium for the screenshot tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium install failed: the screenshot tests will skip"; \
	  else echo "no chromium and no root apt-get: the screenshot tests will skip"; fi; }

## make demo: generate the demo sources, materialize every asset through Dagster, then score
## the churn candidates against the simulator's truth (the oracle row of ml.model_runs).
demo: $(STAMP)
	$(BIN)/crm-warehouse simulate --if-missing
	$(BIN)/crm-warehouse run
	$(BIN)/crm-warehouse evaluate

## make test: the linters, then the whole test suite (real DuckDB, dbt, Dagster, GX,
## PostgreSQL, MariaDB). CI (.ci/run) runs exactly this.
test: lint chromium
	$(BIN)/python -m pytest

## make test-fast: the inner loop, every test not marked slow (a few minutes).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not bench"

## make ui: the Dagster UI on the same Dagster home as `make demo`.
ui: $(STAMP)
	$(BIN)/crm-warehouse ui

## make bench SCALE=N: end-to-end timings and memory at N customers.
bench: $(STAMP)
	$(BIN)/crm-warehouse bench --customers $(SCALE)

## make lint: ruff (Python), sqlfluff (dbt SQL), import-linter (allowed import directions),
## dg check defs (the Dagster definitions load). The same hooks run in pre-commit.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint --processes 2 dbt_project
	$(BIN)/lint-imports
	$(BIN)/dg check defs

clean:
	@# everything under data/ but the demo keys: a new pseudonym key would change every
	@# pseudonymized id
	@test ! -d data || find data -mindepth 1 -maxdepth 1 ! -name '*.key' -exec rm -rf {} +
	rm -rf .dagster_home dbt_project/target dbt_project/logs
