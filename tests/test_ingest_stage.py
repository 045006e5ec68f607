"""The ingest's stage as compiled for DuckDB: each column's text read once, compiled once."""

from __future__ import annotations

import ibis
import pandas as pd

from loyalist.contract.schema import get_table
from loyalist.store.engine.duckdb import ingest
from loyalist.store.engine.duckdb.readers import Source
from loyalist.store.ingest import checks
from loyalist.store.ingest.rules import Options

WHITESPACE = " \t\n\r\x0b\x0c"


def test_text_trims_the_same_whitespace_and_keeps_letters():
    values = ["fulfilled", " field sale ", "fave ", "\tx\n", "\x0bq\x0c", "  ", "", None,
              "é", " é ", "\x01a", "a \u2028", "v", " a b "]
    t = ibis.memtable(pd.DataFrame({"i": range(len(values)), "x": values}))
    got = ibis.duckdb.connect().to_pandas(t.mutate(y=checks.text(t.x)).order_by("i"))["y"]
    want = [None if v is None else (v.strip(WHITESPACE) or None) for v in values]
    assert [None if pd.isna(v) else v for v in got] == want


def _orders_source() -> tuple[Source, dict]:
    cols = ["id", "customer_id", "ordered_at", "amount", "quantity", "status"]
    return Source("_raw", "orders.csv", "csv", cols, dict.fromkeys(cols, "VARCHAR")), \
        {c: c for c in cols}


def test_each_source_column_is_trimmed_once_in_the_compiled_stage():
    src, chosen = _orders_source()
    sql, _ = ingest.stage_sql(get_table("orders"), src, chosen, {}, {}, Options(), False)
    for c in src.columns:  # the test of the trim names the column once
        assert sql.count(f'ASCII("t0"."{c}")') == 1, c
    # 46,570 characters when Ibis repeated each column's trim wherever it was used
    assert len(sql) < 12_000, len(sql)


def test_the_stage_is_compiled_once_per_table_columns_and_options():
    src, chosen = _orders_source()
    orders = get_table("orders")
    first = ingest.stage_sql(orders, src, chosen, {}, {}, Options(), False)
    again = ingest.stage_sql(orders, Source(src.name, "other.csv", "csv", list(src.columns),
                                            dict(src.types)), dict(chosen), {}, {},
                             Options(date_order={}), False)
    assert again is first
    other = ingest.stage_sql(orders, src, chosen, {}, {}, Options(decimal=","), False)
    assert other[0] != first[0]


def test_appending_rows_reuses_the_compiled_stage(store):
    def touch(i):
        return pd.DataFrame({"id": [f"t{i}"], "customer_id": ["c1"],
                             "at": [pd.Timestamp("2024-01-01")], "kind": ["call"]})

    store.append("touches", touch(0))
    before = ingest._compiled_stage.cache_info()
    for i in range(1, 4):
        store.append("touches", touch(i))
    after = ingest._compiled_stage.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (3, 0)
    assert len(store.table("touches").to_pandas()) == 4
