"""The failures a customer met, counted in the engine for the losses by department
(:mod:`loyalist.team.losses`): every failure of the records as one table of events
(:func:`failure_parts`), and the panel the excess-hazard fit reads: failures and orders
per customer and month, the window's counts as a running sum, runs of months grouped by
failure pattern (:func:`engine_panel`). Ibis only: DuckDB or Spark alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from loyalist.features.builder import available
from loyalist.settings.departments import DEFAULT_KINDS

#: failures count up to the month before the customer left
LAG_MONTHS = 1
#: the orders' kind in the engine's table of events (never a failure kind)
_ORDERS = "__orders__"


def _t(x):
    return pd.Timestamp(x).to_pydatetime()


def failure_parts(store, as_of, settings) -> list:
    """Every failure in the records before ``as_of`` as engine expressions (Ibis), one
    per kind of failure: ``customer_id``, ``at``, ``kind``."""
    import ibis

    from loyalist.features.service_signals import tracked_lifecycle

    have = available(store)
    kinds = {**DEFAULT_KINDS, **settings.departments.kinds}
    now = _t(as_of)
    parts = []

    def part(s, at, kind):
        return s.select(customer_id=s.customer_id.cast("string"), at=at.cast("timestamp"),
                        kind=kind if not isinstance(kind, str) else ibis.literal(kind))

    if have.get("requests"):
        r = store.table("requests")
        r = r.filter(r.opened_at < now)
        target_s = settings.service.first_response_hours * 3600
        late = r.first_response_at.isnull() | (
            (r.first_response_at.epoch_seconds() - r.opened_at.epoch_seconds()) > target_s)
        old = _t(pd.Timestamp(as_of) - pd.Timedelta(days=14))
        conds = {"unanswered_request": late & (r.opened_at < old),
                 "repeated_contact": r.parent_id.notnull(),
                 "unresolved_request": r.first_response_at.notnull()
                 & r.resolved_at.isnull() & (r.opened_at < old)}
        mapping = settings.service.team_for_category
        if mapping:
            expected = ibis.cases(*[(r.category == k, v) for k, v in mapping.items()],
                                  else_=r.team)
            conds["misrouted"] = r.team != expected
        cats = [k for k in kinds if k not in conds and k not in ORDER_KINDS]
        if cats:
            conds["_category"] = r.category.isin(cats)
        for kind, cond in conds.items():
            s = r.filter(cond)
            parts.append(part(s, s.opened_at, s.category if kind == "_category" else kind))
    if have.get("orders"):
        o = store.table("orders")
        o = o.filter(o.ordered_at < now)
        tracked = tracked_lifecycle(o)
        conds = {"returned": o.status.lower() == "returned"}
        if "acknowledged_at" in tracked:
            conds["not_acknowledged"] = o.acknowledged_at.isnull()
        if {"promised_at", "fulfilled_at"} <= tracked:
            # a day's grace: fulfilment times are stamped in working hours
            conds["late_against_promise"] = (o.fulfilled_at.epoch_seconds()
                                             - o.promised_at.epoch_seconds()) > 86400
        if {"fulfilled_at", "followed_up_at"} <= tracked:
            conds["not_followed_up"] = o.fulfilled_at.notnull() & o.followed_up_at.isnull()
        for kind, cond in conds.items():
            s = o.filter(cond)
            parts.append(part(s, s.ordered_at, kind))
    return parts


def failure_events(store, as_of, settings) -> pd.DataFrame:
    """Every failure in the records before ``as_of``: ``customer_id``, ``kind``, ``at``
    (pandas; :func:`department_losses` keeps them in the engine)."""
    import ibis

    parts = failure_parts(store, as_of, settings)
    if not parts:
        return pd.DataFrame({"customer_id": [], "at": pd.Series(dtype="datetime64[ns]"),
                             "kind": []})
    out = ibis.union(*parts).to_pandas()
    out["at"] = pd.to_datetime(out["at"])
    return out


#: the failure kinds that come with an order (so a customer meets more of them the more
#: they buy)
ORDER_KINDS = ("returned", "not_acknowledged", "late_against_promise", "not_followed_up",
               "acknowledged_late")


def month_of(ts, y0: int, m0: int):
    """Month index (0 = the first month of the customers' lives) of an engine timestamp."""
    return ((ts.year() - y0) * 12 + (ts.month() - m0)).cast("int32")


@dataclass
class _Panel:
    """What the fit and the attribution need, aggregated in the engine."""

    kinds: list[str]
    #: per failure pattern: ``x0..``, ``orders``, ``n`` customer-months
    #: at risk with a full window, ``d`` of them the month the customer left
    patterns: pd.DataFrame
    #: per lost customer, at the month they left: ``customer_id``, ``x0..``, ``orders``
    lost: pd.DataFrame
    #: customers who met each kind
    met: dict[str, int]


def engine_panel(store, lives, parts, as_of, y0, m0, nm, w, lag) -> _Panel:
    """Failure counts per customer-month in the ``w`` months up to ``lag`` months before,
    grouped in the engine into failure patterns (Ibis: DuckDB or Spark alike)."""
    import ibis
    from ibis import _

    def months(parts):
        ev = ibis.union(*parts)
        ev = ev.select("customer_id", "kind", m=month_of(ev.at, y0, m0))
        return ev.filter((ev.m >= 0) & (ev.m < nm))

    # the customers who met each kind, from the failures alone (the orders, the bulk of
    # the events, only matter below)
    met, coded = {}, []
    if parts:
        fails = months(parts)
        met = fails.group_by("kind").aggregate(c=_.customer_id.nunique()).to_pandas()
        met = dict(zip(met["kind"], met["c"].astype(int), strict=True))
    kinds = sorted(k for k in met if k != _ORDERS)
    if kinds:
        # each event's kind as a number (1.. the kinds, 0 the orders) before the count
        # per customer-month below: one comparison of numbers per kind, not of texts
        coded.append(fails.select("customer_id", "m", code=ibis.cases(
            *[(fails.kind == k, j) for j, k in enumerate(kinds, 1)], else_=-1
        ).cast("int16")))
    o = store.table("orders") if available(store).get("orders") else None
    if o is not None:
        o = o.filter(o.ordered_at < _t(as_of))
        o = months([o.select(customer_id=o.customer_id.cast("string"),
                             at=o.ordered_at.cast("timestamp"), kind=ibis.literal(_ORDERS))])
        coded.append(o.select("customer_id", "m", code=ibis.literal(0, "int16")))
    ev = ibis.union(*coded)
    cols = [f"x{j}" for j in range(len(kinds))]
    # integer keys for the customers at risk: the windows, joins and groups below run on
    # them (at a million customers, string keys ran out of the engine's memory)
    keys = lives.select(*[c for c in lives.columns if c != "customer_id"], cid=lives.customer_id,
                        key=ibis.row_number().over(order_by=lives.customer_id).cast("int32")
                        ).cache()
    lk = keys.drop("cid")
    e = ev.inner_join(keys, ev.customer_id == keys.cid)
    # one row per customer and month with anything in it, the kinds side by side
    monthly = e.group_by(["key", "m"]).aggregate(
        orders=_.code.count(where=_.code == 0).cast("int32"),
        **{c: _.code.count(where=_.code == j).cast("int32")
           for j, c in enumerate(cols, 1)}).cache()
    try:
        patterns = _runs(monthly, lk, ["orders", *cols], w, lag).to_pandas()
        # every lost customer at the month they left, a full window behind them or not
        lc = monthly.join(lk.filter(lk.leaver), "key")
        lc = lc.filter((lc.m <= lc.left_m - lag) & (lc.m > lc.left_m - lag - w))
        lost = lc.group_by("key").aggregate(**{c: _[c].sum() for c in ["orders", *cols]})
        lost = lost.join(keys, lost.key == keys.key).select(
            customer_id=keys.cid, **{c: lost[c] for c in ["orders", *cols]}).to_pandas()
    finally:
        monthly.release()
        keys.release()
    # customer-months with no failure and no order in their window are not in the
    # engine's table: the month's at-risk count less the patterns found
    span = lives.filter(lives.hi >= lives.lo).aggregate(
        n=(_.hi - _.lo + 1).sum(), d=(_.leaver & (_.left_m <= nm - 1)).cast("int64").sum()
    ).to_pandas()
    zero = pd.DataFrame({"n": [float(span["n"].iloc[0] or 0) - patterns["n"].sum()],
                         "d": [float(span["d"].iloc[0] or 0) - patterns["d"].sum()],
                         "orders": [0], **{c: [0] for c in cols}})
    # one order whatever the engine returned, so the fit sums in the same order
    patterns = pd.concat([patterns, zero[zero["n"] > 0][patterns.columns]],
                         ignore_index=True).sort_values([*cols, "orders"],
                                                        ignore_index=True)
    lost = lost.sort_values("customer_id", ignore_index=True)
    return _Panel(kinds=kinds, patterns=patterns, lost=lost, met=met)


def _runs(monthly, lives, cols, w: int, lag: int):
    """Failure patterns with the customer-months at risk that hold each (``n``) and the
    departures among them (``d``), without a row per customer-month: a month's counts
    enter the window ``lag`` months later and leave it ``w`` months after that, so the
    window's counts are a running sum of those changes, constant until the next one (a
    run of months). Each run is cut to the months the customer was at risk.

    Two changes in one month (a month entering as another leaves) are not summed first:
    the running sum on the last of them holds both, and the earlier one's run ends
    before it starts (the next change is in the same month), so it holds no month and is
    dropped (measured at 1M customers: the group-by cost a quarter of this query)."""
    import ibis
    from ibis import _

    enter = monthly.select("key", p=(monthly.m + lag).cast("int32"),
                           **{c: monthly[c] for c in cols})
    leave = monthly.select("key", p=(monthly.m + lag + w).cast("int32"),
                           **{c: -monthly[c] for c in cols})
    # a change after the customer's last month at risk starts no run they were at risk
    # in and ends none early (the last run is cut at ``hi`` either way): left out before
    # the window (15-20% of its cost at 1M customers)
    ch = ibis.union(enter, leave).join(lives, "key")
    ch = ch.filter(ch.p <= ch.hi)
    by = {"group_by": "key", "order_by": "p"}
    run = ch.select("p", "lo", "hi", "leaver", "left_m", nxt=ch.p.lead().over(**by),
                    **{c: ch[c].sum().over(rows=(None, 0), **by).cast("int32") for c in cols})
    first = ibis.greatest(run.p, run.lo)
    last = ibis.least(ibis.coalesce(run.nxt - 1, run.hi), run.hi)
    run = run.select(*cols, n=(last - first + 1).cast("int64"),
                     d=(run.leaver & (run.left_m >= first) & (run.left_m <= last)
                        ).cast("int64"))
    run = run.filter(run.n > 0)
    return run.group_by(cols).aggregate(n=_.n.sum(), d=_.d.sum())
