"""How many customers (and how much revenue) the business keeps: loss rates, cohort
retention, net and gross revenue retention, value concentration and revenue at risk.

Everything per customer runs in the engine as Ibis expressions over the store's
tables; only small aggregated tables (a row per month, cohort or group) come back
to pandas, where the last arithmetic (cumulative sums, the Kaplan-Meier product)
is done.

When is a customer lost?
    *Non-contractual* businesses (orders only, ``mode="lapse"``): a customer starts
    at their first order and counts as **lost at their last order + horizon days**,
    once that moment has passed (``horizon`` from
    :func:`~loyalist.features.labels.suggest_horizon`, overridable). A customer whose
    last order + horizon lies after ``as_of`` is still a customer.
    *Contractual* businesses (``mode="contract"``): a customer starts at their first
    subscription and is **lost when their last subscription ended** (``ended_at``,
    with no subscription still running); ends after ``as_of`` are not known yet.

Each customer also carries a **yearly revenue** used to weigh losses by revenue:
non-contractual, what they spent in the 365 days up to their last order;
contractual, 12 x the MRR of the subscriptions running at their end (or now).

All functions share one :class:`RetentionBasis` (built by :func:`retention_basis`)
so the customers' lives are computed once and cached in the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import ibis
import numpy as np
import pandas as pd
from ibis import _

from loyalist.contract.moments import moment
from loyalist.errors import DataError
from loyalist.features.builder import available
from loyalist.features.labels import observed_until, suggest_horizon
from loyalist.features.rfm import money_sum
from loyalist.features.service import DAY, _seconds, _ts

#: group columns :func:`loss_rates` and :func:`trailing_loss` accept
DIMENSIONS = ("segment", "owner")
_NONE = "(none)"


@dataclass
class RetentionBasis:
    """The customers' lives at ``as_of``: one row per customer in ``lives``
    (``customer_id, started_at, lost_at, revenue, segment, owner``; ``lost_at`` is
    NULL for customers still active), an engine expression."""

    mode: str
    horizon: int | None
    as_of: pd.Timestamp
    lives: ibis.Table
    #: ``customer_id, started_at, lost_at`` only: cheaper when revenue is not needed
    ends: ibis.Table | None = None
    _memo: dict = field(default_factory=dict, repr=False)

    @contextmanager
    def cached(self) -> Iterator[RetentionBasis]:
        """The same basis with ``lives`` computed once in the engine (Ibis ``.cache()``)
        and ``ends`` read from it, for as long as the ``with`` block runs; the cached
        table is released when it ends, even on an error. Use it when several
        queries read the basis (the report does)::

            with retention_basis(store).cached() as b:
                loss_rates(basis=b), cohort_retention(basis=b)
        """
        lives = self.lives.cache()
        try:
            yield replace(self, lives=lives, ends=lives.select("customer_id", "started_at",
                                                               "lost_at"), _memo={})
        finally:
            lives.release()

    def cells(self, unit: str = "M", months: int = 12) -> pd.DataFrame:
        """Customers and revenue per segment, owner, start period, loss period
        (``unit`` M, Q or Y) and their status in the ``months`` before ``as_of``
        (``risk``: a customer at the window's start; ``gone``: lost since): the one
        small engine aggregate the loss rates need."""
        key = (unit, months)
        if key not in self._memo:
            lv = self.lives
            w0 = _ts((self.as_of - pd.DateOffset(months=months)).to_pydatetime())
            now = _ts(self.as_of.to_pydatetime())
            risk = (lv.started_at < w0) & (lv.lost_at.isnull() | (lv.lost_at >= w0))
            self._memo[key] = (
                lv.mutate(start_p=lv.started_at.truncate(unit), lost_p=lv.lost_at.truncate(unit),
                          risk=risk, gone=risk & lv.lost_at.notnull() & (lv.lost_at < now))
                .group_by([*DIMENSIONS, "start_p", "lost_p", "risk", "gone"])
                .aggregate(n=_.count(), rev=_.revenue.sum()).to_pandas())
        return self._memo[key]


def default_as_of(store) -> pd.Timestamp:
    """Midnight after the last order or subscription change in the store."""
    return observed_until(store).normalize() + pd.Timedelta(days=1)


def _mode(have: dict, mode: str) -> str:
    if mode == "auto":
        mode = "lapse" if have["orders"] else "contract"
    if mode not in ("lapse", "contract"):
        raise DataError(f"Unknown retention mode {mode!r}.", hint="Use auto, lapse or contract.")
    need = "orders" if mode == "lapse" else "subscriptions"
    if not have[need]:
        raise DataError(f"Retention in {mode} mode needs {need}; the store has none.",
                        hint=f"Ingest {need} first (loyalist ingest {need} FILE).")
    return mode


def _lapse_ends(orders: ibis.Table, now, horizon: int) -> ibis.Table:
    o = orders.filter(orders.ordered_at < now)
    per = o.group_by("customer_id").aggregate(started_at=o.ordered_at.min(),
                                              last_order=o.ordered_at.max())
    due = per.last_order + ibis.interval(days=horizon)
    return per.mutate(lost_at=ibis.ifelse(due <= now, due, ibis.null("timestamp")))


def _lapse_lives(orders: ibis.Table, now, horizon: int) -> ibis.Table:
    o = orders.filter(orders.ordered_at < now)
    per = _lapse_ends(orders, now, horizon)
    recent = o.join(per, "customer_id").filter(
        lambda t: _seconds(t.last_order, t.ordered_at) < 365 * DAY)
    rev = recent.group_by("customer_id").aggregate(revenue=money_sum(recent.amount))
    out = per.left_join(rev, "customer_id")
    return out.select("customer_id", "started_at", "lost_at",
                      revenue=out.revenue.fill_null(0.0).cast("float64"))


def _contract_per(subs: ibis.Table, now) -> tuple[ibis.Table, ibis.Table]:
    """The subscriptions started before ``now`` (ends after it unknown: NULL) and, per
    customer, ``started_at, running, last_end, lost_at``."""
    s = subs.filter(subs.started_at < now)
    s = s.mutate(ended_at=ibis.ifelse(s.ended_at >= now, ibis.null("timestamp"), s.ended_at))
    per = s.group_by("customer_id").aggregate(started_at=s.started_at.min(),
                                              running=s.ended_at.isnull().any(),
                                              last_end=s.ended_at.max())
    return s, per.mutate(lost_at=ibis.ifelse(per.running, ibis.null("timestamp"), per.last_end))


def _contract_ends(subs: ibis.Table, now) -> ibis.Table:
    return _contract_per(subs, now)[1].select("customer_id", "started_at", "lost_at")


def _contract_lives(subs: ibis.Table, now) -> ibis.Table:
    s, per = _contract_per(subs, now)
    j = s.join(per, "customer_id")
    at_end = j.filter((j.running & j.ended_at.isnull()) | (~j.running & (j.ended_at == j.last_end)))
    rev = at_end.group_by("customer_id").aggregate(revenue=12 * money_sum(at_end.mrr.fill_null(0)))
    out = per.left_join(rev, "customer_id")
    return out.select("customer_id", "started_at", "lost_at",
                      revenue=out.revenue.fill_null(0.0).cast("float64"))


def retention_basis(store, as_of=None, *, mode: str = "auto", horizon: int | None = None
                    ) -> RetentionBasis:
    """Every customer's start, loss (or NULL) and yearly revenue at ``as_of``.

    ``as_of`` defaults to midnight after the store's last order or subscription
    change; ``horizon`` (days, non-contractual only) defaults to
    :func:`~loyalist.features.labels.suggest_horizon` of the orders.
    """
    have = available(store)
    mode = _mode(have, mode)
    as_of = moment(as_of) if as_of is not None else default_as_of(store)
    now = _ts(as_of.to_pydatetime())
    if mode == "lapse":
        horizon = int(horizon) if horizon is not None else suggest_horizon(store.table("orders"))
        if horizon <= 0:
            raise DataError(f"The lapse horizon must be a positive number of days; got {horizon}.",
                            hint="Pass horizon=90 (or leave it out to have it suggested).")
        lives = _lapse_lives(store.table("orders"), now, horizon)
        ends = _lapse_ends(store.table("orders"), now, horizon).drop("last_order")
    else:
        horizon = None
        lives = _contract_lives(store.table("subscriptions"), now)
        ends = _contract_ends(store.table("subscriptions"), now)
    if have["customers"]:
        c = store.table("customers")
        c = c.select(customer_id=c.id, segment=c.segment, owner=c.owner).distinct(
            on="customer_id", keep="first")
        lives = lives.left_join(c, "customer_id").drop("customer_id_right")
    else:
        lives = lives.mutate(segment=ibis.null("string"), owner=ibis.null("string"))
    lives = lives.mutate(segment=lives.segment.fill_null(_NONE), owner=lives.owner.fill_null(_NONE))
    return RetentionBasis(mode=mode, horizon=horizon, as_of=as_of, lives=lives, ends=ends)


def _basis(store, basis, as_of, mode, horizon) -> RetentionBasis:
    return basis if basis is not None else retention_basis(store, as_of, mode=mode,
                                                           horizon=horizon)


def _by(by) -> list[str]:
    cols = [by] if isinstance(by, str) else list(by or [])
    bad = [c for c in cols if c not in DIMENSIONS]
    if bad:
        raise DataError(f"Cannot group retention by {', '.join(bad)}.",
                        hint=f"Use one of: {', '.join(DIMENSIONS)}.")
    return cols


_FREQ = {"M": ("M", 12), "Q": ("Q", 4), "Y": ("Y", 1)}


def loss_rates(store=None, freq: str = "M", by=None, *, as_of=None, mode: str = "auto",
               horizon: int | None = None, basis: RetentionBasis | None = None) -> pd.DataFrame:
    """Loss rate per calendar period (``freq`` "M", "Q" or "Y"), optionally by segment or owner.

    For each period that ended by ``as_of``: ``at_risk`` = customers who started
    before the period and were not lost before it; ``lost`` = those of them lost in
    it; ``loss_rate = lost / at_risk``. By revenue the same with each customer's
    yearly revenue: ``revenue_loss_rate = revenue_lost / revenue_at_risk``.
    ``annualised`` rates turn a period's rate into a yearly one assuming the rate
    holds all year: ``1 - (1 - rate) ** periods_per_year``.
    """
    if freq not in _FREQ:
        raise DataError(f"Unknown frequency {freq!r}.", hint="Use M (months), Q or Y.")
    unit, per_year = _FREQ[freq]
    b = _basis(store, basis, as_of, mode, horizon)
    cols = _by(by)
    agg = b.cells(unit)
    if agg.empty:
        raise DataError("No customers to measure losses on.", hint="Ingest orders first.")
    first = agg["start_p"].min()
    periods = pd.period_range(first, b.as_of, freq=unit)
    starts = periods.start_time
    ends = (periods + 1).start_time
    starts = starts[(starts > first) & (ends <= b.as_of)]
    rows = []
    for p in starts:
        before = agg["start_p"] < p
        risk = before & (agg["lost_p"].isna() | (agg["lost_p"] >= p))
        lost = before & (agg["lost_p"] == p)
        g = agg.assign(at_risk=agg["n"].where(risk, 0), lost=agg["n"].where(lost, 0),
                       revenue_at_risk=agg["rev"].where(risk, 0.0),
                       revenue_lost=agg["rev"].where(lost, 0.0))
        keep = ["at_risk", "lost", "revenue_at_risk", "revenue_lost"]
        part = (g.groupby(cols)[keep].sum().reset_index() if cols
                else g[keep].sum().to_frame().T)
        rows.append(part.assign(period=p))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["period", *cols, "at_risk", "lost", "revenue_at_risk", "revenue_lost"])
    out[["at_risk", "lost"]] = out[["at_risk", "lost"]].astype("int64")
    out["loss_rate"] = out["lost"] / out["at_risk"].where(out["at_risk"] > 0)
    out["revenue_loss_rate"] = out["revenue_lost"] / out["revenue_at_risk"].where(
        out["revenue_at_risk"] > 0)
    out["annualised_loss_rate"] = 1 - (1 - out["loss_rate"]) ** per_year
    out["annualised_revenue_loss_rate"] = 1 - (1 - out["revenue_loss_rate"]) ** per_year
    return out[["period", *cols, *[c for c in out.columns if c not in ("period", *cols)]]]


def rolling_loss(store=None, *, months: int = 12, as_of=None, mode: str = "auto",
                 horizon: int | None = None, basis: RetentionBasis | None = None
                 ) -> pd.DataFrame:
    """The ``months``-long loss rate for windows ending at each month start up to ``as_of``.

    Same definition as :func:`trailing_loss`, on calendar-month windows: ``at_risk``
    = customers who started before the window's first month and were not lost
    before it, ``lost`` = those of them lost in the window. By revenue likewise.
    """
    b = _basis(store, basis, as_of, mode, horizon)
    agg = b.cells("M")
    first = agg["start_p"].min()
    ends = pd.period_range(first, b.as_of, freq="M").start_time
    rows = []
    for end in ends[ends <= b.as_of]:
        w0 = end - pd.DateOffset(months=months)
        if w0 <= first:
            continue
        risk = (agg["start_p"] < w0) & (agg["lost_p"].isna() | (agg["lost_p"] >= w0))
        lost = risk & (agg["lost_p"] < end)
        rows.append({"window_end": end, "at_risk": int(agg["n"][risk].sum()),
                     "lost": int(agg["n"][lost].sum()),
                     "revenue_at_risk": float(agg["rev"][risk].sum()),
                     "revenue_lost": float(agg["rev"][lost].sum())})
    out = pd.DataFrame(rows, columns=["window_end", "at_risk", "lost", "revenue_at_risk",
                                      "revenue_lost"])
    out["loss_rate"] = out["lost"] / out["at_risk"].where(out["at_risk"] > 0)
    out["revenue_loss_rate"] = out["revenue_lost"] / out["revenue_at_risk"].where(
        out["revenue_at_risk"] > 0)
    return out


def trailing_loss(store=None, by=None, *, months: int = 12, as_of=None, mode: str = "auto",
                  horizon: int | None = None, basis: RetentionBasis | None = None
                  ) -> pd.DataFrame:
    """The loss rate over the ``months`` before ``as_of`` (the headline figure).

    ``at_risk`` = customers who were customers at the window's start (started before
    it, not lost before it); ``lost`` = those of them lost by ``as_of``;
    ``loss_rate = lost / at_risk``, and by revenue likewise. Customers won during
    the window are not counted. One row (or one per group with ``by``).
    """
    b = _basis(store, basis, as_of, mode, horizon)
    cols = _by(by)
    c = b.cells("M", months)
    cells = c.assign(at_risk=c["n"].where(c["risk"], 0), lost=c["n"].where(c["gone"], 0),
                     revenue_at_risk=c["rev"].where(c["risk"], 0.0),
                     revenue_lost=c["rev"].where(c["gone"], 0.0),
                     active_now=c["n"].where(c["lost_p"].isna(), 0))
    nums = ["at_risk", "lost", "revenue_at_risk", "revenue_lost", "active_now"]
    out = (cells.groupby(cols)[nums].sum().reset_index() if cols
           else cells[nums].sum().to_frame().T)
    out[["at_risk", "lost", "active_now"]] = out[["at_risk", "lost", "active_now"]].astype(
        "int64")
    out["loss_rate"] = out["lost"] / out["at_risk"].where(out["at_risk"] > 0)
    out["revenue_loss_rate"] = out["revenue_lost"] / out["revenue_at_risk"].where(
        out["revenue_at_risk"] > 0)
    out["months"] = months
    return out.sort_values("at_risk", ascending=False, ignore_index=True) if cols else out


def kaplan_meier(counts: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier survival from aggregated counts.

    ``counts`` has ``duration`` (time to the loss or to the end of observation),
    ``events`` (losses at that duration) and ``censored`` (still customers, observed
    that long). A customer censored at ``t`` is still at risk at ``t`` (the usual
    convention). Returns ``timeline, at_risk, events, censored, survival`` with
    ``survival(t) = prod over t_i <= t of (1 - events_i / at_risk_i)``.
    """
    c = (counts.groupby("duration")[["events", "censored"]].sum().sort_index().reset_index())
    total = c["events"] + c["censored"]
    at_risk = total[::-1].cumsum()[::-1]
    factor = 1.0 - c["events"] / at_risk
    return pd.DataFrame({"timeline": c["duration"].to_numpy(), "at_risk": at_risk.to_numpy(),
                         "events": c["events"].to_numpy(), "censored": c["censored"].to_numpy(),
                         "survival": factor.cumprod().to_numpy()})


