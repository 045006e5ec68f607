"""The DuckDB file's schema: its numbered migrations, in order, and the contract tables
kept in step with the contract (DuckDB only: a Spark warehouse has no schema to migrate;
its tables are written with their declared columns).

Two mechanisms, both run when a DuckDB store is opened for writing:

* numbered migrations (:data:`MIGRATIONS`) for bookkeeping tables and for changes that
  are not plain additions; the store records the last one applied;
* :func:`sync_contract`, which creates every contract table and adds any contract
  column an older store lacks (additive changes need no numbered migration).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from loyalist.contract.schema import TABLES
from loyalist.errors import StoreVersionError
from loyalist.store.engine import transaction
from loyalist.store.names import (
    ASSIGNMENTS,
    ATTRIBUTES,
    COUNCIL_ATTENDANCE,
    COUNCIL_COMMITMENTS,
    COUNCIL_MEETINGS,
    COUNCIL_MEMBERS,
    COUNCIL_POINTS,
    DERIVED,
    INGESTS,
    META,
    META_COLUMNS,
    MODELS,
    REJECTS,
    WORKLIST,
)
from loyalist.store.sql import q


def _v1(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"""
        CREATE SEQUENCE IF NOT EXISTS {INGESTS}_seq START 1;
        CREATE TABLE IF NOT EXISTS {INGESTS} (
            id BIGINT PRIMARY KEY, table_name VARCHAR NOT NULL, source VARCHAR,
            format VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
            rows_read BIGINT, inserted BIGINT, updated BIGINT, unchanged BIGINT,
            rejected BIGINT, options VARCHAR, rejects_file VARCHAR);
        CREATE TABLE IF NOT EXISTS {REJECTS} (
            ingest_id BIGINT NOT NULL, table_name VARCHAR NOT NULL, source VARCHAR,
            line BIGINT, "column" VARCHAR, reason VARCHAR NOT NULL, raw VARCHAR);
        CREATE TABLE IF NOT EXISTS {ATTRIBUTES} (
            table_name VARCHAR NOT NULL, name VARCHAR NOT NULL, type VARCHAR NOT NULL,
            added_by_ingest BIGINT, PRIMARY KEY (table_name, name));
    """)


def _v2(con: duckdb.DuckDBPyConnection) -> None:
    """Derived tables (model outputs) are registered with what produced them."""
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {DERIVED} (
            name VARCHAR PRIMARY KEY, written_at TIMESTAMP, rows BIGINT, note VARCHAR);
    """)


def _v3(con: duckdb.DuckDBPyConnection) -> None:
    """Fitted models, kept so every score can be traced to the model that made it."""
    con.execute(f"""
        CREATE SEQUENCE IF NOT EXISTS {MODELS}_seq START 1;
        CREATE TABLE IF NOT EXISTS {MODELS} (
            id BIGINT PRIMARY KEY, kind VARCHAR NOT NULL, created_at TIMESTAMP,
            info VARCHAR, payload BLOB);
    """)


def _v4(con: duckdb.DuckDBPyConnection) -> None:
    """The worklist: every item's history as append-only events, and the treatment or
    control assignment of each customer per playbook, recorded when it is made."""
    con.execute(f"""
        CREATE SEQUENCE IF NOT EXISTS {WORKLIST}_seq START 1;
        CREATE TABLE IF NOT EXISTS {WORKLIST} (
            event_id BIGINT PRIMARY KEY, item_id VARCHAR NOT NULL, event VARCHAR NOT NULL,
            "at" TIMESTAMP, recorded_at TIMESTAMP, run_id BIGINT, customer_id VARCHAR NOT NULL,
            playbook VARCHAR NOT NULL, reason_kind VARCHAR, must_do BOOLEAN, why VARCHAR,
            evidence VARCHAR, action VARCHAR, script VARCHAR, owner VARCHAR, p_leave DOUBLE,
            value DOUBLE, expected_value_saved DOUBLE, due_at TIMESTAMP, outcome VARCHAR,
            touch_id VARCHAR, note VARCHAR);
        CREATE TABLE IF NOT EXISTS {ASSIGNMENTS} (
            customer_id VARCHAR NOT NULL, playbook VARCHAR NOT NULL, arm VARCHAR NOT NULL,
            assigned_at TIMESTAMP NOT NULL, recorded_at TIMESTAMP, run_id BIGINT,
            share DOUBLE, seed BIGINT, p_leave DOUBLE, value DOUBLE,
            PRIMARY KEY (customer_id, playbook, assigned_at));
    """)


