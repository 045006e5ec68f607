"""Where the worklist stands before a run: the open items, the customers cooling down
after an outcome, the live control-group assignments, the items opened today, and the
open items a logged touch has answered."""

from __future__ import annotations

import pandas as pd

from loyalist.decisions.worklist.candidates import item_key
from loyalist.decisions.worklist.outcomes import CLOSING, open_keys
from loyalist.store.worklist import assignments, events

__all__ = ["answered_by_touches", "worklist_state"]


def worklist_state(store, as_of, settings
           ) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.DataFrame]:
    """Open items; (customer, playbook) pairs cooling down after an outcome; live
    assignments; items opened today per owner and playbook."""
    items = open_keys(store)
    e, a = events(store), assignments(store)
    now = as_of.to_pydatetime()
    since = (as_of - pd.Timedelta(days=settings.reopen_after_days)).to_pydatetime()
    done = e.filter((e.event == "closed") & e.outcome.notnull() & (e["at"] > since)
                    & (e["at"] <= now)).select("item_id", "customer_id", "playbook")
    # an outcome answers every reason merged into the item, so they cool down too
    merged = e.filter(e.event.isin(["opened", "reasons"]) & e.also.notnull()).select(
        "item_id", "also")
    cool = done.left_join(merged, "item_id").select("customer_id", "playbook",
                                                    "also").to_pandas()
    also = cool.dropna(subset=["also"]).assign(playbook=lambda d: d["also"].str.split(","))
    cool = pd.concat([cool, also.explode("playbook")])[["customer_id", "playbook"]]
    cool = cool.drop_duplicates()
    start = (as_of - pd.Timedelta(days=settings.window_days)).to_pydatetime()
    a = a.filter((a.assigned_at > start) & (a.assigned_at <= now))
    live = a.group_by(["customer_id", "playbook"]).aggregate(
        arm=a.arm.argmax(a.assigned_at)).to_pandas()
    o = e.filter((e.event == "opened") & (e["at"].date() == as_of.date()))
    today = o.group_by(["owner", "playbook"]).aggregate(n=o.count()).to_pandas()
    return items, item_key(cool), live, today


def answered_by_touches(store, items: pd.DataFrame) -> pd.DataFrame:
    """Open items answered by a touch with a closing outcome logged at or after the item
    opened: the touch names the item, or names none and is of the same customer (and
    playbook, when it names one). Covers touches ingested from another system."""
    t = store.table("touches")
    t = t.filter(t.outcome.isin(list(CLOSING))).select(
        "customer_id", "outcome", "playbook", touch_at=t.at, touch_id=t.id,
        named=t.item_id).to_pandas()
    if items.empty or t.empty:
        return pd.DataFrame(columns=["item_id", "customer_id", "playbook", "touch_at",
                                     "outcome", "touch_id"])
    t = t.assign(named=t["named"].str.split(",")).explode("named")
    by_item = t[t["named"].notna()].drop(columns=["customer_id", "playbook"]).merge(
        items, left_on="named", right_on="item_id")
    loose = t[t["named"].isna()].rename(columns={"playbook": "touch_playbook"}).merge(
        items, on="customer_id")
    loose = loose[loose["touch_playbook"].isna() | (loose["touch_playbook"] == loose["playbook"])]
    m = pd.concat([by_item, loose], ignore_index=True)
    m = m[m["touch_at"] >= m["opened_at"]].sort_values("touch_at")
    return m.drop_duplicates("item_id")[["item_id", "customer_id", "playbook", "touch_at",
                                         "outcome", "touch_id"]]
