"""Writes from the web: outcomes of touches and ingests of uploaded exports.

Every write holds the app's write lock (one writer at a time on the store, so
concurrent appends never conflict), is attributed to the signed-in user, lands in the
audit log, and may carry an idempotency key: the same key from the same user returns
the first answer and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from loyalist.store.ingest import IngestResult
from loyalist.web.accounts import User
from loyalist.web.errors import ConflictError, NotFoundError

IDEMPOTENCY = "_loyalist_idempotency"
#: outcomes offered on the forms (the API accepts any short text)
OUTCOMES = ("reached", "no-answer", "saved", "lost", "escalated")
KINDS = ("call", "email", "visit", "letter", "chat")


def fingerprint(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\x1f")
    return h.hexdigest()


def once(state, user: User, key: str | None, fp: str, run):
    """``run()`` unless ``key`` was seen from ``user``; then the first answer, replayed.

    Returns (body, replayed). Call with the write lock held.
    """
    if not key:
        return run(), False
    con = state.store.cursor()
    try:
        rows = con.execute(f"SELECT fingerprint, body FROM {IDEMPOTENCY} WHERE key = ? AND "
                           "user_name = ?", [key, user.name]).fetchall()
        if rows:
            if rows[0][0] != fp:
                raise ConflictError(f"The Idempotency-Key {key!r} was used for a different "
                                    "request.", hint="Use a new key for a new request.")
            return json.loads(rows[0][1]), True
        body = run()
        con.execute(f"INSERT INTO {IDEMPOTENCY} VALUES (?, ?, ?, 200, ?, ?)",
                    [key, user.name, fp, json.dumps(body, default=str),
                     datetime.now(UTC).replace(tzinfo=None)])
        return body, False
    finally:
        con.close()


def log_touch(state, caller, customer_id: str, outcome: str, *, note: str | None = None,
              kind: str = "call", at=None, item_id: str | None = None,
              key: str | None = None) -> tuple[dict, bool]:
    """Append one touch (attributed to the caller) and audit it; returns (body, replayed)."""
    at = pd.Timestamp(at) if at is not None else pd.Timestamp.now(tz="UTC")
    if at.tzinfo is not None:
        at = at.tz_convert("UTC").tz_localize(None)
    fp = fingerprint("touch", customer_id, outcome, note, kind, item_id,
                     at.isoformat() if key is None else "")

    from loyalist.web.context import thread_store

    view = thread_store(state.store)
    c = view.table("customers")
    if not int(c.filter(c.id == customer_id).count().execute()):
        raise NotFoundError(f"No customer {customer_id!r} in the store.",
                            hint="Check the id (search at /customers).")

    def run():
        from loyalist.decisions.worklist import log_outcome

        touch_id = log_outcome(view, customer_id, outcome, note=note, by=caller.user.name,
                               item_id=item_id, kind=kind, at=at)
        state.accounts.audit(caller.user, "touch.log", customer_id,
                             {"touch_id": touch_id, "outcome": outcome, "item_id": item_id},
                             ip=caller.ip)
        return {"ok": True, "touch_id": str(touch_id), "customer_id": customer_id,
                "outcome": outcome, "by": caller.user.name, "at": at.isoformat()}

    with state.write_lock:
        body, replayed = once(state, caller.user, key, fp, run)
    return body, replayed


def result_body(result: IngestResult, rejects: pd.DataFrame) -> dict:
    from loyalist.web.context import records

    return {"ok": True, "ingest_id": int(result.ingest_id), "table": result.table,
            "source": result.source, "rows_read": result.rows_read,
            "accepted": result.accepted, "inserted": result.inserted,
            "updated": result.updated, "unchanged": result.unchanged,
            "rejected": result.rejected, "notes": result.notes,
            "ignored_columns": result.ignored_columns,
            "attributes_added": result.attributes_added,
            "rejects": records(rejects[["line", "column", "reason", "raw"]]
                               if len(rejects) else rejects)}


def ingest_source(state, caller, table: str, source, *, label: str, content: bytes | str,
                  key: str | None = None, **options) -> tuple[dict, bool]:
    """Ingest ``source`` (a path or DataFrame) with the CLI's rules; audit it."""
    fp = fingerprint("ingest", table, json.dumps(options, sort_keys=True, default=str),
                     hashlib.sha256(content if isinstance(content, bytes) else
                                    content.encode()).hexdigest())

    def run():
        result = state.store.ingest(table, source, **options)
        rejects = state.store.rejects(ingest_id=result.ingest_id)
        state.accounts.audit(caller.user, "ingest", table,
                             {"ingest_id": result.ingest_id, "source": label,
                              "rows_read": result.rows_read, "inserted": result.inserted,
                              "rejected": result.rejected}, ip=caller.ip)
        return result_body(result, rejects)

    with state.write_lock:
        body, replayed = once(state, caller.user, key, fp, run)
    state.cache.bump()
    return body, replayed


def ingest_upload(state, caller, table: str, upload, *, key: str | None = None,
                  **options) -> tuple[dict, bool]:
    """Ingest an uploaded file: saved under its own name in a temporary folder first, so
    the quarantine names the file the user sent."""
    name = Path(upload.filename or "upload.csv").name or "upload.csv"
    folder = Path(tempfile.mkdtemp(prefix="loyalist-upload-"))
    try:
        path = folder / name
        content = hashlib.sha256()  # hashed as it is saved: the file is not read back
        with path.open("wb") as f:
            while chunk := upload.file.read(1 << 20):
                content.update(chunk)
                f.write(chunk)
        return ingest_source(state, caller, table, str(path), label=name,
                             content=content.hexdigest(), key=key, **options)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
