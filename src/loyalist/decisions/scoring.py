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
from loyalist.decisions.signals.whispers import families, whispers
from loyalist.errors import DataError
from loyalist.features.builder import FeatureSpec, available
from loyalist.features.labels import observed_until
from loyalist.features.service import ServicePolicy
from loyalist.features.service_signals import service_alerts, tracked_lifecycle
from loyalist.models.churn import ChurnModel
from loyalist.models.early_warning import (
    choose_mode,
    complaint_texts,
    design,
    fit_on_plan,
    lapse_horizon,
    level_at_target,
    plan_training,
    sample_customers,
)

#: each alert kind in words: ``{days}`` is the value as a duration, ``{count}`` as a
#: whole number (``{contacts}`` with its unit), ``{date}`` the day it happened, ``{row}``
#: its evidence row in words
ALERT_TEXT = {
    "unanswered_request": "Request {evidence_id} ({category}) unanswered for {days}",
    "repeated_contact": "{contacts} about {category} since {date}, still unresolved",
    "cancel_words": "Wrote of cancelling on {date} (request {evidence_id})",
    "competitor_words": "Mentioned a competitor on {date} (request {evidence_id})",
    "complaint_words": "Complained on {date} (request {evidence_id})",
    "unhappy_words": "Wrote like an unhappy customer on {date} ({row}): {category}",
    "not_acknowledged": "Order {evidence_id} never acknowledged ({days})",
    "acknowledged_late": "Order {evidence_id} acknowledged {days} after it was placed",
    "late_against_promise": "Order {evidence_id} late against its promise by {days}",
    "not_followed_up": "Order {evidence_id} not followed up {days} after delivery",
    "detractor": "Gave NPS {count} on {date}: {category}",
}
#: an evidence table as one row of it is called
_ROW_WORDS = {"requests": "request", "feedback": "survey answer", "orders": "order",
              "customers": "customer", "events": "event", "touches": "contact"}


@dataclass
class ScoreRun:
    as_of: pd.Timestamp
    horizon: int | None
    mode: str
    model_id: int
    scores: pd.DataFrame
    reasons: pd.DataFrame
    alerts: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _alert_text(alerts: pd.DataFrame) -> pd.Series:
    from loyalist.decisions.words import count, duration, kind_words

    def one(r):
        template = ALERT_TEXT.get(r.kind)
        if template is None:
            return kind_words(r.kind).capitalize()
        category = r.category if isinstance(r.category, str) and r.category.strip() \
            else "an unnamed matter"
        at = pd.Timestamp(r.at) if pd.notna(r.at) else None
        value = float(r.value) if pd.notna(r.value) else None
        return template.format(
            evidence_id=r.evidence_id, category=category,
            days=duration(value), count="?" if value is None else f"{value:,.0f}",
            contacts=count(None if value is None else round(value), "contact"),
            date=f"{at:%d %b %Y}" if at is not None else "an unknown day",
            row=f"{_ROW_WORDS.get(r.evidence_table, 'row')} {r.evidence_id}")

    return pd.Series([one(r) for r in alerts.itertuples(index=False)], index=alerts.index,
                     dtype=object)


