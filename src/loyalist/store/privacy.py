"""One customer's data: everything held about them (export), and erasure.

The erasure removes every row about the customer from the contract tables (touches
included, although they are otherwise append-only), the derived tables, the
worklist's events and assignments, the customer council's records about them (their
membership, attendance, the points they raised, the commitments made to them), the
quarantine (rejected rows whose raw values
name the customer, and the rejects files written from it) and the answers kept for
idempotency keys; audit entries about the customer lose their target. It runs in one
transaction and is itself audited with a digest of the id and the counts only.
Fitted models keep no customer's rows (trees and coefficients), so they are kept.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from loyalist.contract.schema import TABLES
from loyalist.errors import DataError
from loyalist.store.council import WITH_CUSTOMER as COUNCIL_TABLES
from loyalist.store.migrations import (
    ASSIGNMENTS,
    DERIVED,
    INGESTS,
    META_COLUMNS,
    REJECTS,
    WORKLIST,
)
from loyalist.store.sql import q

AUDIT = "_loyalist_audit"
IDEMPOTENCY = "_loyalist_idempotency"
_META = {c for c, _ in META_COLUMNS}


def _key_column(table: str) -> str:
    return "id" if table == "customers" else "customer_id"


def _derived_with_customers(con) -> list[str]:
    names = [r[0] for r in con.execute(f"SELECT name FROM {DERIVED}").fetchall()]
    cols = con.execute("SELECT table_name FROM duckdb_columns() WHERE column_name = "
                       "'customer_id' AND NOT internal AND schema_name = 'main'").fetchall()
    have = {r[0] for r in cols}
    return sorted(n for n in names if n in have)


def _rejects_about(customer_id: str) -> tuple[str, list]:
    """The quarantine rows whose raw values hold the id as one whole value."""
    return (f"SELECT rowid FROM {REJECTS} WHERE raw IS NOT NULL AND list_contains("
            "map_values(TRY_CAST(json_transform(raw, '\"MAP(VARCHAR, VARCHAR)\"') AS "
            "MAP(VARCHAR, VARCHAR))), ?)", [customer_id])


def _known(con, customer_id: str) -> bool:
    for t in TABLES.values():
        col = _key_column(t.name)
        if col in t.names and con.execute(
                f"SELECT 1 FROM {q(t.name)} WHERE {q(col)} = ? LIMIT 1",
                [customer_id]).fetchall():
            return True
    return False


def customer_data(store, customer_id: str) -> dict:
    """Every row held about ``customer_id``: contract tables, derived tables, worklist
    events and assignments, rejected rows naming them (JSON-ready lists of dicts)."""
    customer_id = str(customer_id)
    con = store.cursor()
    try:
        if not _known(con, customer_id):
            raise DataError(f"No customer {customer_id!r} in the store.",
                            hint="Check the id (loyalist status; search in the web app).")
        out: dict = {"customer_id": customer_id, "tables": {}, "derived": {},
                     "worklist": {}, "rejected_rows": []}
        for t in TABLES.values():
            col = _key_column(t.name)
            if col not in t.names:
                continue
            df = con.execute(f"SELECT * EXCLUDE (_key, _ingest_id, _line) FROM {q(t.name)} "
                             f"WHERE {q(col)} = ?", [customer_id]).df()
            out["tables"][t.name] = _rows(df)
        for name in _derived_with_customers(con):
            df = con.execute(f"SELECT * FROM {q(name)} WHERE customer_id = ?",
                             [customer_id]).df()
            out["derived"][name] = _rows(df)
        for name, table in (("events", WORKLIST), ("assignments", ASSIGNMENTS)):
            df = con.execute(f"SELECT * FROM {table} WHERE customer_id = ?",
                             [customer_id]).df()
            out["worklist"][name] = _rows(df)
        out["council"] = {}
        for table in COUNCIL_TABLES:
            df = con.execute(f"SELECT * FROM {q(table)} WHERE customer_id = ?",
                             [customer_id]).df()
            out["council"][table.removeprefix("_loyalist_council_")] = _rows(df)
        sql, params = _rejects_about(customer_id)
        df = con.execute(f"SELECT table_name, source, line, \"column\", code, reason, value, raw "
                         f"FROM {REJECTS} WHERE rowid IN ({sql})", params).df()
        out["rejected_rows"] = _rows(df)
        return out
    finally:
        con.close()


def _rows(df) -> list[dict]:
    return json.loads(df.to_json(orient="records", date_format="iso", date_unit="s",
                                 default_handler=str))


def erase_customer(store, customer_id: str, *, by: str | None = None,
                   ip: str | None = None) -> dict[str, int]:
    """Remove every row about ``customer_id``; returns the rows removed per table.

    One transaction: all of it or nothing. The audit log records the erasure with a
    SHA-256 digest of the id and the counts, never the id itself.
    """
    customer_id = str(customer_id)
    con = store.cursor()
    removed: dict[str, int] = {}
    try:
        if not _known(con, customer_id):
            raise DataError(f"No customer {customer_id!r} in the store.",
                            hint="Check the id (loyalist status; search in the web app).")
        con.execute("BEGIN TRANSACTION")
        try:
            targets = [(t.name, _key_column(t.name)) for t in TABLES.values()
                       if _key_column(t.name) in t.names]
            targets += [(n, "customer_id") for n in _derived_with_customers(con)]
            targets += [(WORKLIST, "customer_id"), (ASSIGNMENTS, "customer_id")]
            targets += [(t, "customer_id") for t in COUNCIL_TABLES]
            for table, col in targets:
                n = con.execute(f"DELETE FROM {q(table)} WHERE {q(col)} = ?",
                                [customer_id]).fetchall()[0][0]
                if n:
                    removed[table] = int(n)
            sql, params = _rejects_about(customer_id)
            ingests = [r[0] for r in con.execute(
                f"SELECT DISTINCT ingest_id FROM {REJECTS} WHERE rowid IN ({sql})",
                params).fetchall()]
            n = con.execute(f"DELETE FROM {REJECTS} WHERE rowid IN ({sql})",
                            params).fetchall()[0][0]
            if n:
                removed[REJECTS] = int(n)
            n = con.execute(f"DELETE FROM {IDEMPOTENCY} WHERE json_extract_string(body, "
                            "'$.customer_id') = ?", [customer_id]).fetchall()[0][0]
            if n:
                removed[IDEMPOTENCY] = int(n)
            n = con.execute(f"UPDATE {AUDIT} SET target = '(erased)', detail = NULL WHERE "
                            "target = ?", [customer_id]).fetchall()[0][0]
            if n:
                removed[AUDIT] = int(n)
            digest = hashlib.sha256(customer_id.encode()).hexdigest()
            con.execute(f"INSERT INTO {AUDIT} VALUES (nextval('{AUDIT}_seq'), "
                        "now()::TIMESTAMP, ?, 'customer.erase', ?, ?, ?)",
                        [by, f"sha256:{digest[:16]}", json.dumps(removed), ip])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        for ingest_id in ingests:
            _rewrite_rejects_file(con, ingest_id)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return removed


def _rewrite_rejects_file(con, ingest_id: int) -> None:
    from loyalist.store.quarantine import write_rejects_file

    row = con.execute(f"SELECT rejects_file FROM {INGESTS} WHERE id = ?", [ingest_id]).fetchall()
    if row and row[0][0] and Path(row[0][0]).exists():
        write_rejects_file(con, ingest_id, Path(row[0][0]))
