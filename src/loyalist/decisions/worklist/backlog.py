"""The backlog: the items that wait beyond today's caps, kept where everyone sees them.

A cap (``cap_per_owner_per_day``) says how many items a playbook gives each owner a
day; the candidates beyond it are not dropped. Each run writes them to the derived
table ``worklist_backlog`` (one row per customer and matter, in the order they will be
opened) with how long each has waited, so the list, the API and the command line can
say "1,846 must-do call-backs wait, the oldest for 41 days" instead of hiding them. The
lead raises a cap in ``loyalist.toml`` (a playbook's ``cap_per_owner_per_day``, or
``[worklist] cap_scale`` for all) or for one run (``loyalist worklist --cap NAME=N``).
"""

from __future__ import annotations

import math

import pandas as pd

from loyalist.errors import DataError

TABLE = "worklist_backlog"
COLUMNS = ["as_of", "customer_id", "playbook", "matter", "must_do", "owner", "why",
           "expected_value_saved", "since", "waiting_since", "place"]


def caps_in_force(playbooks, caps: dict[str, int] | None = None) -> dict[str, int | None]:
    """Per playbook, the cap in force: ``caps`` (for this run), else the playbook's
    ``cap_per_owner_per_day`` times ``[worklist] cap_scale`` (rounded up)."""
    caps = dict(caps or {})
    names = {p.name for p in playbooks}
    unknown = sorted(set(caps) - names)
    if unknown:
        raise DataError(f"No playbook {unknown[0]!r} to set a cap for.",
                        hint=f"Playbooks: {', '.join(sorted(names))}.")
    for name, cap in caps.items():
        if not isinstance(cap, int) or cap < 1:
            raise DataError(f"The cap of {name} must be a whole number of 1 or more; got "
                            f"{cap!r}.", hint="e.g. --cap call_back_unanswered=80.")
    scale = playbooks.settings.cap_scale
    out: dict[str, int | None] = {}
    for p in playbooks:
        base = p.cap_per_owner_per_day
        out[p.name] = caps.get(p.name, None if base is None else math.ceil(base * scale))
    return out


def parse_caps(texts: list[str] | None) -> dict[str, int]:
    """``["name=80", ...]`` (the command line's ``--cap``) as a dict."""
    caps = {}
    for text in texts or []:
        name, eq, n = str(text).partition("=")
        if not eq or not n.strip().isdigit():
            raise DataError(f"Cannot read the cap {text!r}.",
                            hint="Write PLAYBOOK=N, e.g. --cap call_back_unanswered=80.")
        caps[name.strip()] = int(n)
    return caps


def write_backlog(store, behind: pd.DataFrame, as_of) -> dict:
    """Replace ``worklist_backlog`` with today's waiting candidates (``behind``); a
    candidate that waited yesterday keeps the day it started waiting. Returns
    :func:`summary` of what was written."""
    before = None
    if TABLE in store.tables():
        b = store.table(TABLE)
        before = b.select("customer_id", "playbook", "waiting_since").to_pandas()
    rows = behind.sort_values("expected_value_saved", ascending=False, kind="stable")
    rows = rows.assign(place=rows.groupby(["playbook", "owner"], dropna=False).cumcount() + 1)
    since = rows["since"] if "since" in rows else pd.Series(pd.NaT, index=rows.index)
    out = pd.DataFrame({
        "as_of": pd.Timestamp(as_of), "customer_id": rows["customer_id"].astype(str),
        "playbook": rows["playbook"].astype(str), "matter": rows["matter"].astype(str),
        "must_do": rows["must_do"].astype(bool), "owner": rows["owner"].astype(object),
        "why": rows["why"].astype(object),
        "expected_value_saved": rows["expected_value_saved"].astype(float),
        "since": pd.to_datetime(since), "waiting_since": pd.Timestamp(as_of),
        "place": rows["place"].astype("int64")})
    if before is not None and len(before) and len(out):
        key = before.set_index(["customer_id", "playbook"])["waiting_since"]
        old = pd.MultiIndex.from_frame(out[["customer_id", "playbook"]]).map(
            key.to_dict().get)
        old = pd.to_datetime(pd.Series(list(old), index=out.index))
        out["waiting_since"] = old.where(old.notna() & (old < out["waiting_since"]),
                                         out["waiting_since"])
    store.write_derived(TABLE, out.reset_index(drop=True),
                        note=f"{len(out):,} items waiting beyond the caps")
    return summary(out)


def read_backlog(store) -> pd.DataFrame:
    """The backlog of the last run (empty before the first)."""
    if TABLE not in store.tables():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return store.table(TABLE).order_by(["playbook", "owner", "place"]).to_pandas()


def _age(rows: pd.DataFrame, today) -> pd.Series:
    start = pd.to_datetime(rows["since"]).where(rows["since"].notna(),
                                                pd.to_datetime(rows["waiting_since"]))
    return (pd.Timestamp(today).normalize() - start).dt.days.clip(lower=0)


def summary(rows: pd.DataFrame, today=None) -> dict:
    """Count, must-do count and oldest age (days, against ``today``: default the real
    date) of the waiting items, overall and per playbook."""
    today = pd.Timestamp.now().normalize() if today is None else pd.Timestamp(today)
    if rows.empty:
        return {"waiting": 0, "must_do": 0, "oldest_days": None, "playbooks": []}
    age = _age(rows, today)
    per = []
    for name, g in rows.assign(age=age).groupby("playbook", sort=False):
        per.append({"playbook": str(name), "waiting": int(len(g)),
                    "must_do": bool(g["must_do"].any()),
                    "oldest_days": int(g["age"].max()),
                    "oldest_since": pd.Timestamp(g.loc[g["age"].idxmax(), "since"]
                                                 if pd.notna(g.loc[g["age"].idxmax(), "since"])
                                                 else g.loc[g["age"].idxmax(),
                                                            "waiting_since"]).isoformat()})
    per.sort(key=lambda r: (-r["must_do"], -r["waiting"]))
    return {"waiting": int(len(rows)), "must_do": int(rows["must_do"].sum()),
            "oldest_days": int(age.max()), "playbooks": per}


def backlog_summary(store, today=None) -> dict:
    """:func:`summary` of the stored backlog."""
    return summary(read_backlog(store), today)


def _waiting_of(store):
    import ibis

    b, who = store.table(TABLE), ibis.param("string")
    return (b.filter(b.customer_id == who)
            .select("playbook", "matter", "must_do", "owner", "why", "since", "waiting_since",
                    "place", "as_of")
            .order_by([ibis.desc("must_do"), "playbook"]), {"customer_id": who})


def waiting_of(store, customer_id: str) -> list[dict]:
    """What of one customer waits in the backlog (must-do first): the playbook, the
    matter, why, since when it waits (``waiting_since``) and its place in its owner's
    line. One prepared query (compiled once per store): the customer page asks it."""
    from loyalist.store.prepared import prepare

    if TABLE not in store.tables():
        return []
    return prepare(store, "backlog of a customer", _waiting_of).rows(
        store, customer_id=str(customer_id))
