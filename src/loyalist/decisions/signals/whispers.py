"""Whispers: why a customer may leave, in plain words with the customer's own numbers.

The churn model's per-feature contributions are summed by feature family (purchase
rhythm, service, words, follow-through, feedback, usage, subscription, value); each
customer's strongest families become sentences. Every sentence is built from columns,
a family at a time, without a Python loop over customers.

A reason must be worth reading: a "usual" rhythm rests on at least three gaps and says
how many; a customer with one order is called new, not late; the customer's own
attributes are reasons only as a comparison with the training data ("43% of customers
on a month-to-month contract left, against 27% overall"), never as a raw column
name and value; and every customer at or above ``floor`` gets at least one reason.
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


def _n(s: pd.Series, unit: str, plural: str | None = None) -> pd.Series:
    """'1 order', '3 orders' ('?' when missing): whole numbers with their unit."""
    n = s.round().astype("Int64")
    return n.astype("string").fillna("?") + pd.Series(
        np.where(n.fillna(0).to_numpy() == 1, " " + unit, " " + (plural or unit + "s")),
        index=s.index)


def _days(s: pd.Series) -> pd.Series:
    """'1 day', '12 days' ('?' when missing)."""
    return _n(s, "day")


def _times(s: pd.Series) -> pd.Series:
    """'once', 'twice', '3 times'."""
    n = s.round().astype("Int64")
    words = np.select([n.fillna(0).to_numpy() == 1, n.fillna(0).to_numpy() == 2],
                      ["once", "twice"], default="")
    return pd.Series(words, index=s.index).where(words != "", _n(s, "time"))


def _pick(conditions_texts, index) -> pd.Series:
    """First text whose condition holds, row by row (vectorised np.select)."""
    conds = [c.fillna(False).to_numpy(bool) for c, _ in conditions_texts]
    texts = [np.full(len(index), t, dtype=object) if isinstance(t, str)
             else t.astype(object).to_numpy() for _, t in conditions_texts]
    return pd.Series(np.select(conds, texts, default=None), index=index)


#: a typical gap between orders is stated only when it rests on this many gaps
MIN_GAPS = 3


def _purchase(x):
    rec, typ = _num(x, "recency_days"), _num(x, "typical_gap_days")
    days = _num(x, "order_days")
    gaps = days - 1
    cur, prev = _num(x, "orders_90d"), _num(x, "orders_prev_90d")
    basket = _num(x, "basket_change_90d")
    rhythm = (gaps >= MIN_GAPS) & typ.notna() & (typ > 0)
    usual = ("usually orders every " + _days(typ) + " (median of " + _i(gaps) + " gaps)")
    return _pick([
        (rhythm & (rec >= 1.5 * typ), "No order for " + _days(rec) + "; " + usual),
        (days == 1, "New customer, one order so far (" + _days(rec) + " ago)"),
        ((cur < prev) & (prev >= 2), "Orders fell from " + _i(prev) + " to " + _i(cur)
         + " in the last 90 days"),
        (basket < 0.8, "Basket shrank " + _i(100 * (1 - basket)) + "% in the last 90 days"),
        ((days >= 2) & (days <= MIN_GAPS), "Only " + _i(days) + " orders so far, the last "
         + _days(rec) + " ago"),
        (rhythm & (rec > typ), "No order for " + _days(rec) + ", longer than usual: "
         + usual),
    ], x.index)


def _service(x):
    un, old = _num(x, "unanswered_open"), _num(x, "oldest_unanswered_days")
    cb, med = _num(x, "callbacks_recent"), _num(x, "median_response_hours")
    mis = _num(x, "misrouted_recent")
    return _pick([
        (un > 0, _n(un, "request") + " unanswered, the oldest for " + _days(old)),
        (cb > 0, "Contacted us " + _times(cb + 1) + " about a matter still unresolved"),
        (mis > 0, _n(mis, "request") + " sent to the wrong team"),
        (med.notna(), "Waited a median " + _n(med, "hour") + " for a first answer"),
    ], x.index)


def _words(x):
    unhappy = _num(x, "unhappy_texts")
    return _pick([
        (unhappy > 0, "Wrote " + _n(unhappy, "message") + " in 90 days that read like "
         "those of customers who rated us low"),
        (_num(x, "cancel_cues") > 0, "Wrote of cancelling " + _times(_num(x, "cancel_cues"))
         + " in 90 days"),
        (_num(x, "competitor_cues") > 0, "Mentioned a competitor or switching"),
        (_num(x, "complaint_cues") > 0, "Complained " + _times(_num(x, "complaint_cues"))
         + " in 90 days"),
    ], x.index)


def _follow(x):
    return _pick([
        (_num(x, "orders_not_acknowledged") > 0, _n(_num(x, "orders_not_acknowledged"),
                                                    "order") + " never acknowledged"),
        (_num(x, "orders_late_against_promise") > 0,
         _n(_num(x, "orders_late_against_promise"), "order")
         + " late against their promise"),
        (_num(x, "orders_not_followed_up") > 0, _n(_num(x, "orders_not_followed_up"), "order")
         + " not followed up after delivery"),
        (_num(x, "orders_acknowledged_late") > 0, _n(_num(x, "orders_acknowledged_late"),
                                                     "order") + " acknowledged late"),
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
    plan = (x["plan"].astype("string") if "plan" in x
            else pd.Series(pd.NA, index=x.index, dtype="string"))
    mrr = _num(x, "mrr")
    on = ("On plan " + plan.fillna("")).where(plan.notna(), "On a subscription")
    at = (" at " + _i(mrr) + " a month").where(mrr.notna(), "")
    return _pick([
        ((active == 0) & (ended > 0), "Ended a subscription"),
        (active > 0, on + at),
    ], x.index)


def _value(x):
    p, none = _num(x, "p_alive"), _num(x, "p_no_purchase")
    return _pick([
        (p < 0.5, "By their purchase rhythm only " + _i(100 * p)
         + "% likely still an active customer"),
        (none >= 0.5, "By their purchase rhythm " + _i(100 * none)
         + "% likely to place no order in the coming period"),
    ], x.index)


TEMPLATES = {"purchase": _purchase, "service": _service, "words": _words,
             "follow_through": _follow, "feedback": _feedback, "usage": _usage,
             "subscription": _subscription, "value": _value}

#: the customer's own attributes that have a sentence of their own
_PROFILE_WORDS = {"customer_tenure_days": ("Customer for {value}", "day")}
_QUINTILES = ("among the lowest fifth", "below the middle", "in the middle",
              "above the middle", "among the highest fifth")


def _words_of(column: str) -> str:
    import re

    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(column))
    return re.sub(r"[_\s]+", " ", text).strip().lower()


def _profile(x, feature: str, rates: dict | None, overall: float | None,
             min_rows: int = 30) -> pd.Series:
    """A profile reason as a comparison with the training data: the share of such
    customers who left against the share of all; none where they leave no more often
    than others (or the group is too small to say)."""
    out = pd.Series(None, index=x.index, dtype=object)
    table = (rates or {}).get(feature)
    if table is None or overall is None or feature not in x:
        return out
    v = x[feature]
    edges = table.attrs.get("edges")
    if edges is None:  # a category
        key = v.astype("string").astype(object).where(v.notna(), None)
        rate = key.map(table["rate"])
        rows = key.map(table["rows"])
        name = _words_of(feature)
        head = (name[:1].upper() + name[1:] + " " + key.astype("string").fillna("unknown")
                + ": ")
    else:
        num = pd.to_numeric(v, errors="coerce")
        q = pd.Series(np.searchsorted(edges, num.fillna(0), side="right"), index=x.index)
        q[num.isna()] = -1
        rate = q.map(table["rate"])
        rows = q.map(table["rows"])
        if feature in _PROFILE_WORDS:
            from loyalist.decisions.words import count

            first, unit = _PROFILE_WORDS[feature]
            head = pd.Series([first.format(value=count(round(n), unit)) if pd.notna(n)
                              else "" for n in num], index=x.index) + ": "
        else:
            digits = 0 if num.abs().median() >= 10 else 2
            shown = pd.Series([f"{n:,.{digits}f}" if pd.notna(n) else "unknown"
                               for n in num], index=x.index, dtype=object)
            where = q.map(lambda k: _QUINTILES[k] if 0 <= k < len(_QUINTILES) else "")
            name = _words_of(feature)
            head = (name[:1].upper() + name[1:] + " " + shown + " (" + where + "): ")
    worth = (rate > overall * 1.1) & (rows >= min_rows) & (head.str.len() > 2)
    text = head + _i(100 * rate) + "% of such customers left, against " + \
        f"{100 * overall:.0f}% overall"
    out[worth.fillna(False).to_numpy()] = text[worth.fillna(False)]
    return out


def families(features) -> dict[str, str]:
    """Feature -> the family its contribution counts towards (``profile:<feature>`` for
    the customer's own attributes, each its own reason)."""
    return {f: ("profile:" + f if family_of(f) == "profile" else family_of(f))
            for f in features}


def _texts(family: str, sub: pd.DataFrame, model) -> pd.Series:
    if family.startswith("profile:"):
        return _profile(sub, family.split(":", 1)[1], getattr(model, "rates_", None),
                        getattr(model, "base_rate_", None))
    if family in TEMPLATES:
        return TEMPLATES[family](sub)
    return pd.Series(None, index=sub.index, dtype=object)


def whispers(model, X: pd.DataFrame, top: int = 3, min_contribution: float = 0.05, *,
             contributions: pd.DataFrame | None = None, p_leave=None,
             floor: float = 0.5) -> pd.DataFrame:
    """The ``top`` reasons pushing each customer towards leaving.

    ``contributions`` are the model's per-family contributions for ``X`` (from
    ``model.contributions(X, groups=families(model.feature_names_))``), when the
    caller already has them (they also give the score: their row sums are the
    log-odds). Returns one row per (customer, reason): customer_id, rank, family,
    contribution (log-odds), text. Families pushing towards staying are not reasons.

    Every customer whose ``p_leave`` (default: the model's) is at least ``floor`` gets
    a reason: the strongest family that has words for them, however small its push,
    and failing every family, how their risk compares with the average.
    """
    if contributions is None:
        contributions = model.contributions(X, groups=families(model.feature_names_))
    by_family = contributions.drop(columns="bias")
    values = by_family.to_numpy()
    names = np.array(by_family.columns)
    k = values.shape[1]
    order = np.argsort(-values, axis=1)
    rows = np.repeat(np.arange(len(X)), k)
    fam = names[order.ravel()]
    val = np.take_along_axis(values, order, axis=1).ravel()
    out = pd.DataFrame({"row": rows, "family": fam, "contribution": val})
    # the words of every family that pushes towards leaving (some have none for a row)
    cand = out[out["contribution"] > 0].reset_index(drop=True)
    text = np.full(len(cand), None, dtype=object)
    for family in pd.unique(cand["family"]):
        sel = (cand["family"] == family).to_numpy()
        sub = X.iloc[cand["row"].to_numpy()[sel]]
        text[sel] = _texts(family, sub, model).to_numpy(dtype=object)
    cand["text"] = text
    cand = cand[pd.notna(cand["text"])]
    strong = cand[cand["contribution"] >= min_contribution]
    strong = strong.groupby("row", sort=False).head(top)
    if p_leave is None:
        p_leave = model.predict_proba(X)
    p_leave = np.asarray(p_leave, dtype=float)
    need = np.setdiff1d(np.flatnonzero(p_leave >= floor), strong["row"].to_numpy())
    weak = cand[cand["row"].isin(need)].groupby("row", sort=False).head(1)
    left = np.setdiff1d(need, weak["row"].to_numpy())
    base = getattr(model, "base_rate_", None)
    general = pd.DataFrame({
        "row": left, "family": "overall", "contribution": 0.0,
        "text": [f"Customers like this one often leave: {100 * p_leave[r]:.0f}% likely"
                 + (f", against {100 * base:.0f}% on average" if base is not None else "")
                 + "; no single sign stands out" for r in left]})
    out = pd.concat([strong, weak, general], ignore_index=True)
    out = out.sort_values(["row", "contribution"], ascending=[True, False], kind="stable")
    out.insert(0, "customer_id", X["customer_id"].to_numpy()[out["row"].to_numpy()])
    out["rank"] = out.groupby("row").cumcount() + 1
    return out[["customer_id", "rank", "family", "contribution", "text"]].reset_index(drop=True)
