"""Losses by cause and department: which department's failures lost each customer.

For every customer lost (:func:`~loyalist.features.retention.retention_basis`: the
last order + the lapse horizon, or the end of the last subscription), the failures
they met in the ``[departments] window_days`` up to their *last order* (the moment
they left; the lapse horizon only lets the firm notice it) are attributed to the
departments that own them (``[departments] kinds``), with an **excess-hazard model**
fitted on every customer-month, stayers included:

    h(customer, month) = exp(a + g . z) + sum_k beta_k x_k,   beta_k >= 0

where ``x_k`` counts the failures of kind ``k`` in the window, ``z`` the customer's
orders and requests in the same window (how much they deal with the firm: frequent
buyers meet more failures and leave less), and the month's event is leaving. The
fit is Poisson maximum likelihood. A lost customer's revenue is shared between the
departments in proportion to ``beta_k x_k / h`` (the excess risk each department's
failures added), the rest to no department (what stayers who met no failure also
do). A kind that stayers meet as often as leavers gets ``beta = 0``: its department is
not blamed for it; nor is a kind whose excess is not credibly above 0 (a one-sided test,
:func:`~loyalist.team.attribution.select_kinds`).

The counting runs in the engine (:mod:`loyalist.team.failures`; Ibis: DuckDB or Spark
alike): failures and orders per customer and month, the window's counts as a running
sum of what enters and leaves it, runs of months cut to each customer's months at risk
and grouped by failure pattern, so the driver fits on one row per pattern, never on a
customer-month array.

The baseline beside it (``naive_share``) blames every lost customer's revenue on the
failures they met, shared equally, as a manager reading the files would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from loyalist.contract.moments import moment
from loyalist.errors import DataError
from loyalist.team.attribution import (
    KEEP_Z,
    REPS,
    attribution_interval,
    exposure,
    fit_excess,
    kind_shares,
    select_kinds,
)
from loyalist.team.failures import (  # noqa: F401 (failure_events: part of this API)
    LAG_MONTHS,
    ORDER_KINDS,
    engine_panel,
    failure_events,
    failure_parts,
    month_of,
)

TABLE = "department_losses"
NONE = "no department"
_MONTH = 365.25 / 12
@dataclass
class DepartmentLosses:
    """Losses by department (:func:`department_losses`)."""

    as_of: pd.Timestamp
    #: per period and department (``no department`` last): see the derived table
    table: pd.DataFrame
    #: per lost customer: ``customer_id``, ``left_at``, ``revenue`` and one column per
    #: department with the share of their loss attributed to it
    customers: pd.DataFrame
    #: the excess-hazard coefficient of each kind, its department, customers who met it
    kinds: pd.DataFrame
    target: float
    notes: list[str] = field(default_factory=list)

    def overall(self) -> pd.DataFrame:
        """Every period together: per department the lost revenue attributed to it and
        its share with its 90% interval (``share_low``, ``share_high``), beside the naive
        share and the stayers' rate of the same failures."""
        t = self.table
        if t.empty:
            return t
        g = t.groupby("department", sort=False).agg(
            attributed_customers=("attributed_customers", "sum"),
            attributed_revenue=("attributed_revenue", "sum"),
            naive_revenue=("naive_revenue", "sum"),
            met_lost=("met_lost", "sum"), lost_customers=("lost_customers", "sum"),
            lost_revenue=("lost_revenue", "sum")).reset_index()
        g["share_of_lost_revenue"] = g["attributed_revenue"] / g["lost_revenue"].where(
            g["lost_revenue"] > 0)
        g["naive_share"] = g["naive_revenue"] / g["lost_revenue"].where(g["lost_revenue"] > 0)
        if "overall_share_low" in t:  # the same on each period's row
            ends = t.groupby("department", sort=False)[["overall_share_low",
                                                        "overall_share_high"]].first()
            g["share_low"] = g["department"].map(ends["overall_share_low"])
            g["share_high"] = g["department"].map(ends["overall_share_high"])
        return g

    def to_dict(self) -> dict:
        def rows(df):
            return [{k: (None if isinstance(v, float) and np.isnan(v) else
                         str(v.date()) if isinstance(v, pd.Timestamp) else
                         v.item() if isinstance(v, np.generic) else v)
                     for k, v in r.items()} for r in df.to_dict("records")]

        return {"as_of": str(self.as_of.date()), "target_annual_loss": self.target,
                "by_period": rows(self.table), "overall": rows(self.overall()),
                "kinds": rows(self.kinds), "notes": self.notes}