def _v5(con: duckdb.DuckDBPyConnection) -> None:
    """Web accounts: users, API tokens and sessions (hashed at rest), the audit log of
    every write, and the answers kept for idempotency keys."""
    con.execute("""
        CREATE TABLE IF NOT EXISTS _loyalist_users (
            name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, password_hash VARCHAR NOT NULL,
            created_at TIMESTAMP, disabled BOOLEAN DEFAULT false);
        CREATE TABLE IF NOT EXISTS _loyalist_tokens (
            token_hash VARCHAR PRIMARY KEY, user_name VARCHAR NOT NULL, label VARCHAR,
            created_at TIMESTAMP, revoked_at TIMESTAMP);
        CREATE TABLE IF NOT EXISTS _loyalist_sessions (
            id_hash VARCHAR PRIMARY KEY, user_name VARCHAR NOT NULL, csrf VARCHAR NOT NULL,
            created_at TIMESTAMP, expires_at TIMESTAMP);
        CREATE SEQUENCE IF NOT EXISTS _loyalist_audit_seq START 1;
        CREATE TABLE IF NOT EXISTS _loyalist_audit (
            id BIGINT PRIMARY KEY, "at" TIMESTAMP, user_name VARCHAR, action VARCHAR NOT NULL,
            target VARCHAR, detail VARCHAR, ip VARCHAR);
        CREATE TABLE IF NOT EXISTS _loyalist_idempotency (
            key VARCHAR, user_name VARCHAR, fingerprint VARCHAR, status INTEGER,
            body VARCHAR, created_at TIMESTAMP, PRIMARY KEY (key, user_name));
    """)


def _v6(con: duckdb.DuckDBPyConnection) -> None:
    """Failed sign-ins per (account, address), for the back-off; a person link on
    users; a do-not-contact flag on customers is a contract column (synced)."""
    con.execute("""
        CREATE TABLE IF NOT EXISTS _loyalist_signin_failures (
            account VARCHAR NOT NULL, address VARCHAR NOT NULL, failures INTEGER NOT NULL,
            first_at TIMESTAMP, last_at TIMESTAMP, locked_until TIMESTAMP,
            PRIMARY KEY (account, address));
        ALTER TABLE _loyalist_users ADD COLUMN IF NOT EXISTS person VARCHAR;
    """)


def customer_column(columns) -> str | None:
    """The column naming the customer among ``columns`` (``customer_id``; ``id`` in
    ``customers``), or None."""
    return "customer_id" if "customer_id" in columns else None


def index_by_customer(con: duckdb.DuckDBPyConnection, table: str, column: str) -> None:
    """An index on ``table(column)``: one customer's rows are found without reading the
    whole table (a customer page reads a few rows of each table)."""
    con.execute(f"CREATE INDEX IF NOT EXISTS {q(table + '_by_customer')} ON {q(table)} "
                f"({q(column)})")


