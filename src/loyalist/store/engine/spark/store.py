"""A Loyalist store on Apache Spark: the contract and derived tables as Parquet folders
in a warehouse directory, read through Ibis's PySpark backend.

It offers the DuckDB :class:`~loyalist.store.Store`'s reading and derived-table API
(:meth:`SparkStore.table`, :meth:`~SparkStore.write_derived`,
:meth:`~SparkStore.append_derived`, :meth:`~SparkStore.save_model`...), so features,
labels, scoring and the reports run on it unchanged. Contract tables are loaded with
:meth:`SparkStore.load` (a Spark or pandas DataFrame, an Arrow table or a Parquet path
checked against the contract) or copied from a DuckDB store (:meth:`~SparkStore.copy_from`);
the worklist's and the council's bookkeeping tables are Parquet folders too (appended
by :mod:`loyalist.store.engine.spark.rows`), and a customer's export and erasure run here;
raw exports are ingested by :mod:`loyalist.store.engine.spark.ingest` (rejected rows to
the rejects table), exports of order lines (``--lines``) by
:mod:`loyalist.store.engine.spark.lines`; the web app's accounts, whose rows change in
place on every request, live in a small DuckDB file beside the tables
(:meth:`SparkStore.accounts`). With
``[engine] database`` every table is also an external table of that catalog database
(:mod:`loyalist.store.engine.spark.catalog`).

Every write goes to a staging folder first and replaces the table's folder by a rename:
a failed write leaves every table as it was. The warehouse is a folder on a file system
the driver sees (a shared mount on a cluster).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from pathlib import Path

import pandas as pd
import pyarrow as pa

from loyalist.contract.schema import TABLES, get_table
from loyalist.errors import DataError, NotOnEngineError, UnknownTableError
from loyalist.settings import Settings
from loyalist.store.engine import ARROW_TYPES, SPARK_TYPES, conform, is_expression
from loyalist.store.engine.spark import catalog, rows
from loyalist.store.engine.spark import models as spark_models
from loyalist.store.engine.spark.contract import META
from loyalist.store.engine.spark.contract import checked as contract_checked
from loyalist.store.engine.spark.memtables import one_chunk_each
from loyalist.store.engine.spark.session import first_line, start_session

_STAGING = "_staging"
_DERIVED_LOG = "_loyalist_derived.json"
_ATTRIBUTES = "_loyalist_attributes.json"
_MODELS = "_loyalist_models"
#: the web app's accounts (:meth:`SparkStore.accounts`)
ACCOUNTS_FILE = "_loyalist_accounts.duckdb"
#: when :meth:`SparkStore.load` (and so ``copy_from``) last replaced each contract table
_LOADED = "_loyalist_loaded.json"


class SparkStore:
    """A Loyalist store whose tables are Parquet folders in ``warehouse``, computed by
    Spark through Ibis.

    Parameters
    ----------
    warehouse : str or Path, optional
        The warehouse folder (created if missing); default ``[engine] warehouse``, else
        ``loyalist-warehouse`` in the current folder.
    spark : SparkSession, optional
        An existing session; default: one started by the ``[engine]`` settings.
    settings : Settings, optional
        The settings in force (default: ``loyalist.toml`` in the warehouse's parent).
    read_only : bool
        Refuse every write.
    """

    engine = "spark"

    def __init__(self, warehouse=None, *, spark=None, settings: Settings | None = None,
                 read_only: bool = False):
        if warehouse is None:
            warehouse = (settings.engine.warehouse if settings is not None
                         and settings.engine.warehouse else "loyalist-warehouse")
        self.warehouse = Path(warehouse)
        if self.warehouse.exists() and not self.warehouse.is_dir():
            raise DataError(f"The warehouse {warehouse} is a file, not a folder.",
                            hint="Give a folder for the Spark store's tables "
                            "([engine] warehouse).")
        self.path = str(self.warehouse)
        self.settings = settings if settings is not None else Settings.load(
            self.warehouse.parent)
        #: the catalog database the tables are registered in ([engine] database)
        self.database = (catalog.checked_name(self.settings.engine.database)
                         if self.settings.engine.database else None)
        self.read_only = read_only
        self.prepared_queries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.spark = spark if spark is not None else start_session(self.settings)
        try:
            self.spark.conf.set("spark.sql.session.timeZone", "UTC")
            # frames reach the driver as Arrow batches, not as one Python object per
            # value (Spark before 4.2 collects rows unless told: minutes for the
            # features of 100,000 customers)
            self.spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
            self.spark.range(1).count()
        except Exception as e:
            own = spark is None and self.settings.engine.spark_conf
            raise DataError(f"The Spark session cannot be reached: {first_line(e)}.",
                            hint="Check the options of [engine.spark_conf] in "
                            "loyalist.toml." if own else "Pass a running SparkSession "
                            "(spark=...), or leave it out to start one by the [engine] "
                            "settings.") from None
        import ibis

        self.ibis = ibis.pyspark.connect(self.spark)
        self.ibis._register_in_memory_table = one_chunk_each(
            self.ibis._register_in_memory_table)
        if not read_only:
            self.warehouse.mkdir(parents=True, exist_ok=True)
        # each store's views get their own prefix: two stores may share one session
        self._prefix = f"loyalist_{uuid.uuid4().hex[:8]}_"
        self._views: dict[str, tuple[str, tuple | None]] = {}  # name: (view, stamp)
        self._inputs: list[Path] = []
        self._accounts = None  # the accounts' DuckDB file, opened on first use
        self._catalog = None
        if self.database:
            self._catalog = catalog.Catalog(self.spark, self.ibis, self.database,
                                            self.warehouse)
            if not read_only:  # a new session's catalog may not know the tables yet
                self._catalog.create()
                self._publish()

    # -- where things are ------------------------------------------------------------
    def _dir(self, name: str) -> Path:
        return self.warehouse / name

    def _read_json(self, file: str) -> dict:
        p = self.warehouse / file
        return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}

    def _write_json(self, file: str, value: dict) -> None:
        tmp = self.warehouse / f".{file}.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(value, default=str, indent=1), encoding="utf-8")
        os.replace(tmp, self.warehouse / file)

    def _writable(self, operation: str) -> None:
        if self.read_only:
            raise DataError(f"{operation}: the store was opened read-only.",
                            hint="Open it without read_only to write.")

    # -- reading ---------------------------------------------------------------------
    def view(self) -> SparkStore:
        """The store itself: a SparkSession serves many threads."""
        return self

    def tables(self) -> list[str]:
        """Names of the contract tables and derived tables in the store."""
        return [*TABLES, *sorted(self._read_json(_DERIVED_LOG))]

    def attributes(self, table: str = "customers") -> dict[str, str]:
        """Extra attribute columns kept for ``table`` and their types."""
        return dict(self._read_json(_ATTRIBUTES).get(table, {}))

    def _schema(self, name: str) -> str:
        """The Spark DDL schema of table ``name`` as stored."""
        if name in TABLES:
            cols = {c.name: c.type for c in get_table(name).columns}
            cols.update(META)
            cols.update(self.attributes(name))
        else:
            from loyalist.contract.derived import get_derived

            cols = {c.name: c.type for c in get_derived(name).columns}
        return ", ".join(f"`{c}` {SPARK_TYPES[t]}" for c, t in cols.items())

    def _stamp(self, name: str) -> tuple | None:
        """Table ``name``'s folder as it is now (identity and last change; None when
        missing): every write puts a new folder in place or adds a file to one, so a
        write by any store on the warehouse, in this process or another, changes it."""
        try:
            st = os.stat(self._dir(name))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _register(self, name: str) -> str:
        """Table ``name``'s temporary view, (re)read from its folder when the folder
        changed since it was read (Spark lists a folder's files once, when it is read):
        the view's name."""
        stamp = self._stamp(name)
        known = self._views.get(name)
        if known is not None and known[1] == stamp:
            return known[0]
        view = self._prefix + name
        schema = self._schema(name)
        if stamp is not None:
            df = self.spark.read.schema(schema).parquet(str(self._dir(name)))
        else:  # a contract table never loaded: empty, with the contract's columns
            df = self.spark.createDataFrame([], schema)
        df.createOrReplaceTempView(view)
        self._views[name] = (view, stamp)
        return view

    def table(self, name: str, *, meta: bool = False):
        """The Ibis table ``name`` (a contract table, or a derived one); contract tables
        without the bookkeeping columns unless ``meta=True``."""
        if name not in TABLES and name not in self.tables() and not _is_bookkeeping(name):
            raise UnknownTableError(f"No table {name!r} in the store.",
                                    hint=f"Tables: {', '.join(self.tables())}.")
        with self._lock:
            view = self._register(name)
        t = self.ibis.table(view)
        if name in TABLES and not meta:
            t = t.drop(*META)
        return t

    @property
    def data_version(self) -> tuple:
        """The contract tables' folders as they are now (:meth:`_stamp`): what was read
        from them before is still true while this stays equal. A few ``stat`` calls,
        where asking Spark which tables hold rows costs a job."""
        return tuple(self._stamp(name) for name in TABLES)

    # -- loading contract tables ------------------------------------------------------
    def _frame(self, table: str, data):
        """``data`` as a Spark DataFrame."""
        from pyspark.sql import DataFrame

        if isinstance(data, DataFrame):
            return data
        if isinstance(data, str | os.PathLike):
            if not Path(data).exists():
                raise DataError(f"{table}: no file or folder {str(data)!r}.",
                                hint="Give a Parquet file or folder.")
            return self.spark.read.parquet(str(data))
        if isinstance(data, pd.DataFrame):
            data = pa.Table.from_pandas(data, preserve_index=False)
        if not isinstance(data, pa.Table):
            raise DataError(f"{table}: cannot load an object of type {type(data).__name__}.",
                            hint="Pass a Spark or pandas DataFrame, an Arrow table or a "
                            "Parquet path.")
        # through a Parquet file: Spark keeps Arrow's types (no guessing from values)
        import pyarrow.parquet as pq

        spec = get_table(table)
        types = {c.name: ARROW_TYPES[c.type] for c in spec.columns}
        fields = [pa.field(f.name, types.get(f.name, pa.string())) if pa.types.is_null(f.type)
                  else f for f in data.schema]
        data = data.cast(pa.schema(fields))
        path = self.warehouse / _STAGING / f"{table}-input-{uuid.uuid4().hex}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, str(path))
        self._inputs.append(path)
        return self.spark.read.parquet(str(path))

    def load(self, tables: dict) -> dict[str, int]:
        """Replace contract tables with data: ``{table: data}`` where data is a Spark or
        pandas DataFrame, an Arrow table or a Parquet path. Every table is checked
        against the contract first; one that differs is a DataError naming table and
        column, and then nothing is written. Returns the rows loaded per table."""
        self._writable("load")
        checked, staged, counts = {}, {}, {}
        try:
            for table, data in tables.items():
                get_table(table)
                checked[table] = contract_checked(table, self._frame(table, data))
            for table, (df, _attrs) in checked.items():
                staged[table] = self._stage(table, lambda path, df=df: df.write.parquet(path))
                counts[table] = self.spark.read.parquet(str(staged[table])).count()
        except BaseException:
            for path in staged.values():
                shutil.rmtree(path, ignore_errors=True)
            raise
        finally:
            for path in self._inputs:
                path.unlink(missing_ok=True)
            self._inputs.clear()
        attributes = self._read_json(_ATTRIBUTES)
        for table, (_df, attrs) in checked.items():
            attributes[table] = attrs
        for table, path in staged.items():
            self._swap(table, path)
        self._write_json(_ATTRIBUTES, attributes)
        loaded = self._read_json(_LOADED)
        now = pd.Timestamp.now("UTC").tz_localize(None).isoformat()
        loaded.update({table: now for table in staged})
        self._write_json(_LOADED, loaded)
        self._forget(*staged)
        return counts

    def copy_from(self, store, tables=None) -> dict[str, int]:
        """Copy contract tables (default: all) from another store, e.g. a DuckDB store
        that ingested the raw exports, with their bookkeeping columns (each row keeps
        its source line)."""
        names = list(tables or TABLES)
        data = {n: store.table(n, meta=True).to_pyarrow() for n in names}
        return self.load(data)

    # -- writing ---------------------------------------------------------------------
    def _stage(self, name: str, write) -> Path:
        """A new folder under the staging area written by ``write(path)``."""
        path = self.warehouse / _STAGING / f"{name}-{uuid.uuid4().hex}"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write(str(path))
        except BaseException as e:
            shutil.rmtree(path, ignore_errors=True)
            if isinstance(e, Exception) and not isinstance(e, DataError):
                raise DataError(f"Cannot write {name}: {first_line(e)}; nothing was "
                                "changed.", hint="Check the warehouse folder's space and "
                                "permissions.") from None
            raise
        return path

    def _swap(self, name: str, staged: Path) -> None:
        """Put the staged folder in the place of table ``name``'s (two renames)."""
        folder = self._dir(name)
        old = self.warehouse / _STAGING / f"{name}-old-{uuid.uuid4().hex}"
        if folder.exists():
            os.replace(folder, old)
        os.replace(staged, folder)
        shutil.rmtree(old, ignore_errors=True)

    def _forget(self, *names: str) -> None:
        """Tables ``names`` were written: their views go, and the catalog database (if
        any) is brought up to date."""
        self._drop_views(names)
        self._publish()

    def _drop_views(self, names) -> None:
        with self._lock:
            for n in names:
                known = self._views.pop(n, None)
                if known:
                    self.spark.catalog.dropTempView(known[0])

    def _publish(self) -> None:
        """Every table folder written since it was last registered in the catalog
        database, registered or refreshed (:mod:`~loyalist.store.engine.spark.catalog`)."""
        if self._catalog is not None:
            with self._lock:
                self._catalog.publish(self._stamp)

    def catalog_tables(self) -> list[str]:
        """The tables of the store's catalog database (``[engine] database``), each an
        external table over the warehouse folder of the same name; empty without one."""
        return self._catalog.tables() if self._catalog is not None else []

    def _write_arrow(self, name: str, table: pa.Table, path: str) -> None:
        import pyarrow.parquet as pq

        Path(path).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, str(Path(path) / f"part-{uuid.uuid4().hex}.parquet"))

    def _log(self, name: str, note: str | None) -> None:
        rows = self.spark.read.schema(self._schema(name)).parquet(
            str(self._dir(name))).count()
        log = self._read_json(_DERIVED_LOG)
        log[name] = {"written_at": pd.Timestamp.now("UTC").tz_localize(None).isoformat(),
                     "rows": rows, "note": note, "stale": False}
        self._write_json(_DERIVED_LOG, log)

    def to_spark(self, expr):
        """An Ibis expression over this store's tables as a Spark DataFrame (computed
        by the executors when written or collected)."""
        self.ibis._run_pre_execute_hooks(expr)  # memtables become views
        return self.spark.sql(self.ibis.compile(expr))

    def _writer(self, name: str, data):
        """``write(path)`` of ``data`` cast to derived table ``name``'s declared types:
        an Ibis expression is computed and written by Spark (nothing reaches the
        driver), pandas or Arrow rows through :func:`conform`."""
        if not is_expression(data):
            _declared, table = conform(name, data)
            return lambda path: self._write_arrow(name, table, path)
        from pyspark.sql import functions as F

        from loyalist.contract.derived import check_writable

        declared = check_writable(name, data.columns)
        df = self.to_spark(data)
        cols = [(F.col(f"`{c.name}`") if c.name in data.columns else F.lit(None)).cast(
            SPARK_TYPES[c.type]).alias(c.name) for c in declared.columns]
        return lambda path: df.select(*cols).write.parquet(path)

    def write_derived(self, name: str, data, *, note: str | None = None) -> None:
        """Replace derived table ``name`` with ``data`` (pandas, Arrow, or an Ibis
        expression computed by Spark), cast to its declared types; nothing is changed
        when a column does not fit."""
        self._writable(f"write {name}")
        staged = self._stage(name, self._writer(name, data))
        self._swap(name, staged)
        self._forget(name)
        self._log(name, note)

    def append_derived(self, name: str, data, *, note: str | None = None) -> None:
        """Append ``data`` to derived table ``name`` (created on first use); rows
        already there are never changed."""
        self._writable(f"append to {name}")
        staged = self._stage(name, self._writer(name, data))
        folder = self._dir(name)
        if folder.is_dir():
            for part in staged.iterdir():  # each file appears whole, by a rename
                os.replace(part, folder / part.name)
            shutil.rmtree(staged, ignore_errors=True)
        else:
            self._swap(name, staged)
        self._forget(name)
        self._log(name, note)

    def derived_log(self) -> dict[str, dict]:
        """Each derived table written so far: ``{name: {written_at, rows, note}}``."""
        return {n: {"written_at": pd.Timestamp(v["written_at"]), "rows": v["rows"],
                    "note": v["note"]} for n, v in self._read_json(_DERIVED_LOG).items()}

    # -- bookkeeping tables (worklist, council, audit): appended, numbered ----------
    def next_numbers(self, sequence: str, n: int) -> list[int]:
        """``n`` new numbers from ``sequence`` (kept in the warehouse, under a lock)."""
        self._writable(f"draw from {sequence}")
        with self._lock:
            return rows.draw(self, sequence, n)

    def append_bookkeeping(self, batches) -> None:
        """Append each ``(table, frame)`` to its bookkeeping table: every batch is cast
        to the table's declared columns and staged first (a batch that does not fit is
        a DataError, and nothing is written), then each file is put in place."""
        self._writable("append to the bookkeeping tables")
        rows.append(self, batches)

    def remove_rows(self, targets, value) -> dict[str, int]:
        """Rewrite each ``(table, column)`` of ``targets`` without its rows whose
        ``column`` equals ``value`` (one customer's, for the erasure). Every table is
        rewritten to the staging area first and then put in place; returns the rows
        removed per table."""
        self._writable("remove rows")
        staged, removed = rows.stage_without(self, targets, value)
        log = self._read_json(_DERIVED_LOG)
        for table, path in staged:
            self._swap(table, path)
            if table in log:
                log[table]["rows"] -= removed[table]
        self._write_json(_DERIVED_LOG, log)
        self._forget(*removed)
        return removed

    # -- models ----------------------------------------------------------------------
    def _models_dir(self) -> Path:
        return self.warehouse / _MODELS

    def save_model(self, kind: str, model, info: dict | None = None) -> int:
        """Keep a fitted model (pickled, or its bytes) with its info; return its id."""
        self._writable("save a model")
        with self._lock:
            return spark_models.save(self._models_dir(), kind, model, info)

    def models(self, kind: str | None = None) -> pd.DataFrame:
        """Fitted models, newest first, as :meth:`loyalist.store.Store.models`."""
        return spark_models.listing(self._models_dir(), kind)

    def load_model(self, model_id: int | None = None, *, kind: str | None = None):
        """A fitted model and its info: by id, or the newest of a kind."""
        return spark_models.load(self._models_dir(), model_id, kind)

    # -- inspecting ------------------------------------------------------------------
    def status(self) -> pd.DataFrame:
        """One row per contract table: rows, date range, ingests (not undone), rejected
        rows and when its data last changed (an ingest or a :meth:`load`)."""
        from loyalist.store.engine.spark.status import status

        return status(self)

    def last_ingests(self) -> dict[str, object]:
        """When each contract table's data last changed: the last ingest into it that
        finished, or the last :meth:`load` (``copy_from``) that replaced it, whichever
        is later: ``{table: time}``."""
        from loyalist.store.engine.spark.status import last_ingests

        return last_ingests(self, self._read_json(_LOADED))

    def schema_version(self) -> int:
        from loyalist.store.migrations import SCHEMA_VERSION

        return SCHEMA_VERSION

    # -- what only the DuckDB store does ---------------------------------------------
    def _duckdb_only(self, operation: str, hint: str | None = None):
        raise NotOnEngineError(operation, "Spark", hint=hint)

    def ingest(self, table: str, source, mapping=None, **kwargs):
        """Ingest a raw export into contract table ``table`` by the DuckDB store's rules
        (quarantine, keys, all or nothing): :mod:`loyalist.store.engine.spark.ingest`."""
        from loyalist.store.engine.spark.ingest import ingest

        return ingest(self, table, source, mapping, **kwargs)

    def append(self, table: str, rows, *, source: str = "data frame"):
        """Append rows made by code (an outcome logged), as :meth:`Store.append`."""
        from loyalist.store.engine.duckdb.ingest import check_appended
        from loyalist.store.engine.spark.ingest import ingest

        check_appended(table, rows)
        return ingest(self, table, rows, append=True, label=source)

    def undo_ingest(self, ingest_id: int, *, by: str | None = None) -> dict:
        """Remove exactly the rows of one ingest and put back what it replaced (each
        table rewritten, staged, then put in place); the derived tables are marked
        stale. See :mod:`loyalist.store.batches`."""
        from loyalist.store.batches import undo_ingest

        return undo_ingest(self, ingest_id, by=by)

    def backup(self, path) -> Path:
        """Copy the warehouse's tables into a new folder with a manifest."""
        from loyalist.store.batches import backup

        return backup(self, path)

    def customer_data(self, customer_id: str) -> dict:
        """Everything held about one customer, JSON-ready (a subject-access export)."""
        from loyalist.store.privacy import customer_data

        return customer_data(self, customer_id)

    def erase_customer(self, customer_id: str, *, by: str | None = None,
                       ip: str | None = None) -> dict[str, int]:
        """Erase one customer from every table (each rewritten without their rows,
        staged and then put in place) and audit it; rows removed per table."""
        from loyalist.store.privacy import erase_customer

        self._writable("erase a customer")
        return erase_customer(self, customer_id, by=by, ip=ip)

    def ingests(self) -> pd.DataFrame:
        """The ingest log, newest first."""
        from loyalist.store.engine.spark.ingest import INGESTS, read_log

        return read_log(self, INGESTS).sort_values("id", ascending=False, ignore_index=True)

    def rejects(self, ingest_id=None, table=None) -> pd.DataFrame:
        """Rejected rows with source, line, column, reason and the raw values."""
        from loyalist.store.engine.spark.ingest import REJECTS, read_log

        out = read_log(self, REJECTS)
        if ingest_id is not None:
            out = out[out["ingest_id"] == ingest_id]
        if table is not None:
            out = out[out["table_name"] == get_table(table).name]
        return out.sort_values(["ingest_id", "line", "column"], ignore_index=True)

    def accounts(self):
        """The DuckDB store, a file beside the warehouse's tables, that keeps the web
        app's accounts (users, tokens, sessions, sign-in failures, idempotency answers):
        rows changed in place on every request, which Parquet folders do not do. Opened
        on first use, with the warehouse's settings; customer data never goes there."""
        with self._lock:
            if self._accounts is None:
                from loyalist.store.store import Store

                if not self.read_only:
                    self.warehouse.mkdir(parents=True, exist_ok=True)
                self._accounts = Store(self.warehouse / ACCOUNTS_FILE,
                                       read_only=self.read_only, settings=self.settings,
                                       memory_limit="256MB", threads=1)
            return self._accounts

    @property
    def raw(self):
        return self._duckdb_only("A DuckDB connection (store.raw)")

    def cursor(self):
        return self._duckdb_only("A DuckDB cursor (store.cursor())")

    @property
    def rejects_dir(self) -> Path:
        return self.warehouse / "rejects"

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        """Drop the store's views and close the accounts' file (the session stays: it
        may serve others)."""
        self._drop_views(list(self._views))
        if self._accounts is not None:
            self._accounts.close()
            self._accounts = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"SparkStore({self.path!r})"


def _is_bookkeeping(name: str) -> bool:
    from loyalist.contract.derived import DERIVED

    return name in DERIVED and DERIVED[name].bookkeeping and name != _MODELS