def segments(store) -> list[str]:
    """The segments the customers table names (``customers.segment``), sorted."""
    c = store.table("customers")
    return sorted(v for v in c.select("segment").distinct().to_pyarrow()
                  .column("segment").to_pylist() if v is not None)


def _segment(store, segment: str):
    """The customers of ``segment`` as an Ibis table of ``customer_id`` (the value bound,
    never pasted), or a DataError naming the segments there are."""
    c = store.table("customers")
    members = c.filter(c.segment == str(segment)).select(customer_id=c.id.cast("string"))
    if not members.count().execute():
        known = segments(store)
        raise DataError(f"No customer is in segment {segment!r}.",
                        hint=f"The segments are: {', '.join(known)}." if known else
                        "The customers table gives no segment.")
    return members


def _stayers_met(panel, dept_of: dict, depts: list) -> dict[str, float]:
    """Per department, the share of customer-months at risk that did not end in leaving
    in which the customer met one of its failures (the panel's patterns)."""
    pat, kinds = panel.patterns, panel.kinds
    X = pat[[f"x{j}" for j in range(len(kinds))]].to_numpy(dtype=float)
    stay = (pat["n"] - pat["d"]).to_numpy(float)
    out = {}
    for d in depts:
        idx = [j for j, k in enumerate(kinds) if dept_of[k] == d]
        out[d] = (float(stay[X[:, idx].sum(axis=1) > 0].sum() / stay.sum())
                  if idx and stay.sum() > 0 else 0.0)
    return out


def _bounds(low, high, i, j, total, name) -> dict:
    """``{name}_low``, ``{name}_high``: the interval's ends as shares of ``total``."""
    if low is None or not total > 0:
        return {f"{name}_low": None, f"{name}_high": None}
    return {f"{name}_low": float(low[i, j]) / total, f"{name}_high": float(high[i, j]) / total}


