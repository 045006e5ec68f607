"""Alerts that matter: each alert kind weighed on the firm's own history.

An alert kind matters when customers who had it went on to leave more often than
comparable customers who did not. :func:`weigh_alerts` goes back to a past date whose
outcomes are known (by default the scoring date minus the horizon), raises the alerts
as they would have been raised that day (:func:`loyalist.decisions.scoring.hard_alerts`)
and compares, for each kind, the share of customers with it who left within the horizon
against those without it, *within the same fifth of days since their last order* (a
silent customer both collects alerts and leaves; comparing like with like keeps the
silence from being credited to the alert). The comparison is a Mantel-Haenszel risk
ratio over the fifths with its 95% interval (Greenland-Robins variance); the crude ratio
is kept beside it.

A kind is an *alarm* when the lower end of its interval is above 1 and the ratio is at
least ``[alerts] min_ratio``; otherwise it is *housekeeping* (it may still be service the
customer is owed, shown and worked, but not as a sign of leaving); a kind seen on fewer
than ``min_customers`` customers that day is *not weighed*. The weights are written to
the derived table ``alert_weights``; each alert row carries its kind's ``level``.

Counting is done in the engine (Ibis): the labels, the fifths and the counts per kind
and fifth; only the small table of counts comes back.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from loyalist.errors import DataError
from loyalist.features.builder import available
from loyalist.features.service import DAY, _seconds, _ts

#: the levels of an alert kind, most pressing first
LEVELS = ("alarm", "housekeeping", "not weighed")
#: z of a two-sided 95% interval
Z95 = 1.959963984540054
#: how customers are made comparable (shown next to each weight)
COMPARABLE = "customers in the same fifth of days since their last order"


def _strata(store, at, customers: ibis.Table) -> ibis.Table:
    """``customer_id, stratum``: the fifth of days since the last order before ``at``
    (0 when the store has no orders: one stratum)."""
    if not available(store)["orders"]:
        return customers.select("customer_id", stratum=ibis.literal(0))
    o = store.table("orders")
    now = _ts(at)
    last = (o.filter(o.ordered_at < now).group_by("customer_id")
            .aggregate(days=(_seconds(now, o.ordered_at.max()) / DAY)))
    j = customers.left_join(last, "customer_id").select(
        "customer_id", days=ibis._.days.fill_null(1e9))
    return j.select("customer_id",
                    stratum=ibis.ntile(5).over(ibis.window(order_by="days")))


def _mantel_haenszel(c: pd.DataFrame) -> tuple[float, float, float]:
    """Risk ratio over strata with its 95% interval. ``c``: per stratum, a (left with),
    n1 (with), b (left without), n0 (without)."""
    a, n1 = c["a"].to_numpy(float), c["n1"].to_numpy(float)
    b, n0 = c["b"].to_numpy(float), c["n0"].to_numpy(float)
    keep = (n1 > 0) & (n0 > 0)
    a, n1, b, n0 = a[keep], n1[keep], b[keep], n0[keep]
    if not len(a):
        return np.nan, np.nan, np.nan
    if a.sum() == 0 or b.sum() == 0:  # a zero row: half a customer added to every cell
        a, b, n1, n0 = a + 0.5, b + 0.5, n1 + 1, n0 + 1
    n = n1 + n0
    r, s = (a * n0 / n).sum(), (b * n1 / n).sum()
    rr = r / s
    var = ((n1 * n0 * (a + b) - a * b * n) / n ** 2).sum() / (r * s)
    half = Z95 * np.sqrt(max(var, 0.0))
    return float(rr), float(rr * np.exp(-half)), float(rr * np.exp(half))


def level_of(row, min_ratio: float, min_customers: int) -> str:
    """alarm, housekeeping or not weighed (see the module)."""
    if not row["customers_with"] or row["customers_with"] < min_customers \
            or pd.isna(row["risk_ratio"]):
        return "not weighed"
    if row["ratio_low"] > 1 and row["risk_ratio"] >= min_ratio:
        return "alarm"
    return "housekeeping"


def weigh_alerts(store, as_of, *, mode: str, horizon: int, settings=None,
                 texts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per alert kind seen at the past date: how often customers with it left
    against comparable customers without it, the ratio with its interval, and its level.

    The past date is ``as_of`` minus ``[alerts] lookback_days`` (default ``horizon``),
    so every outcome is known by ``as_of``. ``texts``: the texts read by the firm's
    complaint model, as scoring passes them to ``hard_alerts``. Raises :class:`DataError` when that date has
    no customers with a known outcome.
    """
    from loyalist.decisions.scoring import hard_alerts
    from loyalist.models.early_warning import labels_at

    cfg = (settings or store.settings).alerts
    as_of = pd.Timestamp(as_of)
    back = cfg.lookback_days or horizon
    at = as_of - pd.Timedelta(days=back)
    labels = labels_at(store, at, mode, horizon)
    if labels.empty or labels["left"].nunique() < 2:
        raise DataError(f"No customers with a known outcome at {at.date()} to weigh the "
                        "alerts on.", hint="Weights need a horizon of history before the "
                        "scoring date.")
    past = hard_alerts(store, at, texts=texts)
    lab = ibis.memtable(labels[["customer_id", "left"]].astype({"left": "int64"}))
    strata = _strata(store, at, lab.select("customer_id"))
    base = lab.join(strata, "customer_id")
    pairs = ibis.memtable(past[["customer_id", "kind"]].drop_duplicates()
                          .astype({"customer_id": "string", "kind": "string"}))
    per_stratum = base.group_by("stratum").aggregate(n=base.count(), left=base.left.sum())
    with_kind = (base.join(pairs, "customer_id").group_by(["kind", "stratum"])
                 .aggregate(n1=ibis._.count(), a=ibis._.left.sum()))
    tot = per_stratum.to_pandas()
    got = with_kind.to_pandas()
    rows = []
    for kind, g in got.groupby("kind", sort=True):
        c = tot.merge(g, on="stratum", how="left").fillna({"n1": 0, "a": 0})
        c["n0"], c["b"] = c["n"] - c["n1"], c["left"] - c["a"]
        rr, lo, hi = _mantel_haenszel(c)
        n1, a = int(c["n1"].sum()), int(c["a"].sum())
        n0, b = int(c["n0"].sum()), int(c["b"].sum())
        rows.append({"kind": kind, "customers_with": n1, "left_with": a,
                     "customers_without": n0, "left_without": b,
                     "share_left_with": a / n1 if n1 else np.nan,
                     "share_left_without": b / n0 if n0 else np.nan,
                     "crude_ratio": (a / n1) / (b / n0) if n1 and n0 and b else np.nan,
                     "risk_ratio": rr, "ratio_low": lo, "ratio_high": hi})
    out = pd.DataFrame(rows, columns=[
        "kind", "customers_with", "left_with", "customers_without", "left_without",
        "share_left_with", "share_left_without", "crude_ratio", "risk_ratio", "ratio_low",
        "ratio_high"])
    out["level"] = [level_of(r, cfg.min_ratio, cfg.min_customers)
                    for r in out.to_dict("records")] if len(out) else []
    out["measured_at"] = at
    out["horizon_days"] = int(horizon)
    out["comparable"] = COMPARABLE
    out["as_of"] = as_of
    return out.sort_values(["level", "risk_ratio"], ascending=[True, False],
                           key=lambda s: s.map(LEVELS.index) if s.name == "level" else s,
                           ignore_index=True)


