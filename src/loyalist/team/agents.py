"""Staff recognition: who keeps customers, measured fairly.

Per agent (``requests.agent``, the person who handled the contact) over the last
``period_days``: requests handled, responsiveness (answered within the first-response
target), first-contact resolution (resolved and never followed by a call-back on the
same matter) and call-backs caused (answers followed by one). Per person who worked the
worklist (``touches.by``): verified saves, the customers they contacted from a playbook
who still ordered within ``[team] save_window_days`` after, against the same playbooks'
held-out control (its retention over the same window).

Small samples shrink toward the team mean (empirical Bayes: a beta prior fitted to all
agents by the method of moments); every figure has its count and a 95% interval (the
posterior's). The thank-you list: the agents whose shrunk first-contact resolution or
responsiveness is in the top third, with at least ``min_contacts`` contacts.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from loyalist.features.builder import available


def shrink(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  float, float]:
    """Empirical-Bayes rates ``k / n``: posterior means under a beta prior fitted to all
    units by the method of moments, with 95% posterior intervals; also the prior's
    ``a, b``."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    ok = n > 0
    p = np.where(ok, k / np.maximum(n, 1), np.nan)
    m = np.nansum(k) / max(np.nansum(n), 1)
    v = np.nanvar(p[ok]) if ok.sum() > 1 else 0.0
    # binomial noise expected in the observed spread: what is left is the real spread
    noise = np.mean(m * (1 - m) / n[ok]) if ok.any() else 0.0
    real = max(v - noise, 1e-6)
    strength = max(m * (1 - m) / real - 1, 1.0)
    a, b = m * strength, (1 - m) * strength
    post_a, post_b = a + k, b + n - k
    return (post_a / (post_a + post_b), stats.beta.ppf(0.025, post_a, post_b),
            stats.beta.ppf(0.975, post_a, post_b), float(a), float(b))


def agent_table(store, as_of, settings, *, period_days: int = 365) -> pd.DataFrame:
    """One row per agent: counts, raw and shrunk rates with intervals."""
    if not available(store).get("requests"):
        return pd.DataFrame()
    target = settings.service.first_response_hours
    r = store.table("requests")
    lo = (pd.Timestamp(as_of) - pd.Timedelta(days=period_days)).to_pydatetime()
    hi = pd.Timestamp(as_of).to_pydatetime()
    kids = r.filter(r.parent_id.notnull()).select(pid=r.parent_id).distinct()
    s = r.filter((r.opened_at >= lo) & (r.opened_at < hi) & r.agent.notnull())
    hours = (s.first_response_at.epoch_seconds() - s.opened_at.epoch_seconds()) / 3600
    called_back = s.id.isin(kids.pid)
    agg = s.group_by(agent=s.agent, team=s.team).aggregate(
        handled=s.count(),
        in_target=(s.first_response_at.notnull() & (hours <= target)).cast("int64").sum(),
        resolved_first=(s.resolved_at.notnull() & ~called_back).cast("int64").sum(),
        callbacks_caused=called_back.cast("int64").sum())
    df = agg.to_pandas()
    if df.empty:
        return df
    # an agent may answer for several teams: one row per agent, their main team
    df = df.sort_values("handled", ascending=False)
    main = df.drop_duplicates("agent").set_index("agent")["team"]
    df = df.groupby("agent", as_index=False)[["handled", "in_target", "resolved_first",
                                             "callbacks_caused"]].sum()
    df["team"] = df["agent"].map(main)
    n = df["handled"].to_numpy()
    for col, name in (("in_target", "responsiveness"), ("resolved_first", "fcr"),
                      ("callbacks_caused", "callback_rate")):
        k = df[col].to_numpy()
        df[f"{name}_raw"] = k / np.maximum(n, 1)
        df[name], df[f"{name}_low"], df[f"{name}_high"], _a, _b = shrink(k, n)
    if "staff" in store.tables():
        st = store.table("staff").select("id", "name").to_pandas()
        df["name"] = df["agent"].map(st.set_index("id")["name"])
    return df.sort_values("fcr", ascending=False).reset_index(drop=True)


def verified_saves(store, as_of, settings) -> pd.DataFrame:
    """Per person who worked the worklist: customers contacted from a playbook whose
    save window has ended, how many still ordered in it, and the same playbooks'
    held-out retention over the window: saves beyond the control."""
    from loyalist.store.worklist import assignments

    have = available(store)
    if not have.get("orders") or "touches" not in store.tables():
        return pd.DataFrame()
    window = settings.team.save_window_days
    end = (pd.Timestamp(as_of) - pd.Timedelta(days=window)).to_pydatetime()
    t = store.table("touches")
    t = t.filter(t.playbook.notnull() & t.by.notnull() & (t["at"] <= end))
    t = t.group_by(["by", "customer_id", "playbook"]).aggregate(at=t["at"].min())
    o = store.table("orders").select(oc="customer_id", oat="ordered_at")
    j = t.left_join(o, (t.customer_id == o.oc) & (o.oat > t["at"])
                    & (o.oat <= t["at"] + ibis.interval(days=window)))
    per = j.group_by(["by", "customer_id", "playbook"]).aggregate(
        kept=(j.oc.count() > 0).cast("int64")).to_pandas()
    if per.empty:
        return per
    a = assignments(store)
    a = a.filter((a.arm == "control") & (a.assigned_at <= end))
    ja = a.left_join(o, (a.customer_id == o.oc) & (o.oat > a.assigned_at)
                     & (o.oat <= a.assigned_at + ibis.interval(days=window)))
    ctrl = ja.group_by(["customer_id", "playbook", "assigned_at"]).aggregate(
        kept=(ja.oc.count() > 0).cast("int64")).group_by("playbook").aggregate(
        n=ibis._.count(), k=ibis._.kept.sum()).to_pandas().set_index("playbook")
    rate = (ctrl["k"] / ctrl["n"]).to_dict() if len(ctrl) else {}
    per["control_rate"] = per["playbook"].map(rate)
    g = per.groupby("by").agg(worked=("kept", "size"), still_active=("kept", "sum"),
                              expected=("control_rate", "sum"))
    g["verified_saves"] = g["still_active"] - g["expected"]
    return g.reset_index().rename(columns={"by": "agent"}).sort_values(
        "verified_saves", ascending=False)


def thank_you(agents: pd.DataFrame, *, min_contacts: int = 50) -> pd.DataFrame:
    """Agents in the top third by shrunk first-contact resolution or responsiveness,
    with enough contacts to tell."""
    if agents.empty:
        return agents
    a = agents[agents["handled"] >= min_contacts]
    if a.empty:
        return a
    top = (a["fcr"] >= a["fcr"].quantile(2 / 3)) | (
        a["responsiveness"] >= a["responsiveness"].quantile(2 / 3))
    return a[top]
