"""Undo of an ingest batch and copies of the whole store, on each engine (the engine
adapter's half of :mod:`loyalist.store.batches`, which holds the rules and messages).

- DuckDB: the batch is taken out in one transaction; a backup is DuckDB's copy of the
  attached database into a new file; a restore puts that file in place.
- Spark (a warehouse of Parquet folders): every table the undo changes (the contract
  table, its kept replaced versions, the ingest log) is rewritten to the staging area
  first and then put in place by renames, as an ingest is; the derived tables are
  marked stale in the warehouse's log. A backup is a copy of the warehouse's folders
  with a manifest (``loyalist-backup.json``: what was copied, files and bytes per
  table); a restore puts such a copy in place of a warehouse. A Spark warehouse has no
  lock: back up while nothing writes to it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pandas as pd

from loyalist.errors import SourceError, StoreLockedError
from loyalist.store.engine import _run, engine_of, transaction
from loyalist.store.names import DERIVED, INGESTS
from loyalist.store.sql import lit, q

#: the manifest of a Spark warehouse's backup (a folder)
MANIFEST = "loyalist-backup.json"


def _replaced(table: str) -> str:
    from loyalist.store.engine.duckdb.ingest import replaced_table

    return replaced_table(table)


# -- reading the ingest log -----------------------------------------------------------------
def ingest_entry(store, ingest_id: int) -> dict | None:
    """The ingest log's row of ``ingest_id`` (``table_name``, ``format``, ``undone_at``)
    or None."""
    if engine_of(store) == "spark":
        log = _spark_log(store)
        rows = log[log["id"] == ingest_id]
        if rows.empty:
            return None
        row = rows.iloc[0]
        undone = row["undone_at"]
        return {"table_name": row["table_name"], "format": row["format"],
                "undone_at": None if pd.isna(undone) else pd.Timestamp(undone)}
    con = store.cursor()
    try:
        rows = con.execute(f"SELECT table_name, format, undone_at FROM {INGESTS} WHERE id = ?",
                           [ingest_id]).fetchall()
    finally:
        con.close()
    return dict(zip(("table_name", "format", "undone_at"), rows[0], strict=True)) if rows \
        else None


def later_changes(store, tables: list[str], ingest_id: int) -> list[int]:
    """Later ingests (not undone) that replaced rows of batch ``ingest_id`` in
    ``tables``: undoing it alone would lose their work or bring back rows they changed."""
    if engine_of(store) == "spark":
        return _later_on_spark(store, tables, ingest_id)
    from loyalist.store.engine.duckdb.schema import table_exists

    con = store.cursor()
    try:
        found = set()
        for table in tables:
            if not table_exists(con, _replaced(table)):
                continue
            found.update(int(r[0]) for r in con.execute(
                f"SELECT DISTINCT _replaced_by FROM {q(_replaced(table))} WHERE _ingest_id = ? "
                f"AND _replaced_by > ? AND _replaced_by NOT IN (SELECT id FROM {INGESTS} "
                "WHERE undone_at IS NOT NULL)", [ingest_id, ingest_id]).fetchall())
    finally:
        con.close()
    return sorted(found)


def take_out_batch(store, tables: list[str], ingest_id: int, by: str | None
                   ) -> dict[str, tuple[int, int]]:
    """Remove batch ``ingest_id``'s rows from each of ``tables``, put back the versions it
    replaced, mark it undone (``undone_at``, ``undone_by``) and every derived table
    stale: all or nothing. Per table: (rows removed, rows put back)."""
    if engine_of(store) == "spark":
        return _take_out_on_spark(store, tables, ingest_id, by)
    from loyalist.store.engine.duckdb.schema import table_exists

    con = store.cursor()
    try:
        with transaction(con):
            done = {t: _take_out(con, t, ingest_id, table_exists(con, _replaced(t)))
                    for t in tables}
            con.execute(f"UPDATE {INGESTS} SET undone_at = now()::TIMESTAMP, undone_by = ? "
                        "WHERE id = ?", [by, ingest_id])
            con.execute(f"UPDATE {DERIVED} SET stale = true")
    finally:
        con.close()
    return done


def _take_out(con, table: str, ingest_id: int, has_shadow: bool) -> tuple[int, int]:
    """Delete the batch's rows of ``table`` and put back the versions it replaced."""
    deleted = con.execute(f"DELETE FROM {q(table)} WHERE _ingest_id = ?",
                          [ingest_id]).fetchall()[0][0]
    restored = 0
    if has_shadow:
        shadow = q(_replaced(table))
        restored = con.execute(
            f"INSERT INTO {q(table)} BY NAME SELECT * EXCLUDE (_replaced_by) FROM {shadow} "
            "WHERE _replaced_by = ?", [ingest_id]).fetchall()[0][0]
        con.execute(f"DELETE FROM {shadow} WHERE _replaced_by = ?", [ingest_id])
    return int(deleted), int(restored)