#: bytes an index by customer takes per row, measured with DuckDB 2.0 (an index of 20M
#: rows naming 200,000 customers: 560 MB on disk, 28 bytes a row), rounded up
INDEX_BYTES_PER_ROW = 32
_UNITS = {"bytes": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def memory_budget(con: duckdb.DuckDBPyConnection) -> float:
    """DuckDB's memory limit in bytes (``current_setting('memory_limit')``, e.g.
    ``1.8 GiB``)."""
    number, _, unit = str(con.execute("SELECT current_setting('memory_limit')"
                                      ).fetchall()[0][0]).strip().partition(" ")
    return float(number) * _UNITS.get(unit.strip().lower() or "bytes", 1)


def fit_customer_index(con: duckdb.DuckDBPyConnection, table: str, adding: int) -> list[str]:
    """Drop ``table``'s index by customer when it would hold more rows (those stored plus
    ``adding``) than half the memory budget can index; the note saying so, or nothing.

    DuckDB keeps such an index whole in memory (it is not spilled like a join or a sort):
    appending 100M orders to an indexed table failed at the commit on a 2 GB budget
    ("Failed to flush table orders during commit: could not allocate block"). The index
    is dropped in a transaction of its own, before the ingest's: dropped inside it, the
    commit still appended to it (DuckDB 2.0). An ingest that fails puts it back
    (:func:`restore_customer_index`). Without the index, a customer's page scans the
    table's customer column instead."""
    name = table + "_by_customer"
    if not con.execute("SELECT count(*) FROM duckdb_indexes() WHERE index_name = ? AND "
                       "table_name = ?", [name, table]).fetchall()[0][0]:
        return []
    rows = con.execute(f"SELECT count(*) FROM {q(table)}").fetchall()[0][0] + adding
    budget = memory_budget(con)
    if rows * INDEX_BYTES_PER_ROW <= budget / 2:
        return []
    con.execute(f"DROP INDEX {q(name)}")
    return [f"{table} would hold {rows:,} rows: its index by customer (for a customer's "
            f"page) would not fit in half the memory budget ({budget / 2**30:.1f} GiB), so "
            "it was dropped; a customer's page reads the whole table instead. Raise the "
            "memory limit ([engine] memory_limit) to keep it."]


def restore_customer_index(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Put back the index by customer that :func:`fit_customer_index` dropped, after an
    ingest that failed (the table holds what it held, and its index fitted then). When
    the database cannot be used any more (a fatal error), the error that got here is
    the one to report: the index is not put back."""
    column = "id" if table == "customers" else customer_column(TABLES[table].names)
    try:
        index_by_customer(con, table, column)
    except duckdb.Error:
        pass


def _customer_indexes(con: duckdb.DuckDBPyConnection) -> None:
    have = _existing_columns(con)
    for t in TABLES.values():
        column = "id" if t.name == "customers" else customer_column(t.names)
        if column and t.name in have:
            index_by_customer(con, t.name, column)


def _v7(con: duckdb.DuckDBPyConnection) -> None:
    """Indexes by customer on the contract tables, the derived tables and the worklist's
    events: one customer's page reads its rows through them instead of scanning every
    table. (Derived tables written later get theirs when written.)"""
    from loyalist.contract.derived import DERIVED as DECLARED

    _customer_indexes(con)
    have = _existing_columns(con)
    for name in DECLARED:
        if "customer_id" in have.get(name, ()):
            index_by_customer(con, name, "customer_id")


def _v8(con: duckdb.DuckDBPyConnection) -> None:
    """Undo: an ingest can be marked undone; derived tables can be marked stale."""
    con.execute(f"""
        ALTER TABLE {INGESTS} ADD COLUMN IF NOT EXISTS undone_at TIMESTAMP;
        ALTER TABLE {INGESTS} ADD COLUMN IF NOT EXISTS undone_by VARCHAR;
        ALTER TABLE {DERIVED} ADD COLUMN IF NOT EXISTS stale BOOLEAN DEFAULT false;
    """)


def _v9(con: duckdb.DuckDBPyConnection) -> None:
    """Rejected values carry a reason code and the offending value in columns of their
    own (the reason words no longer repeat the value)."""
    con.execute(f"""
        ALTER TABLE {REJECTS} ADD COLUMN IF NOT EXISTS code VARCHAR;
        ALTER TABLE {REJECTS} ADD COLUMN IF NOT EXISTS value VARCHAR;
    """)


def _v10(con: duckdb.DuckDBPyConnection) -> None:
    """Worklist items per matter, merged reasons, assignment and snoozing (written so it
    applies whatever migrations come before it: every column is added if missing)."""
    con.execute(f"""
        ALTER TABLE {WORKLIST} ADD COLUMN IF NOT EXISTS matter VARCHAR;
        ALTER TABLE {WORKLIST} ADD COLUMN IF NOT EXISTS also VARCHAR;
        ALTER TABLE {WORKLIST} ADD COLUMN IF NOT EXISTS "until" TIMESTAMP;
        ALTER TABLE {WORKLIST} ADD COLUMN IF NOT EXISTS by_user VARCHAR;
    """)


def _v11(con: duckdb.DuckDBPyConnection) -> None:
    """Survey answers may name the service request they rate (``feedback.request_id``):
    satisfaction credited to the agent who handled it. Stores made before the column
    existed get it here (empty: their answers are credited to no agent)."""
    if "feedback" in _existing_columns(con):
        con.execute("ALTER TABLE feedback ADD COLUMN IF NOT EXISTS request_id VARCHAR")


def _v12(con: duckdb.DuckDBPyConnection) -> None:
    """Keep them informed: a worklist item names the request or order it is about, and
    a touch the request or order it updated the customer on (written so it applies
    whatever migrations come before it: every column is added if missing)."""
    con.execute(f"ALTER TABLE {WORKLIST} ADD COLUMN IF NOT EXISTS matter_id VARCHAR")
    if "touches" in _existing_columns(con):  # a new store gets them from the contract
        con.execute("""
            ALTER TABLE touches ADD COLUMN IF NOT EXISTS request_id VARCHAR;
            ALTER TABLE touches ADD COLUMN IF NOT EXISTS order_id VARCHAR;
        """)


def _v13(con: duckdb.DuckDBPyConnection) -> None:
    """The customer council: append-only records of members (joined, left), meetings,
    attendance, points raised and commitments (made, closed with "you said, we did"),
    each row naming who recorded it and when; one sequence numbers them all."""
    con.execute(f"""
        CREATE SEQUENCE IF NOT EXISTS _loyalist_council_seq START 1;
        CREATE TABLE IF NOT EXISTS {COUNCIL_MEMBERS} (
            event_id BIGINT PRIMARY KEY, customer_id VARCHAR NOT NULL,
            event VARCHAR NOT NULL, "at" TIMESTAMP NOT NULL, why VARCHAR, note VARCHAR,
            recorded_at TIMESTAMP, by_user VARCHAR);
        CREATE TABLE IF NOT EXISTS {COUNCIL_MEETINGS} (
            id VARCHAR PRIMARY KEY, held_at TIMESTAMP NOT NULL, title VARCHAR,
            note VARCHAR, recorded_at TIMESTAMP, by_user VARCHAR);
        CREATE TABLE IF NOT EXISTS {COUNCIL_ATTENDANCE} (
            meeting_id VARCHAR NOT NULL, customer_id VARCHAR NOT NULL,
            recorded_at TIMESTAMP, by_user VARCHAR, PRIMARY KEY (meeting_id, customer_id));
        CREATE TABLE IF NOT EXISTS {COUNCIL_POINTS} (
            id VARCHAR PRIMARY KEY, meeting_id VARCHAR NOT NULL, customer_id VARCHAR,
            text VARCHAR NOT NULL, recorded_at TIMESTAMP, by_user VARCHAR);
        CREATE TABLE IF NOT EXISTS {COUNCIL_COMMITMENTS} (
            event_id BIGINT PRIMARY KEY, commitment_id VARCHAR NOT NULL,
            event VARCHAR NOT NULL, "at" TIMESTAMP NOT NULL, meeting_id VARCHAR,
            point_id VARCHAR, customer_id VARCHAR, text VARCHAR, owner VARCHAR,
            due_at TIMESTAMP, you_said VARCHAR, we_did VARCHAR, recorded_at TIMESTAMP,
            by_user VARCHAR);
        CREATE INDEX IF NOT EXISTS {COUNCIL_MEMBERS}_by_customer
            ON {COUNCIL_MEMBERS} (customer_id);
    """)


#: (version, description, function); append only, never edit a released one
MIGRATIONS: list[tuple[int, str, Callable[[duckdb.DuckDBPyConnection], None]]] = [
    (1, "ingest log, quarantine and attribute registry", _v1),
    (2, "registry of derived tables", _v2),
    (3, "fitted models", _v3),
    (4, "worklist item events and control-group assignments", _v4),
    (5, "web accounts, sessions, tokens, audit log, idempotency keys", _v5),
    (6, "sign-in back-off, a person behind each user", _v6),
    (7, "indexes by customer", _v7),
    (8, "undo of an ingest, stale derived tables", _v8),
    (9, "reason codes and offending values of rejected rows", _v9),
    (10, "worklist matters, merged reasons, assignment and snoozing", _v10),
    (11, "survey answers name the request they rate (feedback.request_id)", _v11),
    (12, "the request or order of a worklist item and of a touch", _v12),
    (13, "the customer council: members, meetings, attendance, points, commitments", _v13),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def table_exists(con, table: str) -> bool:
    """Whether the DuckDB store has a (not temporary) table ``table``."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? "
                            "AND NOT temporary", [table]).fetchall()[0][0])


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    if not table_exists(con, META):
        return 0
    row = con.execute(f"SELECT value FROM {META} WHERE key = 'schema_version'").fetchall()
    row = row[0] if row else None
    return int(row[0]) if row else 0


