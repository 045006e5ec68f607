"""A Spark warehouse's tables in a catalog database (``[engine] database``).

The warehouse's Parquet folders stay the store's own copy (every write is staged, then
put in place by a rename). With a database named, each table folder is also an
*external* table of that database in the session's catalog (``spark_catalog`` unless
the name says ``catalog.database``), so other Spark jobs, SQL users and BI tools read
``loyalist.scores`` or ``loyalist.orders`` by name. After every write the store brings
the catalog up to date: a new folder is registered, a changed one refreshed (Spark
keeps a table's file list until told), and one whose columns changed (an attribute
column added by a load) registered again.

Names are bound, never pasted: the database through ``IDENTIFIER(:name)`` (made by
Ibis, which quotes it), the table names are the store's own.
"""

from __future__ import annotations

import re

from loyalist.errors import DataError

#: a database name: one identifier, or ``catalog.database``
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
#: warehouse folders that are not tables
_NOT_TABLES = ("_staging", "_loyalist_models", "_database")
#: the folder of a database the store makes, for tables made in it by others
_OWN = "_database"


def checked_name(database: str) -> str:
    """``database`` when it is a database name (a DataError saying what is allowed
    otherwise)."""
    if not _NAME.fullmatch(database):
        raise DataError(f"[engine] database {database!r} is not a database name.",
                        hint="Use letters, digits and underscores, not starting with a "
                        "digit (catalog.database to name the catalog).")
    return database


def _full(database: str, name: str) -> str:
    return ".".join(f"`{part}`" for part in [*database.split("."), name])


def table_folders(warehouse) -> list:
    """The warehouse's table folders (each a contract, derived or bookkeeping table
    holding at least one Parquet file)."""
    if not warehouse.is_dir():
        return []
    return sorted(p for p in warehouse.iterdir() if p.is_dir()
                  and not p.name.startswith(".") and p.name not in _NOT_TABLES
                  and any(f.suffix == ".parquet" for f in p.iterdir()))


class Catalog:
    """Keeps the tables of one warehouse registered in one catalog database."""

    def __init__(self, spark, con, database: str, warehouse):
        self.spark = spark
        self.con = con  # the store's Ibis backend on that session
        self.database = checked_name(database)
        self.warehouse = warehouse
        self._seen: dict[str, tuple] = {}  # table: its folder's stamp when published
        self._known: dict[str, tuple[str, list[str]]] = {}  # table: (location, columns)

    def create(self) -> None:
        """The database, made when missing (its own folder, for tables others make in
        it, is ``_database`` in the warehouse), and a DataError when a table of it
        that the store would write keeps its files in another warehouse."""
        *cat, db = self.database.split(".")
        try:  # built by Ibis: the name quoted, the folder a literal
            self.con.create_database(db, catalog=cat[0] if cat else None,
                                     path=(self.warehouse / _OWN).resolve().as_uri(),
                                     force=True)
        except Exception as e:
            from loyalist.store.engine.spark.session import first_line

            raise DataError(f"Cannot make the catalog database {self.database}: "
                            f"{first_line(e)}.", hint="Check [engine] database and the "
                            "session's catalog.") from None
        for name in self.tables():
            if _ours(name):
                self._check_location(name, self._describe(name)[0])

    def _check_location(self, name: str, where: str) -> None:
        """A DataError when catalog table ``name`` keeps its files elsewhere than in
        this warehouse (another warehouse names the same database)."""
        folder = self.warehouse / name
        if _path(where) != str(folder.resolve()):
            raise DataError(f"The catalog table {self.database}.{name} keeps its files in "
                            f"{where}, not in this warehouse ({self.warehouse}).",
                            hint="Give each warehouse its own [engine] database, or drop "
                            "that table from the catalog.")

    def _describe(self, name: str) -> tuple[str, list[str]]:
        """Where catalog table ``name`` keeps its files, and its columns (one catalog
        look-up, no job), remembered until the table is registered again."""
        if name not in self._known:
            rows = self.spark.sql("DESCRIBE TABLE EXTENDED IDENTIFIER(:name)",
                                  args={"name": _full(self.database, name)}).collect()
            columns = []
            for r in rows:  # the columns come first, up to an empty or "#" line
                if not r.col_name or r.col_name.startswith("#"):
                    break
                columns.append(r.col_name)
            where = next((r.data_type for r in rows if r.col_name == "Location"), "")
            self._known[name] = (where, columns)
        return self._known[name]

    def publish(self, stamp) -> list[str]:
        """Register or refresh every table folder whose ``stamp(name)`` changed since it
        was last published; the names done."""
        done = []
        for folder in table_folders(self.warehouse):
            now = stamp(folder.name)
            if now is None or self._seen.get(folder.name) == now:
                continue
            self._one(folder)
            self._seen[folder.name] = now
            done.append(folder.name)
        return done

    def _one(self, folder) -> None:
        """Register table ``folder`` (or refresh it, or register it again when its
        columns changed)."""
        name, full = folder.name, _full(self.database, folder.name)
        if name not in self._known and not self.spark.catalog.tableExists(full):
            self._create(full, folder)
            return
        where, columns = self._describe(name)
        self._check_location(name, where)
        if columns == _columns(folder):
            self.spark.catalog.refreshTable(full)
            return
        self.spark.sql("DROP TABLE IDENTIFIER(:name)", args={"name": full}).collect()
        self._known.pop(name, None)
        self._create(full, folder)

    def _create(self, full: str, folder) -> None:
        self.spark.catalog.createTable(full, path=str(folder.resolve()), source="parquet")

    def tables(self) -> list[str]:
        """The database's tables (names, sorted)."""
        return sorted(t.name for t in self.spark.catalog.listTables(self.database)
                      if not t.isTemporary)


def _ours(name: str) -> bool:
    """Whether a store could write a table of that name (a database may hold others)."""
    from loyalist.contract.derived import DERIVED
    from loyalist.contract.schema import TABLES

    return name in TABLES or name in DERIVED or name.startswith("_loyalist_")


def _columns(folder) -> list[str]:
    """The columns of a table folder's Parquet files (one file's footer)."""
    import pyarrow.parquet as pq

    first = min(f for f in folder.iterdir() if f.suffix == ".parquet")
    return pq.read_schema(first).names


def _path(location: str) -> str:
    """A catalog location as a local path (``file:/x`` -> ``/x``)."""
    return re.sub(r"^file:(//)?", "", location).rstrip("/")
