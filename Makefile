# The two commands: `make demo` and `make test`. Each bootstraps .venv itself, with the
# versions pinned in requirements.lock (`make lock` refreshes them).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# what `make demo` leaves: exports, reports, settings, the router, the store and its
# write-ahead log, spill folder and rejected rows
DEMO_FILES := loyalist-demo loyalist-out loyalist.toml loyalist-router.pkl \
	loyalist.duckdb loyalist.duckdb.wal loyalist.tmp loyalist-rejects

.PHONY: demo test test-slow lint docs bench clean distclean lock browser java

$(STAMP): pyproject.toml $(LOCK)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/loyalist demo --store loyalist.duckdb

# ruff, then every generated doc (CLI, settings, data contract, derived tables, playbooks)
# against the code: a stale one fails, naming the file and the command that fixes it; then
# no SQL text outside the store's reviewed functions, and no layer importing a higher one
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m loyalist.cli.docs --check
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_sql_safety.py tests/test_layers.py

# Browser tests drive the system Chromium (Debian's package) through Playwright.
browser:
	@command -v chromium >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The Spark parity test (tests/test_spark_parity.py) runs pyspark, which needs a Java
# runtime (17 or newer): Debian's package when `java` is missing.
java:
	@command -v java >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq default-jre-headless >/dev/null; }

test: lint browser java
	$(BIN)/python -m pytest -q -m "not slow" -n 2 --dist loadfile

# the multi-seed must-show runs on large synthetic businesses (marker `slow`); CI runs
# them after make test
test-slow: $(STAMP) browser java
	$(BIN)/python -m pytest -q -m slow -n 2 --dist loadfile

docs: $(STAMP)
	$(BIN)/python -m loyalist.cli.docs

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

# A clean environment, the newest versions pyproject.toml allows, frozen. Run `make test`
# on the result before committing it.
lock:
	rm -rf .lock-venv
	$(PY) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip
	.lock-venv/bin/pip install -q -e '.[dev]'
	{ sed -n '/^#/p' $(LOCK) 2>/dev/null; .lock-venv/bin/pip freeze --exclude-editable; } \
	  > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf .lock-venv
	@echo "wrote $(LOCK); run make test before committing it"

clean:
	rm -rf $(DEMO_FILES) .pytest_cache .ruff_cache .hypothesis src/*.egg-info

distclean: clean
	rm -rf $(VENV) .lock-venv
