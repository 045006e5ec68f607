"""Who behaves like a leaver: P(leave) and P(gone quiet) from behaviour, learned from what
followed at past dates.

A customer is *active* at a date ``d`` when they ordered in the ``2 x horizon`` days
before it or had a subscription running. Their last sign of life before the end of the
records (an order, a service request, a usage event, or a subscription still running)
says what followed:

* **stays**: a sign of life ``horizon`` days or more after ``d``;
* **leaves**: the last sign of life falls within the horizon after ``d``: they were
  still there, and then went;
* **gone quiet**: the last sign of life was before ``d``: they had already gone,
  though their orders still made them look active.

The dates are at least ``2 x horizon`` days before the end, so "nothing after" has had
time to show; several of them (``spacing_days`` apart) are pooled. One LightGBM model
over the three outcomes learns them from the behaviour features at ``d``
(:mod:`~loyalist.relationship.people`): P(leave) is the probability of the second,
P(gone quiet) of the third. The latest training date is held out once, with a model fit
on the earlier dates, to report how well each probability ranks (ROC AUC).

Keeping the two apart matters. A single "nothing after d" label mixes the customers
already gone with those about to go; the first are the easiest to spot (no orders for
months), so such a model ranks them first and says little about who is still there and
drifting away, which is what the early signals (complaints, cancel words, thinning
orders, a falling basket) show. The early-warning scores of ``loyalist score`` predict a
*lapse* (no order within the horizon), which among loyal customers mostly measures how
rarely they buy.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from loyalist.errors import DataError
from loyalist.features.builder import available
from loyalist.relationship.advocacy import AdvocacyModel
from loyalist.relationship.people import behaviour_features

STAYS, LEAVES, GONE_QUIET = 0, 1, 2
OUTCOMES = ("stays", "leaves", "gone quiet")


def active_customers(store, d: pd.Timestamp, horizon_days: int) -> ibis.Table:
    """``customer_id`` of the customers active at ``d``: an order in the ``2 x horizon``
    days before, or a subscription running."""
    have = available(store)
    now = pd.Timestamp(d).to_pydatetime()
    since = (pd.Timestamp(d) - pd.Timedelta(days=2 * horizon_days)).to_pydatetime()
    parts = []
    if have["orders"]:
        o = store.table("orders")
        parts.append(o.filter((o.ordered_at < now) & (o.ordered_at >= since))
                     .select("customer_id"))
    if have["subscriptions"]:
        s = store.table("subscriptions")
        parts.append(s.filter((s.started_at < now) & (s.ended_at.isnull() | (s.ended_at >= now)))
                     .select("customer_id"))
    if not parts:
        raise DataError("Leaving is learned from orders or subscriptions; the store has none.",
                        hint="Ingest orders or subscriptions.")
    return ibis.union(*parts, distinct=True)


def last_signs(store, end: pd.Timestamp) -> ibis.Table:
    """``customer_id, last``: each customer's last sign of life before ``end`` (an order, a
    request, a usage event; a subscription running at ``end`` counts as ``end``)."""
    have = available(store)
    stop = pd.Timestamp(end).to_pydatetime()
    parts = []
    for table, col in (("orders", "ordered_at"), ("requests", "opened_at"), ("events", "at")):
        if have[table]:
            t = store.table(table)
            parts.append(t.select("customer_id", last=t[col].cast("timestamp")))
    if have["subscriptions"]:
        s = store.table("subscriptions")
        parts.append(s.select("customer_id", last=s.ended_at.fill_null(stop).cast("timestamp")))
    u = ibis.union(*parts)
    u = u.filter(u["last"] < stop)
    return u.group_by("customer_id").aggregate(last=u["last"].max())


def outcomes(store, d: pd.Timestamp, end: pd.Timestamp, horizon_days: int,
             last: ibis.Table | None = None) -> pd.DataFrame:
    """``customer_id, outcome`` (0 stays, 1 leaves, 2 gone quiet) of the customers active
    at ``d``, from the records up to ``end`` (``last``: :func:`last_signs` of ``end``)."""
    last = last_signs(store, end) if last is None else last
    act = active_customers(store, d, horizon_days)
    now = pd.Timestamp(d).to_pydatetime()
    cut = (pd.Timestamp(d) + pd.Timedelta(days=horizon_days)).to_pydatetime()
    j = act.left_join(last, "customer_id")
    y = ibis.cases((j["last"] >= cut, STAYS), (j["last"] >= now, LEAVES), else_=GONE_QUIET)
    return j.select(act.customer_id, outcome=y.cast("int8")).to_pandas()


def _proba(model, M) -> np.ndarray:
    """Probabilities of the three outcomes in order (zero for one never seen)."""
    out = np.zeros((len(M), 3))
    out[:, list(model.classes_)] = model.predict_proba(M)
    return out


def p_leave(store, as_of, *, horizon_days: int = 90, n_dates: int = 4, spacing_days: int = 45,
            random_state: int = 0) -> tuple[pd.DataFrame, dict]:
    """P(leave) and P(gone quiet) of every customer known at ``as_of``, and what the model
    learned from.

    Returns (``customer_id, p_leave, p_gone_quiet`` at ``as_of``; info: the training
    dates, rows, the share of each outcome, and the held-out ROC AUC of each
    probability).
    """
    from sklearn.metrics import roc_auc_score

    end = pd.Timestamp(as_of)
    last = last_signs(store, end)
    dates = [end - pd.Timedelta(days=2 * horizon_days + spacing_days * k)
             for k in range(n_dates)]
    frames = []
    for k, d in enumerate(dates):
        lab = outcomes(store, d, end, horizon_days, last)
        if lab.empty:
            continue
        X = behaviour_features(store, d).merge(lab, on="customer_id", how="inner")
        frames.append(X.assign(_date=k))
    X = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    y = X["outcome"].to_numpy() if len(X) else np.array([], dtype=int)
    if len(y) < 100 or not ((y == STAYS).any() and (y == LEAVES).any()):
        raise DataError(f"Too little history before {end.date()} to learn who leaves "
                        f"({len(y)} customers at the training dates).",
                        hint=f"Leaving needs {2 * horizon_days} days of records before "
                        "the date, and customers who left in them.")
    when = X.pop("_date").to_numpy()
    X = X.drop(columns="outcome")
    helper = AdvocacyModel(random_state=random_state)  # its LightGBM and matrix handling
    M = helper._matrix(X, fit=True)
    held = {"leaves": None, "gone quiet": None}
    test, train = when == 0, when > 0
    if test.any() and train.any() and len(np.unique(y[train])) > 1:
        P = _proba(helper._gb("c").fit(M[train], y[train]), M[test])
        for name, k in (("leaves", LEAVES), ("gone quiet", GONE_QUIET)):
            if 0 < (y[test] == k).sum() < test.sum():
                held[name] = float(roc_auc_score(y[test] == k, P[:, k]))
    model = helper._gb("c").fit(M, y)
    Xa = behaviour_features(store, end)
    P = _proba(model, helper._matrix(Xa))
    share = np.bincount(y, minlength=3) / len(y)
    info = {"dates": [str(d.date()) for k, d in enumerate(dates) if (when == k).any()],
            "rows": int(len(y)), "horizon_days": horizon_days,
            "share": dict(zip(OUTCOMES, map(float, share), strict=True)),
            "held_out_roc_auc": held}
    return pd.DataFrame({"customer_id": Xa["customer_id"], "p_leave": P[:, LEAVES],
                         "p_gone_quiet": P[:, GONE_QUIET]}), info


__all__ = ["OUTCOMES", "active_customers", "last_signs", "outcomes", "p_leave"]