def stale_derived(store) -> list[str]:
    """Derived tables marked stale (data under them was undone since they were made)."""
    if engine_of(store) == "spark":
        from loyalist.store.engine.spark.store import _DERIVED_LOG

        return sorted(n for n, v in store._read_json(_DERIVED_LOG).items() if v.get("stale"))
    con = store.cursor()
    try:
        return [r[0] for r in con.execute(
            f"SELECT name FROM {DERIVED} WHERE stale ORDER BY name").fetchall()]
    finally:
        con.close()


# -- undo on Spark ----------------------------------------------------------------------------
def _spark_log(store) -> pd.DataFrame:
    from loyalist.store.engine.spark.ingest import read_log

    return read_log(store, INGESTS)


def _spark_read(store, name: str):
    """Table ``name``'s folder as a Spark DataFrame (None when never written)."""
    folder = store._dir(name)
    if not folder.is_dir():
        return None
    if name.startswith("_loyalist_replaced_"):
        return store.spark.read.parquet(str(folder))
    return store.spark.read.schema(store._schema(name)).parquet(str(folder))


def _later_on_spark(store, tables: list[str], ingest_id: int) -> list[int]:
    from pyspark.sql import functions as F

    log = _spark_log(store)
    undone = [int(i) for i in log.loc[log["undone_at"].notna(), "id"]]
    found = set()
    for table in tables:
        shadow = _spark_read(store, _replaced(table))
        if shadow is None:
            continue
        hits = shadow.filter((F.col("_ingest_id") == ingest_id)
                             & (F.col("_replaced_by") > ingest_id))
        if undone:
            hits = hits.filter(~F.col("_replaced_by").isin(undone))
        found.update(int(r[0]) for r in hits.select("_replaced_by").distinct().collect())
    return sorted(found)