def department_losses(store, as_of=None, *, settings=None, freq: str = "Q",
                      since=None, segment: str | None = None, write: bool = False,
                      reps: int = REPS) -> DepartmentLosses:
    """Lost revenue per period attributable to each department's failures.

    Parameters
    ----------
    store : Store
    as_of : date-like, optional
        Default: the day after the last order or subscription change.
    settings : Settings, optional
        ``[departments]`` (the map, ``window_days``), ``[service]``
        (``first_response_hours``, ``team_for_category``), ``[report]``
        (``target_annual_loss``, ``horizon``).
    freq : "M", "Q" or "Y"
        The periods of the table.
    since : date-like, optional
        Only customers lost from then on are reported (all are used to fit).
    segment : str, optional
        Only the customers of this segment (``customers.segment``) are reported: their
        losses, their revenue at risk and the same failures among their stayers. The
        model is fitted on every customer (a segment alone is often too few losses), so
        a segment differs from the firm by the failures its customers met.
    write : bool
        Write the declared derived table ``department_losses`` (the whole firm's: not
        with ``segment``).
    reps : int
        Replicates of the 90% interval on each department's share
        (:func:`~loyalist.team.attribution.attribution_interval`: the fit's bootstrap and
        the draw of each loss's cause); 0 leaves the interval out.
    """
    from loyalist.features.retention import retention_basis
    from loyalist.settings import Settings

    if freq not in ("M", "Q", "Y"):
        raise DataError(f"Unknown period {freq!r}.", hint="Use M, Q or Y.")
    if write and segment is not None:
        raise DataError("The department_losses table holds the whole firm's losses.",
                        hint="Leave out segment to write it.")
    settings = settings or Settings.load(store)
    dep = settings.departments
    members = _segment(store, segment) if segment is not None else None
    basis = retention_basis(store, as_of, horizon=settings.report.horizon)
    as_of = basis.as_of
    lag = pd.Timedelta(days=basis.horizon or 0)
    notes = []
    with basis.cached() as b:
        lv = b.lives
        lives = lv.select("customer_id", "started_at", "lost_at", "revenue").to_pandas()
        lives["left_at"] = pd.to_datetime(lives["lost_at"]) - lag
        lives["started_at"] = pd.to_datetime(lives["started_at"])
        start = lives["started_at"].min()
        last = as_of - lag  # a loss after it cannot be seen yet
        if pd.isna(start):
            raise DataError("No customers to weigh failures on.",
                            hint="Ingest orders or subscriptions first.")
        y0, m0 = int(start.year), int(start.month)
        nm = (last.year - y0) * 12 + last.month - m0 + 1
        w = max(1, int(round(dep.window_days / _MONTH)))
        # at risk from the customer's first month with a full window behind it to the
        # month they left (or the last month)
        left_m = month_of(lv.lost_at - ibis.interval(days=int(lag.days)), y0, m0)
        lv = lv.select("customer_id", leaver=lv.lost_at.notnull(),
                       lo=ibis.greatest(month_of(lv.started_at, y0, m0), w),
                       left_m=left_m.cast("int32"),
                       hi=ibis.ifelse(lv.lost_at.isnull(), nm - 1,
                                      ibis.least(left_m, nm - 1)).cast("int32"))
        parts = failure_parts(store, as_of, settings)
        panel = engine_panel(store, lv, parts, as_of, y0, m0, nm, w, LAG_MONTHS)
        # the segment's own customer-months: its stayers' failures (the fit is the firm's)
        own = panel if members is None else engine_panel(
            store, lv.semi_join(members, "customer_id"), parts, as_of, y0, m0, nm, w,
            LAG_MONTHS)
        if members is not None:
            ids = set(members.to_pyarrow().column("customer_id").to_pylist())
            lives = lives[lives["customer_id"].isin(ids)].reset_index(drop=True)
    kinds, pat = panel.kinds, panel.patterns
    cols = [f"x{j}" for j in range(len(kinds))]
    if pat["d"].sum() < 10:
        raise DataError(f"Only {int(pat['d'].sum())} customers were lost with "
                        f"{dep.window_days} days of records before: too few to weigh "
                        "failures.",
                        hint="Lower [departments] window_days, or wait for more history.")
    # every customer-month counts once: weighing by revenue lets a few large customers
    # decide the fit (measured: far less stable across seeds)
    X = pat[cols].to_numpy(dtype=float)
    Z = exposure(pat["orders"])
    dn = pat["d"].to_numpy(float), pat["n"].to_numpy(float)
    # kinds whose excess is not credibly above 0 get none (else they share noise)
    fit = select_kinds(X, Z, *dn, fit_excess(X, Z, *dn))
    beta = fit[2]
    dept_of = {k: dep.department(k) for k in kinds}
    depts = list(dict.fromkeys([*dep.departments(), *dept_of.values()]))
    # the lost customers, at the month they left (no row: nothing in their window)
    lost = lives[lives["lost_at"].notna() & (lives["left_at"] < last + pd.Timedelta(days=1))]
    lost = lost.merge(panel.lost, on="customer_id", how="left")
    month = ((lost["left_at"].dt.year - y0) * 12 + lost["left_at"].dt.month - m0)
    lost = lost[(month >= 0) & (month <= nm - 1)].reset_index(drop=True)
    lost[[*cols, "orders"]] = lost[[*cols, "orders"]].fillna(0)
    xl = lost[cols].to_numpy(dtype=float)
    zl = exposure(lost["orders"])
    share = pd.DataFrame(kind_shares(fit, xl, zl), columns=kinds)
    naive = pd.DataFrame(xl / np.maximum(xl.sum(axis=1), 1.0)[:, None], columns=kinds)
    cust = lost[["customer_id", "left_at", "revenue"]].reset_index(drop=True)
    for d in depts:
        ks = [k for k in kinds if dept_of[k] == d]
        cust[d] = share[ks].sum(axis=1) if ks else 0.0
        cust[f"naive:{d}"] = naive[ks].sum(axis=1) if ks else 0.0
        cust[f"met:{d}"] = (xl[:, [kinds.index(k) for k in ks]].sum(axis=1) > 0) if ks \
            else False
    cust[NONE] = 1.0 - cust[depts].sum(axis=1)
    cust[f"naive:{NONE}"] = (xl.sum(axis=1) == 0).astype(float)
    # stayers: customer-months at risk that did not end in leaving, same window
    met_stay = _stayers_met(own, {k: dep.department(k) for k in own.kinds}, depts)
    if since is not None:
        cust = cust[cust["left_at"] >= moment(since)]
    cust["period"] = cust["left_at"].dt.to_period(freq).astype(str)
    periods = sorted(cust["period"].unique())
    low = high = None
    if reps and len(cust):
        pi = {p: i for i, p in enumerate(periods)}
        # each customer's draw by customer id, whatever order the engine returned
        by_id = cust.sort_values("customer_id", kind="stable")
        low, high = attribution_interval(
            X, Z, pat["d"].to_numpy(float), pat["n"].to_numpy(float),
            xl[by_id.index], zl[by_id.index], by_id["revenue"].to_numpy(float),
            by_id["period"].map(pi).to_numpy(), len(periods),
            [depts.index(dept_of[k]) for k in kinds], len(depts), fit, reps=reps,
            keep_z=KEEP_Z)
    # revenue at risk per period: revenue of customers active at the period's start
    rows = []
    for i, (period, grp) in enumerate(cust.groupby("period", sort=True)):
        p = pd.Period(period, freq=freq)
        p0, p1 = p.start_time, p.end_time
        at_risk = lives[(lives["started_at"] < p0)
                        & (lives["left_at"].isna() | (lives["left_at"] >= p0))]
        rev_risk = float(at_risk["revenue"].sum())
        years = min((p1 - p0).days + 1, 366) / 365.25
        lost_rev = float(grp["revenue"].sum())
        for j, d in enumerate([*depts, NONE]):
            attributed = float((grp[d] * grp["revenue"]).sum())
            rows.append({
                "period": period, "department": d, "lost_customers": len(grp),
                "lost_revenue": lost_rev,
                "met_lost": int(grp[f"met:{d}"].sum()) if d != NONE else 0,
                "met_lost_share": float(grp[f"met:{d}"].mean()) if d != NONE else None,
                "met_stayers_share": met_stay.get(d) if d != NONE else None,
                "attributed_customers": float(grp[d].sum()),
                "attributed_revenue": attributed,
                "share_of_lost_revenue": attributed / lost_rev if lost_rev > 0 else None,
                **_bounds(low, high, i, j, lost_rev, "share"),
                **_bounds(low, high, -1, j, float(cust["revenue"].sum()), "overall_share"),
                "naive_revenue": float((grp[f"naive:{d}"] * grp["revenue"]).sum()),
                "naive_share": (float((grp[f"naive:{d}"] * grp["revenue"]).sum()) / lost_rev
                                if lost_rev > 0 else None),
                "revenue_at_risk": rev_risk,
                "annual_loss_rate": (1 - (1 - lost_rev / rev_risk) ** (1 / years))
                if rev_risk > lost_rev > 0 else None,
                "annual_attributable_rate": (attributed / rev_risk / years)
                if rev_risk > 0 else None,
                "as_of": as_of})
    table = pd.DataFrame(rows)
    kinds_df = pd.DataFrame({"kind": kinds, "department": [dept_of[k] for k in kinds],
                             "beta": beta,
                             "customers": [panel.met.get(k, 0) for k in kinds]})
    if any(dept_of[k] == "unassigned" for k in kinds):
        notes.append("Some failure kinds have no department in [departments] kinds: "
                     "their share is shown as unassigned.")
    notes.append("Attributed by an excess-hazard model fitted on every customer-month, "
                 "stayers included: a department is blamed only for the risk its "
                 "failures add over customers who met none; the naive share blames every "
                 "failure a lost customer met.")
    if low is not None:
        notes.append(f"Intervals (90%, {reps} replicates) cover the fit's uncertainty and "
                     "the chance in which department's failures each loss really came from; "
                     "not a model that is wrong (failures that follow a decision to leave, "
                     "such as returns, can still be blamed).")
    with_orders = list(dict.fromkeys(dept_of[k] for k, b in zip(kinds, beta, strict=True)
                                     if b > 0 and k in ORDER_KINDS))
    if with_orders:
        notes.append(f"{' and '.join(with_orders)}: the failures blamed here come with "
                     "orders, so customers meet more of them the more they buy; how much "
                     "of a loss is theirs rather than the orders' own pattern depends on "
                     "how the model tells the two apart, more than the interval says (on "
                     "the synthetic business, other model forms gave such a department "
                     "from 3% to 60% of the lost revenue: docs/team.md).")
    if segment is not None:
        notes.append(f"Segment {segment}: its {len(lives):,} customers' losses and "
                     "stayers, weighed by the model fitted on every customer.")
    out = DepartmentLosses(as_of=as_of, table=table, customers=cust, kinds=kinds_df,
                           target=settings.report.target_annual_loss, notes=notes)
    if write:
        store.write_derived(TABLE, table.drop(columns=["naive_revenue"]),
                            note=f"as of {as_of.date()}")
    return out


