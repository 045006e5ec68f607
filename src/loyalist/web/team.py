"""Writes of the worklist from the web: assign and snooze items (one or many), and run
the day with raised caps (leads and admins), under the app's write lock, audited, and idempotent with a key (like every web write)."""

from __future__ import annotations

from loyalist.web.writes import fingerprint, once


def _actor(state, caller):
    from loyalist.decisions.worklist.outcomes import Actor

    return Actor(caller.user.person, admin=caller.user.can("lead"),
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


def raise_caps(state, caller, caps: dict, *, note: str | None = None,
               key: str | None = None) -> tuple[dict, bool]:
    """Run the worklist today with ``caps`` (playbook -> items per owner today) in force:
    :func:`loyalist.decisions.worklist.build_worklist` with ``caps``, what
    ``loyalist worklist --cap PLAYBOOK=N`` runs; audited as ``worklist.caps``. The caps
    are checked first (a clear 400 names the wrong one); nothing is written then."""
    from loyalist.decisions.worklist import build_worklist
    from loyalist.decisions.worklist.backlog import caps_in_force
    from loyalist.web.context import thread_store

    caps = check_caps(caps)
    books = thread_store(state.store).settings.worklist
    in_force = caps_in_force(books, caps)  # an unknown playbook: DataError, nothing run
    before = caps_in_force(books)
    fp = fingerprint("caps", sorted(caps.items()), note or "")

    def run():
        view = thread_store(state.store)
        done = build_worklist(view, caps=caps)
        body = {"ok": True, "caps": {k: in_force[k] for k in caps},
                "before": {k: before[k] for k in caps}, "as_of": done.as_of.isoformat(),
                "opened": done.opened, "closed": done.closed,
                "open": len(done.items), "backlog": done.backlog_summary}
        state.accounts.audit(caller.user, "worklist.caps", ",".join(sorted(caps))[:200],
                             {"caps": body["caps"], "before": body["before"],
                              "opened": done.opened, "waiting": done.backlog_summary.get(
                                  "waiting", 0), "note": note}, ip=caller.ip)
        return body

    with state.write_lock:
        body, replayed = once(state, caller.user, key, fp, run)
    state.cache.bump()
    return body, replayed


#: the highest cap the web accepts (a day's items per owner)
MAX_CAP = 10_000


def check_caps(caps: dict) -> dict[str, int]:
    """``caps`` as playbook -> whole number from 1 to :data:`MAX_CAP`, else DataError
    (HTTP 400) naming the playbook and the value."""
    from loyalist.errors import DataError

    if not caps:
        raise DataError("No cap was given.",
                        hint="Give a playbook and its cap, e.g. call_back_unanswered=80.")
    out = {}
    for name, value in caps.items():
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_CAP:
            raise DataError(f"The cap of {name} must be a whole number from 1 to "
                            f"{MAX_CAP:,}; got {value!r}.",
                            hint="Give how many items each owner may get today, e.g. 80.")
        out[str(name)] = int(text)
    return out
