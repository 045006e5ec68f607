"""Survey answers checked against their survey definition, bad rows moved to the quarantine.

The contract can only say that ``value`` is a number; whether 9 is a valid answer
depends on the item (NPS 0-10, agreement 1-7). :func:`quarantine_survey_answers` takes
the definition's items (a frame: item, low, high, open) and, all or nothing, moves
every stored answer of that survey whose item the definition does not know, or whose
value is outside the item's scale, into ``_loyalist_rejects`` with the reason and all
its values, logs the check as an entry of the ingest log, and deletes the rows from
``survey_answers``. Nothing is lost: the quarantine keeps the whole row.

The statements are the DuckDB store's (:mod:`loyalist.store.engine.duckdb.survey`); on a
Spark store this raises :class:`~loyalist.errors.NotOnEngineError` naming the operation
and the table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loyalist.store.engine import require_duckdb

#: the operation's name in the error a Spark store raises
OPERATION = "Moving bad survey answers to the quarantine (survey_answers)"


def quarantine_survey_answers(store, items: pd.DataFrame, survey: str, rejects_dir: Path,
                              label: str = "survey check") -> tuple[int | None, int, str | None]:
    """Move the answers of ``survey`` that break its definition to the quarantine.

    Returns (id of the check in the ingest log or None when nothing was wrong, rows
    moved, path of the rejects CSV file).
    """
    require_duckdb(store, OPERATION, hint=(
        "Ingest the answers into a DuckDB store (loyalist ingest survey_answers FILE) and "
        "copy them (SparkStore.copy_from)."))
    from loyalist.store.engine.duckdb.survey import quarantine_bad_answers

    return quarantine_bad_answers(store, items, survey, rejects_dir, label)
