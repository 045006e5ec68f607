# The two commands: `make demo` and `make test`. Each bootstraps .venv itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs bench clean browser

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/loyalist demo --store loyalist.duckdb

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m loyalist.contract.docs --check docs/data-contract.md

# Browser tests drive the system Chromium (Debian's package) through Playwright.
browser:
	@command -v chromium >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: lint browser
	$(BIN)/python -m pytest -q

docs: $(STAMP)
	$(BIN)/python -m loyalist.contract.docs docs/data-contract.md

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) loyalist.duckdb loyalist.duckdb.wal