def stored_losses(store) -> list[dict]:
    """The losses by department kept by the last ``loyalist team --losses`` (the declared
    table ``department_losses``), every period together: per department the lost revenue
    attributed to it, its share with its 90% interval (``share_low``, ``share_high``), the
    stayers' rate, largest first. Empty when the table was never written. Read in the engine (Ibis)."""
    if TABLE not in store.tables():
        return []
    t = store.table(TABLE)
    g = t.group_by("department").aggregate(
        attributed_revenue=t.attributed_revenue.sum(),
        attributed_customers=t.attributed_customers.sum(),
        lost_revenue=t.lost_revenue.sum(), met_lost=t.met_lost.sum(),
        lost_customers=t.lost_customers.sum(), stayers=t.met_stayers_share.mean(),
        **({"share_low": t.overall_share_low.max(), "share_high": t.overall_share_high.max()}
           if "overall_share_low" in t.columns else {}),  # written before the interval
        as_of=t.as_of.max())
    rows = g.order_by([g.attributed_revenue.desc(), g.department]).to_pyarrow().to_pylist()
    for r in rows:
        lost = r["lost_revenue"] or 0.0
        r["share"] = r["attributed_revenue"] / lost if lost > 0 else None
        r["met_share"] = (r["met_lost"] / r["lost_customers"]
                          if r["met_lost"] is not None and r["lost_customers"] else None)
        r["as_of"] = str(r["as_of"])[:10] if r["as_of"] is not None else None
    return rows


