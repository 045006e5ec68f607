"""The engine adapter: which engine a store runs on, and what differs between engines.

A store is a DuckDB file (:class:`loyalist.store.Store`, the default) or a Spark
warehouse (:class:`loyalist.store.engine.spark.store.SparkStore`). Everything over
customer rows is an Ibis expression and runs unchanged on either; what differs is kept
here:

- :func:`open_store`: the engine chosen by ``spark=`` or by the ``[engine]`` settings;
- :func:`conform`: a derived table's rows cast to its declared types, as Arrow, checked
  against :mod:`loyalist.contract.derived` before anything is written (both engines);
- :data:`SPARK_TYPES`, :data:`ARROW_TYPES`: the contract's types on Spark and in Arrow;
- :func:`require_duckdb`: the clear error of an operation not available on an engine;
- the bookkeeping tables (worklist events and assignments, the council's records, the
  audit log: declared in :mod:`loyalist.contract.derived`): :func:`bookkeeping` reads
  one, :func:`next_numbers` draws from a sequence, :func:`append_rows` appends to
  several at once (one DuckDB transaction; on Spark, staged and then put in place),
  :func:`remove_rows` takes one customer's rows out of tables (the erasure);
- small keyed tables (the web app's accounts, the model registry): :func:`select_rows`,
  :func:`insert_row`, :func:`update_rows`, :func:`delete_rows`, :func:`upsert_row`, each
  a named operation with bound values and quoted names, so no module outside the
  adapter writes SQL for them (:mod:`~loyalist.store.engine.keyed`);
- :func:`transaction`: one all-or-nothing block on a DuckDB connection;
- opening the engine: :func:`connect_duckdb` (the file, its lock, UTC wall time) and
  :func:`ibis_on` (the Ibis backend over a connection); Spark's counterpart is
  :func:`loyalist.store.engine.spark.session.start_session`;
- prepared questions (:mod:`loyalist.store.prepared`): :func:`prepared_arrow` and
  :func:`prepared_rows` run SQL compiled once with bound values on a DuckDB connection
  (:data:`PLAN_OUTDATED`: the errors of a plan whose tables changed); a Spark store runs
  the Ibis expression instead;
- :func:`put_derived`: a derived table replaced or appended to, with its log entry, in
  one transaction (Spark: staged, then put in place); :func:`registered_derived`: the
  DuckDB store's registry of derived tables.

Beside this module, the rest of the adapter, grouped by the engine each module serves:
:mod:`~loyalist.store.engine.keyed` (the small keyed tables' operations, re-exported
here) and :mod:`~loyalist.store.engine.batches` (undo of an ingest, backup and restore)
serve both engines; :mod:`loyalist.store.engine.duckdb` holds the DuckDB side of
ingestion (readers, parsing, the merge in SQL, order lines, the quarantine), the DuckDB
file's schema (numbered migrations and contract sync) and the survey quarantine;
:mod:`loyalist.store.engine.spark` holds the Spark store (warehouse, contract check on
load, ingestion, model files).
"""

from __future__ import annotations

from contextlib import contextmanager

import pyarrow as pa
import pyarrow.compute as pc

from loyalist.contract.derived import Derived, check_writable, get_derived
from loyalist.errors import DataError, NotOnEngineError, StoreLockedError
from loyalist.store.names import DERIVED, INGESTS, REJECTS
from loyalist.store.sql import q

#: the contract's types (``contract.schema.STORAGE_TYPES`` keys) as Arrow types
ARROW_TYPES = {"string": pa.string(), "timestamp": pa.timestamp("us"), "float": pa.float64(),
               "integer": pa.int64(), "boolean": pa.bool_(), "blob": pa.binary()}
#: the contract's types as Spark SQL type names
SPARK_TYPES = {"string": "string", "timestamp": "timestamp_ntz", "float": "double",
               "integer": "bigint", "boolean": "boolean", "blob": "binary"}


@contextmanager
def transaction(con):
    """``BEGIN``, then ``COMMIT`` when the block ends, ``ROLLBACK`` (and the error again)
    when it raises: the one shape of every all-or-nothing write on a DuckDB connection.
    (Spark has no multi-table transaction: its writes are staged, then put in place.)"""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise


