"""Real data for the model tests, read from ../shared/data (shared by test_models_*, test_rfm)."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CDNOW = DATA / "cdnow_lifetimes"


@functools.cache
def cdnow_summary() -> pd.DataFrame:
    """The published 2,357-customer CDNOW calibration summary (weeks)."""
    return pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")


@functools.cache
def cdnow_orders() -> pd.DataFrame:
    """The CDNOW sample transaction log as an orders frame of the data contract."""
    raw = pd.read_csv(CDNOW / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "sample_id", "date", "cds", "dollars"],
                      dtype={"master_id": str, "date": str})
    return pd.DataFrame({
        "customer_id": raw["sample_id"].astype(str),
        "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
        "amount": raw["dollars"].astype(float),
    })


def ibis_table(df: pd.DataFrame, name: str = "orders"):
    """``df`` as a table of an in-memory Ibis DuckDB connection.

    (``con.create_table`` fails with ibis 12 on duckdb 2.0, "DROP VIEW IF EXISTS"
    parser error, so the frame goes in through the DuckDB connection itself.)
    """
    import ibis

    con = ibis.duckdb.connect()
    con.con.register(f"{name}_frame", df)
    con.raw_sql(f'CREATE TABLE "{name}" AS SELECT * FROM "{name}_frame"')
    con.con.unregister(f"{name}_frame")
    return con.table(name)
