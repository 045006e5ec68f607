"""Writes of the worklist from the web: assign and snooze items (one or many), under
the app's write lock, audited, and idempotent with a key (like every web write)."""

from __future__ import annotations

from loyalist.web.writes import fingerprint, once


def _actor(state, caller):
    from loyalist.decisions.worklist.outcomes import Actor

    return Actor(caller.user.person, admin=caller.user.role == "admin",
                 any_agent_may_close=state.any_agent_may_close)


def assign_items(state, caller, item_ids: list[str], owner: str, *, note: str | None = None,
                 key: str | None = None) -> tuple[dict, bool]:
    """Give items to ``owner`` with the rules of
    :func:`loyalist.decisions.worklist.team.assign`; audited as ``worklist.assign``."""
    from loyalist.decisions.worklist.team import assign
    from loyalist.web.context import thread_store

    fp = fingerprint("assign", ",".join(item_ids), owner, note or "")

    def run():
        view = thread_store(state.store)
        done = assign(view, item_ids, owner, actor=_actor(state, caller),
                      by=caller.user.name, note=note)
        state.accounts.audit(caller.user, "worklist.assign", owner,
                             {"items": list(done.items), "from": list(done.before),
                              "note": note}, ip=caller.ip)
        return {"ok": True, "owner": owner, "assigned": list(done.items),
                "unchanged": [i for i in item_ids if i not in done.items]}

    with state.write_lock:
        body, replayed = once(state, caller.user, key, fp, run)
    state.cache.bump()
    return body, replayed


def snooze_items(state, caller, item_ids: list[str], until: str | None, *,
                 note: str | None = None, key: str | None = None) -> tuple[dict, bool]:
    """Snooze items until a date (``None``: wake them); audited as ``worklist.snooze``."""
    from loyalist.decisions.worklist.team import snooze
    from loyalist.web.context import thread_store

    fp = fingerprint("snooze", ",".join(item_ids), until or "", note or "")

    def run():
        view = thread_store(state.store)
        done = snooze(view, item_ids, until, actor=_actor(state, caller),
                      by=caller.user.name, note=note)
        when = None if done.until is None else f"{done.until:%Y-%m-%d}"
        state.accounts.audit(caller.user, "worklist.snooze", ",".join(done.items)[:200],
                             {"items": list(done.items), "until": when, "note": note},
                             ip=caller.ip)
        return {"ok": True, "snoozed": list(done.items), "until": when}

    with state.write_lock:
        body, replayed = once(state, caller.user, key, fp, run)
    state.cache.bump()
    return body, replayed