def rollback(con) -> None:
    """``ROLLBACK`` after a failed write. When DuckDB has already ended the transaction
    (a failed ``COMMIT`` aborts it; a fatal error invalidates the database), the rollback
    fails too: the error that got here is the one to report, not the rollback's ("no
    transaction is active" hid an out-of-memory error at 100M orders)."""
    import duckdb

    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def is_expression(data) -> bool:
    """Whether ``data`` is an Ibis table expression (computed by the store's engine)
    rather than rows held by Python (pandas, Arrow)."""
    import ibis.expr.types as ir

    return isinstance(data, ir.Table)


def engine_of(store) -> str:
    """``"duckdb"`` or ``"spark"``."""
    return getattr(store, "engine", "duckdb")


def require_duckdb(store, operation: str, hint: str | None = None) -> None:
    """Raise :class:`NotOnEngineError` naming ``operation`` unless ``store`` is DuckDB."""
    if engine_of(store) != "duckdb":
        raise NotOnEngineError(operation, engine_of(store).capitalize(), hint=hint)


def open_store(path=None, *, spark=None, settings=None, **kwargs):
    """The store at ``path`` on the engine chosen: Spark when ``spark`` (a
    ``SparkSession``) is given or the settings say ``[engine] kind = "spark"``, else the
    DuckDB file ``path``."""
    from loyalist.settings import Settings

    if spark is None:
        settings = settings if settings is not None else Settings.load(
            path if path is not None else "loyalist.duckdb")
        if settings.engine.kind != "spark":
            from loyalist.store.store import Store

            return Store("loyalist.duckdb" if path is None else path, settings=settings,
                         **kwargs)
    from loyalist.store.engine.spark.store import SparkStore

    path = _warehouse(path, settings)
    duckdb_only = {"memory_limit", "threads", "lock_timeout"}
    return SparkStore(path, spark=spark, settings=settings,
                      **{k: v for k, v in kwargs.items() if k not in duckdb_only})


def _warehouse(path, settings):
    """The warehouse folder of a Spark store named ``path`` under ``settings``."""
    from pathlib import Path

    engine = settings.engine if settings is not None else None
    if engine is not None and engine.warehouse:
        return engine.warehouse
    if path is not None and Path(path).suffix == ".duckdb":  # the CLI's default --store
        return Path(path).with_name("loyalist-warehouse")
    return path


def location(path) -> tuple[str, str]:
    """Which engine the store ``path`` names under its settings, and where it lives:
    ``("duckdb", the file)`` or ``("spark", the warehouse folder)``; nothing is opened."""
    from loyalist.settings import Settings

    settings = Settings.load(path)
    if settings.engine.kind != "spark":
        return "duckdb", str(path)
    return "spark", str(_warehouse(path, settings))


def bookkeeping(store, name: str):
    """Bookkeeping table ``name`` (declared in :mod:`loyalist.contract.derived`) as an
    Ibis table. On Spark a table never written is empty, with its declared columns."""
    if engine_of(store) == "spark":
        return store.table(name)
    return store.ibis.table(name)


def next_numbers(store, sequence: str, n: int) -> list[int]:
    """``n`` new numbers from ``sequence`` (e.g. ``_loyalist_worklist_seq``), increasing;
    a number drawn is never drawn again, even when what it numbered is not written."""
    if n <= 0:
        return []
    if engine_of(store) == "spark":
        return store.next_numbers(sequence, n)
    con = store.cursor()
    try:
        rows = con.execute("SELECT nextval(?) FROM range(?)", [sequence, int(n)]).fetchall()
    finally:
        con.close()
    return [int(r[0]) for r in rows]


def append_rows(store, batches) -> dict[str, int]:
    """Append each ``(table, frame)`` of ``batches`` to its bookkeeping table, all or
    nothing: one transaction on DuckDB; on Spark every batch is staged first, then put
    in place. Values are never put into SQL text. Returns the rows appended per table."""
    batches = [(t, f) for t, f in batches if f is not None and len(f)]
    written: dict[str, int] = {}
    for table, frame in batches:
        get_derived(table)  # a declared table, or a DataError naming it
        written[table] = written.get(table, 0) + len(frame)
    if not batches:
        return written
    if engine_of(store) == "spark":
        store.append_bookkeeping(batches)
        return written
    con = store.cursor()
    try:
        with transaction(con):
            for i, (table, frame) in enumerate(batches):
                src = f"_loyalist_append_{i}"
                con.register(src, frame)
                cols = ", ".join(q(c) for c in frame.columns)
                con.execute(f"INSERT INTO {q(table)} ({cols}) SELECT {cols} FROM {q(src)}")
                con.unregister(src)
    finally:
        con.close()
    return written