def check_version(con: duckdb.DuckDBPyConnection, path: str) -> int:
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"The store {path} has schema version {version}; this Loyalist knows up to "
            f"{SCHEMA_VERSION}.", hint="Upgrade Loyalist (pip install -U loyalist).")
    return version


def migrate(con: duckdb.DuckDBPyConnection, path: str, target: int = SCHEMA_VERSION) -> int:
    """Apply pending migrations up to ``target`` in one transaction; return the new version."""
    version = check_version(con, path)
    if version >= target and _contract_in_sync(con):
        return version
    with transaction(con):
        con.execute(f"CREATE TABLE IF NOT EXISTS {META} (key VARCHAR PRIMARY KEY, value VARCHAR)")
        for number, _desc, step in MIGRATIONS:
            if version < number <= target:
                step(con)
                version = number
        con.execute(f"INSERT OR REPLACE INTO {META} VALUES ('schema_version', ?)", [str(version)])
        sync_contract(con)
    return version


def _existing_columns(con) -> dict[str, set[str]]:
    rows = con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                       "WHERE NOT internal AND schema_name = 'main'").fetchall()
    out: dict[str, set[str]] = {}
    for t, c in rows:
        out.setdefault(t, set()).add(c)
    return out


def _contract_in_sync(con) -> bool:
    cols = _existing_columns(con)
    for t in TABLES.values():
        have = cols.get(t.name)
        if have is None or not set(t.names) <= have:
            return False
    return True


def sync_contract(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing contract tables and add missing contract columns."""
    cols = _existing_columns(con)
    created = False
    for t in TABLES.values():
        have = cols.get(t.name)
        if have is None:
            defs = [f"{q(c.name)} {c.storage_type}" for c in t.columns]
            defs += [f"{n} {ty}" for n, ty in META_COLUMNS]
            con.execute(f"CREATE TABLE {q(t.name)} ({', '.join(defs)})")
            created = True
            continue
        for c in t.columns:
            if c.name not in have:
                con.execute(f"ALTER TABLE {q(t.name)} ADD COLUMN {q(c.name)} {c.storage_type}")
    if created and current_version(con) >= 7:
        _customer_indexes(con)
