"""The store survives SIGKILL mid-ingest, refuses a second writer clearly, and migrates."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.errors import StoreLockedError, StoreVersionError
from loyalist.store import migrations


def _big_orders(path, n, start=0):
    rng = np.random.default_rng(1)
    pd.DataFrame({
        "id": [f"o{i}" for i in range(start, start + n)],
        "customer_id": rng.integers(0, 50_000, n).astype(str),
        "ordered_at": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 10**8, n),
                                                                   unit="s"),
        "amount": rng.gamma(2, 20, n).round(2),
    }).to_csv(path, index=False)


INGEST_SCRIPT = textwrap.dedent("""
    import sys, loyalist
    store = loyalist.connect(sys.argv[1])
    def progress(stage):
        print(stage, flush=True)
    store.ingest("orders", sys.argv[2], progress=progress)
    print("done", flush=True)
""")


@pytest.mark.slow  # a killed ingest process and its restart, 35 s in make test: make test-slow
def test_sigkill_mid_ingest_leaves_store_as_before(tmp_path):
    db = tmp_path / "s.duckdb"
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    _big_orders(small, 1_000)
    _big_orders(big, 1_500_000, start=10_000)
    with loyalist.connect(db) as s:
        s.ingest("orders", small)
    killed_in = []
    for delay in (0.0, 0.2, 0.4):
        proc = subprocess.Popen([sys.executable, "-c", INGEST_SCRIPT, str(db), str(big)],
                                stdout=subprocess.PIPE, text=True)
        for line in proc.stdout:
            if line.strip() == "writing":
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait()
        proc.stdout.close()
        killed_in.append(proc.returncode)
        with loyalist.connect(db) as s:
            assert s.table("orders").count().execute() == 1_000
            assert len(s.ingests()) == 1
    assert all(rc == -signal.SIGKILL for rc in killed_in)
    # and the same ingest then completes normally
    with loyalist.connect(db) as s:
        assert s.ingest("orders", big).inserted == 1_500_000
        assert s.table("orders").count().execute() == 1_501_000


HOLD_SCRIPT = textwrap.dedent("""
    import sys, time, loyalist
    store = loyalist.connect(sys.argv[1])
    print("open", flush=True)
    time.sleep(30)
""")


def test_second_process_gets_a_clear_lock_error(tmp_path):
    db = tmp_path / "s.duckdb"
    loyalist.connect(db).close()
    proc = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, str(db)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "open"
        with pytest.raises(StoreLockedError) as e:
            loyalist.connect(db, lock_timeout=0.5)
        assert "in use by another process" in str(e.value)
        assert f"PID {proc.pid}" in str(e.value)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_older_store_is_migrated_and_keeps_its_data(tmp_path):
    import duckdb

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    migrations.migrate(con, str(db), target=1)  # a store written by schema v1
    con.execute("ALTER TABLE requests DROP COLUMN parent_id")  # which lacked this column
    con.execute("INSERT INTO requests (id, customer_id, opened_at, _key) "
                "VALUES ('r1', 'c1', '2021-01-01', 'r1')")
    con.close()
    with loyalist.connect(db) as s:
        assert s.schema_version() == migrations.SCHEMA_VERSION
        req = s.table("requests").execute()
        assert req["id"].tolist() == ["r1"] and "parent_id" in req.columns
        s.write_derived("scores", pd.DataFrame({"customer_id": ["c1"], "p_leave": [0.5],
                                                "as_of": pd.Timestamp("2021-02-01"),
                                                "model_id": [1]}))
        assert "scores" in s.tables()


def test_newer_store_is_refused(tmp_path):
    db = tmp_path / "new.duckdb"
    with loyalist.connect(db) as s:
        s.raw.execute("UPDATE _loyalist_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreVersionError, match="Upgrade Loyalist"):
        loyalist.connect(db)


def test_read_only_store_needs_an_existing_file(tmp_path):
    with pytest.raises(loyalist.LoyalistError, match="No store"):
        loyalist.connect(tmp_path / "none.duckdb", read_only=True)


def test_cursors_write_concurrently(store):
    """Threads of one process (the API later) ingest through their own cursors."""
    from concurrent.futures import ThreadPoolExecutor

    frames = [pd.DataFrame({"id": [f"t{k}-{i}" for i in range(200)], "customer_id": "c",
                            "at": pd.Timestamp("2021-01-01"), "kind": "call"})
              for k in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda f: store.ingest("touches", f), frames))
    assert sum(r.inserted for r in results) == 800
    assert store.table("touches").count().execute() == 800
    assert sorted(r.ingest_id for r in results) == [1, 2, 3, 4]

