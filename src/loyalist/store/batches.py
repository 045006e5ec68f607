"""Undoing an ingest, and copies of the whole store.

Every ingest is a batch with an id (the ingest log's). :func:`undo_ingest` removes
exactly that batch: the rows it inserted are deleted and the rows it updated get back
the version it replaced (kept by the ingest in ``_loyalist_replaced_<table>``). When a
later ingest changed rows of the batch, the undo is refused until that one is undone
first. The derived tables (scores, alerts...) are marked stale. One transaction.

:func:`backup` copies the store into a new DuckDB file from inside the process that
holds it (a consistent snapshot, also while the web app runs: ``POST /api/backup``);
:func:`restore` puts a backup in place of a store nobody holds.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb

from loyalist.contract.schema import TABLES
from loyalist.errors import DataError, SourceError, StoreLockedError
from loyalist.store.accounts import Accounts
from loyalist.store.ingest import replaced_table
from loyalist.store.migrations import DERIVED, INGESTS
from loyalist.store.sql import lit, q, transaction


def _exists(con, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND "
                            "NOT temporary", [table]).fetchall()[0][0])


def undo_ingest(store, ingest_id: int, *, by: str | None = None) -> dict:
    """Remove exactly the rows of one ingest (and put back what it replaced).

    Returns ``{"table", "deleted", "restored"}``. Raises :class:`DataError` when the
    ingest does not exist, was undone already, or a later ingest changed its rows.
    """
    ingest_id = int(ingest_id)
    con = store.cursor()
    try:
        row = con.execute(f"SELECT table_name, format, undone_at FROM {INGESTS} WHERE id = ?",
                          [ingest_id]).fetchall()
        if not row:
            raise DataError(f"No ingest #{ingest_id} in the store.",
                            hint="See the ingests with loyalist status or GET /api/data.")
        table, fmt, undone = row[0]
        if undone is not None:
            raise DataError(f"Ingest #{ingest_id} was undone already ({undone:%Y-%m-%d %H:%M}).",
                            hint="Nothing to do.")
        if fmt == "survey check" or table not in TABLES:
            raise DataError(f"Ingest #{ingest_id} is a check, not a load of rows; it cannot "
                            "be undone.", hint="Undo the ingest it checked instead.")
        # an orders ingest read with --lines also wrote order_lines under its id
        tables = [table] + (["order_lines"] if table == "orders" else [])
        shadows = {t: _exists(con, replaced_table(t)) for t in tables}
        later = sorted({i for t in tables for i in _later_changes(con, t, ingest_id,
                                                                  shadows[t])})
        if later:
            raise DataError(f"Ingest #{ingest_id} cannot be undone alone: later ingest(s) "
                            f"{', '.join(f'#{i}' for i in later)} changed its rows.",
                            hint=f"Undo #{later[-1]} first (loyalist ingest --undo "
                            f"{later[-1]}), then #{ingest_id}.")
        with transaction(con):
            deleted = restored = 0
            for name in tables:
                d, r = _take_out(con, name, ingest_id, shadows[name])
                if name == table:
                    deleted, restored = d, r
            con.execute(f"UPDATE {INGESTS} SET undone_at = now()::TIMESTAMP, undone_by = ? "
                        "WHERE id = ?", [by, ingest_id])
            con.execute(f"UPDATE {DERIVED} SET stale = true")
    finally:
        con.close()
    # deleted counts the batch's own rows, the new ones and the updated versions
    result = {"table": table, "deleted": int(deleted - restored), "restored": int(restored)}
    Accounts(store).audit(by, "ingest.undo", f"ingest #{ingest_id}", result)
    return result


def _take_out(con, table: str, ingest_id: int, has_shadow: bool) -> tuple[int, int]:
    """Delete the batch's rows of ``table`` and put back the versions it replaced."""
    deleted = con.execute(f"DELETE FROM {q(table)} WHERE _ingest_id = ?",
                          [ingest_id]).fetchall()[0][0]
    restored = 0
    if has_shadow:
        shadow = q(replaced_table(table))
        restored = con.execute(
            f"INSERT INTO {q(table)} BY NAME SELECT * EXCLUDE (_replaced_by) FROM {shadow} "
            "WHERE _replaced_by = ?", [ingest_id]).fetchall()[0][0]
        con.execute(f"DELETE FROM {shadow} WHERE _replaced_by = ?", [ingest_id])
    return deleted, restored


