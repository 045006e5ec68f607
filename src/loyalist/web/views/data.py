"""Data: what is loaded and when, rejected rows with their reasons, and ingestion of
new exports (JSON rows or an uploaded file) under the same rules as ``loyalist ingest``."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import pandas as pd
from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from loyalist.contract.schema import TABLES, get_table
from loyalist.web.auth import Caller, check_csrf, need
from loyalist.web.context import Limit, Offset, paged, records, thread_store
from loyalist.web.pages import html
from loyalist.web.writes import answer, ingest_source, ingest_upload

router = APIRouter()
#: the contract tables, as the schema's enum of ingestible tables
TableName = Enum("TableName", {t: t for t in TABLES}, type=str)


def data_overview(store, ingest_id: int | None = None) -> dict:
    """Tables with rows and date ranges, the latest ingests, and rejected rows of one
    ingest (the given one, else the latest that rejected any)."""
    status = store.status()
    ingests = store.ingests().drop(columns=["options"], errors="ignore")
    if ingest_id is None and len(ingests) and (ingests["rejected"] > 0).any():
        ingest_id = int(ingests.loc[ingests["rejected"] > 0, "id"].iloc[0])
    rejects = store.rejects(ingest_id=ingest_id) if ingest_id is not None else None
    shown = ingests[ingests["id"] == ingest_id] if ingest_id is not None else ingests.head(0)
    return {"ok": True, "tables": records(status), "ingests": records(ingests.head(20)),
            "ingest": records(shown)[0] if len(shown) else None,
            "rejects": records(rejects.head(500) if rejects is not None else None),
            "rejects_total": 0 if rejects is None else len(rejects),
            "contract_tables": list(TABLES)}


def _options(mapping: str | None, strict: bool, delimiter: str | None,
             date_format: str | None, lines: bool = False,
             return_prefix: str | None = None) -> dict:
    opts: dict[str, Any] = {"strict": strict}
    if lines:  # one row per order line (orders only)
        opts["lines"] = True
        if return_prefix:
            opts["return_prefix"] = return_prefix
    if mapping:
        opts["mapping"] = mapping
    if delimiter:
        opts["delimiter"] = delimiter
    if date_format:
        opts["date_format"] = date_format
    return opts


def _frame(rows: list[dict]) -> pd.DataFrame:
    """JSON rows as text columns, so they are parsed and checked exactly like a CSV."""
    def text(v):
        if v is None:
            return None
        if isinstance(v, dict | list):
            return json.dumps(v)
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    return pd.DataFrame([{str(k): text(v) for k, v in r.items()} for r in rows], dtype=object)


class RowsIn(BaseModel):
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)
    mapping: str | None = Field(None, max_length=5000,
                                description="contract=source pairs, e.g. customer_id=CustID")
    strict: bool = Field(False, description="Reject rows whose customer is unknown.")
    date_format: str | None = Field(None, max_length=100)


@router.post("/api/ingest/{table}", tags=["data"], status_code=201)
def api_ingest_rows(request: Request, table: TableName, body: RowsIn,
                    caller: Caller = Depends(need("admin"))):
    """Ingest JSON rows into a contract table: good rows land, bad ones are returned with
    their reasons (and kept in the quarantine). Honours Idempotency-Key."""
    opts = _options(body.mapping, body.strict, None, body.date_format)
    content = json.dumps(body.rows, sort_keys=True, default=str)
    result, replayed = ingest_source(request.app.state, caller, table.value, _frame(body.rows),
                                     label="api rows", content=content,
                                     key=request.headers.get("idempotency-key"), **opts)
    return answer(result, replayed, created=True)


@router.post("/api/ingest/{table}/file", tags=["data"], status_code=201)
def api_ingest_file(request: Request, table: TableName, file: UploadFile = File(...),
                    mapping: str | None = Form(None, max_length=5000),
                    strict: bool = Form(False), delimiter: str | None = Form(None, max_length=3),
                    date_format: str | None = Form(None, max_length=100),
                    lines: bool = Form(False),
                    return_prefix: str | None = Form(None, max_length=20),
                    caller: Caller = Depends(need("admin"))):
    """Ingest an uploaded export (CSV, Parquet, JSON lines, Excel) like `loyalist ingest`
    (``lines``: one row per order line, like --lines). Honours Idempotency-Key; the
    same file twice adds nothing (rows are keyed)."""
    result, replayed = ingest_upload(request.app.state, caller, table.value, file,
                                     key=request.headers.get("idempotency-key"),
                                     **_options(mapping, strict, delimiter, date_format,
                                                lines, return_prefix))
    return answer(result, replayed, created=True)


@router.post("/api/ingests/{ingest_id}/undo", tags=["data"])
def api_undo(request: Request, ingest_id: int = Path(..., ge=1, le=2**62),
             caller: Caller = Depends(need("admin"))):
    """Remove exactly the rows of one ingest and put back what it replaced; the derived
    tables are marked stale until the next score."""
    state = request.app.state
    with state.write_lock:
        done = state.store.undo_ingest(ingest_id, by=caller.user.name)
    state.cache.bump()
    return {"ok": True, "ingest_id": ingest_id, **done}


@router.post("/api/backup", tags=["data"], status_code=201)
def api_backup(request: Request, caller: Caller = Depends(need("admin"))):
    """Copy the whole store into a new file in the ``backups`` folder next to it (a
    consistent snapshot taken by the running app); returns its name and size."""
    import time
    from pathlib import Path as FilePath

    state = request.app.state
    folder = FilePath(state.store.path).parent / "backups"
    name = f"{FilePath(state.store.path).stem}-{time.strftime('%Y%m%d-%H%M%S')}.duckdb"
    with state.write_lock:
        path = state.store.backup(folder / name)
    state.accounts.audit(caller.user, "backup", name, None, ip=caller.ip)
    return JSONResponse({"ok": True, "file": name, "folder": "backups",
                         "bytes": path.stat().st_size}, status_code=201)


@router.get("/api/rejects", tags=["data"])
def api_rejects(request: Request, ingest_id: int | None = Query(None, ge=0, le=2**62),
                table: str | None = Query(None, max_length=50), limit: Limit = 100,
                offset: Offset = 0, caller: Caller = Depends(need("admin"))):
    """Rejected rows with source, line, column, reason and the raw values, paged."""
    df = thread_store(request.app.state.store).rejects(ingest_id=ingest_id, table=table)
    return paged(df.iloc[offset:offset + limit], len(df), limit, offset)


@router.get("/api/data", tags=["data"])
def api_data(request: Request, ingest_id: int | None = Query(None, ge=0, le=2**62),
             caller: Caller = Depends(need("admin"))):
    """What is loaded (rows, date range per table), the ingest log, and rejected rows."""
    return data_overview(thread_store(request.app.state.store), ingest_id)


@router.get("/data", include_in_schema=False)
def data_page(request: Request, ingest_id: int | None = Query(None, ge=0, le=2**62),
              caller: Caller = Depends(need("admin"))):
    data = data_overview(thread_store(request.app.state.store), ingest_id)
    told = request.app.state.ingest_notes.get(data["ingest"]["id"] if data["ingest"] else None)
    return html(request, "data.html", title="Data", data=data, told=told)


@router.post("/data/upload", include_in_schema=False, dependencies=[Depends(check_csrf)])
def data_upload(request: Request, table: str = Form(..., max_length=50),
                file: UploadFile = File(...), mapping: str | None = Form(None, max_length=5000),
                strict: bool = Form(False), date_format: str | None = Form(None, max_length=100),
                lines: bool = Form(False), return_prefix: str | None = Form(None, max_length=20),
                caller: Caller = Depends(need("admin"))):
    get_table(table)
    result, _ = ingest_upload(request.app.state, caller, table, file,
                              **_options(mapping, strict, None, date_format, lines,
                                         return_prefix))
    request.app.state.ingest_notes.put(result["ingest_id"], result)
    return RedirectResponse(f"/data?ingest_id={result['ingest_id']}", status_code=303)