def hard_alerts(store, as_of, policy: ServicePolicy | None = None,
                window_days: float = 90, texts: pd.DataFrame | None = None,
                unhappy: float = 0.7) -> pd.DataFrame:
    """Alerts that need no churn model, each naming its evidence row, with a sentence.

    ``texts`` (unscored texts read by the firm's complaint model) adds one alert per
    text of the window that reads like a low score (P >= ``unhappy``)."""
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
    if texts is not None and len(texts):
        now = pd.Timestamp(as_of)
        t = texts[(texts["at"] < now) & (texts["at"] >= now - pd.Timedelta(days=window_days))
                  & (texts["p_low"] >= unhappy)]
        short = t["text"].str.slice(0, 70).where(t["text"].str.len() <= 70,
                                                 t["text"].str.slice(0, 67) + "...")
        parts.append(pd.DataFrame({
            "customer_id": t["customer_id"], "kind": "unhappy_words",
            "evidence_table": t["source"], "evidence_id": t["id"], "at": t["at"],
            "value": t["p_low"], "category": '"' + short + '"'}))
    if not parts:  # typed even when empty: a saved table keeps comparable columns
        return pd.DataFrame({
            "customer_id": pd.Series(dtype="string"), "kind": pd.Series(dtype="string"),
            "evidence_table": pd.Series(dtype="string"),
            "evidence_id": pd.Series(dtype="string"),
            "at": pd.Series(dtype="datetime64[us]"), "value": pd.Series(dtype="float64"),
            "category": pd.Series(dtype="string"), "text": pd.Series(dtype="string"),
            "must_do": pd.Series(dtype="bool")})
    a = pd.concat(parts, ignore_index=True)
    a["text"] = _alert_text(a) if len(a) else pd.Series(dtype=object)
    a["must_do"] = a["kind"].isin(MUST_DO)
    if have["orders"] or have["requests"]:
        from loyalist.decisions.service.stay_in_touch import stay_in_touch

        quiet = stay_in_touch(store, as_of)
        if len(quiet):
            a = pd.concat([a, quiet], ignore_index=True)
    # a total order: ties on (customer, time) kept in the engine's row order differed
    # between engines
    return a.sort_values(["customer_id", "at", "kind", "evidence_table", "evidence_id"],
                         ignore_index=True, kind="stable")


