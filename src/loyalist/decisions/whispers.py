"""Whispers: why a customer may leave, in plain words with the customer's own numbers.

The churn model's per-feature contributions are summed by feature family (purchase
rhythm, service, words, follow-through, feedback, usage, subscription, value); each
customer's strongest families become sentences. Every sentence is built from columns,
a family at a time, without a Python loop over customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.features.builder import family_of


def _num(x: pd.DataFrame, col: str) -> pd.Series:
    if col not in x:
        return pd.Series(np.nan, index=x.index)
    return pd.to_numeric(x[col], errors="coerce")


def _i(s: pd.Series) -> pd.Series:
    """Whole numbers as text (blank when missing)."""
    return s.round().astype("Int64").astype("string").fillna("?")


def _pick(conditions_texts, index) -> pd.Series:
    """First text whose condition holds, row by row (vectorised np.select)."""
    conds = [c.fillna(False).to_numpy(bool) for c, _ in conditions_texts]
    texts = [np.full(len(index), t, dtype=object) if isinstance(t, str)
             else t.astype(object).to_numpy() for _, t in conditions_texts]
    return pd.Series(np.select(conds, texts, default=None), index=index)


def _purchase(x):
    rec, typ = _num(x, "recency_days"), _num(x, "typical_gap_days")
    cur, prev = _num(x, "orders_90d"), _num(x, "orders_prev_90d")
    basket = _num(x, "basket_change_90d")
    return _pick([
        ((rec >= 1.5 * typ) & typ.notna(),
         "No order for " + _i(rec) + " days; usually orders every " + _i(typ) + " days"),
        (cur < prev, "Orders fell from " + _i(prev) + " to " + _i(cur) + " in the last 90 days"),
        (basket < 0.8, "Basket shrank " + _i(100 * (1 - basket)) + "% in the last 90 days"),
        (rec.notna(), "Last order " + _i(rec) + " days ago"),
    ], x.index)


def _service(x):
    un, old = _num(x, "unanswered_open"), _num(x, "oldest_unanswered_days")
    cb, med = _num(x, "callbacks_recent"), _num(x, "median_response_hours")
    mis = _num(x, "misrouted_recent")
    return _pick([
        (un > 0, _i(un) + " request(s) unanswered, the oldest for " + _i(old) + " days"),
        (cb > 0, "Contacted us " + _i(cb + 1) + " times about a matter still unresolved"),
        (mis > 0, _i(mis) + " request(s) sent to the wrong team"),
        (med.notna(), "Waited a median " + _i(med) + " hours for a first answer"),
    ], x.index)


def _words(x):
    return _pick([
        (_num(x, "cancel_cues") > 0, "Wrote of cancelling (" + _i(_num(x, "cancel_cues"))
         + "x in 90 days)"),
        (_num(x, "competitor_cues") > 0, "Mentioned a competitor or switching"),
        (_num(x, "complaint_cues") > 0, "Complained (" + _i(_num(x, "complaint_cues"))
         + "x in 90 days)"),
    ], x.index)


def _follow(x):
    return _pick([
        (_num(x, "orders_not_acknowledged") > 0, _i(_num(x, "orders_not_acknowledged"))
         + " order(s) never acknowledged"),
        (_num(x, "orders_late_against_promise") > 0,
         _i(_num(x, "orders_late_against_promise")) + " order(s) late against their promise"),
        (_num(x, "orders_not_followed_up") > 0, _i(_num(x, "orders_not_followed_up"))
         + " order(s) not followed up after delivery"),
        (_num(x, "orders_acknowledged_late") > 0, _i(_num(x, "orders_acknowledged_late"))
         + " order(s) acknowledged late"),
    ], x.index)


def _feedback(x):
    last, prev = _num(x, "last_nps"), _num(x, "prev_nps")
    tl, tp = _num(x, "last_trust"), _num(x, "prev_trust")
    return _pick([
        (last < prev, "NPS fell from " + _i(prev) + " to " + _i(last)),
        (last <= 6, "Gave NPS " + _i(last) + " (a detractor)"),
        (tl < tp, "Trust fell from " + _i(tp) + " to " + _i(tl) + " (of 5)"),
        (_num(x, "last_commitment") <= 2, "Low commitment in the last survey ("
         + _i(_num(x, "last_commitment")) + " of 5)"),
    ], x.index)


def _usage(x):
    ratios = [c for c in x.columns if c.startswith("ev_") and c.endswith("_ratio")]
    pairs = []
    for c in ratios:
        r = _num(x, c)
        name = c[3:-6].replace("_", " ")
        pairs.append((r < 0.8, name.capitalize() + " fell to " + _i(100 * r)
                      + "% of its usual rate"))
    if not pairs:
        return pd.Series(None, index=x.index, dtype=object)
    return _pick(pairs, x.index)


def _subscription(x):
    active, ended = _num(x, "subs_active"), _num(x, "subs_ended")
    plan = x["plan"].astype("string").fillna("?") if "plan" in x else pd.Series("?", x.index)
    return _pick([
        ((active == 0) & (ended > 0), "Ended a subscription"),
        (active > 0, "On plan " + plan + " at " + _i(_num(x, "mrr")) + " a month"),
    ], x.index)


def _value(x):
    p = _num(x, "p_alive")
    return _pick([(p < 0.5, "By their purchase rhythm only " + _i(100 * p)
                   + "% likely still an active customer")], x.index)


TEMPLATES = {"purchase": _purchase, "service": _service, "words": _words,
             "follow_through": _follow, "feedback": _feedback, "usage": _usage,
             "subscription": _subscription, "value": _value}


def _profile(x, feature: str) -> pd.Series:
    v = x[feature]
    if pd.api.types.is_numeric_dtype(v):
        text = v.round(0 if v.abs().median() >= 10 else 2).astype("string")
    else:
        text = v.astype("string")
    return feature.replace("_", " ").capitalize() + ": " + text.fillna("unknown")


def families(features) -> dict[str, str]:
    """Feature -> the family its contribution counts towards (``profile:<feature>`` for
    the customer's own attributes, each its own reason)."""
    return {f: ("profile:" + f if family_of(f) == "profile" else family_of(f))
            for f in features}


def whispers(model, X: pd.DataFrame, top: int = 3, min_contribution: float = 0.05, *,
             contributions: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``top`` reasons pushing each customer towards leaving.

    ``contributions`` are the model's per-family contributions for ``X`` (from
    ``model.contributions(X, groups=families(model.feature_names_))``), when the
    caller already has them (they also give the score: their row sums are the
    log-odds). Returns one row per (customer, reason): customer_id, rank, family,
    contribution (log-odds), text. Families pushing towards staying are not reasons.
    """
    if contributions is None:
        contributions = model.contributions(X, groups=families(model.feature_names_))
    by_family = contributions.drop(columns="bias")
    values = by_family.to_numpy()
    names = np.array(by_family.columns)
    k = min(top, values.shape[1])
    order = np.argsort(-values, axis=1)[:, :k]
    rows = np.repeat(np.arange(len(X)), k)
    fam = names[order.ravel()]
    val = np.take_along_axis(values, order, axis=1).ravel()
    keep = val >= min_contribution
    out = pd.DataFrame({"row": rows[keep], "rank": np.tile(np.arange(1, k + 1), len(X))[keep],
                        "family": fam[keep], "contribution": val[keep]})
    text = np.full(len(out), None, dtype=object)
    for family in pd.unique(out["family"]):
        sel = (out["family"] == family).to_numpy()
        sub = X.iloc[out["row"].to_numpy()[sel]]
        if family.startswith("profile:"):
            texts = _profile(sub, family.split(":", 1)[1])
        else:
            texts = TEMPLATES[family](sub)
        text[sel] = texts.to_numpy(dtype=object)
    out["text"] = text
    out = out[pd.notna(out["text"])]
    out.insert(0, "customer_id", X["customer_id"].to_numpy()[out["row"].to_numpy()])
    out["rank"] = out.groupby("customer_id").cumcount() + 1
    return out.drop(columns="row").reset_index(drop=True)