def remove_rows(store, targets, value) -> dict[str, int]:
    """Spark: rewrite each ``(table, column)`` of ``targets`` without the rows whose
    ``column`` is ``value`` (staged, then put in place); rows removed per table. The
    DuckDB store deletes in a transaction (:func:`erase_value`, :func:`delete_rows`)."""
    require_spark = engine_of(store) == "spark"
    if not require_spark:
        raise NotOnEngineError("remove_rows (DuckDB deletes in a transaction)", "DuckDB")
    return store.remove_rows(targets, value)


_IDEMPOTENCY = "_loyalist_idempotency"
_AUDIT = "_loyalist_audit"
_REJECT_FIELDS = ("table_name", "source", "line", "column", "code", "reason", "value", "raw")


def _naming(value) -> tuple[str, list]:
    """The rowids of the quarantine's rows whose raw values hold ``value`` as one whole
    value (the quarantine is a DuckDB store's own)."""
    return (f"SELECT rowid FROM {REJECTS} WHERE raw IS NOT NULL AND list_contains("
            "map_values(TRY_CAST(json_transform(raw, '\"MAP(VARCHAR, VARCHAR)\"') AS "
            "MAP(VARCHAR, VARCHAR))), ?)", [value])


def quarantined_naming(store, value: str) -> list[dict]:
    """The rejected rows (table, source, line, column, code, reason, value, raw) whose
    raw values hold ``value``. A Spark store keeps no quarantine: none."""
    if engine_of(store) == "spark":
        return []
    sql, params = _naming(value)
    rows = _run(store, f"SELECT {', '.join(q(c) for c in _REJECT_FIELDS)} FROM {REJECTS} "
                f"WHERE rowid IN ({sql})", params)
    return [dict(zip(_REJECT_FIELDS, r, strict=True)) for r in rows]


def erase_value(store, targets, value: str, *, audit: dict) -> dict[str, int]:
    """Remove the rows whose ``column`` is ``value`` from each ``(table, column)`` of
    ``targets``, everything else the store keeps naming it, and append ``audit`` (a row
    of the audit log; its ``detail`` becomes the counts): all of it or nothing. Rows
    removed per table.

    DuckDB: one transaction, which also takes the value out of the quarantine (and
    rewrites the rejects files it came from), out of the answers kept for idempotency
    keys, and out of the targets of audit entries. Spark (which keeps none of those):
    every table is rewritten without the rows, staged first, then put in place."""
    import json

    import pandas as pd

    if engine_of(store) == "spark":
        removed = remove_rows(store, targets, value)
        append_rows(store, [(_AUDIT, pd.DataFrame([{**audit, "detail": json.dumps(removed)}]))])
        return removed
    removed: dict[str, int] = {}

    def count(table, n):
        if n:
            removed[table] = int(n)

    con = store.cursor()
    try:
        with transaction(con):
            for table, col in targets:
                count(table, con.execute(f"DELETE FROM {q(table)} WHERE {q(col)} = ?",
                                         [value]).fetchall()[0][0])
            sql, params = _naming(value)
            ingests = [r[0] for r in con.execute(
                f"SELECT DISTINCT ingest_id FROM {REJECTS} WHERE rowid IN ({sql})",
                params).fetchall()]
            count(REJECTS, con.execute(f"DELETE FROM {REJECTS} WHERE rowid IN ({sql})",
                                        params).fetchall()[0][0])
            count(_IDEMPOTENCY, con.execute(
                f"DELETE FROM {_IDEMPOTENCY} WHERE json_extract_string(body, "
                "'$.customer_id') = ?", [value]).fetchall()[0][0])
            count(_AUDIT, con.execute(f"UPDATE {_AUDIT} SET target = '(erased)', detail = "
                                      "NULL WHERE target = ?", [value]).fetchall()[0][0])
            row = {**audit, "detail": json.dumps(removed)}
            con.execute(f"INSERT INTO {_AUDIT} ({', '.join(q(c) for c in row)}) VALUES "
                        f"({', '.join('?' for _ in row)})", list(row.values()))
        for ingest_id in ingests:
            _rewrite_rejects_file(con, ingest_id)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return removed


