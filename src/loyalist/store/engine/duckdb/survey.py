"""Survey answers checked against their survey definition, bad rows moved to the
quarantine: the DuckDB store's half of :mod:`loyalist.store.ingest.survey_checks` (the Spark
store's is :mod:`loyalist.store.engine.spark.survey`).

The contract can only say that ``value`` is a number; whether 9 is a valid answer
depends on the item (NPS 0-10, agreement 1-7). :func:`quarantine_survey_answers` takes
the definition's items (a frame: item, low, high, open) and, in one transaction, moves
every stored answer of that survey whose item the definition does not know, or whose
value is outside the item's scale, into ``_loyalist_rejects`` with the reason and all
its values, logs the check as an entry of the ingest log, and deletes the rows from
``survey_answers``. Nothing is lost: the quarantine keeps the whole row.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from loyalist.store.engine import transaction
from loyalist.store.engine.duckdb.quarantine import REJECT_COLUMNS, write_rejects_file
from loyalist.store.names import INGEST_COLUMNS, INGESTS, REJECTS

_ITEMS = "_loyalist_survey_items"

_BAD = f"""
    SELECT a._key, a._ingest_id, a._line, a.item,
           CASE
             WHEN i.item IS NULL THEN 'unknown item ''' || a.item || ''': survey '''
                  || $survey || ''' has no such item'
             WHEN a.value IS NOT NULL AND i.open THEN 'item ''' || a.item
                  || ''' is an open question: it takes text, not ' || printf('%g', a.value)
             WHEN a.value IS NULL AND NOT i.open THEN 'item ''' || a.item
                  || ''' needs a number on its scale ' || printf('%g', i.low) || '-'
                  || printf('%g', i.high) || '; got none'
             WHEN a.value < i.low OR a.value > i.high THEN 'answer ' || printf('%g', a.value)
                  || ' is outside the scale ' || printf('%g', i.low) || '-'
                  || printf('%g', i.high) || ' of item ''' || a.item || ''''
           END AS reason,
           CASE WHEN i.item IS NULL THEN 'item' ELSE 'value' END AS col,
           CASE WHEN i.item IS NULL THEN 'unknown_item' ELSE 'off_scale' END AS code,
           CASE WHEN i.item IS NULL THEN a.item ELSE coalesce(printf('%g', a.value), a.text)
           END AS value,
           to_json(struct_pack(id := a.id, customer_id := a.customer_id,
                   answered_at := CAST(a.answered_at AS VARCHAR), survey := a.survey,
                   item := a.item, value := printf('%g', a.value), text := a.text,
                   respondent := a.respondent)) AS raw
    FROM survey_answers a LEFT JOIN {_ITEMS} i ON a.item = i.item
    WHERE a.survey = $survey
"""


def quarantine_bad_answers(con, items: pd.DataFrame, survey: str, rejects_dir: Path,
                           label: str = "survey check") -> tuple[int | None, int, str | None]:
    """Move the answers of ``survey`` that break its definition to the quarantine
    (``con``: the DuckDB store, or a connection to it; each gives a cursor).

    Returns (id of the check in the ingest log or None when nothing was wrong, rows
    moved, path of the rejects CSV file).
    """
    started = time.perf_counter()
    c = con.cursor()
    try:
        c.register(_ITEMS, items[["item", "low", "high", "open"]])
        with transaction(c):
            c.execute(f"CREATE OR REPLACE TEMP TABLE _loyalist_survey_bad AS SELECT * FROM "
                      f"({_BAD}) WHERE reason IS NOT NULL", {"survey": survey})
            n = c.execute("SELECT count(*) FROM _loyalist_survey_bad").fetchall()[0][0]
            if not n:  # nothing written: the transaction ends with nothing in it
                return None, 0, None
            checked = c.execute("SELECT count(*) FROM survey_answers WHERE survey = ?",
                                [survey]).fetchall()[0][0]
            check_id = c.execute(f"SELECT nextval('{INGESTS}_seq')").fetchall()[0][0]
            c.execute(
                f"INSERT INTO {REJECTS} {REJECT_COLUMNS} SELECT ?, 'survey_answers', "
                "coalesce(g.source, 'survey_answers') || ' (survey check)', b._line, b.col, "
                f"b.code, b.reason, b.value, b.raw FROM _loyalist_survey_bad b "
                f"LEFT JOIN {INGESTS} g "
                "ON g.id = b._ingest_id", [check_id])
            c.execute("DELETE FROM survey_answers WHERE _key IN "
                      "(SELECT _key FROM _loyalist_survey_bad)")
            path = str(Path(rejects_dir) / f"ingest-{check_id}-survey_answers.csv")
            c.execute(
                f"INSERT INTO {INGESTS} {INGEST_COLUMNS} VALUES (?, 'survey_answers', ?, "
                "'survey check', "
                "now()::TIMESTAMP - to_microseconds(?), now()::TIMESTAMP, ?, 0, 0, ?, ?, ?, ?)",
                [check_id, label, int((time.perf_counter() - started) * 1e6), checked,
                 checked - n, n, json.dumps({"survey": survey}), path])
        write_rejects_file(c, check_id, Path(path))
        return int(check_id), int(n), path
    finally:
        c.close()
