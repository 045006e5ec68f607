"""The plan of a worklist run: one candidate per customer and matter, its arm (the
control-group draw), and which new candidates fit under their playbook's daily cap."""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.decisions.worklist.candidates import item_key
from loyalist.decisions.worklist.matters import merge

__all__ = ["admitted", "plan_candidates"]


def _uniform(keys: pd.Series) -> np.ndarray:
    """A uniform number in [0, 1) per key, the same on every machine and run."""
    h = pd.util.hash_pandas_object(keys.reset_index(drop=True), index=False).to_numpy()
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _admit(cand: pd.DataFrame, cap: int | None, today: pd.DataFrame, name: str) -> pd.Series:
    """Which candidates fit under the cap, ranked by expected value saved within owner.

    A candidate is admitted when fewer treated candidates rank above it than the owner
    has room for today, so being admitted does not depend on one's own arm.
    """
    if cap is None or cand.empty:
        return pd.Series(True, index=cand.index)
    used = today[today["playbook"] == name].set_index("owner")["n"]
    room = cap - cand["owner"].map(used).fillna(0)
    order = cand.sort_values("expected_value_saved", ascending=False, kind="stable")
    treated = (order["arm"] == "treatment").astype(int)
    above = treated.groupby(order["owner"]).cumsum() - treated
    return (above < room.reindex(order.index)).reindex(cand.index)


def absorbed_reasons(lead: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """The open items (rows of ``lead`` with ``item_id``) that absorb reasons they did
    not name (their ``also`` grew since the item was written)."""
    if not len(items):
        return lead[:0].assign(item_id=pd.Series(dtype=object))
    index = item_key(items).to_numpy()
    have = pd.Series(items["also"].to_numpy(), index=index)
    kept = lead[lead["is_open"]]
    now_also = kept["also"].fillna("").map(lambda a: set(filter(None, a.split(","))))
    had = kept["key"].map(have).fillna("").map(lambda a: set(filter(None, a.split(","))))
    # a boolean mask, not a list: an empty list would select no columns
    grew = np.array([bool(n - h) for n, h in zip(now_also, had, strict=True)], dtype=bool)
    return kept.loc[grew].assign(item_id=kept.loc[grew, "key"].map(
        pd.Series(items["item_id"].to_numpy(), index=index)))


def plan_candidates(m: pd.DataFrame, items: pd.DataFrame, live: pd.DataFrame, cooling: pd.Series,
          books, share_default, seed, as_of) -> tuple[pd.DataFrame, pd.DataFrame, set]:
    """One candidate per customer and matter, each with its arm, and the open items to
    close as merged into another.

    A customer held out of a discretionary playbook gets no other discretionary outreach
    while the assignment lasts (their must-do service goes on). After a logged outcome a
    playbook cools down for the customer (``reopen_after_days``). The reasons of one
    customer and matter merge (:func:`~loyalist.decisions.worklist.matters.merge`); the
    leader keeps its arm: the live assignment's, else a fresh draw (a discretionary
    leader), else treatment. Returns the leaders not yet open (``new``), the open items
    merged into another (``merged``, with ``into``), and the keys of every candidate (an
    open item whose key is not among them has lost its reason).
    """
    live_key = item_key(live)
    control = set(live_key[live["arm"] == "control"])
    held = live.loc[live["arm"] == "control", "customer_id"]
    m = m[m["must_do"] | ~m["customer_id"].isin(held) | m["key"].isin(control)]
    present = set(m["key"])
    pool = m[(m["is_open"] | m["must_do"] | ~m["key"].isin(control))
             & (m["is_open"] | ~m["key"].isin(cooling))]
    if len(items):  # open items keep their own matter (older items have none written)
        mine = pd.Series(items["matter"].to_numpy(), index=item_key(items).to_numpy())
        mine = mine[mine.notna()]
        kept = pool["key"].map(mine)
        pool = pool.assign(matter=kept.where(kept.notna(), pool["matter"]))
    lead, merged = merge(pool)
    absorbed = absorbed_reasons(lead, items)
    new = lead[~lead["is_open"]].copy()
    # open items merged into another close, unless the one they merge into is new and
    # waits beyond today's cap (decided by the caller)
    merged = merged[merged["is_open"]]
    new["arm"] = new["key"].map(pd.Series(live["arm"].to_numpy(), index=live_key.to_numpy()))
    new["arm"] = new["arm"].astype(object)
    shares = {n: b.held_out_share(share_default) for n, b in books.items()}
    new["share"] = new["playbook"].map(shares).astype(float)
    new["drawn"] = new["arm"].isna() & ~new["must_do"]
    u = _uniform(str(seed) + "|" + new["playbook"] + "|" + f"{as_of:%Y-%m-%d}" + "|"
                 + new["customer_id"])
    draw = new["drawn"].to_numpy()
    new.loc[draw, "arm"] = np.where(u[draw] < new.loc[draw, "share"], "control", "treatment")
    new["arm"] = new["arm"].fillna("treatment")
    return new, merged, present, absorbed


def admitted(new: pd.DataFrame, books, today: pd.DataFrame, caps: dict) -> pd.Series:
    """Which new candidates fit under their playbook's cap for the day."""
    if new.empty:
        return pd.Series(dtype=bool, index=new.index)
    parts = [_admit(g, caps.get(name, books[name].cap_per_owner_per_day), today, name)
             for name, g in new.groupby("playbook")]
    return pd.concat(parts).reindex(new.index).fillna(False).astype(bool)