def _survival_at(km: pd.DataFrame, t: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(km["timeline"].to_numpy(), t, side="right") - 1
    s = km["survival"].to_numpy()
    return np.where(idx >= 0, s[np.maximum(idx, 0)], 1.0)


def cohort_retention(store=None, *, freq: str = "Q", step_days: float = 365.25 / 12,
                     as_of=None, mode: str = "auto", horizon: int | None = None,
                     basis: RetentionBasis | None = None) -> pd.DataFrame:
    """Kaplan-Meier retention curves by acquisition cohort (start month, quarter or year).

    Duration is whole days from a customer's start to their loss (an event) or to
    ``as_of`` (right-censored: still a customer, observed that long). Counts per
    cohort, duration and status are aggregated in the engine; the product-limit
    estimate is taken on that small table (:func:`kaplan_meier`). Returns one row
    per cohort and time step (``months`` since start; ``step_days`` long), up to the
    longest follow-up of the cohort: ``cohort, months, days, retained, at_risk,
    customers``.
    """
    if freq not in _FREQ:
        raise DataError(f"Unknown cohort frequency {freq!r}.", hint="Use M, Q or Y.")
    b = _basis(store, basis, as_of, mode, horizon)
    lv = b.ends if b.ends is not None else b.lives
    now = _ts(b.as_of.to_pydatetime())
    end = lv.lost_at.fill_null(now)
    days = (_seconds(end, lv.started_at) / DAY).floor().cast("int64")
    agg = (lv.mutate(cohort=lv.started_at.truncate(_FREQ[freq][0]), duration=days,
                     event=lv.lost_at.notnull())
           .group_by(["cohort", "duration", "event"]).aggregate(n=_.count()).to_pandas())
    rows = []
    for cohort, g in agg.groupby("cohort", sort=True):
        counts = pd.DataFrame({"duration": g["duration"],
                               "events": g["n"].where(g["event"], 0),
                               "censored": g["n"].where(~g["event"].astype(bool), 0)})
        km = kaplan_meier(counts)
        longest = float(km["timeline"].max())
        steps = np.arange(0, int(longest // step_days) + 1)
        t = steps * step_days
        # at risk at t: the KM at-risk count of the first duration >= t (0 past the last)
        first = np.searchsorted(km["timeline"].to_numpy(), t, side="left")
        risk = np.r_[km["at_risk"].to_numpy(), 0][first]
        rows.append(pd.DataFrame({"cohort": cohort, "months": steps, "days": t,
                                  "retained": _survival_at(km, t), "at_risk": risk,
                                  "customers": int(g["n"].sum())}))
    if not rows:
        raise DataError("No customers to build cohort curves from.", hint="Ingest orders first.")
    return pd.concat(rows, ignore_index=True)


def _lapse_retention(store, bounds: list[pd.Timestamp]) -> pd.DataFrame:
    """One engine query: order revenue per customer in each window ``[bounds[j+1],
    bounds[j])``, each window paired with the one before it."""
    o = store.table("orders")
    o = o.filter((o.ordered_at >= _ts(bounds[-1].to_pydatetime()))
                 & (o.ordered_at < _ts(bounds[0].to_pydatetime())))
    k = ibis.cases(*[(o.ordered_at >= _ts(b.to_pydatetime()), j)
                     for j, b in enumerate(bounds[1:])])
    cq = o.mutate(k=k).group_by(["customer_id", "k"]).aggregate(rev=money_sum(_.amount.fill_null(0)))
    after = cq.view()
    j = cq.filter((cq.k >= 1) & (cq.rev > 0)).left_join(
        after, (cq.customer_id == after.customer_id) & (after.k == cq.k - 1))
    r1 = j.rev_right.fill_null(0.0)
    return (j.group_by(window=j.k - 1)
            .aggregate(customers=_.count(), r0=j.rev.sum(), r1=r1.sum(),
                       kept=ibis.least(j.rev, r1).sum(), stayed=(r1 > 0).cast("int64").sum())
            .to_pandas())


def _contract_retention(store, bounds: list[pd.Timestamp]) -> pd.DataFrame:
    """Per window ``j``: MRR running at ``bounds[j+1]`` (before) and ``bounds[j]``
    (after) of each customer, one small engine query per window."""
    rows = []
    for w in range(len(bounds) - 1):
        s = store.table("subscriptions")
        mrr = s.mrr.fill_null(0.0)

        def running(t, s=s):
            t = _ts(t.to_pydatetime())
            return (s.started_at <= t) & (s.ended_at.isnull() | (s.ended_at > t))

        then, now = running(bounds[w + 1]), running(bounds[w])
        per = s.filter(then | now).group_by("customer_id").aggregate(
            before=ibis.ifelse(then, mrr, 0.0).sum(), after=ibis.ifelse(now, mrr, 0.0).sum())
        per = per.filter(per.before > 0)
        r = per.aggregate(customers=_.count(), r0=per.before.sum(), r1=per.after.sum(),
                          kept=ibis.least(per.before, per.after).sum(),
                          stayed=(per.after > 0).cast("int64").sum()).to_pandas()
        rows.append(r.assign(window=w))
    return pd.concat(rows, ignore_index=True)


def revenue_retention(store, *, months: int = 12, points: int = 12, as_of=None,
                      mode: str = "auto") -> pd.DataFrame:
    """Net and gross revenue retention over consecutive windows of ``months`` (12: annual).

    Window ``j`` runs from ``as_of - (j+1) x months`` to ``as_of - j x months``. Its
    base is the customers who brought revenue in the window before it (R0); R1 is
    the same customers' revenue in the window (customers won during it are left
    out). ``nrr = sum(R1) / sum(R0)`` (expansion counts, so it can exceed 100%);
    ``grr = sum(min(R1, R0)) / sum(R0)`` (losses and contraction only, at most
    100%). Non-contractual revenue is order amounts in each window; contractual
    revenue is the MRR running at the window's start (R0) and end (R1). Up to
    ``points`` windows, as far back as the history allows (empty if too short).
    """
    have = available(store)
    mode = _mode(have, mode)
    as_of = moment(as_of) if as_of is not None else default_as_of(store)
    if mode == "lapse":
        first = store.table("orders").ordered_at.min().execute()
    else:
        first = store.table("subscriptions").started_at.min().execute()
    cols = ["window_end", "window_start", "customers", "customers_retained", "revenue_before",
            "revenue_after", "nrr", "grr"]
    bounds = [as_of - pd.DateOffset(months=months * j) for j in range(points + 2)]
    if pd.notna(first):
        first = pd.Timestamp(first)
        # lapse: the 'before' window must lie in the history; contract: its start must
        usable = [b for b in bounds if b >= first.normalize()] if mode == "lapse" else [
            b for b in bounds if b > first]
        bounds = bounds[:len(usable)]
    if pd.isna(first) or len(bounds) < 3:
        return pd.DataFrame(columns=cols)
    agg = (_lapse_retention if mode == "lapse" else _contract_retention)(store, bounds)
    agg = agg[agg["window"] < len(bounds) - 2].sort_values("window")
    r0 = agg["r0"].astype(float)
    out = pd.DataFrame({
        "window_end": [bounds[w] for w in agg["window"]],
        "window_start": [bounds[w + 1] for w in agg["window"]],
        "customers": agg["customers"].astype("int64").to_numpy(),
        "customers_retained": agg["stayed"].fillna(0).astype("int64").to_numpy(),
        "revenue_before": r0.to_numpy(), "revenue_after": agg["r1"].astype(float).to_numpy(),
        "nrr": (agg["r1"] / r0.where(r0 > 0)).to_numpy(),
        "grr": (agg["kept"] / r0.where(r0 > 0)).to_numpy()})
    out = out.sort_values("window_end", ignore_index=True)
    out.attrs.update(months=months, mode=mode)
    return out


@dataclass
class Concentration:
    """How concentrated value is: ``top_share`` of the total held by the top
    ``top_fraction`` of customers, and the ``lorenz`` curve (``share_customers``
    ranked from the most valuable, ``share_value`` cumulative)."""

    source: str
    customers: int
    total: float
    top_fraction: float
    top_share: float
    lorenz: pd.DataFrame


def customer_values(store, *, as_of=None, basis: RetentionBasis | None = None
                    ) -> tuple[ibis.Table, str]:
    """``customer_id, value`` per customer and a sentence saying what value is.

    The lifetime value (``clv``) of the ``customer_value`` derived table when it
    exists; else each customer's yearly revenue (see the module docstring) of the
    customers still active."""
    if "customer_value" in store.tables():
        v = store.table("customer_value")
        return (v.select("customer_id", value=v.clv.cast("float64").fill_null(0.0)),
                "expected lifetime value (customer_value.clv)")
    b = basis or retention_basis(store, as_of)
    lv = b.lives.filter(b.lives.lost_at.isnull())
    return lv.select("customer_id", value=lv.revenue), "revenue in the last year"


def value_concentration(store, *, top_fraction: float = 0.2, points: int = 100, as_of=None,
                        basis: RetentionBasis | None = None) -> Concentration:
    """Share of value from the top ``top_fraction`` of customers, and the Lorenz curve.

    Customers are ranked by value (most valuable first; see :func:`customer_values`),
    cut into ``points`` equal groups by rank in the engine, and each group's value
    summed. The top share is exact when ``top_fraction * points`` is whole (0.2 x 100):
    the top group holds the ``ceil(top_fraction * n)`` most valuable customers.
    """
    if not 0 < top_fraction < 1:
        raise DataError(f"top_fraction must be between 0 and 1; got {top_fraction}.",
                        hint="Pass top_fraction=0.2 for the top 20%.")
    v, source = customer_values(store, as_of=as_of, basis=basis)
    v = v.filter(v.value.notnull())
    n = int(v.count().execute())
    if n == 0:
        raise DataError("No customer values to measure concentration on.",
                        hint="Run loyalist value, or ingest orders.")
    rn = ibis.row_number().over(order_by=ibis.desc(v.value))
    ranked = v.mutate(bucket=(rn * points / n).floor().cast("int64"))
    g = (ranked.group_by("bucket").aggregate(customers=ranked.count(), value=ranked.value.sum())
         .order_by("bucket").to_pandas())
    total = float(g["value"].sum())
    k = int(np.ceil(top_fraction * n))
    lorenz = pd.DataFrame({"share_customers": np.r_[0.0, g["customers"].cumsum() / n],
                           "share_value": np.r_[0.0, g["value"].cumsum() / total]
                           if total > 0 else np.nan})
    if abs(top_fraction * points - round(top_fraction * points)) < 1e-9:
        top = g.loc[g["bucket"] < round(top_fraction * points), "value"].sum()
    else:  # an exact top-k sum in the engine
        top = v.order_by(ibis.desc("value")).limit(k).value.sum().execute()
    return Concentration(source=source, customers=n, total=total, top_fraction=top_fraction,
                         top_share=float(top) / total if total > 0 else float("nan"),
                         lorenz=lorenz)


def revenue_at_risk(store, by=None, *, as_of=None, basis: RetentionBasis | None = None
                    ) -> pd.DataFrame | None:
    """Value expected to leave: ``sum(p_leave x value)`` over the scored customers.

    ``p_leave`` from the ``scores`` derived table (``loyalist score``), value as in
    :func:`customer_values`. Columns: ``customers`` scored, ``expected_leavers``
    (sum of p_leave), ``value`` (total), ``value_at_risk`` and ``share_at_risk``.
    None when the store has no scores.
    """
    if "scores" not in store.tables():
        return None
    cols = _by(by)
    sc = store.table("scores").select("customer_id", "p_leave")
    v, _ = customer_values(store, as_of=as_of, basis=basis)
    j = sc.left_join(v, "customer_id").drop("customer_id_right")
    if cols:
        if available(store)["customers"]:
            c = store.table("customers")
            c = c.select(customer_id=c.id, **{k: c[k] for k in cols}).distinct(
                on="customer_id", keep="first")
            j = j.left_join(c, "customer_id").drop("customer_id_right")
        j = j.mutate(**{k: j[k].fill_null(_NONE) for k in cols})
    value = j.value.fill_null(0.0)
    metrics = dict(customers=j.count(), expected_leavers=j.p_leave.sum(), value=value.sum(),
                   value_at_risk=(j.p_leave * value).sum())
    expr = j.group_by(cols).aggregate(**metrics) if cols else j.aggregate(**metrics)
    out = expr.to_pandas()
    out["share_at_risk"] = out["value_at_risk"] / out["value"].where(out["value"] > 0)
    if cols:
        out = out.sort_values("value_at_risk", ascending=False, ignore_index=True)
    return out


__all__ = ["Concentration", "RetentionBasis", "cohort_retention", "customer_values",
           "default_as_of", "kaplan_meier", "loss_rates", "retention_basis",
           "revenue_at_risk", "revenue_retention", "rolling_loss", "trailing_loss", "value_concentration"]
