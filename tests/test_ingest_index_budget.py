"""The index by customer and the memory budget (issue 17): an ingest that would make a
table's index by customer bigger than half of DuckDB's memory budget drops the index in
its own transaction (DuckDB keeps such an index whole in memory; 100M orders failed at
the commit on a 2 GB budget), says so in a note, and loads the same rows; a failed
ingest keeps the index."""

from __future__ import annotations

import pandas as pd
import pytest

import loyalist
from loyalist.store.engine.duckdb import schema
from loyalist.store.engine.duckdb.schema import fit_customer_index, memory_budget


def _orders(n: int, seed: int = 3) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": [f"O{i}" for i in range(n)],
        "customer_id": [f"C{k}" for k in rng.integers(0, 40, n)],
        "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(
            rng.integers(0, 300, n), unit="D"),
        "amount": rng.lognormal(3, 0.5, n).round(2)})


def _indexed(store, table: str) -> bool:
    return bool(store.raw.execute(
        "SELECT count(*) FROM duckdb_indexes() WHERE index_name = ? AND table_name = ?",
        [f"{table}_by_customer", table]).fetchall()[0][0])


@pytest.mark.parametrize(("limit", "low", "high"), [
    ("512MB", 400e6, 512e6), ("2GB", 1.7e9, 2e9), ("3GiB", 3 * 2**30 * 0.9, 3 * 2**30)])
def test_memory_budget_reads_the_limit_set(tmp_path, limit, low, high):
    store = loyalist.connect(tmp_path / "s.duckdb", memory_limit=limit)
    assert low < memory_budget(store.raw) <= high
    store.close()


def test_the_index_stays_while_it_fits_and_is_dropped_beyond(tmp_path):
    from loyalist.store.engine.duckdb.schema import restore_customer_index

    store = loyalist.connect(tmp_path / "s.duckdb", memory_limit="2GB")
    store.ingest("orders", _orders(200))
    con = store.cursor()
    # 200 rows plus a thousand: a few kB of index
    assert fit_customer_index(con, "orders", 1_000) == []
    assert _indexed(store, "orders")
    # 100M more rows: 3.2 GB of index at 32 bytes a row, beyond half of 2 GB
    notes = fit_customer_index(con, "orders", 100_000_000)
    assert len(notes) == 1 and "100,000,200 rows" in notes[0]
    assert not _indexed(store, "orders")
    # nothing to drop when there is no index
    assert fit_customer_index(con, "orders", 100_000_000) == []
    restore_customer_index(con, "orders")
    assert _indexed(store, "orders")
    store.close()


@pytest.mark.slow  # 37 s: 20M rows
def test_dropped_inside_the_transaction_the_index_would_still_be_appended_to(tmp_path):
    # why fit_customer_index drops it before the ingest's transaction: DuckDB appends
    # the transaction's rows to an index dropped in it, at the commit (a 20M-row index
    # on a 300 MB budget: the commit fails; dropped before, it succeeds)
    import duckdb

    def load(drop_inside: bool) -> int:
        con = duckdb.connect(str(tmp_path / f"t{drop_inside}.duckdb"),
                             config={"memory_limit": "300MB", "threads": 2,
                                     "temp_directory": str(tmp_path / "tmp")})
        con.execute("CREATE TABLE o (customer_id VARCHAR, x BIGINT)")
        con.execute("CREATE INDEX o_c ON o (customer_id)")
        if not drop_inside:
            con.execute("DROP INDEX o_c")
        con.execute("BEGIN TRANSACTION")
        if drop_inside:
            con.execute("DROP INDEX o_c")
        con.execute("INSERT INTO o SELECT 'C' || (hash(i) % 200000), i "
                    "FROM range(20000000) t(i)")
        try:
            con.execute("COMMIT")
        finally:
            n = con.execute("SELECT count(*) FROM o").fetchall()[0][0]
            con.close()
        return n

    assert load(drop_inside=False) == 20_000_000
    with pytest.raises(duckdb.Error, match="allocate"):
        load(drop_inside=True)


def test_an_ingest_beyond_the_budget_drops_the_index_and_loads_the_same_rows(
        tmp_path, monkeypatch):
    orders = _orders(500)
    kept = loyalist.connect(tmp_path / "kept.duckdb", memory_limit="1GB")
    first = kept.ingest("orders", orders)
    assert first.notes == [] and _indexed(kept, "orders")
    # as if each row took 2 MB of index: 500 rows need more than half of 1 GB
    monkeypatch.setattr(schema, "INDEX_BYTES_PER_ROW", 2 * 2**20)
    dropped = loyalist.connect(tmp_path / "dropped.duckdb", memory_limit="1GB")
    result = dropped.ingest("orders", orders)
    assert any("index by customer" in n and "500 rows" in n for n in result.notes)
    assert not _indexed(dropped, "orders")
    cols = "id, customer_id, ordered_at, amount, _key, _line"
    a, b = (s.raw.execute(f"SELECT {cols} FROM orders ORDER BY id").fetchall()
            for s in (kept, dropped))
    assert a == b and len(a) == 500
    assert (result.inserted, result.rejected) == (first.inserted, first.rejected)
    # a second ingest of the same file: nothing to drop, nothing new
    again = dropped.ingest("orders", orders)
    assert (again.inserted, again.unchanged, again.notes) == (0, 500, [])
    kept.close()
    dropped.close()


def test_a_failed_ingest_keeps_the_index(tmp_path, monkeypatch):
    from loyalist.store.engine.duckdb import ingest

    store = loyalist.connect(tmp_path / "s.duckdb", memory_limit="1GB")
    store.ingest("orders", _orders(100))
    monkeypatch.setattr(schema, "INDEX_BYTES_PER_ROW", 2 * 2**20)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest, "_merge", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        store.ingest("orders", _orders(300, seed=4))
    assert _indexed(store, "orders")
    assert store.raw.execute("SELECT count(*) FROM orders").fetchall()[0][0] == 100
    store.close()


def test_a_failed_rollback_does_not_hide_the_error_that_caused_it(tmp_path):
    # a failed COMMIT (out of memory at 100M orders) ends the transaction itself: the
    # ROLLBACK after it failed with "no transaction is active", and that was reported
    from loyalist.store.engine import rollback, transaction

    store = loyalist.connect(tmp_path / "s.duckdb")
    con = store.cursor()
    with pytest.raises(ValueError, match="the first error"):
        with transaction(con):
            con.execute("CREATE TABLE t (x INT)")
            con.execute("ROLLBACK")  # as a failed commit leaves it
            raise ValueError("the first error")
    rollback(con)  # nothing to roll back: no error of its own
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'"
                       ).fetchall()[0][0] == 0
    store.close()
