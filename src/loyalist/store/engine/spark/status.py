"""What a Spark warehouse holds, table by table (``loyalist status``), and when each
contract table's data last changed (``loyalist daily`` asks)."""

from __future__ import annotations

import pandas as pd

from loyalist.contract.schema import TABLES


def status(store) -> pd.DataFrame:
    """One row per contract table of ``store`` (a :class:`SparkStore`): rows, date
    range, ingests (not undone), rejected rows and when its data last changed."""
    log = store.ingests()
    log = log[log["undone_at"].isna()]
    done = log.groupby("table_name").agg(ingests=("id", "size"),
                                         rejected=("rejected", "sum"))
    changed = store.last_ingests()
    rows = []
    for t in TABLES.values():
        tb = store.table(t.name)
        if t.date_column:
            d = tb[t.date_column]
            n, lo, hi = tb.aggregate(n=tb.count(), lo=d.min(), hi=d.max()).to_pyarrow(
                ).to_pylist()[0].values()
        else:
            n, lo, hi = tb.count().to_pyarrow().as_py(), None, None
        g = done.loc[t.name] if t.name in done.index else {}
        rows.append({"table": t.name, "rows": n, "from": lo, "to": hi,
                     "ingests": int(g.get("ingests", 0)),
                     "rejected": int(g.get("rejected", 0) or 0),
                     "last_ingest": changed.get(t.name)})
    return pd.DataFrame(rows)


def last_ingests(store, loaded: dict[str, str]) -> dict[str, object]:
    """``{table: time}``: the later of the last finished ingest into each table and
    its last load (``loaded``: the warehouse's record of loads, table to ISO time)."""
    log = store.ingests()
    out = {n: pd.Timestamp(v).to_pydatetime() for n, v in
           log.groupby("table_name")["finished_at"].max().items() if pd.notna(v)}
    for table, at in loaded.items():
        at = pd.Timestamp(at).to_pydatetime()
        if table not in out or at > out[table]:
            out[table] = at
    return out
