"""How is the company doing? The retention-practices scorecard, from the firm's records.

Each practice is measured over the last ``period_days`` before ``as_of`` (the trend: the
same figure over the period before that), belongs to a department (``[departments]
kinds``), and says how much more often the customers who met the gap left than
those who did not: among customers who ordered in the year before the outcome window
(the last ``window_days`` before ``as_of``), *left* means no order in the window; a
customer *met the gap* when it happened to them in that year. The ratio has a 95% Katz
(log) interval and the counts behind it.

Practices: new orders acknowledged in writing (share, median hours), contact after
fulfilment (follow-up share), problems fixed rather than avoided (resolved requests not
followed by a call-back), requests answered within the first-response target, the
call-back share, inquiries handled by the category's team the first time (when
``[service] team_for_category`` maps them), and every active customer contacted within
the stay-in-touch interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from loyalist.features.builder import available

Z = 1.959964


@dataclass
class Practice:
    key: str
    practice: str
    department: str
    value: float
    previous: float
    count: int
    unit: str
    risk_ratio: float = float("nan")
    rr_low: float = float("nan")
    rr_high: float = float("nan")
    left_with_gap: int = 0
    with_gap: int = 0
    left_without: int = 0
    without: int = 0
    median_hours: float | None = None

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v)
                for k, v in self.__dict__.items()}


def katz(a: int, n1: int, c: int, n0: int) -> tuple[float, float, float]:
    """Risk ratio (a/n1)/(c/n0) with the 95% Katz log interval (0.5 added to empty
    cells)."""
    if min(n1, n0) == 0:
        return float("nan"), float("nan"), float("nan")
    if a == 0 or c == 0:
        a, c, n1, n0 = a + 0.5, c + 0.5, n1 + 0.5, n0 + 0.5
    rr = (a / n1) / (c / n0)
    se = np.sqrt(max(1 / a - 1 / n1 + 1 / c - 1 / n0, 0.0))
    return float(rr), float(rr * np.exp(-Z * se)), float(rr * np.exp(Z * se))


def _t(x) -> object:
    return pd.Timestamp(x).to_pydatetime()


def _cohort(store, as_of, window_days: int) -> ibis.Table | None:
    """Customers who ordered in the year before the outcome window, and who left (an
    Ibis table: the counts against each gap are made in the engine)."""
    o = store.table("orders")
    w0 = as_of - pd.Timedelta(days=window_days)
    y0 = w0 - pd.Timedelta(days=365)
    before = o.filter((o.ordered_at >= _t(y0)) & (o.ordered_at < _t(w0)))
    after = o.filter((o.ordered_at >= _t(w0)) & (o.ordered_at < _t(as_of)))
    b = before.select("customer_id").distinct()
    a = after.select(aid=after.customer_id).distinct()
    j = b.left_join(a, b.customer_id == a.aid)
    # made once in the engine (a temporary table) for the six practices' counts
    cohort = j.select(cid=j.customer_id, left=j.aid.isnull()).cache()
    if int(cohort.count().execute()):
        return cohort
    cohort.release()
    return None


def scorecard(store, as_of, settings, *, period_days: int = 90,
              window_days: int = 90) -> list[Practice]:
    """Every practice the records allow, with its trend, department and risk ratio."""
    have = available(store)
    as_of = pd.Timestamp(as_of)
    cohort = _cohort(store, as_of, window_days) if have.get("orders") else None
    try:
        return _practices(store, settings, have, cohort, as_of, period_days, window_days)
    finally:
        if cohort is not None:
            cohort.release()


def _practices(store, settings, have, cohort, as_of, period_days: int,
               window_days: int) -> list[Practice]:
    target_h = settings.service.first_response_hours
    p0, p1 = as_of - pd.Timedelta(days=period_days), as_of
    q0 = p0 - pd.Timedelta(days=period_days)
    y0 = as_of - pd.Timedelta(days=window_days + 365)
    y1 = as_of - pd.Timedelta(days=window_days)
    out: list[Practice] = []

    def add(key, text, kind, ok_expr, table, at, unit="share", gap_expr=None, extra=None):
        """``ok_expr(t)``: the practice kept (bool) on rows of ``table`` dated by ``at``."""
        t = store.table(table)

        # this period and the one before, in one pass
        s = t.filter((t[at] >= _t(q0)) & (t[at] < _t(p1)))
        now, ok = s[at] >= _t(p0), ok_expr(s).fill_null(False)
        r = s.aggregate(n=now.cast("int64").sum(), k=(now & ok).cast("int64").sum(),
                        n0=(~now).cast("int64").sum(),
                        k0=(~now & ok).cast("int64").sum()).to_pandas().iloc[0]
        count = int(r["n"]) if pd.notna(r["n"]) else 0
        before = int(r["n0"]) if pd.notna(r["n0"]) else 0
        value = float(r["k"]) / count if count else float("nan")
        previous = float(r["k0"]) / before if before else float("nan")
        pr = Practice(key, text, settings.departments.department(kind), value, previous, count, unit)
        if extra:
            extra(pr, t)
        if cohort is not None:
            s = t.filter((t[at] >= _t(y0)) & (t[at] < _t(y1)))
            gap = (gap_expr(s) if gap_expr else ~ok_expr(s))
            g = s.filter(gap).select(gid=s.customer_id).distinct()
            j = cohort.left_join(g, cohort.cid == g.gid)
            met = j.gid.notnull()
            r = j.aggregate(a=(met & j.left).cast("int64").sum(),
                            n1=met.cast("int64").sum(),
                            c=(~met & j.left).cast("int64").sum(),
                            n0=(~met).cast("int64").sum()).to_pandas().iloc[0]
            a, n1, c, n0 = (int(r[k]) for k in ("a", "n1", "c", "n0"))
            pr.risk_ratio, pr.rr_low, pr.rr_high = katz(a, n1, c, n0)
            pr.left_with_gap, pr.with_gap, pr.left_without, pr.without = a, n1, c, n0
        out.append(pr)

    def hours(a, b):
        return (b.epoch_seconds() - a.epoch_seconds()) / 3600

    if have.get("orders"):
        o = store.table("orders")
        if "acknowledged_at" in o.columns:
            def ack_median(pr, t):
                s = t.filter((t.ordered_at >= _t(p0)) & (t.ordered_at < _t(p1))
                             & t.acknowledged_at.notnull())
                m = s.aggregate(m=hours(s.ordered_at, s.acknowledged_at).median()).to_pandas()
                pr.median_hours = None if m["m"].isna().iloc[0] else float(m["m"].iloc[0])

            add("acknowledged", "New orders acknowledged in writing", "not_acknowledged",
                lambda s: s.acknowledged_at.notnull(), "orders", "ordered_at",
                extra=ack_median)
        if "promised_at" in o.columns:
            # the fulfilment process and its timeline explained: the customer was told
            # when to expect the order (a promised date recorded with the order)
            add("timeline_explained", "Orders placed with a delivery date told to the "
                "customer", "no_delivery_date", lambda s: s.promised_at.notnull(),
                "orders", "ordered_at")
        if "followed_up_at" in o.columns and "fulfilled_at" in o.columns:
            add("followed_up", "Contact after fulfilment to find problems", "not_followed_up",
                lambda s: s.followed_up_at.notnull(), "orders", "fulfilled_at")
        if "promised_at" in o.columns and "fulfilled_at" in o.columns:
            add("on_promise", "Orders fulfilled by the date promised", "late_against_promise",
                lambda s: s.fulfilled_at.notnull() & (s.fulfilled_at <= s.promised_at),
                "orders", "promised_at")
    if have.get("requests"):
        r = store.table("requests")
        add("answered_in_target", f"Requests answered within {target_h:g} hours",
            "unanswered_request",
            lambda s: s.first_response_at.notnull()
            & (hours(s.opened_at, s.first_response_at) <= target_h), "requests", "opened_at")
        add("callback_share", "Requests that are not call-backs (repeat contacts)",
            "repeated_contact", lambda s: s.parent_id.isnull(), "requests", "opened_at")
        kids = r.filter(r.parent_id.notnull()).select(pid=r.parent_id).distinct()

        def fixed(s):
            return s.resolved_at.notnull() & ~s.id.isin(kids.pid)

        add("fixed", "Problems closed without a call-back", "repeated_contact", fixed,
            "requests", "opened_at")
        mapping = settings.service.team_for_category
        if mapping:
            cases = [(k, v) for k, v in mapping.items()]

            def right(s):
                expected = ibis.cases(*[(s.category == k, v) for k, v in cases],
                                      else_=s.team)
                return s.team == expected

            add("right_team", "Inquiries routed to the right team the first time",
                "misrouted", right, "requests", "opened_at")
    return out


def stay_in_touch_coverage(store, as_of) -> dict | None:
    """Share of the customers active in the last year that nobody left silent for longer
    than the stay-in-touch interval of their value band."""
    from loyalist.decisions.service.stay_in_touch import stay_in_touch

    have = available(store)
    if not have.get("orders"):
        return None
    o = store.table("orders")
    y = o.filter((o.ordered_at >= _t(pd.Timestamp(as_of) - pd.Timedelta(days=365)))
                 & (o.ordered_at < _t(as_of)))
    active = int(y.select("customer_id").distinct().count().execute())
    due = stay_in_touch(store, as_of)
    overdue = int(due["customer_id"].nunique()) if len(due) else 0
    return {"active": active, "overdue": overdue,
            "share": (1 - overdue / active) if active else None}