def side_by_side(losses: DepartmentLosses, stated: pd.DataFrame) -> pd.DataFrame:
    """The two declared sources per department, never mixed: the failure-based share of
    lost revenue (``failure_share``, this module) and the stated reasons' share of lost
    customers and revenue (``stated_share``, ``stated_revenue_share``, from
    :func:`~loyalist.listening.reasons.reasons_by_department`), ``unknown`` with its own
    share."""
    f = losses.overall()
    f = (f[["department", "share_of_lost_revenue", "naive_share"]]
         .rename(columns={"share_of_lost_revenue": "failure_share"})
         if len(f) else pd.DataFrame(columns=["department", "failure_share", "naive_share"]))
    st = stated.rename(columns={"customers": "stated_customers", "share": "stated_share",
                                "revenue_share": "stated_revenue_share"})
    st = st.assign(department=st["department"].replace({"none": NONE}))
    out = f.merge(st[["department", "stated_customers", "stated_share",
                      "stated_revenue_share"]], on="department", how="outer")
    out["stated_customers"] = out["stated_customers"].fillna(0).astype(int)
    order = {d: i for i, d in enumerate(f["department"])}
    out["_o"] = out["department"].map(order).fillna(len(order))
    return out.sort_values(["_o", "department"], ignore_index=True).drop(columns="_o")


def stated_reasons(store, settings, segment: str | None = None) -> pd.DataFrame:
    """The store's stated loss reasons by department (``loyalist reasons``' source);
    with ``segment``, those of that segment's lost customers."""
    from loyalist.listening.analysis import loss_reasons_of
    from loyalist.listening.reasons import reasons_by_department

    r, _by = loss_reasons_of(store, settings.listening, by=None)
    if segment is not None:
        ids = _segment(store, segment).to_pyarrow().column("customer_id").to_pylist()
        r = r[r["customer_id"].astype(str).isin(set(ids))]
    return reasons_by_department(r, settings.departments)