def _rewrite_rejects_file(con, ingest_id: int) -> None:
    from pathlib import Path

    from loyalist.store.engine.duckdb.quarantine import write_rejects_file

    row = con.execute(f"SELECT rejects_file FROM {INGESTS} WHERE id = ?",
                      [ingest_id]).fetchall()
    if row and row[0][0] and Path(row[0][0]).exists():
        write_rejects_file(con, ingest_id, Path(row[0][0]))


def _run(store, sql: str, params) -> list[tuple]:
    """One statement on a cursor of its own (threads of the web server share the store)."""
    con = store.cursor()
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def registered_derived(store) -> list[str]:
    """The derived tables in a DuckDB store's registry, by name; read on a cursor of its
    own (the web server's threads share the store, and a read through the shared Ibis
    backend could miss a table another thread just wrote). Spark: ``store.tables()``."""
    return [r[0] for r in _run(store, f"SELECT name FROM {DERIVED} ORDER BY name", [])]


def conform(name: str, data, *, bookkeeping: bool = False) -> tuple[Derived, pa.Table]:
    """Derived table ``name``'s declaration and ``data`` (a pandas DataFrame, an Arrow
    table or an Ibis expression, computed) as an Arrow table of exactly the declared columns in their declared types
    (optional columns missing from ``data`` are empty). Nothing is written: a column
    that does not fit its type is a DataError naming table and column."""
    if is_expression(data):
        table = data.to_pyarrow()
    elif isinstance(data, pa.Table):
        table = data
    else:
        try:
            table = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise DataError(f"Cannot write {name}: {e}; nothing was changed.",
                            hint="Make each column hold one type.") from None
    declared = check_writable(name, table.column_names, bookkeeping=bookkeeping)
    n = table.num_rows
    columns = []
    for c in declared.columns:
        want = ARROW_TYPES[c.type]
        if c.name not in table.column_names:
            columns.append(pa.nulls(n, want))
            continue
        col = table.column(c.name)
        try:
            if pa.types.is_timestamp(col.type) and col.type.unit == "ns":
                # a time to the nanosecond (pandas') is kept to the microsecond, the
                # unit of every engine's timestamps, instead of refusing the cast
                col = pc.round_temporal(col, unit="microsecond")
            if pa.types.is_timestamp(col.type) and col.type.tz is not None:
                col = col.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
            elif pa.types.is_null(col.type) or pa.types.is_dictionary(col.type):
                col = col.cast(want if pa.types.is_null(col.type) else col.type.value_type)
            columns.append(col.cast(want))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
            raise DataError(f"Cannot write {name}: column {c.name} ({col.type}) is not "
                            f"{c.type}: {str(e).splitlines()[0]}; nothing was changed.",
                            hint="Give each column the type declared in "
                            "loyalist.contract.derived (docs/derived-tables.md).") from None
    return declared, pa.table(columns, names=list(declared.names))


def read_export(source, **options):
    """A raw export read on the driver by the readers
    (:mod:`loyalist.store.engine.duckdb.readers`, DuckDB's CSV, JSON, Parquet and Excel
    readers with their line numbers and structural rejects), for a store on another
    engine: ``(con, src, rows)`` where ``con`` is a scratch in-memory DuckDB connection
    holding the source's view (for the date-order and attribute-type checks), ``src``
    the :class:`~loyalist.store.engine.duckdb.readers.Source` and ``rows`` its raw
    columns and ``_line`` as Arrow. The caller closes ``con`` and unlinks ``src.cleanup``."""
    import duckdb

    from loyalist.store.engine.duckdb.readers import read_source

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        src = read_source(con, source, **options)
        cols = ", ".join(q(c) for c in ["_line", *src.columns])
        rows = con.sql(f"SELECT {cols} FROM {src.name} ORDER BY _line").to_arrow_table()
    except BaseException:
        con.close()
        raise
    return con, src, rows
# -- opening and writing a DuckDB store ---------------------------------------------------
def connect_duckdb(path: str, *, read_only: bool, config: dict, lock_timeout: float):
    """The DuckDB connection of store file ``path`` (timestamps as UTC wall time),
    retrying for ``lock_timeout`` seconds while another process holds the file."""
    import re
    import time
    from pathlib import Path

    import duckdb

    deadline = time.monotonic() + lock_timeout
    while True:
        try:
            con = duckdb.connect(path, read_only=read_only, config=config)
            break
        except duckdb.IOException as e:
            text = str(e)
            if "lock" not in text.lower():
                if read_only and not Path(path).exists():
                    raise DataError(f"No store at {path}.",
                                    hint="Run `loyalist ingest` or `loyalist demo` first, "
                                    "or pass --store.") from None
                raise DataError(f"Cannot open the store {path}: {text}",
                                hint="The file may be damaged or cut short: restore it "
                                "from a backup, or pass another --store.") from None
            if time.monotonic() > deadline:
                holder = re.search(r"(PID \d+)", text)
                raise StoreLockedError(
                    f"The store {path} is in use by another process"
                    + (f" ({holder.group(1)})" if holder else "") + ".",
                    hint="Wait for it to finish or stop it (a running `loyalist serve` "
                    "holds the store: use its API or web page instead).") from None
            time.sleep(0.2)
    return utc(con)


