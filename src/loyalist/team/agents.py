"""Staff recognition: who keeps customers, measured fairly.

Per agent (``requests.agent``, the person who handled the contact) over the last
``period_days``: requests handled, responsiveness (answered within the first-response
target), first-contact resolution (resolved and never followed by a call-back on the
same matter), call-backs caused (answers followed by one) and satisfaction: the share of
survey answers naming a request the agent handled (``feedback.request_id``) that were
satisfied (4 or 5 of 5). An answer is credited to the agent who handled the request it
names, not to whoever was assigned last; answers naming no request are credited to no
agent. Per person who worked the
worklist (``touches.by``): verified saves, the customers they contacted from a playbook
who still ordered within ``[team] save_window_days`` after, against the same playbooks'
held-out control (its retention over the same window).

Small samples shrink toward the team mean (empirical Bayes: a beta prior fitted to all
agents by the method of moments); every figure has its count and a 95% interval (the
posterior's). The thank-you list: the agents whose shrunk first-contact resolution or
responsiveness is in the top third, with at least ``min_contacts`` contacts. The ranking
(``rank_score``): the mean of the agent's shrunk rates, each standardised over the agents
(responsiveness, first-contact resolution, and satisfaction where answers name requests).
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
    # the prior is the team mean, known from all the counts together and no better: its
    # weight is capped at their total (else a handful of answers with no visible spread
    # would claim the mean to a fraction of a point)
    strength = min(max(m * (1 - m) / real - 1, 1.0), max(float(np.nansum(n[ok])), 1.0))
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
    rated = satisfaction_by_agent(store, lo, hi).reindex(df["agent"]).fillna(0)
    df["rated"] = rated["rated"].to_numpy().astype("int64")
    df["satisfied"] = rated["satisfied"].to_numpy().astype("int64")
    has = df["rated"] > 0
    for col in ("satisfaction_raw", "satisfaction", "satisfaction_low", "satisfaction_high"):
        df[col] = np.nan
    if has.any():
        k, m = df.loc[has, "satisfied"].to_numpy(), df.loc[has, "rated"].to_numpy()
        df.loc[has, "satisfaction_raw"] = k / m
        post, low, high, _a, _b = shrink(k, m)
        df.loc[has, "satisfaction"] = post
        df.loc[has, "satisfaction_low"] = low
        df.loc[has, "satisfaction_high"] = high
    df["rank_score"] = rank_score(df)
    if "staff" in store.tables():
        st = store.table("staff").select("id", "name").to_pandas()
        df["name"] = df["agent"].map(st.set_index("id")["name"])
    return df.sort_values("rank_score", ascending=False).reset_index(drop=True)


def satisfaction_by_agent(store, lo, hi) -> pd.DataFrame:
    """Per agent: survey answers answered in ``[lo, hi)`` naming a request the agent
    handled (``rated``) and how many were satisfied (4 or 5 of 5). Answers naming no
    request, or one nobody handled, are credited to no agent."""
    have = available(store)
    if not have.get("feedback") or not have.get("requests"):
        return pd.DataFrame(columns=["rated", "satisfied"])
    f = store.table("feedback")
    f = f.filter(f.request_id.notnull() & f.satisfaction.notnull() & (f.answered_at >= lo)
                 & (f.answered_at < hi))
    r = store.table("requests")
    r = r.filter(r.agent.notnull()).select(rid=r.id, agent=r.agent)
    j = f.join(r, f.request_id == r.rid)
    out = j.group_by("agent").aggregate(
        rated=j.count(), satisfied=(j.satisfaction >= 4).cast("int64").sum()).to_pandas()
    return out.set_index("agent")


def rank_score(df: pd.DataFrame) -> np.ndarray:
    """The mean of the shrunk rates, each standardised over the agents (satisfaction only
    where answers name requests)."""
    parts = []
    for col in ("responsiveness", "fcr", "satisfaction"):
        x = df[col].to_numpy(float)
        if np.isfinite(x).sum() < 2:
            continue
        sd = np.nanstd(x)
        parts.append((x - np.nanmean(x)) / sd if sd > 0 else np.where(np.isfinite(x), 0.0,
                                                                        np.nan))
    if not parts:
        return np.zeros(len(df))
    z = np.vstack(parts)
    seen = np.isfinite(z)
    return np.where(seen, z, 0.0).sum(axis=0) / np.maximum(seen.sum(axis=0), 1)


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
    per["control_n"] = per["playbook"].map(ctrl["n"].to_dict() if len(ctrl) else {})
    g = per.groupby("by").agg(worked=("kept", "size"), still_active=("kept", "sum"),
                              expected=("control_rate", "sum"))
    g["verified_saves"] = g["still_active"] - g["expected"]
    # 95% interval: the binomial noise of the agent's own customers plus that of the
    # control rate each playbook's expectation rests on
    r = g["still_active"] / g["worked"]
    own = g["worked"] * r * (1 - r)
    pb = per.groupby(["by", "playbook"]).agg(k=("kept", "size"), p=("control_rate", "first"),
                                             n=("control_n", "first"))
    ctrl_var = (pb["k"] ** 2 * pb["p"] * (1 - pb["p"]) / pb["n"]).groupby("by").sum()
    se = np.sqrt(own + ctrl_var.reindex(g.index))
    g["saves_low"] = g["verified_saves"] - 1.959964 * se
    g["saves_high"] = g["verified_saves"] + 1.959964 * se
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
