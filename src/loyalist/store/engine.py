"""The engine adapter: which engine a store runs on, and what differs between engines.

A store is a DuckDB file (:class:`loyalist.store.Store`, the default) or a Spark
warehouse (:class:`loyalist.store.spark.SparkStore`). Everything over customer rows is
an Ibis expression and runs unchanged on either; what differs is kept here:

- :func:`open_store`: the engine chosen by ``spark=`` or by the ``[engine]`` settings;
- :func:`conform`: a derived table's rows cast to its declared types, as Arrow, checked
  against :mod:`loyalist.contract.derived` before anything is written (both engines);
- :data:`SPARK_TYPES`, :data:`ARROW_TYPES`: the contract's types on Spark and in Arrow;
- :func:`require_duckdb`: the clear error of an operation not available on an engine;
- the bookkeeping tables (worklist events and assignments, the council's records, the
  audit log: declared in :mod:`loyalist.contract.derived`): :func:`bookkeeping` reads
  one, :func:`next_numbers` draws from a sequence, :func:`append_rows` appends to
  several at once (one DuckDB transaction; on Spark, staged and then put in place),
  :func:`remove_rows` takes one customer's rows out of tables (the erasure).
"""

from __future__ import annotations

import pyarrow as pa

from loyalist.contract.derived import Derived, check_writable, get_derived
from loyalist.errors import DataError, NotOnEngineError
from loyalist.store.sql import q, transaction

#: the contract's types (``contract.schema.STORAGE_TYPES`` keys) as Arrow types
ARROW_TYPES = {"string": pa.string(), "timestamp": pa.timestamp("us"), "float": pa.float64(),
               "integer": pa.int64(), "boolean": pa.bool_(), "blob": pa.binary()}
#: the contract's types as Spark SQL type names
SPARK_TYPES = {"string": "string", "timestamp": "timestamp_ntz", "float": "double",
               "integer": "bigint", "boolean": "boolean", "blob": "binary"}


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
    from pathlib import Path

    from loyalist.store.spark import SparkStore

    engine = settings.engine if settings is not None else None
    if engine is not None and engine.warehouse:
        path = engine.warehouse
    elif path is not None and Path(path).suffix == ".duckdb":  # the CLI's default --store
        path = Path(path).with_name("loyalist-warehouse")
    duckdb_only = {"memory_limit", "threads", "lock_timeout"}
    return SparkStore(path, spark=spark, settings=settings,
                      **{k: v for k, v in kwargs.items() if k not in duckdb_only})


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
    DuckDB store deletes in its own transaction (:mod:`loyalist.store.privacy`)."""
    require_spark = engine_of(store) == "spark"
    if not require_spark:
        raise NotOnEngineError("remove_rows (DuckDB deletes in a transaction)", "DuckDB")
    return store.remove_rows(targets, value)


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
    """A raw export read on the driver by the readers (:mod:`loyalist.store.readers`,
    DuckDB's CSV, JSON, Parquet and Excel readers with their line numbers and
    structural rejects), for a store on another engine: ``(con, src, rows)`` where
    ``con`` is a scratch in-memory DuckDB connection holding the source's view (for
    the date-order and attribute-type checks), ``src`` the
    :class:`~loyalist.store.readers.Source` and ``rows`` its raw columns and ``_line`` as
    Arrow. The caller closes ``con`` and unlinks ``src.cleanup``."""
    import duckdb

    from loyalist.store.readers import read_source

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