def _later_changes(con, table: str, ingest_id: int, has_shadow: bool) -> list[int]:
    """Later ingests that replaced rows of this batch (so undoing it alone would lose
    their work or bring back rows they changed)."""
    if not has_shadow:
        return []
    rows = con.execute(
        f"SELECT DISTINCT _replaced_by FROM {q(replaced_table(table))} WHERE _ingest_id = ? "
        f"AND _replaced_by > ? AND _replaced_by NOT IN (SELECT id FROM {INGESTS} WHERE "
        "undone_at IS NOT NULL) ORDER BY 1", [ingest_id, ingest_id]).fetchall()
    return [int(r[0]) for r in rows]


def stale_tables(store) -> list[str]:
    """Derived tables marked stale (data under them was undone since they were made)."""
    con = store.cursor()
    try:
        return [r[0] for r in con.execute(
            f"SELECT name FROM {DERIVED} WHERE stale ORDER BY name").fetchall()]
    finally:
        con.close()


def backup(store, path) -> Path:
    """Copy the whole store into a new DuckDB file at ``path`` (a consistent snapshot,
    taken inside the process that holds the store); returns the path."""
    path = Path(path)
    if path.exists():
        raise SourceError(f"{path} exists already; a backup never overwrites a file.",
                          hint="Give a new file name, e.g. with the date in it.")
    if store.path != ":memory:" and path.resolve() == Path(store.path).resolve():
        raise SourceError("The backup cannot be the store itself.", hint="Give another path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = store.cursor()
    alias = f"loyalist_backup_{int(time.time() * 1000)}"
    main = con.execute("SELECT current_database()").fetchall()[0][0]
    try:
        con.execute(f"ATTACH {lit(str(path))} AS {q(alias)}")
        try:
            con.execute(f"COPY FROM DATABASE {q(main)} TO {q(alias)}")
        finally:
            con.execute(f"DETACH {q(alias)}")
    except duckdb.Error as e:
        path.unlink(missing_ok=True)
        raise SourceError(f"Could not write the backup {path.name}: {str(e).splitlines()[0]}",
                          hint="Check the folder exists and is writable.") from None
    finally:
        con.close()
    return path


def restore(backup_path, store_path) -> Path:
    """Put a backup in place of the store at ``store_path`` (which nobody may hold);
    the store it replaces is kept beside it as ``<name>.before-restore-<time>.duckdb``.
    Returns the kept copy's path (None when there was no store)."""
    backup_path, store_path = Path(backup_path), Path(store_path)
    if not backup_path.is_file():
        raise SourceError(f"No backup at {backup_path}.", hint="Give the backup's path.")
    try:  # the backup must be a store this Loyalist can read
        duckdb.connect(str(backup_path), read_only=True).close()
    except duckdb.Error as e:
        raise SourceError(f"{backup_path.name} is not a readable store: "
                          f"{str(e).splitlines()[0]}", hint="Give a file made by loyalist "
                          "backup.") from None
    kept = None
    if store_path.exists():
        try:
            duckdb.connect(str(store_path)).close()
        except (duckdb.IOException, duckdb.ConnectionException):
            raise StoreLockedError(f"The store {store_path} is in use by another process.",
                                   hint="Stop loyalist serve (or the other command) first, "
                                   "then restore.") from None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept = store_path.with_name(f"{store_path.stem}.before-restore-{stamp}.duckdb")
        shutil.move(str(store_path), kept)
        wal = store_path.with_name(store_path.name + ".wal")
        if wal.exists():
            shutil.move(str(wal), kept.with_name(kept.name + ".wal"))
    shutil.copyfile(backup_path, store_path)
    return kept