def utc(con):
    """``con`` (a DuckDB connection or cursor) reading and writing UTC wall time."""
    con.execute("SET TimeZone = 'UTC'")
    return con


def new_cursor(con):
    """A cursor of its own on DuckDB connection ``con`` (one thread's transactions)."""
    return con.cursor()


def ibis_on(con):
    """The Ibis backend over DuckDB connection ``con``: everything else reads through it."""
    import ibis

    return ibis.duckdb.from_connection(con)


def put_derived(store, name: str, data, *, append: bool, note: str | None,
                log_table: str) -> None:
    """Replace derived table ``name`` with ``data`` (or append to it, creating it on first
    use), cast to its declared types, indexed by customer, logged in ``log_table``: one
    transaction. Spark stores write their own (:meth:`SparkStore.write_derived`)."""
    import duckdb

    from loyalist.store.engine.duckdb.schema import customer_column, index_by_customer

    if engine_of(store) == "spark":
        (store.append_derived if append else store.write_derived)(name, data, note=note)
        return
    if is_expression(data):  # computed by DuckDB, handed over as Arrow
        data = data.to_pyarrow()
    con = store.cursor()
    try:
        con.register("_loyalist_derived_src", data)
        given = [r[0] for r in con.execute("DESCRIBE _loyalist_derived_src").fetchall()]
        declared = check_writable(name, given)
        types = declared.storage_types()
        cols = ", ".join(f"CAST({q(c) if c in given else 'NULL'} AS {types[c]}) AS {q(c)}"
                         for c in declared.names)
        src = f"(SELECT {cols} FROM _loyalist_derived_src)"
        statements = [f"CREATE TABLE IF NOT EXISTS {q(name)} AS SELECT * FROM {src} LIMIT 0",
                      f"INSERT INTO {q(name)} BY NAME SELECT * FROM {src}"] if append else [
            f"CREATE OR REPLACE TABLE {q(name)} AS SELECT * FROM {src}"]
        try:
            with transaction(con):
                for sql in statements:
                    con.execute(sql)
                column = customer_column(declared.names)
                if column:
                    index_by_customer(con, name, column)
                n = con.execute(f"SELECT count(*) FROM {q(name)}").fetchall()[0][0]
                con.execute(f"INSERT OR REPLACE INTO {q(log_table)} (name, written_at, rows, "
                            "note, stale) VALUES (?, now()::TIMESTAMP, ?, ?, false)",
                            [name, n, note])
        except duckdb.Error as e:
            raise DataError(f"Cannot write {name}: {str(e).splitlines()[0]}; nothing "
                            "was changed.", hint="Give each column the type declared in "
                            "loyalist.contract.derived (docs/derived-tables.md).") from None
    finally:
        con.close()


# -- prepared questions (DuckDB: SQL compiled once, values bound) --------------------------
def _plan_outdated() -> tuple[type[Exception], ...]:
    import duckdb

    return duckdb.CatalogException, duckdb.BinderException


#: what a prepared question raises when a table it reads was replaced with other columns
PLAN_OUTDATED = _plan_outdated()


def prepared_arrow(con, sql: str, bound: dict) -> pa.Table:
    """The answer of prepared ``sql`` with ``bound`` values, as Arrow with DuckDB's types."""
    return con.sql(sql, params=bound).to_arrow_table()


def prepared_rows(con, sql: str, bound: dict) -> list[dict]:
    """The answer as dicts: no Arrow or pandas in between (the cheapest for a few rows)."""
    cur = con.execute(sql, bound)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# the small keyed tables' operations (kept in a module of their own)
from loyalist.store.engine.keyed import (  # noqa: E402, F401
    delete_rows,
    insert_row,
    select_rows,
    update_rows,
    upsert_row,
)