def _take_out_on_spark(store, tables: list[str], ingest_id: int, by: str | None
                       ) -> dict[str, tuple[int, int]]:
    """Each table rewritten without the batch (and with the versions it replaced), its
    kept versions without those put back, the ingest log with the batch marked undone:
    all staged first, then put in place by renames."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    from loyalist.store.engine.spark.ingest import INGEST_TYPES
    from loyalist.store.engine.spark.store import _DERIVED_LOG

    store._writable("undo an ingest")
    staged: list[tuple[str, Path]] = []
    done: dict[str, tuple[int, int]] = {}
    mine = F.col("_ingest_id") == ingest_id
    try:
        for table in tables:
            df = _spark_read(store, table)
            if df is None:
                done[table] = (0, 0)
                continue
            deleted = df.filter(mine).count()
            kept = df.filter(~mine | F.col("_ingest_id").isNull())
            restored = 0
            shadow = _spark_read(store, _replaced(table))
            if shadow is not None:
                back = F.col("_replaced_by") == ingest_id
                put_back = shadow.filter(back).select(*[
                    (F.col(f"`{f.name}`") if f.name in shadow.columns else F.lit(None))
                    .cast(f.dataType).alias(f.name) for f in df.schema.fields])
                restored = put_back.count()
                if restored:
                    kept = kept.unionByName(put_back)
                    rest = shadow.filter(~back)
                    staged.append((_replaced(table), store._stage(
                        _replaced(table), lambda path, r=rest: r.write.parquet(path))))
            if deleted or restored:
                staged.append((table, store._stage(
                    table, lambda path, k=kept: k.write.parquet(path))))
            done[table] = (int(deleted), int(restored))
        log = _spark_log(store)
        hit = log["id"] == ingest_id
        log["undone_at"] = log["undone_at"].astype("datetime64[us]")
        log.loc[hit, "undone_at"] = pd.Timestamp.now("UTC").tz_localize(None)
        log.loc[hit, "undone_by"] = by
        arrow = pa.Table.from_pandas(log[list(INGEST_TYPES)], preserve_index=False,
                                     schema=pa.schema(list(INGEST_TYPES.items())))
        staged.append((INGESTS, store._stage(
            INGESTS, lambda path: store._write_arrow(INGESTS, arrow, path))))
    except BaseException:
        for _name, path in staged:
            shutil.rmtree(path, ignore_errors=True)
        raise
    for name, path in staged:  # everything is written: put it in place
        store._swap(name, path)
    derived = store._read_json(_DERIVED_LOG)
    for entry in derived.values():
        entry["stale"] = True
    store._write_json(_DERIVED_LOG, derived)
    store._forget(*tables)
    return done


# -- copies of the whole store -----------------------------------------------------------------
def copy_store(store, path: Path) -> Path:
    """The whole store copied to ``path`` (new): a DuckDB file, or on Spark a folder of
    the warehouse's tables with a manifest."""
    if engine_of(store) == "spark":
        return _copy_warehouse(store, path)
    import duckdb

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


def _copy_warehouse(store, path: Path) -> Path:
    from loyalist.store.engine.spark.store import _STAGING

    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    tables = {}
    if store._accounts is not None:  # the accounts' file whole, without its log
        _run(store._accounts, "CHECKPOINT", [])
    try:
        tmp.mkdir(parents=True)
        for entry in sorted(store.warehouse.iterdir()):
            if entry.name == _STAGING:
                continue
            if entry.is_dir():
                shutil.copytree(entry, tmp / entry.name)
                files = [f for f in (tmp / entry.name).rglob("*") if f.is_file()]
                tables[entry.name] = {"files": len(files),
                                      "bytes": sum(f.stat().st_size for f in files)}
            else:
                shutil.copy2(entry, tmp / entry.name)
        (tmp / MANIFEST).write_text(json.dumps({
            "engine": "spark", "made_at": pd.Timestamp.now("UTC").isoformat(),
            "warehouse": str(store.warehouse.resolve()), "tables": tables},
            indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SourceError(f"Could not write the backup {path.name}: {e.strerror or e}",
                          hint="Check the folder exists and is writable.") from None
    return path


def put_backup_in_place(backup_path: Path, store_path: Path) -> Path | None:
    """Put a backup (a DuckDB file, or a Spark warehouse's copy with its manifest) in
    place of the store at ``store_path``; the store replaced is kept beside it. Returns
    the kept copy's path (None when there was none)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if backup_path.is_dir():
        if not (backup_path / MANIFEST).is_file():
            raise SourceError(f"{backup_path} is a folder without {MANIFEST}: not a "
                              "warehouse backup.", hint="Give a folder made by loyalist backup.")
        kept = None
        if store_path.exists():
            kept = store_path.with_name(f"{store_path.name}.before-restore-{stamp}")
            os.replace(store_path, kept)
        tmp = store_path.with_name(f".{store_path.name}.restoring-{os.getpid()}")
        shutil.copytree(backup_path, tmp, ignore=shutil.ignore_patterns(MANIFEST))
        os.replace(tmp, store_path)
        return kept
    import duckdb

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
        kept = store_path.with_name(f"{store_path.stem}.before-restore-{stamp}.duckdb")
        shutil.move(str(store_path), kept)
        wal = store_path.with_name(store_path.name + ".wal")
        if wal.exists():
            shutil.move(str(wal), kept.with_name(kept.name + ".wal"))
    shutil.copyfile(backup_path, store_path)
    return kept
