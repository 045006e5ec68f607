"""Survey answers checked against their survey definition, bad rows moved to the quarantine.

The contract can only say that ``value`` is a number; whether 9 is a valid answer
depends on the item (NPS 0-10, agreement 1-7). :func:`quarantine_survey_answers` takes
the definition's items (a frame: item, low, high, open) and, all or nothing, moves
every stored answer of that survey whose item the definition does not know, or whose
value is outside the item's scale, into ``_loyalist_rejects`` with the reason and all
its values, logs the check as an entry of the ingest log, and deletes the rows from
``survey_answers``. Nothing is lost: the quarantine keeps the whole row.

Each engine's half is in its adapter: DuckDB's statements in one transaction
(:mod:`loyalist.store.engine.duckdb.survey`), Spark's staged and put in place together
(:mod:`loyalist.store.engine.spark.survey`), in the same words.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loyalist.store.engine import engine_of


def quarantine_survey_answers(store, items: pd.DataFrame, survey: str, rejects_dir: Path,
                              label: str = "survey check") -> tuple[int | None, int, str | None]:
    """Move the answers of ``survey`` that break its definition to the quarantine.

    Returns (id of the check in the ingest log or None when nothing was wrong, rows
    moved, path of the rejects CSV file).
    """
    if engine_of(store) == "spark":
        from loyalist.store.engine.spark.survey import quarantine_bad_answers
    else:
        from loyalist.store.engine.duckdb.survey import quarantine_bad_answers

    return quarantine_bad_answers(store, items, survey, rejects_dir, label)
