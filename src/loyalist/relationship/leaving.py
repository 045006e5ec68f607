"""Who behaves like a leaver: P(gone) from behaviour, learned from customers who went.

The early-warning scores (``loyalist score``) predict a *lapse*: no order within the
horizon. A loyal customer who simply orders rarely lapses often, so among customers who
speak well of you lapse risk mostly measures buying rhythm. The segments need
something closer to leaving, so this model learns from a stricter label: a customer
active at a past date ``d`` (an order in the ``2 x horizon`` days before, or a running
subscription) is **gone** when nothing follows: no order from ``d`` up to the end of the
records and no subscription still running at the end. The dates are at least
``2 x horizon`` days before the end, so "nothing follows" has had time to show.
The features are the behaviour features of :mod:`~loyalist.relationship.people`
at ``d``; the model is LightGBM with Platt-scaled out-of-fold scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.errors import DataError
from loyalist.features.builder import available
from loyalist.relationship.advocacy import AdvocacyModel
from loyalist.relationship.people import behaviour_features


def gone_labels(store, d: pd.Timestamp, end: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    """``customer_id, gone`` for the customers active at ``d``."""
    import ibis

    have = available(store)
    now, stop = d.to_pydatetime(), end.to_pydatetime()
    since = (d - pd.Timedelta(days=2 * horizon_days)).to_pydatetime()
    active, later = [], []
    if have["orders"]:
        o = store.table("orders")
        active.append(o.filter((o.ordered_at < now) & (o.ordered_at >= since))
                      .select("customer_id"))
        later.append(o.filter((o.ordered_at >= now) & (o.ordered_at < stop))
                     .select("customer_id"))
    if have["subscriptions"]:
        s = store.table("subscriptions")
        active.append(s.filter((s.started_at < now) & (s.ended_at.isnull() | (s.ended_at >= now)))
                      .select("customer_id"))
        last = (end - pd.Timedelta(days=1)).to_pydatetime()
        later.append(s.filter((s.started_at < stop) & (s.ended_at.isnull() | (s.ended_at >= last)))
                     .select("customer_id"))
    if not active:
        raise DataError("Leaving is learned from orders or subscriptions; the store has none.",
                        hint="Ingest orders or subscriptions.")
    act = ibis.union(*active, distinct=True)
    back = ibis.union(*later, distinct=True).mutate(back=ibis.literal(1))
    j = act.left_join(back, "customer_id")
    return j.select(act.customer_id, gone=j.back.isnull().cast("int8")).to_pandas()


def p_gone(store, as_of, *, horizon_days: int = 90, n_dates: int = 2, spacing_days: int = 90,
           random_state: int = 0) -> tuple[pd.DataFrame, dict]:
    """P(gone) for every customer at ``as_of`` and what the model learned from.

    Returns (``customer_id, p_gone`` at ``as_of``, info: dates, rows, share gone, out-of-
    fold ROC AUC).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    end = pd.Timestamp(as_of)
    dates = [end - pd.Timedelta(days=2 * horizon_days + spacing_days * k) for k in range(n_dates)]
    frames, labels = [], []
    for d in dates:
        lab = gone_labels(store, d, end, horizon_days)
        X = behaviour_features(store, d)
        X = X.merge(lab, on="customer_id", how="inner")
        frames.append(X.drop(columns="gone"))
        labels.append(X["gone"].to_numpy())
    X = pd.concat(frames, ignore_index=True)
    y = np.concatenate(labels)
    if len(y) < 100 or len(np.unique(y)) < 2:
        raise DataError(f"Too little history before {end.date()} to learn who goes "
                        f"({len(y)} customers at the training dates).",
                        hint="Leaving needs two horizons of records before the date.")
    helper = AdvocacyModel(random_state=random_state)  # its LightGBM and matrix handling
    M = helper._matrix(X, fit=True)
    folds = StratifiedKFold(5, shuffle=True, random_state=random_state)
    oof = helper._oof("c", M, y, folds)
    model = helper._gb("c").fit(M, y)
    z = np.log(np.clip(oof, 1e-6, 1 - 1e-6) / np.clip(1 - oof, 1e-6, 1))
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(z.reshape(-1, 1), y)
    Xa = behaviour_features(store, end)
    raw = np.clip(model.predict_proba(helper._matrix(Xa))[:, 1], 1e-6, 1 - 1e-6)
    p = platt.predict_proba(np.log(raw / (1 - raw)).reshape(-1, 1))[:, 1]
    info = {"dates": [str(d.date()) for d in dates], "rows": int(len(y)),
            "gone_share": float(y.mean()), "oof_roc_auc": float(roc_auc_score(y, oof)),
            "horizon_days": horizon_days}
    return pd.DataFrame({"customer_id": Xa["customer_id"], "p_gone": p}), info


__all__ = ["gone_labels", "p_gone"]