def levels(store) -> dict[str, str]:
    """Kind -> level from the stored ``alert_weights`` (empty when never weighed)."""
    if "alert_weights" not in store.tables():
        return {}
    w = store.table("alert_weights").select("kind", "level").to_pyarrow().to_pylist()
    return {r["kind"]: r["level"] for r in w}


def weight_words(row: dict) -> str:
    """One weight in words: 'customers with it left 2.1 times as often (1.6 to 2.8) as
    comparable customers without it: 34% against 16%, 212 customers on 12 Mar 2024'."""
    n = int(row.get("customers_with") or 0)
    who = f"{n:,} customer" + ("" if n == 1 else "s")
    if row.get("risk_ratio") is None or pd.isna(row.get("risk_ratio")):
        return f"not weighed: {who} had it on {pd.Timestamp(row['measured_at']):%d %b %Y}"
    return (f"left {row['risk_ratio']:.1f} times as often ({row['ratio_low']:.1f} to "
            f"{row['ratio_high']:.1f}) as comparable customers without it: "
            f"{100 * row['share_left_with']:.0f}% against "
            f"{100 * row['share_left_without']:.0f}%, {who} on "
            f"{pd.Timestamp(row['measured_at']):%d %b %Y}, within "
            f"{int(row['horizon_days'])} days")


__all__ = ["COMPARABLE", "LEVELS", "level_of", "levels", "weigh_alerts", "weight_words"]
