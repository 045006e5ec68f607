"""Score every customer at a date: P(leave), the whispers behind it, hard alerts, and
(where surveys exist) who is likely to sing your praises.

``score(store)`` trains the churn model on past dates whose outcome is known, scores
the customers active at ``as_of``, and writes three derived tables: ``scores`` (one
row per customer, with the id of the model that made it), ``reasons`` and
``alerts``. The fitted model is kept in the store with its training range, features
and settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.contract.derived import MUST_DO
from loyalist.contract.moments import moment
from loyalist.decisions.whispers import families, whispers
from loyalist.errors import DataError
from loyalist.features.builder import FeatureSpec, available
from loyalist.features.labels import observed_until, suggest_horizon
from loyalist.features.service import ServicePolicy
from loyalist.features.service_signals import service_alerts, tracked_lifecycle
from loyalist.models.churn import ChurnModel
from loyalist.models.early_warning import choose_mode, design

ALERT_TEXT = {
    "unanswered_request": "Request {evidence_id} ({category}) unanswered for {value:.0f} days",
    "repeated_contact": "{value:.0f} contacts about {category} since {at:%d %b %Y}, still "
                        "unresolved",
    "cancel_words": "Wrote of cancelling on {at:%d %b %Y} (request {evidence_id})",
    "competitor_words": "Mentioned a competitor on {at:%d %b %Y} (request {evidence_id})",
    "complaint_words": "Complained on {at:%d %b %Y} (request {evidence_id})",
    "not_acknowledged": "Order {evidence_id} never acknowledged ({value:.0f} days)",
    "acknowledged_late": "Order {evidence_id} acknowledged {value:.1f} days after it was placed",
    "late_against_promise": "Order {evidence_id} late against its promise by {value:.1f} days",
    "not_followed_up": "Order {evidence_id} not followed up {value:.0f} days after delivery",
    "detractor": "Gave NPS {value:.0f} on {at:%d %b %Y}: {category}",
}


@dataclass
class ScoreRun:
    as_of: pd.Timestamp
    horizon: int
    mode: str
    model_id: int
    scores: pd.DataFrame
    reasons: pd.DataFrame
    alerts: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _alert_text(alerts: pd.DataFrame) -> pd.Series:
    def one(r):
        template = ALERT_TEXT.get(r.kind, "{kind}")
        values = r._asdict()
        values["category"] = values.get("category") or "an unnamed matter"
        return template.format(**values)

    return pd.Series([one(r) for r in alerts.itertuples(index=False)], index=alerts.index,
                     dtype=object)


def hard_alerts(store, as_of, policy: ServicePolicy | None = None,
                window_days: float = 90) -> pd.DataFrame:
    """Alerts that need no model, each naming its evidence row, with a sentence."""
    policy = policy or store.settings.service
    have = available(store)
    parts = []
    if have["requests"]:
        orders = store.table("orders") if have["orders"] else None
        tracked = tracked_lifecycle(orders) if orders is not None else frozenset()
        parts.append(service_alerts(store.table("requests"), as_of, orders=orders,
                                    policy=policy, window_days=window_days,
                                    tracked=tracked).to_pandas())
    if have["feedback"]:
        f = store.table("feedback")
        now = pd.Timestamp(as_of).to_pydatetime()
        recent = f.filter((f.answered_at < now) & (f.nps <= 6) & f.comment.notnull())
        d = recent.to_pandas()
        d = d[(pd.Timestamp(as_of) - d["answered_at"]).dt.days <= window_days]
        parts.append(pd.DataFrame({
            "customer_id": d["customer_id"], "kind": "detractor",
            "evidence_table": "feedback", "evidence_id": d["id"], "at": d["answered_at"],
            "value": d["nps"].astype(float), "category": '"' + d["comment"] + '"'}))
    if not parts:
        return pd.DataFrame(columns=["customer_id", "kind", "evidence_table", "evidence_id",
                                     "at", "value", "category", "text", "must_do"])
    a = pd.concat(parts, ignore_index=True)
    a["text"] = _alert_text(a) if len(a) else pd.Series(dtype=object)
    a["must_do"] = a["kind"].isin(MUST_DO)
    if have["orders"] or have["requests"]:
        from loyalist.decisions.stay_in_touch import stay_in_touch

        quiet = stay_in_touch(store, as_of)
        if len(quiet):
            a = pd.concat([a, quiet], ignore_index=True)
    return a.sort_values(["customer_id", "at"], ignore_index=True)


#: which alert kinds back which whisper family
_FAMILY_ALERTS = {
    "service": ("unanswered_request", "repeated_contact"),
    "words": ("cancel_words", "competitor_words", "complaint_words"),
    "follow_through": ("not_acknowledged", "acknowledged_late", "late_against_promise",
                       "not_followed_up"),
    "feedback": ("detractor",),
}
#: the rows that back the other families: table, date column
_FAMILY_ROWS = {"purchase": ("orders", "ordered_at"), "value": ("orders", "ordered_at"),
                "feedback": ("feedback", "answered_at"), "service": ("requests", "opened_at"),
                "subscription": ("subscriptions", "started_at")}


def evidence(store, reasons: pd.DataFrame, alerts: pd.DataFrame, as_of, per: int = 3
             ) -> pd.Series:
    """For each whisper, the rows a person can check: ``table:id,id`` (several tables
    separated by spaces)."""
    out = pd.Series(None, index=reasons.index, dtype=object)
    if reasons.empty:
        return out
    for family, kinds in _FAMILY_ALERTS.items():
        sub = alerts[alerts["kind"].isin(kinds)].groupby(["customer_id", "evidence_table"])
        ids_ = sub["evidence_id"].agg(lambda r: ",".join(r.astype(str).tail(per)))
        refs = (ids_.index.get_level_values(1) + ":" + ids_).groupby(level=0).agg(" ".join)
        sel = reasons["family"] == family
        out[sel] = reasons.loc[sel, "customer_id"].map(refs)
    have = available(store)
    now = pd.Timestamp(as_of).to_pydatetime()
    ids = reasons["customer_id"].unique().tolist()
    import ibis

    for family, (table, col) in _FAMILY_ROWS.items():
        sel = (reasons["family"] == family) & out.isna()
        if not sel.any() or not have[table]:
            continue
        t = store.table(table)
        t = t.filter((t[col] < now) & t.id.notnull())
        if len(ids) <= 10_000:  # a short list is cheaper to name than to join
            t = t.filter(t.customer_id.isin(ids))
        w = ibis.window(group_by="customer_id", order_by=ibis.desc(col))
        last = t.mutate(k=ibis.row_number().over(w)).filter(lambda x: x.k < per).to_pandas()
        refs = f"{table}:" + last.groupby("customer_id")["id"].agg(",".join)
        out[sel] = reasons.loc[sel, "customer_id"].map(refs)
    prof = reasons["family"].str.startswith("profile:") & out.isna()
    out[prof] = "customers:" + reasons.loc[prof, "customer_id"]
    usage = (reasons["family"] == "usage") & out.isna()
    out[usage] = "events of customer " + reasons.loc[usage, "customer_id"]
    return out


def default_as_of(store) -> pd.Timestamp:
    """The day after the last order or subscription change in the store."""
    return observed_until(store).normalize() + pd.Timedelta(days=1)


def score(store, as_of=None, *, mode: str = "auto", horizon: int | None = None,
          n_train_dates: int = 4, spacing_days: int = 30, spec: FeatureSpec | None = None,
          progress: Callable[[str], None] | None = None) -> ScoreRun:
    """Train on the past, score the customers active at ``as_of``, save everything."""
    step = progress or (lambda _m: None)
    as_of = moment(as_of) if as_of is not None else default_as_of(store)
    mode = choose_mode(store, mode)
    notes = []
    if horizon is None:
        horizon = suggest_horizon(store.table("orders")) if mode == "lapse" else 90
        notes.append(f"horizon {horizon} days (from the customers' own order gaps)")
    last_train = as_of - pd.Timedelta(days=horizon)
    dates = sorted(last_train - pd.Timedelta(days=spacing_days * k) for k in range(n_train_dates))
    train = design(store, dates, mode=mode, horizon=horizon, spec=spec, progress=step)
    if train.empty or train["left"].nunique() < 2:
        raise DataError(f"Not enough history before {last_train.date()} to learn who leaves.",
                        hint="Use a later --as-of, a shorter --horizon, or more data.")
    step("training")
    model = ChurnModel().fit(train.drop(columns=["left"]), train["left"])
    step(f"scoring at {as_of:%Y-%m-%d}")
    X = design(store, [as_of], mode=mode, horizon=horizon, spec=spec, labelled=False)
    X = X[_eligible(X, mode, horizon)].reset_index(drop=True)
    # one pass gives both: the family contributions add up to each customer's log-odds
    contrib = model.contributions(X, groups=families(model.feature_names_))
    p = model.probability(contrib.sum(axis=1).to_numpy())
    info = {"kind": "churn", "mode": mode, "horizon": horizon, "as_of": as_of,
            "train_dates": [str(d.date()) for d in dates], "train_rows": len(train),
            "base_rate": model.base_rate_, "features": model.feature_names_,
            # the features look back from the first training date; labels run to as_of
            "trained_on": {"from": str(dates[0].date()), "to": str(as_of.date()),
                           "rows": len(train)},
            "metrics": {"base_rate": round(model.base_rate_, 4)}}
    model_id = store.save_model("churn", model, info)
    step("reasons")
    reasons = whispers(model, X, contributions=contrib)  # for every scored customer
    alerts = hard_alerts(store, as_of)
    reasons["evidence"] = evidence(store, reasons, alerts, as_of)
    scores = pd.DataFrame({"customer_id": X["customer_id"], "as_of": as_of,
                           "p_leave": p, "model_id": model_id})
    top = reasons[reasons["rank"] == 1].set_index("customer_id")["text"]
    scores["top_reason"] = scores["customer_id"].map(top)
    scores["alerts"] = scores["customer_id"].map(alerts.groupby("customer_id").size()
                                                 ).fillna(0).astype(int)
    adv = advocacy(store, as_of, X, spec=spec)
    if adv is not None:
        scores = scores.merge(adv, on="customer_id", how="left")
    scores = scores.sort_values("p_leave", ascending=False, ignore_index=True)
    store.write_derived("scores", scores, note=f"model {model_id}")
    # every run's scores are kept, so a customer's risk can be followed over time
    store.append_derived("score_history", scores[["customer_id", "as_of", "p_leave", "model_id",
                                                  "top_reason"]], note=f"model {model_id}")
    store.write_derived("reasons", reasons.assign(model_id=model_id), note=f"model {model_id}")
    store.write_derived("alerts", alerts.assign(as_of=as_of), note=f"as of {as_of.date()}")
    return ScoreRun(as_of=as_of, horizon=horizon, mode=mode, model_id=model_id,
                    scores=scores, reasons=reasons, alerts=alerts, notes=notes)


def _eligible(X: pd.DataFrame, mode: str, horizon: int) -> np.ndarray:
    """Customers who are still customers at ``as_of`` (as the labels define them)."""
    if mode == "lapse":
        return (X["recency_days"] <= 2 * horizon).fillna(False).to_numpy()
    return (X.get("subs_active", pd.Series(0, index=X.index)) > 0).fillna(False).to_numpy()


def advocacy(store, as_of, X: pd.DataFrame, spec: FeatureSpec | None = None
             ) -> pd.DataFrame | None:
    """P(promoter) for every scored customer, learned from those who answered surveys,
    without using the survey answers themselves, so silent customers get a score too."""
    if "last_nps" not in X or X["last_nps"].notna().sum() < 100:
        return None
    from loyalist.features.builder import family_of

    answered = X["last_nps"].notna()
    y = (X.loc[answered, "last_nps"] >= 9).astype(int)
    if y.nunique() < 2:
        return None
    survey = tuple(c for c in X.columns if family_of(c) == "feedback")
    model = ChurnModel(exclude=survey, n_estimators=200).fit(X[answered], y)
    store.save_model("advocacy", model, {
        "kind": "advocacy", "as_of": as_of, "features": model.feature_names_,
        "trained_on": {"from": None, "to": str(pd.Timestamp(as_of).date()),
                       "rows": int(answered.sum())},
        "metrics": {"promoter_share": round(float(y.mean()), 4)}})
    return pd.DataFrame({"customer_id": X["customer_id"],
                         "p_promoter": model.predict_proba(X),
                         "silent": ~answered.to_numpy()})
