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

Small samples shrink toward the team mean (empirical Bayes: a beta prior centred on the
agent's team, its strength fitted to the spread of all agents around their teams by the
method of moments); every figure has its count and a 95% interval (the posterior's). The
thank-you list: the agents with at least ``min_contacts`` contacts credibly better than
their team's peers (``within_team``'s interval above 0); an agent with no peer, by the
top third of shrunk first-contact resolution or responsiveness.

The ranking compares each agent with the peers doing the same work (``peer_standing``):
on three measures (speed of the first answer as -log hours, first-contact resolution,
and the satisfaction score of answers naming the agent's requests), each contact is
compared with the team's contacts of the same channel and category; the agent's mean
difference, in units of the real spread between agents of a team (what is left of the
observed spread after the sampling noise), is one standing per measure. The measures
are combined weighted by their information (inverse variance) and shrunk toward the team
mean (normal empirical Bayes): ``within_team``, with its 95% interval. The team's own
standing (``team_standing``) compares its contacts with the firm's of the same channel
and routing (a request routed to a team that does not own its category is slower
anywhere), in the same units, with each measure weighted by its reliability. The
``rank_score`` is the sum: a team's figures cannot tell its way of working (a slower
queue) from its agents' quality, so the team part credits the whole difference to the
team and the lead should read ``within_team`` for agents of different teams.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from loyalist.features.builder import available


