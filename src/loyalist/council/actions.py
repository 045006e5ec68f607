"""One runner for the council's sub-commands, shared by ``loyalist council`` and the web.

:func:`run_action` runs a sub-command (``suggest``, ``confirm``, ``leave``, ``meeting``,
``attend``, ``point``, ``commit``, ``done``, ``show``) over the store with its fields as
keywords and returns an :class:`Outcome`: the JSON answer (the same for the CLI's
``--json`` and the web API, which adds ``"ok": true``), one line in words for a person,
what the write was about (for the audit log), and the frames a screen lays out as
tables. A user mistake raises :class:`~loyalist.errors.CouncilError` with a next step
(from :mod:`loyalist.council.records`), and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from loyalist.council.records import (
    attend,
    close,
    commit,
    confirm,
    current_members,
    has_council,
    leave,
    raise_point,
    record_meeting,
)
from loyalist.council.state import Council, council_state
from loyalist.errors import CouncilError

__all__ = ["ACTIONS", "Outcome", "WRITES", "rows", "run_action"]


@dataclass
class Outcome:
    """What a council sub-command did."""

    #: the JSON answer (the web adds ``"ok": true``)
    body: dict
    #: one line in words for a person
    said: str = ""
    #: what a write was about, for the audit log
    about: str = ""
    #: what a screen lays out: the suggested ``panel``, or the ``council`` state
    shown: dict = field(default_factory=dict)


def rows(df: pd.DataFrame | None) -> list[dict]:
    """Rows of ``df`` as JSON-ready dicts (dates in ISO form to the second)."""
    if df is None or len(df) == 0:
        return []
    return json.loads(df.to_json(orient="records", date_format="iso", date_unit="s",
                                 default_handler=str))


def _plural(n: int, one: str) -> str:
    return f"{n:,} {one if n == 1 else one + 's'}"


def _suggest(store, *, size: int | None = None, as_of=None, seed: int = 0) -> Outcome:
    from loyalist.council import suggest

    panel = suggest(store, size=size, as_of=as_of, seed=seed)
    members = len(current_members(store)) if has_council(store) else 0
    notes = [] if "scores" in store.tables() else [
        "No scores yet: run loyalist score so that valuable customers at risk join the "
        "mix (advocates come from survey answers meanwhile)."]
    return Outcome({"members_already": members, "panel": rows(panel), "notes": notes},
                   shown={"panel": panel, "members": members, "notes": notes})


def _confirm(store, *, customers, why=None, at=None, by=None) -> Outcome:
    new = confirm(store, customers, at=at, why=why, by=by)
    already = [c for c in dict.fromkeys(customers) if c not in new]
    said = (f"Confirmed {_plural(len(new), 'member')}" + (f": {', '.join(new)}" if new else "")
            + (f"; already members: {', '.join(already)}" if already else "") + ".")
    return Outcome({"confirmed": new}, said, ",".join(list(customers)[:20]))


def _leave(store, *, customer_id, at=None, note=None, by=None) -> Outcome:
    leave(store, customer_id, at=at, note=note, by=by)
    return Outcome({"customer_id": customer_id}, f"{customer_id} left the council.",
                   customer_id)


def _meeting(store, *, held_at, title=None, attended=(), note=None, by=None) -> Outcome:
    attended = list(attended or ())
    mid = record_meeting(store, held_at, title=title, attended=attended, note=note, by=by)
    return Outcome({"meeting_id": mid},
                   f"Recorded meeting {mid} ({held_at}) with "
                   f"{_plural(len(set(attended)), 'member')} attending.", str(held_at))


def _attend(store, *, meeting_id, customers, by=None) -> Outcome:
    new = attend(store, meeting_id, customers, by=by)
    return Outcome({"recorded": new}, f"{_plural(len(new), 'member')} recorded at "
                   f"{meeting_id}.", meeting_id)


def _point(store, *, meeting_id, text, customer_id=None, by=None) -> Outcome:
    pid = raise_point(store, meeting_id, text, customer_id=customer_id, by=by)
    return Outcome({"point_id": pid}, f"Recorded point {pid}.", meeting_id)


def _commit(store, *, text, owner=None, due=None, point_id=None, meeting_id=None,
            customer_id=None, by=None) -> Outcome:
    kid = commit(store, text, owner=owner, due=due, point_id=point_id,
                 meeting_id=meeting_id, customer_id=customer_id, by=by)
    return Outcome({"commitment_id": kid},
                   f"Recorded commitment {kid}: {owner} by {due}. Close it with loyalist "
                   f"council done {kid} --we-did '...'.", customer_id or point_id or "")


def _done(store, *, commitment_id, we_did=None, you_said=None, at=None, by=None) -> Outcome:
    row = close(store, commitment_id, we_did=we_did, you_said=you_said, at=at, by=by)
    return Outcome({"commitment_id": commitment_id, "you_said": row["you_said"],
                    "we_did": row["we_did"]},
                   f"Closed {commitment_id}. You said: {row['you_said']} We did: "
                   f"{row['we_did']}", commitment_id)


def _show(store, *, as_of=None) -> Outcome:
    st: Council = council_state(store, as_of)
    return Outcome({"summary": st.summary(), "members": rows(st.members),
                    "meetings": rows(st.meetings), "points": rows(st.points),
                    "commitments": rows(st.commitments), "whispers": rows(st.whispers),
                    "notes": st.notes}, shown={"council": st})


#: sub-command -> what runs it (``close`` is the older name of ``done``)
ACTIONS: dict[str, Callable[..., Outcome]] = {
    "suggest": _suggest, "confirm": _confirm, "leave": _leave, "meeting": _meeting,
    "attend": _attend, "point": _point, "commit": _commit, "done": _done, "close": _done,
    "show": _show}
#: the sub-commands that write
WRITES = frozenset(ACTIONS) - {"suggest", "show"}


def run_action(store, action: str, **given) -> Outcome:
    """Run the council sub-command ``action`` with its fields (and ``by``, who recorded a
    write) as keywords."""
    try:
        run = ACTIONS[action]
    except KeyError:
        raise CouncilError(f"No council sub-command {action!r}.",
                           hint="One of: " + ", ".join(sorted(ACTIONS)) + ".") from None
    return run(store, **given)
