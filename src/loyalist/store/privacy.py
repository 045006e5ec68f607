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

Both run on either engine: the export reads every table through Ibis; the erasure is
the engine adapter's :func:`loyalist.store.engine.erase_value`: one transaction on
DuckDB; on a Spark store (which keeps no quarantine, sign-ins or idempotency answers)
each table holding the customer is rewritten without their rows, staged first and then
put in place, and the audit entry appended.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from loyalist.contract.schema import TABLES
from loyalist.errors import DataError
from loyalist.store.council import WITH_CUSTOMER as COUNCIL_TABLES
from loyalist.store.engine import bookkeeping, erase_value, next_numbers, quarantined_naming
from loyalist.store.migrations import ASSIGNMENTS, META_COLUMNS, WORKLIST

AUDIT = "_loyalist_audit"
IDEMPOTENCY = "_loyalist_idempotency"
_META = {c for c, _ in META_COLUMNS}


def _key_column(table: str) -> str:
    return "id" if table == "customers" else "customer_id"


def _derived_with_customers(store) -> list[str]:
    """The derived tables written so far whose rows name a customer."""
    from loyalist.contract.derived import DERIVED as DECLARED

    return sorted(n for n in store.derived_log() if n in DECLARED and "customer_id" in
                  DECLARED[n].names and n in store.tables())


def _contract_targets() -> list[tuple[str, str]]:
    return [(t.name, _key_column(t.name)) for t in TABLES.values()
            if _key_column(t.name) in t.names]


def _known(store, customer_id: str) -> bool:
    for name, col in _contract_targets():
        t = store.table(name)
        if t.filter(t[col] == customer_id).limit(1).count().to_pyarrow().as_py():
            return True
    return False


def _of(table, col: str, customer_id: str):
    return _rows(table.filter(table[col] == customer_id).to_pandas())


def customer_data(store, customer_id: str) -> dict:
    """Every row held about ``customer_id``: contract tables, derived tables, worklist
    events and assignments, the council's records, rejected rows naming them (DuckDB:
    a Spark store keeps no quarantine), as JSON-ready lists of dicts."""
    from loyalist.store.worklist import assignments, events, has_worklist

    customer_id = str(customer_id)
    if not _known(store, customer_id):
        raise DataError(f"No customer {customer_id!r} in the store.",
                        hint="Check the id (loyalist status; search in the web app).")
    out: dict = {"customer_id": customer_id, "tables": {}, "derived": {},
                 "worklist": {}, "rejected_rows": []}
    for name, col in _contract_targets():
        out["tables"][name] = _of(store.table(name), col, customer_id)
    for name in _derived_with_customers(store):
        out["derived"][name] = _of(store.table(name), "customer_id", customer_id)
    worklist = has_worklist(store)
    for name, read in (("events", events), ("assignments", assignments)):
        out["worklist"][name] = _of(read(store), "customer_id", customer_id) if worklist \
            else []
    out["council"] = {}
    for table in COUNCIL_TABLES:
        out["council"][table.removeprefix("_loyalist_council_")] = _of(
            bookkeeping(store, table), "customer_id", customer_id)
    out["rejected_rows"] = _rejected_rows(store, customer_id)
    return out


def _rejected_rows(store, customer_id: str) -> list[dict]:
    """The quarantined rows naming the customer (a Spark store keeps no quarantine)."""
    return _rows(pd.DataFrame(quarantined_naming(store, customer_id)))


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
    if not _known(store, customer_id):
        raise DataError(f"No customer {customer_id!r} in the store.",
                        hint="Check the id (loyalist status; search in the web app).")
    targets = _contract_targets()
    targets += [(n, "customer_id") for n in _derived_with_customers(store)]
    targets += [(WORKLIST, "customer_id"), (ASSIGNMENTS, "customer_id")]
    targets += [(t, "customer_id") for t in COUNCIL_TABLES]
    digest = hashlib.sha256(customer_id.encode()).hexdigest()
    return erase_value(store, targets, customer_id, audit={
        "id": next_numbers(store, f"{AUDIT}_seq", 1)[0],
        "at": pd.Timestamp.now("UTC").tz_localize(None).to_pydatetime(), "user_name": by,
        "action": "customer.erase", "target": f"sha256:{digest[:16]}", "ip": ip})
