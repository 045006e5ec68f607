"""One customer's data (admin only): export everything held about them, or erase it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from loyalist.web.auth import Caller, need
from loyalist.web.context import thread_store

router = APIRouter(tags=["privacy"])


@router.get("/api/privacy/{customer_id:path}")
def api_export(request: Request, customer_id: str, caller: Caller = Depends(need("admin"))):
    """Everything held about one customer (a subject-access export), audited."""
    data = thread_store(request.app.state.store).customer_data(customer_id)
    request.app.state.accounts.audit(caller.user, "customer.export", customer_id, None,
                                     ip=caller.ip)
    return {"ok": True, **data}


@router.delete("/api/privacy/{customer_id:path}")
def api_erase(request: Request, customer_id: str, caller: Caller = Depends(need("admin"))):
    """Erase one customer from every table, in one transaction; audited without the id."""
    state = request.app.state
    with state.write_lock:
        removed = state.store.erase_customer(customer_id, by=caller.user.name, ip=caller.ip)
    state.cache.bump()
    return {"ok": True, "removed": removed}
