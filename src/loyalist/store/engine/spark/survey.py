"""Survey answers checked against their survey definition on a Spark store, bad rows
moved to the quarantine: the Spark store's half of
:mod:`loyalist.store.ingest.survey_checks`, by the DuckDB store's rules
(:mod:`loyalist.store.engine.duckdb.survey`).

Spark finds the answers of the survey whose item the definition does not know or whose
value is off the item's scale (a join with the items); only those rows reach the driver,
where their reasons are written in the same words as DuckDB's (numbers as C's ``%g``
writes them, which Spark's ``format_string`` does not). Then, all or nothing: the
``survey_answers`` table rewritten without them, their rows for the rejects table and
the check's row for the ingest log are staged, and put in place together.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loyalist.store.engine.spark.ingest import (
    INGEST_TYPES,
    REJECT_TYPES,
    _move_parts,
    _write_rejects_file,
)
from loyalist.store.migrations import INGESTS, REJECTS

_TABLE = "survey_answers"
_ARROW = {"bigint": pa.int64(), "string": pa.string()}
#: the answer's fields in the quarantine's ``raw``, in the DuckDB store's order
_RAW = ("id", "customer_id", "answered_at", "survey", "item", "value", "text", "respondent")


def _g(v) -> str | None:
    """A number as C's ``%g`` (DuckDB's ``printf('%g', v)``) writes it."""
    return None if v is None or pd.isna(v) else format(float(v), "g")


def _reason(a: dict) -> tuple[str, str, str, str | None]:
    """Column, code, reason and value of one bad answer (joined with its item)."""
    item = a["item"]
    if a["_item"] is None or pd.isna(a["_item"]):
        return ("item", "unknown_item", f"unknown item '{item}': survey '{a['survey']}' has "
                "no such item", item)
    value = _g(a["value"])
    shown = value if value is not None else a["text"]
    if value is not None and a["open"]:
        return "value", "off_scale", (f"item '{item}' is an open question: it takes text, "
                                      f"not {value}"), shown
    scale = f"{_g(a['low'])}-{_g(a['high'])}"
    if value is None:
        return "value", "off_scale", (f"item '{item}' needs a number on its scale {scale}; "
                                      "got none"), shown
    return "value", "off_scale", f"answer {value} is outside the scale {scale} of item " \
        f"'{item}'", shown


def _raw(a: dict) -> str:
    at = a["answered_at"]
    fields = {k: a[k] for k in _RAW}
    fields["answered_at"] = None if at is None or pd.isna(at) else str(pd.Timestamp(at))
    fields["value"] = _g(a["value"])
    fields = {k: (None if v is not None and not isinstance(v, str) and pd.isna(v) else v)
              for k, v in fields.items()}
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def _staged_parquet(store, what: str, table: pa.Table) -> Path:
    folder = store.warehouse / "_staging" / f"{what}-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    pq.write_table(table, str(folder / f"part-{uuid.uuid4().hex}.parquet"))
    return folder


def quarantine_bad_answers(store, items: pd.DataFrame, survey: str, rejects_dir: Path,
                           label: str = "survey check") -> tuple[int | None, int, str | None]:
    """Move the answers of ``survey`` that break its definition to the quarantine.

    Returns (id of the check in the ingest log or None when nothing was wrong, rows
    moved, path of the rejects CSV file)."""
    from pyspark.sql import functions as F

    started = time.perf_counter()
    store._writable("move bad survey answers to the quarantine")
    folder = store._dir(_TABLE)
    if not folder.is_dir():
        return None, 0, None
    spark = store.spark
    df = spark.read.schema(store._schema(_TABLE)).parquet(str(folder))
    it = spark.createDataFrame(
        items[["item", "low", "high", "open"]].rename(columns={"item": "_item"}).astype(
            {"low": "float64", "high": "float64", "open": "bool"}),
        "_item string, low double, high double, open boolean")
    mine = df.filter(F.col("survey") == F.lit(survey))
    j = mine.join(F.broadcast(it), mine["item"] == it["_item"], "left")
    v, known = F.col("value"), F.col("_item").isNotNull()
    wrong = (~known | (v.isNotNull() & F.col("open")) | (v.isNull() & ~F.col("open"))
             | (v < F.col("low")) | (v > F.col("high")))
    bad = j.filter(F.coalesce(wrong, F.lit(False))).select(
        "_key", "_ingest_id", "_line", *_RAW, "_item", "low", "high", "open").toPandas()
    if not len(bad):
        return None, 0, None
    checked = mine.count()
    check_id = store.next_numbers(f"{INGESTS}_seq", 1)[0]
    sources = store.ingests().set_index("id")["source"].to_dict()
    rows = [dict(zip(("column", "code", "reason", "value"), _reason(a), strict=True))
            | {"ingest_id": check_id, "table_name": _TABLE,
               "source": f"{sources.get(a['_ingest_id']) or _TABLE} (survey check)",
               "line": a["_line"], "raw": _raw(a)} for a in bad.to_dict("records")]
    rejects = pa.table({c: pa.array([r[c] for r in rows], _ARROW[t])
                        for c, t in REJECT_TYPES.items()})
    path = str(Path(rejects_dir) / f"ingest-{check_id}-{_TABLE}.csv")
    now = pd.Timestamp.now("UTC").tz_localize(None)
    log = {"id": check_id, "table_name": _TABLE, "source": label, "format": "survey check",
           "started_at": now - pd.Timedelta(seconds=time.perf_counter() - started),
           "finished_at": now, "rows_read": checked, "inserted": 0, "updated": 0,
           "unchanged": checked - len(bad), "rejected": len(bad),
           "options": json.dumps({"survey": survey}), "rejects_file": path,
           "undone_at": None, "undone_by": None}
    keys = spark.createDataFrame(pd.DataFrame({"_key": bad["_key"].astype(str)}),
                                 "_key string")
    keep = df.join(F.broadcast(keys), "_key", "left_anti").select(*df.columns)
    staged = []
    try:
        staged.append(store._stage(_TABLE, lambda p: keep.write.parquet(p)))
        staged.append(_staged_parquet(store, "rejects", rejects))
        staged.append(_staged_parquet(store, "log", pa.table(
            {c: pa.array([log[c]], t) for c, t in INGEST_TYPES.items()})))
    except BaseException:
        import shutil

        for p in staged:
            shutil.rmtree(p, ignore_errors=True)
        raise
    table_path, rejects_path, log_path = staged
    store._swap(_TABLE, table_path)
    _move_parts(rejects_path, store._dir(REJECTS))
    _move_parts(log_path, store._dir(INGESTS))
    store._forget(_TABLE)
    _write_rejects_file(store, check_id, Path(path))
    return int(check_id), len(bad), path