def losses_chart(losses: DepartmentLosses) -> str:
    """SVG: per department the share of lost revenue attributed to its failures, the
    naive share beside it, and the lost customers' and stayers' rates of meeting them."""
    from loyalist.decisions.report.charts import _pct_axis, figure, to_svg

    o = losses.overall()
    o = o[o["department"] != NONE]
    fig, ax = figure()
    y = np.arange(len(o))
    ax.barh(y + 0.2, o["share_of_lost_revenue"].fillna(0), height=0.4,
            label="attributed (excess over stayers)")
    ax.barh(y - 0.2, o["naive_share"].fillna(0), height=0.4, alpha=0.4,
            label="naive: every failure met")
    ax.set_yticks(y, o["department"])
    ax.invert_yaxis()
    _pct_axis(ax, "x")
    ax.set_title("Lost revenue by department whose failures caused it")
    ax.legend(loc="lower right", fontsize=8)
    return to_svg(fig)


def report_section(store, as_of, step) -> dict | None:
    """The report's section: losses by cause and department beside the stated reasons
    (``build_report(extra_sections={"losses": report_section})``); None when too few
    customers were lost to weigh failures."""
    from loyalist.decisions.report.formatting import table

    step("losses by department")
    try:
        dl = department_losses(store, as_of, freq="Y")
    except DataError:
        return None
    o = dl.overall()
    o["interval"] = [f"{lo:.0%} to {hi:.0%}" if lo == lo and lo is not None else ""
                     for lo, hi in zip(o["share_low"], o["share_high"], strict=True)]
    both = side_by_side(dl, stated_reasons(store, store.settings))
    top = o[o["department"] != NONE].sort_values("share_of_lost_revenue", ascending=False)
    lines = []
    if len(top) and top["share_of_lost_revenue"].iloc[0] > 0:
        r = top.iloc[0]
        lines.append(f"{r['department']}'s failures cost the most: "
                     f"{r['share_of_lost_revenue']:.0%} of the revenue lost "
                     f"({r['attributed_revenue']:,.0f}; 90% interval {r['interval']}), "
                     "against {r['naive_share']:.0%} if "
                     "every failure a lost customer met were blamed.")
    last = dl.table[dl.table["period"] == dl.table["period"].max()]
    if len(last) and last["annual_loss_rate"].notna().any():
        lines.append(f"Revenue loss rate in {last['period'].iloc[0]}: "
                     f"{last['annual_loss_rate'].dropna().iloc[0]:.1%} a year against the "
                     f"target of {dl.target:.0%}.")
    tables = {"departments": table(o, [
        ("department", "department", "text"), ("attributed_revenue", "lost revenue "
         "attributed", "money"), ("share_of_lost_revenue", "share", "pct"),
        ("interval", "90% interval", "text"),
        ("naive_share", "naive share", "pct"), ("attributed_customers", "customers",
                                                 "num0")]),
        "side": table(both, [
            ("department", "department", "text"), ("failure_share", "failures: share of "
             "lost revenue", "pct"), ("stated_customers", "stated: lost customers", "int"),
            ("stated_share", "stated: share", "pct"), ("stated_revenue_share",
                                                        "stated: share of revenue", "pct")])}
    return {"title": "Losses by cause and department", "nav": "Departments",
            "lead": "Lost revenue attributed to the departments whose failures preceded "
                    "each loss, over and above what customers who stayed also met; beside "
                    "it the reasons customers stated, a separate source never mixed in.",
            "lines": lines, "charts": {"departments": losses_chart(dl)},
            "captions": {"departments": "Share of lost revenue per department: attributed "
                                        "(excess over stayers) and naive."},
            "tables": tables, "table_titles": {"departments": "Failure-based attribution",
                                               "side": "Side by side with stated reasons"},
            "notes": dl.notes}


__all__ = ["NONE", "TABLE", "DepartmentLosses", "department_losses", "failure_events",
           "stored_losses",
           "losses_chart", "report_section", "side_by_side", "stated_reasons"]
