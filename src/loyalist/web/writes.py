"""Writes from the web: outcomes of touches and ingests of uploaded exports.

Every write holds the app's write lock (one writer at a time on the store, so
concurrent appends never conflict), is attributed to the signed-in user, lands in the
audit log, and may carry an idempotency key: the same key from the same user returns
the first answer and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from fastapi.responses import JSONResponse

from loyalist.store import IngestResult
from loyalist.store.accounts import User
from loyalist.store.lookups import is_customer
from loyalist.web.errors import ConflictError, NotFoundError

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
    seen = state.accounts.replay(key, user.name)
    if seen is not None:
        if seen[0] != fp:
            raise ConflictError(f"The Idempotency-Key {key!r} was used for a different "
                                "request.", hint="Use a new key for a new request.")
        return seen[1], True
    body = run()
    state.accounts.remember(key, user.name, fp, body)
    return body, False


def write_once(state, caller, key: str | None, fp: str, run) -> tuple[dict, bool]:
    """``run()`` under the app's write lock, once per Idempotency-Key (:func:`once`),
    then the cached summaries made stale (a write changes what they show). Returns
    (body, replayed)."""
    with state.write_lock:
        body, replayed = once(state, caller.user, key, fp, run)
    state.cache.bump()
    return body, replayed


def answer(body: dict, replayed: bool, *, created: bool = False) -> JSONResponse:
    """A write's JSON answer: 201 when ``created`` (200 for a replay), and the header
    ``Idempotent-Replayed: true`` on a replay."""
    return JSONResponse(body, status_code=201 if created and not replayed else 200,
                        headers={"Idempotent-Replayed": "true"} if replayed else None)


def actor(state, caller):
    """Who writes to the worklist (:class:`~loyalist.decisions.worklist.outcomes.Actor`):
    the caller's person, a lead's rights, and whether any agent may close an item."""
    from loyalist.decisions.worklist.outcomes import Actor

    return Actor(caller.user.person, admin=caller.user.can("lead"),
                 any_agent_may_close=state.any_agent_may_close)


def log_touch(state, caller, customer_id: str, outcome: str, *, note: str | None = None,
              kind: str = "call", at=None, item_id: str | None = None, no_item: bool = False,
              key: str | None = None, request_id: str | None = None,
              order_id: str | None = None) -> tuple[dict, bool]:
    """Append one touch (attributed to the caller) and audit it; returns (body, replayed).

    The body names the items the outcome closed; closing another person's item is
    allowed to admins (and to every agent when the worklist settings say so) and is
    audited as such.
    """
    at_text = None if at is None else pd.Timestamp(at).isoformat()
    about = (request_id or "", order_id or "") if request_id or order_id else ()
    fp = fingerprint("touch", customer_id, outcome, note, kind, item_id, no_item, at_text or "",
                     *about)

    from loyalist.web.context import thread_store

    view = thread_store(state.store)
    if not is_customer(view, customer_id):
        raise NotFoundError(f"No customer {customer_id!r} in the store.",
                            hint="Check the id (search at /customers).")
    who = actor(state, caller)

    def run():
        from loyalist.decisions.worklist import log_outcome

        logged = log_outcome(view, customer_id, outcome, note=note, by=caller.user.person,
                             item_id=item_id, no_item=no_item, kind=kind, at=at, actor=who,
                             request_id=request_id, order_id=order_id)
        state.accounts.audit(caller.user, "touch.log", customer_id,
                             {"touch_id": logged.touch_id, "outcome": logged.outcome,
                              "closed": list(logged.closed),
                              "attempted": list(logged.attempted),
                              "closed_for_others": list(logged.closed_for_others)},
                             ip=caller.ip)
        return {"ok": True, "touch_id": logged.touch_id, "customer_id": customer_id,
                "outcome": logged.outcome, "by": caller.user.name,
                "at": logged.at.isoformat(),
                "closed": list(logged.closed), "attempted": list(logged.attempted),
                "still_open": list(logged.still_open), "request_id": logged.request_id,
                "order_id": logged.order_id}

    return write_once(state, caller, key, fp, run)


def result_body(result: IngestResult, rejects: pd.DataFrame) -> dict:
    from loyalist.web.context import records

    return {"ok": True, "ingest_id": int(result.ingest_id), "table": result.table,
            "source": result.source, "rows_read": result.rows_read,
            "accepted": result.accepted, "inserted": result.inserted,
            "updated": result.updated, "unchanged": result.unchanged,
            "rejected": result.rejected, "notes": result.notes,
            "ignored_columns": result.ignored_columns,
            "attributes_added": result.attributes_added,
            "reject_codes": result.reject_codes, "lines": result.lines,
            "rejects": records(rejects[["line", "column", "code", "value", "reason", "raw"]]
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

    return write_once(state, caller, key, fp, run)


def upload_name(filename: str | None) -> str:
    """A safe local name for an uploaded file: its last part only, plain characters, at
    most 100 characters before an extension of at most 10 (the extension tells the
    format)."""
    name = Path(str(filename or "").replace("\\", "/").replace("\x00", "")).name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    clean = re.sub(r"[^A-Za-z0-9._ -]+", "_", stem).strip(" .")[:100] or "upload"
    ext = re.sub(r"[^A-Za-z0-9]+", "", ext)[:10]
    return f"{clean}.{ext}" if ext else clean


def ingest_upload(state, caller, table: str, upload, *, key: str | None = None,
                  **options) -> tuple[dict, bool]:
    """Ingest an uploaded file: saved under its own name in a temporary folder first, so
    the quarantine names the file the user sent."""
    name = upload_name(upload.filename)
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