#: which alert kinds back which whisper family
_FAMILY_ALERTS = {
    "service": ("unanswered_request", "repeated_contact"),
    "words": ("cancel_words", "competitor_words", "complaint_words", "unhappy_words"),
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
        sub = alerts[alerts["kind"].isin(kinds)]
        if sub.empty:
            continue
        keys = ["customer_id", "evidence_table"]
        # the last ``per`` of each customer and table, in the alerts' order
        sub = sub[sub.groupby(keys, sort=False).cumcount(ascending=False) < per]
        sub = sub.assign(evidence_id=sub["evidence_id"].astype(str)).sort_values(
            keys, kind="stable")
        ids_ = _joined(sub, keys, "evidence_id", ",")
        tables = ids_.index.get_level_values(1).astype(str) + ":" + ids_.to_numpy()
        refs = _joined(pd.DataFrame({"customer_id": ids_.index.get_level_values(0),
                                     "ref": tables}), ["customer_id"], "ref", " ")
        sel = reasons["family"] == family
        out[sel] = reasons.loc[sel, "customer_id"].map(refs)
    have = available(store)
    now = pd.Timestamp(as_of).to_pydatetime()
    import ibis

    for family, (table, col) in _FAMILY_ROWS.items():
        sel = (reasons["family"] == family) & out.isna()
        if not sel.any() or not have[table]:
            continue
        t = store.table(table)
        t = t.filter((t[col] < now) & t.id.notnull())
        # only the customers whose whisper this table backs, a list held as data:
        # joined, never spelt out in SQL (the whole table's last rows per customer were
        # once pulled for long lists: millions of rows at 100M orders)
        ids = reasons.loc[sel, "customer_id"].unique()
        t = t.semi_join(ibis.memtable({"customer_id": ids}), "customer_id")
        w = ibis.window(group_by="customer_id", order_by=ibis.desc(col))
        last = t.mutate(k=ibis.row_number().over(w)).filter(lambda x: x.k < per).select(
            "customer_id", "id", "k").to_pandas().sort_values(["customer_id", "k"])
        refs = f"{table}:" + _joined(last, ["customer_id"], "id", ",")
        out[sel] = reasons.loc[sel, "customer_id"].map(refs)
    prof = (reasons["family"].str.startswith("profile:") | (reasons["family"] == "overall")
            ) & out.isna()
    out[prof] = "customers:" + reasons.loc[prof, "customer_id"]
    usage = (reasons["family"] == "usage") & out.isna()
    out[usage] = "events of customer " + reasons.loc[usage, "customer_id"]
    return out


def _joined(frame: pd.DataFrame, keys: list[str], column: str, sep: str) -> pd.Series:
    """``column``'s strings joined by ``sep`` per value of ``keys``, in the frame's order
    (a Series indexed by ``keys``): one vectorized pass per position within a key, not
    one Python call per key (a million customers' evidence would take minutes)."""
    pos = frame.groupby(keys, sort=False).cumcount().to_numpy()
    index = pd.MultiIndex.from_frame(frame[keys]) if len(keys) > 1 else pd.Index(
        frame[keys[0]])
    values = pd.Series(frame[column].to_numpy(dtype=object), index=index)
    out = values[pos == 0]
    for j in range(1, int(pos.max(initial=0)) + 1):
        more = values[pos == j]
        out.loc[more.index] = out.loc[more.index] + sep + more
    return out


def reason_floor(store=None) -> float:
    """The lowest P(leave) that puts a customer on the worklist (the playbooks'
    smallest ``min_p_leave``, 0.5 when none sets one): everyone at or above it gets a
    reason."""
    from loyalist.settings.worklist import default_playbooks

    playbooks = store.settings.worklist if hasattr(store, "settings") else default_playbooks()
    floors = [p.min_p_leave for p in playbooks if p.min_p_leave is not None]
    return float(min(floors, default=0.5))


def default_as_of(store) -> pd.Timestamp:
    """The day after the last order or subscription change in the store."""
    return observed_until(store).normalize() + pd.Timedelta(days=1)


def score(store, as_of=None, *, mode: str = "auto", horizon: int | None = None,
          n_train_dates: int = 4, spacing_days: int = 30, spec: FeatureSpec | None = None,
          progress: Callable[[str], None] | None = None, season: bool = True,
          label: str | None = None, positive=None,
          train_customers: int | None = None) -> ScoreRun:
    """Train on the past, score the customers active at ``as_of``, save everything.

    ``train_customers``: the churn model learns from a random sample of at most this many
    customers (seeded, the same on every engine), filtered in the engine, so the driver
    holds their features at each training date rather than everyone's (docs/scale.md:
    needed for millions of customers); every active customer is still scored.

    With ``label`` (a two-valued column of the customers table saying who left), the
    customers table itself is the training data: see :func:`score_labelled`.
    """
    if label is not None:
        return score_labelled(store, label, positive=positive, progress=progress)
    step = progress or (lambda _m: None)
    as_of = moment(as_of) if as_of is not None else None  # a bad date fails first
    if train_customers is not None and (not isinstance(train_customers, int | np.integer)
                                        or train_customers < 100):
        raise DataError(f"train_customers must be a whole number of at least 100; got "
                        f"{train_customers!r}.",
                        hint="Pass e.g. --train-customers 1000000, or leave it out to "
                        "train on every customer.")
    mode = choose_mode(store, mode)
    notes = []
    end = observed_until(store)
    day_after = end.normalize() + pd.Timedelta(days=1)
    as_of = day_after if as_of is None else as_of
    if as_of > day_after:
        raise DataError(f"--as-of {as_of.date()} is after the end of the data ({end.date()}): "
                        "what customers did since is unknown.",
                        hint=f"Score as of {day_after.date()} or earlier, or ingest newer "
                             "exports first.")
    if horizon is None:
        horizon = lapse_horizon(store, before=as_of) if mode == "lapse" else 90
        notes.append(f"horizon {horizon} days (from the customers' own order gaps before "
                     f"{as_of.date()})")
    plan = plan_training(store, as_of, horizon, mode=mode, n_train_dates=n_train_dates,
                         spacing_days=spacing_days, season=season, known_until=day_after)
    have = available(store)
    if have["feedback"]:
        step("learning the firm's complaint language from rated feedback")
    texts, note = complaint_texts(store, before=as_of) if have["feedback"] else (None, "")
    notes += [note] if note else []
    sample = (sample_customers(store, mode, train_customers)
              if train_customers is not None else None)
    if sample is not None:
        notes.append(f"trained on a random sample of {train_customers:,} customers "
                     "(train_customers); every active customer is scored")
    train = design(store, plan.dates, mode=mode, horizon=horizon, spec=spec, progress=step,
                   texts=texts, have=have, customers=sample)
    if train.empty or train["left"].nunique() < 2:
        raise DataError(f"Not enough history before {plan.recent[-1].date()} to learn who "
                        "leaves.", hint="Use a later --as-of, a shorter --horizon, or more data.")
    step("training")
    model = fit_on_plan(train, plan, mode)
    notes.extend(plan.notes)
    notes.extend(f"not used: {r.feature} ({r.reason})" for r in model.unused_.itertuples())
    step(f"scoring at {as_of:%Y-%m-%d}")
    # only the customers still customers at as_of reach the driver
    X = design(store, [as_of], mode=mode, horizon=horizon, spec=spec, labelled=False,
               texts=texts, have=have, where=lambda t: _eligible(t, mode, horizon))
    for col, why in X.attrs.get("unavailable", {}).items():
        if col in model.feature_names_:
            notes.append(f"{col} missing at {as_of.date()}: {why}")
    level = level_at_target(model, train, plan, X.drop(columns=["left"], errors="ignore"),
                            store, mode)
    notes += [level] if level else []
    # one pass gives both: the family contributions add up to each customer's log-odds
    contrib = model.contributions(X, groups=families(model.feature_names_))
    p = model.probability(contrib.sum(axis=1).to_numpy())
    info = {"kind": "churn", "mode": mode, "horizon": horizon, "as_of": as_of,
            "train_dates": [str(d.date()) for d in plan.dates],
            "calibrated_on": [str(d.date()) for d in plan.season] or "the latest dates",
            "train_rows": len(train), "base_rate": model.base_rate_,
            "features": model.feature_names_, "blend_weight": model.blend_weight_,
            "trees": model.n_trees_, "not_used": dict(zip(model.unused_["feature"],
                                                         model.unused_["reason"],
                                                         strict=True)),
            "notes": notes,
            # the features look back from the first training date; labels run to as_of
            "trained_on": {"from": str(plan.dates[0].date()), "to": str(as_of.date()),
                           "rows": len(train)},
            "metrics": {"base_rate": round(model.base_rate_, 4),
                        **{k: round(v, 4) for k, v in model.validation_.items()
                           if isinstance(v, float)}}}
    model_id = store.save_model("churn", model, info)
    step("reasons")
    reasons = whispers(model, X, contributions=contrib, p_leave=p, floor=reason_floor(store))
    alerts = hard_alerts(store, as_of, texts=texts)
    reasons["evidence"] = evidence(store, reasons, alerts, as_of)
    scores = pd.DataFrame({"customer_id": X["customer_id"], "as_of": as_of,
                           "p_leave": p, "model_id": model_id})
    step("weighing the alerts on past outcomes")
    alerts = _weigh(store, alerts, as_of, mode, horizon, notes, texts)
    return _save(store, scores, reasons, alerts, X, as_of, horizon, mode, model_id, notes,
                 spec)


def _weigh(store, alerts: pd.DataFrame, as_of, mode: str, horizon: int | None,
           notes: list[str], texts: pd.DataFrame | None = None) -> pd.DataFrame:
    """``alerts`` with each kind's level (alarm, housekeeping, not weighed), the weights
    written to ``alert_weights`` (see :mod:`loyalist.decisions.signals.alert_weights`)."""
    from loyalist.decisions.signals.alert_weights import weigh_alerts

    weights = None
    if horizon is not None and mode in ("lapse", "contract"):
        try:
            weights = weigh_alerts(store, as_of, mode=mode, horizon=horizon, texts=texts)
        except DataError as e:
            notes.append(f"alerts not weighed: {e.message}")
    if weights is not None:
        store.write_derived("alert_weights", weights, note=f"as of {pd.Timestamp(as_of).date()}")
        level = dict(zip(weights["kind"], weights["level"], strict=True))
    else:
        level = {}
    return alerts.assign(level=alerts["kind"].map(level).fillna("not weighed")
                         if len(alerts) else pd.Series(dtype="string"))


def _save(store, scores, reasons, alerts, X, as_of, horizon, mode, model_id, notes,
          spec) -> ScoreRun:
    top = reasons[reasons["rank"] == 1].set_index("customer_id")["text"]
    scores["top_reason"] = scores["customer_id"].map(top)
    scores["alerts"] = scores["customer_id"].map(alerts.groupby("customer_id").size()
                                                 ).fillna(0).astype(int)
    adv = advocacy(store, as_of, X, spec=spec) if mode != "table" else None
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


def score_labelled(store, label: str, *, positive=None, progress=None) -> ScoreRun:
    """Score the customers table with a model of its own label column (``Churn``,
    ``Attrition_Flag``...): every labelled customer out of fold, the others by the
    model fitted on all labelled ones; reasons for everyone; saved like ``score``."""
    from loyalist.models.snapshot import score_table

    step = progress or (lambda _m: None)
    step(f"learning {label!r} from the customers table")
    ts = score_table(store, label, positive=positive)
    model, X = ts.model, ts.X
    as_of = pd.Timestamp.now().normalize()
    notes = [f"label {ts.table.label!r}: {ts.table.leaving!r} = left, {ts.table.staying!r} = "
             "stayed", *ts.cv.notes,
             f"cross-validated ROC AUC {ts.cv.metrics.loc['mean', 'roc_auc']:.3f} "
             f"({len(ts.cv.metrics) - 1} folds)"]
    info = {"kind": "churn", "mode": "table", "label": ts.table.label,
            "leaving": str(ts.table.leaving), "train_rows": int(ts.table.labelled.sum()),
            "base_rate": model.base_rate_, "features": model.feature_names_,
            "blend_weight": model.blend_weight_, "trees": model.n_trees_,
            "cv_roc_auc": float(ts.cv.metrics.loc["mean", "roc_auc"]), "notes": notes}
    info["trained_on"] = {"from": None, "to": str(as_of.date()),
                          "rows": int(ts.table.labelled.sum())}
    info["metrics"] = {"cv_roc_auc": round(info["cv_roc_auc"], 4),
                       "base_rate": round(model.base_rate_, 4)}
    model_id = store.save_model("churn", model, info)
    step("reasons")
    contrib = model.contributions(X, groups=families(model.feature_names_))
    p = ts.scores["p_leave"].to_numpy()
    reasons = whispers(model, X, contributions=contrib, p_leave=p, floor=reason_floor(store))
    alerts = hard_alerts(store, as_of)
    reasons["evidence"] = evidence(store, reasons, alerts, as_of)
    scores = pd.DataFrame({"customer_id": X["customer_id"], "as_of": as_of, "p_leave": p,
                           "model_id": model_id})
    return _save(store, scores, reasons, alerts, X, as_of, None, "table", model_id, notes,
                 None)


def _eligible(t, mode: str, horizon: int):
    """Customers who are still customers at ``as_of`` (as the labels define them), as a
    boolean column of the engine's feature table ``t`` (missing values count as no)."""
    import ibis

    if mode == "lapse":
        return t.recency_days <= 2 * horizon
    return t.subs_active > 0 if "subs_active" in t.columns else ibis.literal(False)


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
    model = ChurnModel(exclude=survey).fit(X[answered], y)
    store.save_model("advocacy", model, {
        "kind": "advocacy", "as_of": as_of, "features": model.feature_names_,
        "trained_on": {"from": None, "to": str(pd.Timestamp(as_of).date()),
                       "rows": int(answered.sum())},
        "metrics": {"promoter_share": round(float(y.mean()), 4)}})
    return pd.DataFrame({"customer_id": X["customer_id"],
                         "p_promoter": model.predict_proba(X),
                         "silent": ~answered.to_numpy()})
