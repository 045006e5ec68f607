"""Undoing an ingest, and copies of the whole store, on either engine.

Every ingest is a batch with an id (the ingest log's). :func:`undo_ingest` removes
exactly that batch: the rows it inserted are deleted and the rows it updated get back
the version it replaced (kept by the ingest in ``_loyalist_replaced_<table>``). When a
later ingest changed rows of the batch, the undo is refused until that one is undone
first. The derived tables (scores, alerts...) are marked stale. All or nothing: one
transaction on DuckDB; on Spark every table it changes is staged, then put in place.

:func:`backup` copies the store from inside the process that holds it (DuckDB: a new
DuckDB file, a consistent snapshot, also while the web app runs: ``POST /api/backup``;
Spark: a folder holding a copy of the warehouse's tables and a manifest);
:func:`restore` puts a backup in place of a store nobody holds. What differs between
the engines is in the adapter (:mod:`loyalist.store.engine.batches`).
"""

from __future__ import annotations

from pathlib import Path

from loyalist.contract.schema import TABLES
from loyalist.errors import DataError, SourceError
from loyalist.store.accounts import Accounts
from loyalist.store.engine import batches as on_engine


def undo_ingest(store, ingest_id: int, *, by: str | None = None) -> dict:
    """Remove exactly the rows of one ingest (and put back what it replaced).

    Returns ``{"table", "deleted", "restored"}``. Raises :class:`DataError` when the
    ingest does not exist, was undone already, or a later ingest changed its rows.
    """
    ingest_id = int(ingest_id)
    entry = on_engine.ingest_entry(store, ingest_id)
    if entry is None:
        raise DataError(f"No ingest #{ingest_id} in the store.",
                        hint="See the ingests with loyalist status or GET /api/data.")
    table, undone = entry["table_name"], entry["undone_at"]
    if undone is not None:
        raise DataError(f"Ingest #{ingest_id} was undone already ({undone:%Y-%m-%d %H:%M}).",
                        hint="Nothing to do.")
    if entry["format"] == "survey check" or table not in TABLES:
        raise DataError(f"Ingest #{ingest_id} is a check, not a load of rows; it cannot "
                        "be undone.", hint="Undo the ingest it checked instead.")
    # an orders ingest read with --lines also wrote order_lines under its id
    tables = [table] + (["order_lines"] if table == "orders" else [])
    later = on_engine.later_changes(store, tables, ingest_id)
    if later:
        raise DataError(f"Ingest #{ingest_id} cannot be undone alone: later ingest(s) "
                        f"{', '.join(f'#{i}' for i in later)} changed its rows.",
                        hint=f"Undo #{later[-1]} first (loyalist ingest --undo "
                        f"{later[-1]}), then #{ingest_id}.")
    deleted, restored = on_engine.take_out_batch(store, tables, ingest_id, by)[table]
    # deleted counts the batch's own rows, the new ones and the updated versions
    result = {"table": table, "deleted": int(deleted - restored), "restored": int(restored)}
    Accounts(store).audit(by, "ingest.undo", f"ingest #{ingest_id}", result)
    return result


def stale_tables(store) -> list[str]:
    """Derived tables marked stale (data under them was undone since they were made)."""
    return on_engine.stale_derived(store)


def backup(store, path) -> Path:
    """Copy the whole store to ``path`` (a new DuckDB file; on Spark a new folder with
    a manifest), taken inside the process that holds the store; returns the path."""
    path = Path(path)
    if path.exists():
        raise SourceError(f"{path} exists already; a backup never overwrites a file.",
                          hint="Give a new file name, e.g. with the date in it.")
    if store.path != ":memory:" and path.resolve() == Path(store.path).resolve():
        raise SourceError("The backup cannot be the store itself.", hint="Give another path.")
    if store.path != ":memory:" and Path(store.path).resolve() in path.resolve().parents:
        raise SourceError("The backup cannot be inside the store's folder.",
                          hint="Give a path outside it.")
    return on_engine.copy_store(store, path)


def restore(backup_path, store_path) -> Path | None:
    """Put a backup in place of the store at ``store_path`` (which nobody may hold);
    the store it replaces is kept beside it (``<name>.before-restore-<time>.duckdb``,
    or ``<warehouse>.before-restore-<time>`` for a Spark warehouse). Returns the kept
    copy's path (None when there was no store)."""
    backup_path, store_path = Path(backup_path), Path(store_path)
    if not backup_path.exists():
        raise SourceError(f"No backup at {backup_path}.", hint="Give the backup's path.")
    return on_engine.put_backup_in_place(backup_path, store_path)