def shrink(k: np.ndarray, n: np.ndarray, group: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Empirical-Bayes rates ``k / n``: posterior means under a beta prior fitted to all
    units by the method of moments, with 95% posterior intervals; also the prior's
    ``a, b`` (of the firm-wide mean). With ``group`` (each unit's team), the prior is
    centred on the unit's group (its pooled rate) and its strength fitted to the units'
    spread around their groups' rates, so a small count shrinks toward its team."""
    from scipy import stats  # here, not at the top: `loyalist team --losses` never needs it

    k, n = np.asarray(k, float), np.asarray(n, float)
    ok = n > 0
    p = np.where(ok, k / np.maximum(n, 1), np.nan)
    m = np.nansum(k) / max(np.nansum(n), 1)
    centre = np.full(len(k), m)
    v = np.nanvar(p[ok]) if ok.sum() > 1 else 0.0
    if group is not None:
        g = pd.Series(np.asarray(group, object)).fillna("")
        tk = pd.Series(k).groupby(g).transform("sum").to_numpy()
        tn = pd.Series(n).groupby(g).transform("sum").to_numpy()
        centre = np.where(tn > 0, tk / np.maximum(tn, 1), m)
        df = max(int(ok.sum()) - g[ok].nunique(), 1)
        v = float(np.sum((p[ok] - centre[ok]) ** 2) / df) if ok.sum() > 1 else 0.0
    # binomial noise expected in the observed spread: what is left is the real spread
    mm = float(np.mean(centre[ok] * (1 - centre[ok]))) if ok.any() else m * (1 - m)
    noise = np.mean(centre[ok] * (1 - centre[ok]) / n[ok]) if ok.any() else 0.0
    real = max(v - noise, 1e-6)
    # the prior is the team mean, known from all the counts together and no better: its
    # weight is capped at their total (else a handful of answers with no visible spread
    # would claim the mean to a fraction of a point)
    strength = min(max(mm / real - 1, 1.0), max(float(np.nansum(n[ok])), 1.0))
    a, b = centre * strength, (1 - centre) * strength
    a, b = np.maximum(a, 1e-9), np.maximum(b, 1e-9)
    post_a, post_b = a + k, b + n - k
    return (post_a / (post_a + post_b), stats.beta.ppf(0.025, post_a, post_b),
            stats.beta.ppf(0.975, post_a, post_b), float(m * strength),
            float((1 - m) * strength))


def agent_table(store, as_of, settings, *, period_days: int = 365) -> pd.DataFrame:
    """One row per agent: counts, raw and shrunk rates with intervals, the standing among
    the team's peers (``within_team`` with its interval, ``rank_in_team`` of
    ``team_size``), the team's standing and the ranking (``rank_score``)."""
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
    df = df.sort_values(["handled", "team"], ascending=[False, True])
    main = df.drop_duplicates("agent").set_index("agent")["team"]
    df = df.groupby("agent", as_index=False)[["handled", "in_target", "resolved_first",
                                             "callbacks_caused"]].sum()
    df["team"] = df["agent"].map(main)
    team = df["team"].to_numpy()
    n = df["handled"].to_numpy()
    for col, name in (("in_target", "responsiveness"), ("resolved_first", "fcr"),
                      ("callbacks_caused", "callback_rate")):
        k = df[col].to_numpy()
        df[f"{name}_raw"] = k / np.maximum(n, 1)
        df[name], df[f"{name}_low"], df[f"{name}_high"], _a, _b = shrink(k, n, team)
    med = s.filter(s.first_response_at.notnull()).group_by(agent=s.agent).aggregate(
        median_hours=hours.median()).to_pandas().set_index("agent")["median_hours"]
    df["median_hours"] = df["agent"].map(med).astype(float)
    rated = satisfaction_by_agent(store, lo, hi).reindex(df["agent"]).fillna(0)
    df["rated"] = rated["rated"].to_numpy().astype("int64")
    df["satisfied"] = rated["satisfied"].to_numpy().astype("int64")
    has = df["rated"] > 0
    for col in ("satisfaction_raw", "satisfaction", "satisfaction_low", "satisfaction_high"):
        df[col] = np.nan
    if has.any():
        k, m = df.loc[has, "satisfied"].to_numpy(), df.loc[has, "rated"].to_numpy()
        df.loc[has, "satisfaction_raw"] = k / m
        post, low, high, _a, _b = shrink(k, m, df.loc[has, "team"].to_numpy())
        df.loc[has, "satisfaction"] = post
        df.loc[has, "satisfaction_low"] = low
        df.loc[has, "satisfaction_high"] = high
    cells = work_cells(store, s, called_back, hours, lo, hi)
    standing = peer_standing(cells, main, settings.service.team_for_category)
    df = df.join(standing, on="agent")
    df["rank_score"] = df["team_standing"] + df["within_team"]
    return _named(store, df).sort_values("rank_score", ascending=False).reset_index(drop=True)


def _named(store, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with each ``agent``'s ``name`` from the staff export, where there is one."""
    if "staff" in store.tables() and len(df):
        st = store.table("staff").select("id", "name").to_pandas()
        df["name"] = df["agent"].map(st.set_index("id")["name"])
    return df


#: the measures the ranking compares agents on, and the column of ``work_cells`` each
#: comes from: the speed of the first answer (-log hours, a minute added so instant
#: answers are finite), first-contact resolution (0/1) and the satisfaction score (1-5)
#: of survey answers naming the agent's requests
MEASURES = ("speed", "fcr", "score")


def work_cells(store, s, called_back, hours, lo, hi) -> pd.DataFrame:
    """Per agent, team, channel and category: for each measure the count of contacts it
    rests on (``<m>_n``), their sum (``<m>_s``) and sum of squares (``<m>_q``)."""
    keys = dict(agent=s.agent, team=s.team.fill_null(""), channel=s.channel.fill_null(""),
                category=s.category.fill_null(""))
    answered = s.first_response_at.notnull() & (hours >= 0)
    speed = -(ibis.greatest(hours, 0) + 1 / 60).ln()
    fcr = (s.resolved_at.notnull() & ~called_back).cast("float64")
    req = s.group_by(**keys).aggregate(
        speed_n=answered.cast("int64").sum(), speed_s=answered.ifelse(speed, 0).sum(),
        speed_q=answered.ifelse(speed * speed, 0).sum(),
        fcr_n=s.count(), fcr_s=fcr.sum(), fcr_q=fcr.sum()).to_pandas()
    out = req.set_index(["agent", "team", "channel", "category"])
    have = available(store)
    if have.get("feedback"):
        f = store.table("feedback")
        f = f.filter(f.request_id.notnull() & f.satisfaction.notnull()
                     & (f.answered_at >= lo) & (f.answered_at < hi))
        right = s.select(rid=s.id, **keys)
        j = f.join(right, f.request_id == right.rid)
        x = j.satisfaction.cast("float64")
        sat = j.group_by(["agent", "team", "channel", "category"]).aggregate(
            score_n=j.count(), score_s=x.sum(), score_q=(x * x).sum()).to_pandas()
        out = out.join(sat.set_index(["agent", "team", "channel", "category"]), how="outer")
    for m in MEASURES:
        for part in ("n", "s", "q"):
            col = f"{m}_{part}"
            out[col] = out[col].astype(float).fillna(0.0) if col in out else 0.0
    return out.reset_index()


def _residuals(cells: pd.DataFrame, m: str, by: list[str], unit: str) -> pd.DataFrame:
    """Per ``unit``: the count, mean and variance of a measure's differences from the
    mean of its cell (``by``), from the cells' counts, sums and sums of squares."""
    n, sm, q = cells[f"{m}_n"], cells[f"{m}_s"], cells[f"{m}_q"]
    tot = cells.groupby(by)[[f"{m}_n", f"{m}_s"]].transform("sum")
    mu = (tot[f"{m}_s"] / tot[f"{m}_n"].where(tot[f"{m}_n"] > 0)).fillna(0.0)
    g = pd.DataFrame({unit: cells[unit], "n": n, "r": sm - n * mu,
                      "rr": q - 2 * mu * sm + n * mu * mu}).groupby(unit)[["n", "r", "rr"]].sum()
    g = g[g["n"] > 0]
    mean = g["r"] / g["n"]
    var = ((g["rr"] - g["n"] * mean * mean) / (g["n"] - 1).where(g["n"] > 1)).clip(lower=0)
    return pd.DataFrame({"n": g["n"], "d": mean, "var": var})


def peer_standing(cells: pd.DataFrame, home: pd.Series,
                  team_for_category: dict[str, str] | None = None, *,
                  min_contacts: int = 10) -> pd.DataFrame:
    """Per agent (``home``: agent -> main team): the standing among the team's peers and
    the team's standing, in units of the real spread between agents of a team.

    Within the team: per measure, each contact's difference from the mean of the team's
    contacts of the same channel and category, averaged per agent (``d``, its sampling
    variance ``s2``) and centred on the team; the real spread between agents
    ``tau2`` is what the within-team spread of ``d`` has beyond ``s2`` (agents with
    ``min_contacts`` or more). The standings ``d / tau`` are combined with weights
    ``tau2 / s2`` (their information) and shrunk toward the team mean by ``1 / (1 + v)``
    (``v``: the combination's variance, the prior's being 1): ``within_team`` with its
    95% posterior interval. Per measure ``<m>_vs_team`` is the unshrunk standing.

    The team: each contact's difference from the firm's contacts of the same channel and
    routing (misrouted: the team is not ``team_for_category`` of the category, or when
    that is not set, not the team that handles most of the category), averaged per team
    and centred on the firm, in the same units; measures weighted by their reliability
    ``tau2 / (tau2 + mean s2)`` (a measure agents barely differ on counts little). It is
    shrunk toward the firm by its own sampling noise (a team with few contacts)."""
    from scipy import stats

    cols = ["within_team", "within_team_low", "within_team_high", "team_standing",
            "rank_in_team", "team_size"] + [f"{m}_vs_team" for m in MEASURES]
    agents = home.index
    out = pd.DataFrame(index=agents, columns=cols, dtype=float)
    if cells.empty:
        return out.fillna({"within_team": 0.0, "team_standing": 0.0})
    cells = cells.copy()
    owner = dict(team_for_category or {})
    if not owner:
        by_cat = cells.groupby(["category", "team"])["fcr_n"].sum().reset_index()
        by_cat = by_cat.sort_values(["fcr_n", "team"], ascending=[False, True])
        owner = by_cat.drop_duplicates("category").set_index("category")["team"].to_dict()
    cells["misrouted"] = cells["category"].map(owner).fillna(cells["team"]) != cells["team"]
    k_team = home.groupby(home).transform("size")
    zsum = pd.Series(0.0, agents)
    wsum = pd.Series(0.0, agents)
    tz, tw, tv = {}, {}, {}
    for m in MEASURES:
        a = _residuals(cells, m, ["team", "channel", "category"], "agent").reindex(agents)
        a["team"] = home
        a["s2"] = a["var"] / a["n"]
        ok = a["n"].ge(min_contacts) & a["s2"].gt(0)
        if ok.sum() < 2:
            continue
        centre = (a["d"] * a["n"]).groupby(a["team"]).transform("sum") / a["n"].where(
            a["d"].notna()).groupby(a["team"]).transform("sum")
        a["d"] = a["d"] - centre
        u = a[ok]
        kept = (k_team.reindex(u.index) - 1) / k_team.reindex(u.index)
        dof = float(kept.sum())
        if dof <= 0:
            continue
        tau2 = float(((u["d"] ** 2).sum() - (kept * u["s2"]).sum()) / dof)
        # agents of a team differ no more than chance would make them (Cochran's Q
        # below its 95th percentile): nothing to rank on, and no unit to measure in
        q = float((u["d"] ** 2 / u["s2"]).sum())
        if tau2 <= 0 or stats.chi2.sf(q, dof) >= 0.05:
            continue
        z = a["d"] / np.sqrt(tau2)
        w = (tau2 / a["s2"]).where(a["s2"] > 0)
        out[f"{m}_vs_team"] = z
        zsum = zsum + (z * w).fillna(0.0)
        wsum = wsum + w.fillna(0.0)
        t = _residuals(cells, m, ["channel", "misrouted"], "team")
        t["d"] = t["d"] - (t["d"] * t["n"]).sum() / t["n"].sum()
        tz[m] = t["d"] / np.sqrt(tau2)
        tv[m] = t["var"] / t["n"] / tau2
        tw[m] = tau2 / (tau2 + float(u["s2"].mean()))
    seen = wsum > 0
    v = 1 / wsum.where(seen)
    z = (zsum / wsum.where(seen))
    post = (z / (1 + v)).where(seen, 0.0)
    sd = np.sqrt((v / (1 + v)).where(seen, 1.0))
    out["within_team"] = post
    out["within_team_low"] = post - 1.959964 * sd
    out["within_team_high"] = post + 1.959964 * sd
    if tz:
        T = pd.DataFrame(tz)
        V = pd.DataFrame(tv)
        W = pd.Series(tw)
        w = T.notna().mul(W, axis=1)
        team = T.fillna(0).mul(W, axis=1).sum(axis=1) / w.sum(axis=1).where(w.sum(axis=1) > 0)
        noise = (V.fillna(0).mul(W ** 2, axis=1).sum(axis=1) / w.sum(axis=1) ** 2)
        spread = max(float(team.var(ddof=1)) - float(noise.mean()), 0.0) if len(team) > 1 else 0.0
        shrunk = (team * spread / (spread + noise)).fillna(0.0) if spread > 0 else team * 0
        out["team_standing"] = home.map(shrunk).fillna(0.0)
    else:
        out["team_standing"] = 0.0
    out["rank_in_team"] = post.groupby(home).rank(ascending=False, method="min")
    # no measure tells this agent apart from the team's mean (no real spread between
    # the team's agents on any): a place would be a tie of everyone, not a ranking
    out.loc[~seen, "rank_in_team"] = np.nan
    out["team_size"] = k_team
    alone = k_team <= 1  # no peers to compare with: no interval to claim
    out.loc[alone, ["within_team_low", "within_team_high"]] = np.nan
    return out


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
    return _named(store, g.reset_index().rename(columns={"by": "agent"})).sort_values(
        "verified_saves", ascending=False)


def thank_you(agents: pd.DataFrame, *, min_contacts: int = 50) -> pd.DataFrame:
    """The agents to thank, with enough contacts to tell (``min_contacts``) and a reason
    (``why``): those credibly better than the peers of their team doing the same work
    (the 95% interval of ``within_team`` above 0), so neither a team's way of working
    nor a lucky month puts anyone on the list. An agent with no peer in their team
    cannot be compared that way: they are thanked when their shrunk first-contact
    resolution or responsiveness is in the top third of the agents with enough
    contacts."""
    if agents.empty:
        return agents
    a = agents[agents["handled"] >= min_contacts]
    if a.empty:
        return a
    low = a["within_team_low"] if "within_team_low" in a else pd.Series(np.nan, a.index)
    peers = low.notna()
    above = peers & (low > 0)
    lone = ~peers & ((a["fcr"] >= a["fcr"].quantile(2 / 3))
                     | (a["responsiveness"] >= a["responsiveness"].quantile(2 / 3)))
    out = a[above | lone].copy()
    out["why"] = np.where(above[above | lone], "above the team's peers",
                          "top third, no peers in the team")
    return out.sort_values("within_team" if "within_team" in out else "fcr",
                           ascending=False)
