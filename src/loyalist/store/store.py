"""The store: one DuckDB file holding the contract tables, the ingest log,
the quarantine of rejected rows and the tables models derive.

Reads go through Ibis (:meth:`Store.table`), so the computations built on them run
on DuckDB here and on any other Ibis engine. Writes go through :meth:`Store.ingest`
and :meth:`Store.write_derived`, each one transaction.

One process opens a store file for writing at a time (DuckDB's rule); inside it,
any number of threads read and write through their own cursors (:meth:`cursor`),
which is how the web app and API serve many users on one store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from loyalist.contract.schema import TABLES, get_table
from loyalist.errors import DataError, UnknownTableError
from loyalist.settings import Settings
from loyalist.store import migrations
from loyalist.store.engine import (
    connect_duckdb,
    ibis_on,
    insert_row,
    new_cursor,
    next_numbers,
    put_derived,
    registered_derived,
    utc,
)
from loyalist.store.engine.duckdb.ingest import append_rows, run_ingest
from loyalist.store.ingest.rules import IngestResult
from loyalist.store.migrations import DERIVED, INGESTS, META_COLUMNS, MODELS, REJECTS


def model_listing(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the model registry (id, kind, created_at, info as JSON text) with what
    ``loyalist models`` shows read out of ``info``: data range, rows and metrics. Every
    engine's store lists its models through this."""
    import json

    info = df["info"].map(lambda t: json.loads(t) if isinstance(t, str) and t else {})
    trained = info.map(lambda i: i.get("trained_on") or {})
    df["data_from"] = trained.map(lambda t: t.get("from"))
    df["data_to"] = trained.map(lambda t: t.get("to"))
    df["rows"] = trained.map(lambda t: t.get("rows"))
    df["metrics"] = info.map(lambda i: i.get("metrics") or {})
    return df


