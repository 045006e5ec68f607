"""Which ranking orders the discretionary items: uplift x value where ``loyalist uplift``
learnt it from the hold-outs (``uplift_scores``), else risk x value; and the ``[team]``
outreach budget that caps the new discretionary contacts."""

from __future__ import annotations

import pandas as pd

from loyalist.settings.worklist import Playbooks
from loyalist.store.worklist import events


def ranking_note(pbs: Playbooks, uplift: dict) -> str:
    """Which ranking is in force for the discretionary playbooks."""
    disc = [p.name for p in pbs if not p.must_do]
    by_uplift = [n for n in disc if n in uplift]
    by_risk = [n for n in disc if n not in uplift]
    parts = []
    if by_uplift:
        parts.append("uplift x value (learned from the hold-outs) for " + ", ".join(by_uplift))
    if by_risk:
        parts.append("risk x value for " + ", ".join(by_risk))
    return "ranking in force: " + ("; ".join(parts) if parts else "no discretionary playbook")


def uplift_in_force(store) -> dict[str, pd.Series]:
    """Per playbook whose uplift ranking is in force (``uplift_scores``, written by
    ``loyalist uplift``): customer -> expected value saved by a contact."""
    if "uplift_scores" not in store.tables():
        return {}
    u = store.table("uplift_scores").select("customer_id", "playbook",
                                            "expected_value_saved").to_pandas()
    return {str(name): g.set_index("customer_id")["expected_value_saved"]
            for name, g in u.groupby("playbook")}


def within_budget(m: pd.DataFrame, team, store, as_of) -> pd.Series:
    """Which new discretionary treatment items the ``[team]`` budget allows: those worth
    more than ``cost_per_contact``, and at most ``budget_contacts_per_week`` in the 7
    days to ``as_of`` (counting the ones already opened), the most value saved first."""
    keep = pd.Series(True, index=m.index)
    if m.empty or team is None:
        return keep
    disc = ~m["must_do"].astype(bool) & (m["arm"] == "treatment")
    if team.cost_per_contact is not None:
        keep &= ~disc | (m["expected_value_saved"] > team.cost_per_contact)
    if team.budget_contacts_per_week is not None:
        e = events(store)
        week = (as_of - pd.Timedelta(days=7)).to_pydatetime()
        used = int(e.filter((e.event == "opened") & ~e.must_do & (e["at"] > week)
                            & (e["at"] <= as_of.to_pydatetime())).count().execute())
        room = max(team.budget_contacts_per_week - used, 0)
        order = m[disc & keep].sort_values("expected_value_saved", ascending=False,
                                           kind="stable").index
        keep.loc[order[room:]] = False
    return keep
