"""Working the list as a team: assign and reassign items (one or many), and snooze an
item until a date. Every change is an event appended to ``_loyalist_worklist``
(``assigned``: the new ``owner``; ``snoozed``: ``until``), naming who made it
(``by_user``) and why (``note``); nothing is updated in place, so the item's history
is its audit trail (the web app also writes its audit log).

Who may do what (``actor``; ``None`` is the command line, run by whoever holds the
store file, and may do everything):

- a lead (the retention lead) or an admin assigns any open item to anyone;
- an agent takes an item nobody in particular owns (a team's item) for themselves,
  and hands their own items to anyone; they cannot take another person's item;
- the owner of an item (or a lead or an admin) snoozes it; a snoozed item leaves the list until
  the morning of its date, then comes back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from loyalist.contract.moments import moment
from loyalist.decisions.worklist.outcomes import Actor, people, person_name, today_of
from loyalist.errors import DataError, PermissionDeniedError
from loyalist.store.worklist import open_events, write_events

#: the longest snooze: beyond it an item should be closed, not put off
MAX_SNOOZE_DAYS = 365


@dataclass(frozen=True)
class Changed:
    """What an assignment or a snooze did: the items changed, by id."""

    items: tuple[str, ...]
    owner: str | None = None
    until: pd.Timestamp | None = None
    #: previous owner of each item changed (for the audit log)
    before: tuple[str | None, ...] = ()

    def __len__(self) -> int:
        return len(self.items)


def _open(store, item_ids) -> pd.DataFrame:
    ids = [str(i) for i in dict.fromkeys(item_ids)]
    if not ids:
        raise DataError("No item was named.", hint="Give one or more item ids (W0000123).")
    o = open_events(store)
    got = o.filter(o.item_id.isin(ids)).select("item_id", "customer_id", "playbook",
                                                "owner").to_pandas()
    missing = [i for i in ids if i not in set(got["item_id"])]
    if missing:
        raise DataError(f"Not an open item: {', '.join(missing[:5])}"
                        + (f" and {len(missing) - 5} more" if len(missing) > 5 else "") + ".",
                        hint="Nothing was changed. loyalist worklist --show lists the open "
                        "items and their ids.")
    return got.set_index("item_id").loc[ids].reset_index()


def owners(store) -> set[str]:
    """Whom an item may be given to: every person of the staff table, every team of the
    playbooks and the default team, and every owner an item has had."""
    known = set(people(store)) | teams(store)
    s = store.table("staff")
    known |= set(s.id.cast("string").to_pandas().dropna())
    from loyalist.store.worklist import events

    e = events(store)
    known |= set(e.select("owner").distinct().to_pandas()["owner"].dropna())
    return known


def teams(store) -> set[str]:
    """The teams items may be owned by: each playbook's team and the default team."""
    books = store.settings.worklist
    return {p.team for p in books if p.team} | {books.settings.default_team}


def _is_person(store, owner) -> bool:
    return isinstance(owner, str) and owner not in teams(store)


def assign(store, item_ids, owner: str, *, actor: Actor | None = None, by: str | None = None,
           note: str | None = None) -> Changed:
    """Give the open items ``item_ids`` to ``owner`` (a staff id or a team), all or none:
    an unknown item or owner, or an item the actor may not move, changes nothing."""
    owner = str(owner).strip()
    if not owner:
        raise DataError("No owner was given.", hint="Give a staff id or a team name.")
    if owner not in owners(store):
        raise DataError(f"Nobody called {owner!r} can own items.",
                        hint="Give a staff id (the staff table) or a team of the playbooks.")
    items = _open(store, item_ids)
    if actor is not None and not actor.admin:
        for r in items.itertuples(index=False):
            own = actor.may_close(r.owner)
            team = not _is_person(store, r.owner)
            if not (own or (team and owner == actor.person)):
                raise PermissionDeniedError(
                    f"Item {r.item_id} belongs to {person_name(store, str(r.owner))}; "
                    f"{person_name(store, actor.person)} may hand over their own items and "
                    "take a team's items, not take another person's.",
                    hint="Ask the retention lead (the lead role) or an admin to reassign it.")
    moved = items[items["owner"].astype(object) != owner]
    now = pd.Timestamp.now("UTC").tz_localize(None)
    who = by or (actor.person if actor is not None else None)
    write_events(store, pd.DataFrame({
        "item_id": moved["item_id"], "event": "assigned", "at": now, "recorded_at": now,
        "customer_id": moved["customer_id"], "playbook": moved["playbook"], "owner": owner,
        "by_user": who, "note": note}))
    return Changed(tuple(moved["item_id"]), owner=owner,
                   before=tuple(None if pd.isna(o) else str(o) for o in moved["owner"]))


def snooze(store, item_ids, until, *, actor: Actor | None = None, by: str | None = None,
           note: str | None = None, today=None) -> Changed:
    """Put the open items off until ``until`` (a date after today, at most a year on);
    ``until=None`` wakes them now."""
    day = today_of(today)
    when = None
    if until is not None:
        when = moment(until, "the date to snooze until").normalize()
        if when <= day:
            raise DataError(f"Snoozing until {when:%Y-%m-%d} is not in the future (today is "
                            f"{day:%Y-%m-%d}).", hint="Give a later date, YYYY-MM-DD.")
        if when > day + pd.Timedelta(days=MAX_SNOOZE_DAYS):
            raise DataError(f"Snoozing until {when:%Y-%m-%d} is more than a year away.",
                            hint="Close the item with an outcome instead (loyalist log).")
    items = _open(store, item_ids)
    if actor is not None:
        for r in items.itertuples(index=False):
            if not actor.may_close(r.owner):
                raise PermissionDeniedError(
                    f"Item {r.item_id} belongs to {person_name(store, str(r.owner))}; only "
                    "its owner, a lead or an admin may snooze it.",
                    hint="Ask its owner, or a lead to reassign it to you first.")
    now = pd.Timestamp.now("UTC").tz_localize(None)
    write_events(store, pd.DataFrame({
        "item_id": items["item_id"], "event": "snoozed", "at": now, "recorded_at": now,
        "customer_id": items["customer_id"], "playbook": items["playbook"],
        "until": pd.Series(when, index=items.index, dtype="datetime64[ns]"),
        "by_user": by or (actor.person if actor is not None else None), "note": note}))
    return Changed(tuple(items["item_id"]), until=when)
