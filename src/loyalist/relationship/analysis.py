"""The whole relationship analysis in one call: reliability, want vs deliver, key drivers
of opinions and of behaviour, advocacy and the four segments.

``analyse(store)`` is what ``loyalist relationship``, the report section and the web
page use; :meth:`RelationshipResult.to_dict` is JSON-ready.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from loyalist.contract.survey import Survey
from loyalist.errors import DataError
from loyalist.relationship.answers import (
    AnswerCheck,
    check_answers,
    construct_scores,
    responses,
    scored,
    survey_of,
)
from loyalist.relationship.behaviour import behaviour_after
from loyalist.relationship.drivers import DriverResult, key_drivers
from loyalist.relationship.gap import gap_sentences, importance_performance
from loyalist.relationship.reliability import ScaleReliability, scale_reliability
from loyalist.relationship.segments import assign_segments, segment_summary
from loyalist.settings.relationship import RelationshipSettings

SEGMENTS_TABLE = "relationship_segments"
SUMMARY_TABLE = "relationship_summary"


@dataclass
class RelationshipResult:
    """Everything ``analyse`` found (see the module docstring)."""

    survey: Survey
    check: AnswerCheck
    responses: int
    customers: int
    reliability: list[ScaleReliability]
    gap: pd.DataFrame
    gap_by: pd.DataFrame | None
    drivers: dict[str, DriverResult]
    behaviour: dict[str, DriverResult]
    constructs_on_behaviour: dict[str, DriverResult]
    people: pd.DataFrame | None = None
    advocacy: object | None = None
    leaving: dict | None = None
    as_of: pd.Timestamp | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def segments(self) -> pd.DataFrame | None:
        return None if self.people is None else segment_summary(self.people)

    def findings(self) -> list[str]:
        """The main findings in plain sentences."""
        lines = []
        for r in self.reliability:
            lines.append(r.warning or f"The {r.construct} scale is reliable (alpha "
                         f"{r.alpha:.2f}, omega {r.omega:.2f}).")
        lines += gap_sentences(self.gap)
        for d in self.drivers.values():
            lines.append(d.evidence)
        for d in self.behaviour.values():
            lines.append(d.evidence)
        if self.people is not None:
            s = self.segments.set_index("segment")["customers"]
            parts = [f"{int(s[k]):,} {k}s" for k in ("loyal advocate", "at-risk promoter",
                                                      "silent promoter", "detractor") if k in s]
            lines.append("Segments: " + ", ".join(parts) + ".")
        return lines

    def to_dict(self) -> dict:
        """JSON-ready: plain numbers, strings and lists (NaN as None)."""
        def clean(v):
            if isinstance(v, dict):
                return {str(k): clean(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, pd.Timestamp):
                return v.isoformat()
            if v is pd.NaT or v is pd.NA:
                return None
            return v

        out = {
            "survey": self.survey.name, "responses": self.responses,
            "customers": self.customers,
            "check": {"answers": self.check.answers, "bad": self.check.bad,
                      "message": self.check.message},
            "reliability": [dict(r.as_dict(), items_detail=r.items.to_dict(orient="records"))
                            for r in self.reliability],
            "gap": self.gap.to_dict(orient="records"),
            "gap_by_segment": None if self.gap_by is None
            else self.gap_by.to_dict(orient="records"),
            "drivers": {k: d.as_dict() for k, d in self.drivers.items()},
            "behaviour": {k: d.as_dict() for k, d in self.behaviour.items()},
            "constructs_on_behaviour": {k: d.as_dict() for k, d in
                                        self.constructs_on_behaviour.items()},
            "segments": None if self.people is None
            else self.segments.to_dict(orient="records"),
            "advocacy": None if self.advocacy is None
            else self.advocacy.summary_.to_dict(),
            "leaving": self.leaving,
            "as_of": self.as_of, "findings": self.findings(), "notes": self.notes,
        }
        return clean(out)


def _drivers(X: pd.DataFrame, outcomes: dict[str, pd.Series], labels, n_boot, notes
             ) -> dict[str, DriverResult]:
    out = {}
    for name, y in outcomes.items():
        try:
            out[name] = key_drivers(X, y, name, n_boot=n_boot, labels=labels)
        except DataError as e:
            notes.append(f"No drivers of {name}: {e.message}")
    return out


def analyse(store, survey=None, *, settings: RelationshipSettings | None = None,
            by: str | None = None, as_of=None, n_boot: int | None = None,
            horizon_days: int | None = None, segments: bool = True,
            rules: RelationshipSettings | None = None,
            progress: Callable[[str], None] | None = None) -> RelationshipResult:
    """Analyse the answers to ``survey`` in ``store``.

    ``settings``: the ``[relationship]`` settings (default: the store's,
    ``store.settings.relationship``; ``rules`` is another name for them). The other
    arguments override one setting for this call:

    ``survey``: a Survey or a TOML path (default: the settings' ``survey``, else the
    relationship survey that ships). ``by``: a column of ``customers`` for the gap by
    segment (``""``: none; skipped when absent). ``n_boot``: bootstrap draws of the
    intervals of omega and of the drivers. ``horizon_days``: days after an answer in
    which staying and buying more are looked for. ``segments``: build the four segments
    of the customers active at ``as_of`` (default: the day after the last order or
    subscription change), with P(promoter) from behaviour
    (:class:`~loyalist.relationship.advocacy.AdvocacyModel`) and P(leave) and P(gone
    quiet) from :func:`~loyalist.relationship.leaving.p_leave`.
    """
    cfg = settings or rules or _store_settings(store)
    if survey is None and cfg.survey:
        survey = cfg.survey_path(getattr(getattr(store, "settings", None), "path", None))
    by = cfg.by if by is None else by
    n_boot = cfg.boot if n_boot is None else n_boot
    horizon_days = cfg.behaviour_horizon_days if horizon_days is None else horizon_days
    step = progress or (lambda _m: None)
    survey = survey_of(store, survey)
    notes: list[str] = []
    step("checking the answers")
    check = check_answers(store, survey)
    if check.message:
        notes.append(check.message)
    step("collecting responses")
    r = responses(store, survey)
    if r.empty:
        raise DataError(f"No answers to survey {survey.name!r} in the store.",
                        hint="Ingest them first: loyalist ingest survey_answers FILE "
                        "(docs/relationship.md shows the columns).")
    s = scored(r, survey)
    step("reliability")
    rel = []
    for name, c in survey.constructs.items():
        if len(c.items) < 2:
            notes.append(f"{name} has one item: no reliability to estimate.")
            continue
        try:
            rel.append(scale_reliability(s[list(c.items)], name, n_boot=min(n_boot, 200)))
        except DataError as e:
            notes.append(f"No reliability for {name}: {e.message}")
    step("want vs deliver")
    gap = importance_performance(store, survey) if survey.attributes else pd.DataFrame()
    gap_by = None
    if by and survey.attributes:
        cols = store.table("customers").columns
        if by in cols:
            gap_by = importance_performance(store, survey, by=by)
        else:
            notes.append(f"No gap by {by}: customers has no such column.")
    step("key drivers")
    scores = construct_scores(r, survey)
    labels = {a.name: a.label for a in survey.attributes.values()}
    perf = r[[a.performance for a in survey.attributes.values()]]
    perf.columns = list(survey.attributes)
    outcomes = {name: scores[name] for name in survey.constructs}
    if survey.nps:
        outcomes["nps"] = r[survey.nps]
    drivers = _drivers(perf, outcomes, labels, n_boot, notes) if len(perf.columns) >= 2 else {}
    step("behaviour after answering")
    after = behaviour_after(store, r, horizon_days)
    behaviour, constructs_on = {}, {}
    if len(after) >= 30:
        keyed = pd.concat([r[["customer_id", "answered_at"]], perf, scores], axis=1)
        if survey.nps:
            keyed["nps"] = r[survey.nps]
        m = after.merge(keyed, on=["customer_id", "answered_at"])
        outcome_names = {"stayed": f"ordering again within {horizon_days} days",
                         "buying_more": f"buying more in the {horizon_days} days after"}
        for key, words in outcome_names.items():
            if len(perf.columns) >= 2:
                behaviour.update(_drivers(m[list(perf.columns)], {words: m[key]}, labels,
                                          n_boot, notes))
            said = [c for c in (*survey.constructs, "nps") if c in m]
            if len(said) >= 2:
                constructs_on.update(_drivers(m[said], {words: m[key]}, {}, n_boot, notes))
    else:
        notes.append(f"Too few answers with {horizon_days} days of records after them to "
                     "relate answers to behaviour.")
    res = RelationshipResult(survey=survey, check=check, responses=len(r),
                             customers=int(r["customer_id"].nunique()), reliability=rel,
                             gap=gap, gap_by=gap_by, drivers=drivers, behaviour=behaviour,
                             constructs_on_behaviour=constructs_on, notes=notes)
    if segments:
        _segments(store, survey, r, res, as_of, cfg, step)
    return res


def _store_settings(store) -> RelationshipSettings:
    s = getattr(store, "settings", None)
    return getattr(s, "relationship", None) or RelationshipSettings()


def _segments(store, survey, r, res, as_of, rules, step) -> None:
    from loyalist.features.labels import observed_until
    from loyalist.relationship.advocacy import AdvocacyModel
    from loyalist.relationship.leaving import active_customers, p_leave
    from loyalist.relationship.people import behaviour_features, what_they_said

    horizon = rules.leaving_horizon_days
    try:
        as_of = (pd.Timestamp(as_of) if as_of is not None
                 else observed_until(store).normalize() + pd.Timedelta(days=1))
        step("who behaves like a leaver")
        leaving, info = p_leave(store, as_of, horizon_days=horizon)
        active = active_customers(store, as_of, horizon).to_pandas()["customer_id"]
    except DataError as e:
        res.notes.append(f"No segments: {e.message}")
        return
    step("behaviour features")
    X = behaviour_features(store, as_of)
    X = X[X["customer_id"].isin(active)].reset_index(drop=True)
    # how much a customer behaves like a leaver is part of their behaviour too
    X = X.merge(leaving, on="customer_id", how="left")
    said = what_they_said(store, survey, as_of, r)
    S = X[["customer_id"]].merge(said, on="customer_id", how="left")
    step("advocacy model")
    try:
        model = AdvocacyModel(promoter_at=rules.promoter_at).fit(X, S)
    except DataError as e:
        res.notes.append(f"No segments: {e.message}")
        return
    people = pd.DataFrame({"customer_id": X["customer_id"], "as_of": as_of,
                           "p_promoter": model.predict_proba(X),
                           "silent": S["source"].isna().to_numpy(),
                           "said_nps": S["nps"].to_numpy(), "said_at": S["answered_at"]})
    for name in ("trust", "commitment"):
        if name in S:
            people[f"said_{name}"] = S[name].to_numpy()
    pred = model.predict_constructs(X)
    for name in pred.columns:
        people[f"predicted_{name}"] = pred[name].to_numpy()
    people = people.merge(leaving, on="customer_id", how="left")
    if "scores" in store.tables():  # the early-warning lapse risk, for reference
        sc = store.table("scores").select("customer_id", p_lapse="p_leave").to_pandas()
        people = people.merge(sc, on="customer_id", how="left")
    res.people = assign_segments(people, rules)
    res.advocacy = model
    res.leaving = info
    res.as_of = as_of


def save_segments(store, result: RelationshipResult) -> int:
    """Write the per-customer segments to the derived table ``relationship_segments``
    (the worklist's input); returns the rows written."""
    if result.people is None:
        raise DataError("No segments to save.", hint="The notes of the analysis say why.")
    store.write_derived(SEGMENTS_TABLE, result.people,
                        note=f"survey {result.survey.name}, as of {result.as_of:%Y-%m-%d}")
    return len(result.people)


def save_analysis(store, result: RelationshipResult) -> int:
    """Keep the analysis: the segments in ``relationship_segments`` (when there are
    any) and the page's data (:func:`page_data`) in ``relationship_summary``, which the
    web page shows without analysing anything again. Returns the customers' rows
    written."""
    import json

    n = save_segments(store, result) if result.people is not None else 0
    data = page_data(result)
    store.write_derived(SUMMARY_TABLE, pd.DataFrame({
        "survey": [result.survey.name], "as_of": [result.as_of],
        "computed_at": [pd.Timestamp.now("UTC").tz_localize(None).floor("s")],
        "responses": [result.responses], "customers": [n],
        "data": [json.dumps(data, allow_nan=False, default=str)]}),
        note=f"survey {result.survey.name}")
    return n


def stored_page_data(store) -> dict | None:
    """The page's data kept by :func:`save_analysis` (with ``computed_at``), or None when
    the store holds none."""
    import json

    if SUMMARY_TABLE not in store.tables():
        return None
    t = store.table(SUMMARY_TABLE)
    row = t.order_by(ibis.desc("computed_at")).limit(1).to_pandas()
    if row.empty:
        return None
    data = json.loads(row["data"].iloc[0])
    data["computed_at"] = pd.Timestamp(row["computed_at"].iloc[0]).isoformat()
    return data


def page_data(result: RelationshipResult) -> dict:
    """What a web page of the relationship shows, JSON-ready: the whole analysis plus
    the importance-performance points and driver bars ready to draw."""
    data = result.to_dict()
    data["charts"] = {
        "importance_performance": [
            {k: row[k] for k in ("segment", "attribute", "label", "importance",
                                 "importance_low", "importance_high", "performance",
                                 "performance_low", "performance_high", "quadrant",
                                 "centre_importance", "centre_performance")}
            for row in data["gap"]],
        # weights (each driver's part of R²) with their bootstrap intervals; share of
        # what the attributes explain together for the labels
        "drivers": {k: [{"label": d["label"], "weight": d["weight"], "share": d["share"],
                         "low": d["low"], "high": d["high"]} for d in v["drivers"]]
                    for k, v in data["drivers"].items()},
    }
    return data


__all__ = ["RelationshipResult", "SEGMENTS_TABLE", "SUMMARY_TABLE", "analyse", "page_data",
           "save_analysis", "save_segments", "stored_page_data"]