class Store:
    """A Loyalist store backed by one DuckDB file.

    Parameters
    ----------
    path : str or Path
        The store file; created if missing. ``":memory:"`` for a throw-away store.
    read_only : bool
        Open without write access (several processes may read at once).
    memory_limit : str
        DuckDB memory budget; larger work spills to a folder next to the store.
    lock_timeout : float
        Seconds to keep retrying when another process holds the file.
    settings : Settings, optional
        The settings in force (default: ``loyalist.toml`` next to the store, read once;
        see :mod:`loyalist.settings`). ``memory_limit`` and ``threads`` default to its
        ``[engine]`` values.
    """

    def __init__(self, path="loyalist.duckdb", *, read_only: bool = False,
                 memory_limit: str | None = None, threads: int | None = None,
                 lock_timeout: float = 5.0, settings: Settings | None = None):
        self.path = str(path)
        self.read_only = read_only
        #: questions compiled once (:mod:`loyalist.store.prepared`), shared by the views
        self.prepared_queries: OrderedDict = OrderedDict()
        self.settings = settings if settings is not None else Settings.load(self.path)
        self._lock = threading.Lock()
        engine = self.settings.engine
        config = {"memory_limit": memory_limit or engine.memory_limit}
        threads = threads or engine.threads
        if threads:
            config["threads"] = threads
        if self.path != ":memory:":
            config["temp_directory"] = str(Path(self.path).with_suffix(".tmp"))
            if not read_only:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        _check_store_file(self.path)
        # timestamps are stored as UTC wall time; offsets in sources convert to it
        self._db = connect_duckdb(self.path, read_only=read_only, config=config,
                                  lock_timeout=lock_timeout)
        if read_only:
            migrations.check_version(self._db, self.path)
        else:
            migrations.migrate(self._db, self.path)
        self.ibis = ibis_on(self._db)

    # -- reading ---------------------------------------------------------
    @property
    def raw(self):
        """The underlying DuckDB connection (engine-specific code only)."""
        return self._db

    def cursor(self):
        """A new DuckDB cursor on the same database, for one thread's own transactions."""
        return new_cursor(self._db)

    def view(self) -> Store:
        """The same store seen through a cursor (and an Ibis backend) of its own, for one
        thread: a DuckDB connection must not be used by two threads at once."""
        import copy

        other = copy.copy(self)
        other._db = utc(new_cursor(self._db))
        other._table_cache = {}  # tables bound to this view's own backend
        other.ibis = ibis_on(other._db)
        return other

    def tables(self) -> list[str]:
        """Names of the contract tables and derived tables in the store."""
        # read on a cursor of its own: the web server's threads share the store, and a
        # read through the shared Ibis backend could miss a table another thread just
        # wrote (seen once in the web team test)
        if self._is_new():
            return list(TABLES)
        return [*TABLES, *registered_derived(self)]

    def _is_new(self) -> bool:
        return migrations.current_version(self._db) == 0

    def table(self, name: str, *, meta: bool = False):
        """The Ibis table ``name`` (a contract table, or a derived one).

        Contract tables come without the bookkeeping columns (``_key``, ``_ingest_id``,
        ``_line``) unless ``meta=True``; those name each row's source and line, which
        is what evidence points at.
        """
        cache = self.__dict__.setdefault("_table_cache", {})
        if (name, meta) in cache:  # a table's columns change only by this store's writes
            return cache[name, meta]
        if name not in TABLES and name not in self.tables():
            raise UnknownTableError(f"No table {name!r} in the store.",
                                    hint=f"Tables: {', '.join(self.tables())}.")
        t = self.ibis.table(name)
        if name in TABLES and not meta:
            t = t.drop(*[c for c, _ in META_COLUMNS])
        cache[name, meta] = t
        return t

    def _forget_tables(self) -> None:
        """Drop the looked-up tables (their columns may have changed) and count one more
        change of the contract tables (see :attr:`data_version`)."""
        self.__dict__.pop("_table_cache", None)
        self.__dict__["_data_version"] = self.data_version + 1

    @property
    def data_version(self) -> int:
        """How many times this store object changed its contract tables (ingest, append,
        undo, erase): what was read from them before is still true while it stays."""
        return self.__dict__.get("_data_version", 0)

    def attributes(self, table: str = "customers") -> dict[str, str]:
        """Extra attribute columns kept for ``table`` and their types."""
        t = self.ibis.table("_loyalist_attributes")
        rows = _rows(t.filter(t.table_name == table).order_by("name").select("name", "type"))
        return {r["name"]: r["type"] for r in rows}

    # -- writing ---------------------------------------------------------
    def ingest(self, table: str, source, mapping=None, *, strict: bool = False,
               header: bool = True, names: list[str] | None = None,
               delimiter: str | None = None, encoding: str | None = None,
               date_format: str | list[str] | None = None, decimal: str = ".",
               sheet: str | int | None = None, format: str | None = None,
               progress: Callable[[str], None] | None = None, lines: bool = False,
               return_prefix: str | None = None) -> IngestResult:
        """Validate ``source`` against the contract of ``table`` and merge it in.

        ``source`` is a path (CSV with any delimiter, Parquet, JSON lines, Excel) or a
        pandas DataFrame / pyarrow Table. ``mapping`` maps contract columns to source
        columns: a dict, ``"customer_id=CustID,ordered_at=Date"`` or a TOML file path.
        All accepted rows land or none do; rejected rows go to the quarantine with
        line, column and reason, and to a CSV file next to the store.

        With ``lines`` (orders only), each row is one line of an order: lines are grouped
        into ``orders`` and kept in ``order_lines``; a negative quantity or amount, or a
        document id starting with ``return_prefix`` (default: the ``[ingest]
        return_prefix`` setting), is a return linked to its order. The amount may be an
        expression of columns: ``{"amount": "Quantity*UnitPrice"}``.
        """
        get_table(table)
        if lines and return_prefix is None:
            from loyalist.settings import Settings

            return_prefix = Settings.load(self).ingest.return_prefix
        self._forget_tables()  # new attribute columns
        con = new_cursor(self._db)  # the DuckDB ingest's own transaction
        try:
            return run_ingest(con, table, source, mapping, rejects_dir=self.rejects_dir,
                              strict=strict, header=header, names=names, delimiter=delimiter,
                              encoding=encoding, date_format=date_format, decimal=decimal,
                              sheet=sheet, format=format, progress=progress, lines=lines,
                              return_prefix=return_prefix or None)
        finally:
            con.close()

    def append(self, table: str, rows: pd.DataFrame, *, source: str = "data frame"
               ) -> IngestResult:
        """Append rows made by code (each with its own ``id``) to contract table
        ``table`` by the ingest's rules, in one transaction; a row that breaks a rule is
        an error and nothing is written (no quarantine). Much cheaper than
        :meth:`ingest` for a few rows: an outcome logged from the app is one."""
        get_table(table)
        self._forget_tables()
        con = new_cursor(self._db)
        try:
            return append_rows(con, table, rows, source=source)
        finally:
            con.close()

    @property
    def rejects_dir(self) -> Path:
        if self.path == ":memory:":
            return Path.cwd() / "loyalist-rejects"
        p = Path(self.path)
        return p.parent / f"{p.stem}-rejects"

    def write_derived(self, name: str, data, *, note: str | None = None) -> None:
        """Replace derived table ``name`` (model output) with ``data`` in one transaction.

        ``name`` must be declared in :mod:`loyalist.contract.derived`; the table gets
        exactly the declared columns, cast to the declared types (optional columns
        missing from ``data`` are empty), so an empty result keeps its types.
        """
        self._derived(name, data, note, append=False)

    def append_derived(self, name: str, data, *, note: str | None = None) -> None:
        """Append ``data`` to derived table ``name`` (created on first use), in one
        transaction. For histories: rows already there are never changed."""
        self._derived(name, data, note, append=True)

    def _derived(self, name: str, data, note: str | None, *, append: bool) -> None:
        self.__dict__.get("_table_cache", {}).pop((name, False), None)
        put_derived(self, name, data, append=append, note=note, log_table=DERIVED)

    def save_model(self, kind: str, model, info: dict | None = None) -> int:
        """Keep a fitted model (an object, pickled; or its bytes) with what it was
        trained on and how well it did; return its id.

        ``info`` should hold ``trained_on`` (``from``, ``to``: the data's date range;
        ``rows``) and ``metrics`` (name -> number): ``loyalist models`` shows both.
        """
        import json
        import pickle

        payload = model if isinstance(model, bytes | bytearray) else pickle.dumps(model)
        model_id = next_numbers(self, f"{MODELS}_seq", 1)[0]
        insert_row(self, MODELS, {"id": model_id, "kind": kind, "created_at": _now(),
                                  "info": json.dumps(info or {}, default=str),
                                  "payload": payload})
        return int(model_id)

    def models(self, kind: str | None = None) -> pd.DataFrame:
        """Fitted models, newest first, without their payload: id, kind, when, the data
        they were trained on (from, to, rows), their metrics, and the whole ``info``."""

        t = self.ibis.table(MODELS)
        if kind:
            t = t.filter(t.kind == kind)
        df = t.select("id", "kind", "created_at", "info").order_by(t.id.desc()).to_pyarrow(
            ).to_pandas()
        return model_listing(df)

    def load_model(self, model_id: int | None = None, *, kind: str | None = None):
        """A fitted model and its info: by id, or the newest of a kind."""
        import json
        import pickle

        t = self.ibis.table(MODELS)
        if model_id is None:
            t = t.filter(t.kind == kind).order_by(t.id.desc()).limit(1)
            what = f"no {kind} model"
            hint = "Fit one first (loyalist score, loyalist value, loyalist route --train)."
        else:
            t = t.filter(t.id == int(model_id))
            what = f"no model {model_id}"
            hint = "See the stored models with loyalist models."
        rows = _rows(t.select("payload", "info"))
        if not rows:
            raise DataError(f"The store has {what}.", hint=hint)
        return pickle.loads(bytes(rows[0]["payload"])), json.loads(rows[0]["info"] or "{}")

    # -- batches and copies ----------------------------------------------------------
    def undo_ingest(self, ingest_id: int, *, by: str | None = None) -> dict:
        """Remove exactly the rows of one ingest and put back what it replaced; the
        derived tables are marked stale. See :mod:`loyalist.store.batches`."""
        from loyalist.store.batches import undo_ingest

        self._forget_tables()
        return undo_ingest(self, ingest_id, by=by)

    def backup(self, path) -> Path:
        """Copy the whole store into a new file (a consistent snapshot)."""
        from loyalist.store.batches import backup

        return backup(self, path)

    # -- one customer's data ---------------------------------------------------------
    def customer_data(self, customer_id: str) -> dict:
        """Everything held about one customer, JSON-ready (a subject-access export)."""
        from loyalist.store.privacy import customer_data

        return customer_data(self, customer_id)

    def erase_customer(self, customer_id: str, *, by: str | None = None,
                       ip: str | None = None) -> dict[str, int]:
        """Erase one customer everywhere, in one transaction; rows removed per table."""
        from loyalist.store.privacy import erase_customer

        self._forget_tables()
        return erase_customer(self, customer_id, by=by, ip=ip)

    # -- inspecting ------------------------------------------------------
    def status(self) -> pd.DataFrame:
        """One row per contract table: rows, date range, ingests, rejected rows."""
        log = self.ibis.table(INGESTS)
        log = log.filter(log.undone_at.isnull())
        log = log.group_by("table_name").aggregate(
            ingests=log.count(), rejected=log.rejected.sum(), last_ingest=log.finished_at.max())
        done = {r["table_name"]: r for r in _rows(log)}
        rows = []
        for t in TABLES.values():
            tb = self.ibis.table(t.name)
            if t.date_column:
                d = tb[t.date_column]
                got = _rows(tb.aggregate(n=tb.count(), lo=d.min(), hi=d.max()))[0]
            else:
                got = {"n": _rows(tb.aggregate(n=tb.count()))[0]["n"], "lo": None, "hi": None}
            g = done.get(t.name, {})
            rows.append({"table": t.name, "rows": got["n"], "from": got["lo"], "to": got["hi"],
                         "ingests": g.get("ingests", 0), "rejected": int(g.get("rejected") or 0),
                         "last_ingest": g.get("last_ingest")})
        return pd.DataFrame(rows)

    def derived_log(self) -> dict[str, dict]:
        """Each derived table written so far: ``{name: {written_at, rows, note}}``."""
        rows = _rows(self.ibis.table(DERIVED).select("name", "written_at", "rows", "note")
                     ) if not self._is_new() else []
        return {r["name"]: {"written_at": r["written_at"], "rows": r["rows"], "note": r["note"]}
                for r in rows}

    def last_ingests(self) -> dict[str, object]:
        """When the last ingest into each contract table finished: ``{table: time}``."""
        t = self.ibis.table(INGESTS)
        return {r["table_name"]: r["last"] for r in _rows(
            t.group_by("table_name").aggregate(last=t.finished_at.max()))}

    def ingests(self) -> pd.DataFrame:
        """The ingest log, newest first."""
        t = self.ibis.table(INGESTS)
        return t.order_by(t.id.desc()).to_pyarrow().to_pandas()

    def rejects(self, ingest_id: int | None = None, table: str | None = None) -> pd.DataFrame:
        """Rejected rows with source, line, column, reason and the raw values."""
        t = self.ibis.table(REJECTS)
        if ingest_id is not None:
            t = t.filter(t.ingest_id == int(ingest_id))
        if table is not None:
            t = t.filter(t.table_name == get_table(table).name)
        return t.order_by(["ingest_id", "line", "column"]).to_pyarrow().to_pandas()

    def schema_version(self) -> int:
        return migrations.current_version(self._db)

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"


def _check_store_file(path: str) -> None:
    """A user's --store that is a folder or some other file (an export given in the wrong
    place) is refused before DuckDB opens it: DuckDB would read it, or write nowhere."""
    if path == ":memory:":
        return
    p = Path(path)
    if p.is_dir():
        raise DataError(f"The store {path} is a folder.",
                        hint=f"Give the store's file, e.g. --store {p / 'loyalist.duckdb'}.")
    if p.is_file() and p.stat().st_size > 0:
        with p.open("rb") as f:
            head = f.read(12)
        if head[8:12] != b"DUCK":
            raise DataError(f"{path} is not a Loyalist store (a DuckDB file).",
                            hint="Pass the store with --store (e.g. loyalist.duckdb); an export "
                            "to load goes after the table: loyalist ingest orders FILE.")


def _now():
    return pd.Timestamp.now("UTC").tz_localize(None).to_pydatetime()


def _rows(expr) -> list[dict]:
    """The rows of a small Ibis expression as dicts of Python values."""
    return expr.to_pyarrow().to_pylist()
