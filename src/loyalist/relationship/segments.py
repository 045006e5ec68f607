"""Four relationship segments, each with what to do about it.

Built from what a customer said (their latest NPS answer) and how they behave (their
P(leave) and P(gone quiet) from :func:`~loyalist.relationship.leaving.p_leave`, their
P(promoter) from behaviour):

* **loyal advocate**: says 9-10 and behaves like a stayer: ask for referrals;
* **at-risk promoter**: says 9-10 but behaves like a leaver (P(leave) at least
  ``at_risk_lift`` times the average customer's, or in the top quantile with
  ``at_risk = "quantile"``), or has gone quiet (P(gone quiet) at least
  ``gone_quiet_p``: no sign of life since their orders stopped): their words and their
  behaviour disagree, so call and find out what changed;
* **silent promoter**: never answered, but behaves like the promoters who did
  (P(promoter) at least ``silent_promoter_p``) and has not gone quiet: ask them for a
  review or a referral;
* **detractor**: says 0-6: a manager calls, hears them out and fixes what they name.

Everyone else is ``passive`` (said 7-8, or a promoter with no P(leave)) or ``silent``.
The thresholds are the ``[relationship]`` settings
(:class:`~loyalist.settings.relationship.RelationshipSettings`, also known here as
``SegmentRules``). Each segment carries an action, a script, a due time and an owner
rule, in the shape of a worklist playbook; :func:`assign_segments` returns them per
customer, and the ``relationship_segments`` derived table keeps them for the worklist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from loyalist.contract.derived import RELATIONSHIP_SEGMENTS
from loyalist.errors import DataError
from loyalist.settings.relationship import RelationshipSettings

#: the four segments with an action (the others: passive, silent)
SEGMENTS = RELATIONSHIP_SEGMENTS[:4]


@dataclass(frozen=True)
class SegmentAction:
    action: str
    script: str
    due_in_days: float
    owner: str  # "account_manager" or "team"
    team: str


ACTIONS = {
    "loyal advocate": SegmentAction(
        "Ask for a referral, a review or a case study",
        "Thank them for the score they gave; ask whether a peer would benefit, or whether "
        "they would share their experience.", 14, "account_manager", "Customer marketing"),
    "at-risk promoter": SegmentAction(
        "Call: they speak well of you but behave like a leaver",
        "Say you value what they told you; ask what has changed in their business (budget, "
        "needs, people) and what would keep them; agree one next step.", 3,
        "account_manager", "Retention team"),
    "silent promoter": SegmentAction(
        "Ask for a review or a referral, and invite them to the survey",
        "They never answered a survey but buy and behave like your promoters: ask how "
        "things are going, then whether they would recommend you.", 14,
        "account_manager", "Customer marketing"),
    "detractor": SegmentAction(
        "Manager call: hear them out and fix what they name",
        "Thank them for the honest score; ask what went wrong; say what will change and "
        "by when; call back on that date.", 2, "team", "Customer success lead"),
}


#: the segment rules are part of the ``[relationship]`` settings
SegmentRules = RelationshipSettings


def at_risk_cut(p_leave: pd.Series, rules: RelationshipSettings) -> float:
    """The P(leave) from which a promoter behaves like a leaver: ``at_risk_lift`` times the
    average P(leave) of the customers scored, or its ``at_risk_quantile``."""
    if not p_leave.notna().any():
        return np.inf
    if rules.at_risk == "quantile":
        return float(np.nanquantile(p_leave, rules.at_risk_quantile))
    return float(rules.at_risk_lift * p_leave.mean())


def assign_segments(people: pd.DataFrame, rules: RelationshipSettings | None = None
                    ) -> pd.DataFrame:
    """Add ``relationship_segment``, ``at_risk_threshold``, ``why``, ``action``,
    ``script``, ``due_in_days``, ``owner_rule`` and ``team`` to ``people`` (one row per
    customer with ``said_nps`` (NaN if silent), ``p_leave``, ``p_promoter`` and
    optionally ``p_gone_quiet``)."""
    rules = rules or RelationshipSettings()
    for col in ("said_nps", "p_leave", "p_promoter"):
        if col not in people:
            raise DataError(f"assign_segments needs a {col!r} column.",
                            hint="Build the frame with relationship.analyse().")
    p = people.copy()
    said = p["said_nps"]
    silent = p["silent"].astype(bool) if "silent" in p else said.isna()
    cut = at_risk_cut(p["p_leave"], rules)
    leaver = p["p_leave"] >= cut
    quiet = (p["p_gone_quiet"] >= rules.gone_quiet_p if "p_gone_quiet" in p
             else pd.Series(False, index=p.index))
    promoter = said >= rules.promoter_at
    seg = np.select(
        [promoter & (leaver | quiet), promoter & p["p_leave"].notna(),
         said < rules.detractor_below,
         silent & ~quiet & (p["p_promoter"] >= rules.silent_promoter_p), silent],
        ["at-risk promoter", "loyal advocate", "detractor", "silent promoter", "silent"],
        default="passive")
    p["relationship_segment"] = seg
    p["at_risk_threshold"] = cut
    why = pd.Series("", index=p.index, dtype=object)
    nps = said.round().astype("Int64").astype(str)
    if "said_at" in p:  # "Said 9 on 04 Oct 2024"
        nps = nps + pd.to_datetime(p["said_at"]).dt.strftime(" on %d %b %Y").fillna("")
    pl = (p["p_leave"] * 100).round().astype("Int64").astype(str)
    lift = (p["p_leave"] / p["p_leave"].mean()).round(1).astype(str)
    pp = (p["p_promoter"] * 100).round().astype("Int64").astype(str)
    at_risk = seg == "at-risk promoter"
    why[at_risk & leaver] = ("Said " + nps + " but P(leave) " + pl + "% (" + lift
                             + "x the average)")
    if "p_gone_quiet" in p:
        pq = (p["p_gone_quiet"] * 100).round().astype("Int64").astype(str)
        why[at_risk & quiet & ~leaver] = ("Said " + nps + " but may have gone quiet already "
                                          "(P " + pq + "%)")
    why[seg == "loyal advocate"] = "Said " + nps + ", P(leave) " + pl + "%"
    why[seg == "detractor"] = "Said " + nps
    why[seg == "silent promoter"] = "Never answered; behaves like a promoter (P " + pp + "%)"
    p["why"] = why.where(why != "", None)
    for field in ("action", "script", "due_in_days", "owner", "team"):
        name = "owner_rule" if field == "owner" else field
        p[name] = pd.Series(seg, index=p.index).map(
            {k: getattr(v, field) for k, v in ACTIONS.items()})
    return p


def segment_summary(people: pd.DataFrame) -> pd.DataFrame:
    """Customers per segment with their mean P(leave) and P(promoter), and the action."""
    g = people.groupby("relationship_segment").agg(
        customers=("customer_id", "size"), p_leave=("p_leave", "mean"),
        p_promoter=("p_promoter", "mean"))
    order = [*SEGMENTS, "passive", "silent"]
    g = g.reindex([s for s in order if s in g.index])
    g["action"] = [ACTIONS[s].action if s in ACTIONS else "" for s in g.index]
    return g.reset_index().rename(columns={"relationship_segment": "segment"})


__all__ = ["ACTIONS", "SEGMENTS", "SegmentAction", "SegmentRules", "assign_segments",
           "at_risk_cut", "segment_summary"]
