"""Want vs deliver: per attribute, how important it is to customers against how well
the firm performs, with intervals, quadrants, and by segment.

Importance-performance analysis (Martilla and James 1977). Each attribute is placed by
its mean importance and mean performance; the cross-hairs are the means over the
attributes (or, with ``centre="scale"``, the middle of the scale), giving four
quadrants:

* high importance, low performance: **concentrate here**;
* high importance, high performance: **keep up the good work**;
* low importance, low performance: **low priority**;
* low importance, high performance: **possible overkill**.

The gap is performance minus importance within each response (negative: the firm
delivers less than the customer wants), with a t interval. Everything is aggregated in
the engine (Ibis); only one row per attribute and segment comes back.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from loyalist.contract.survey import resolve_survey
from loyalist.errors import DataError
from loyalist.relationship.answers import KEY, valid_answers

QUADRANTS = {
    (True, False): "concentrate here",
    (True, True): "keep up the good work",
    (False, False): "low priority",
    (False, True): "possible overkill",
}


def _with_segment(store, a: ibis.Table, by: str | None) -> ibis.Table:
    if by is None:
        return a.mutate(segment=ibis.literal("all"))
    c = store.table("customers")
    if by not in c.columns:
        raise DataError(f"The customers table has no column {by!r} to segment by.",
                        hint=f"Use one of: {', '.join(c.columns)}.")
    c = c.select(cid=c.id, segment=c[by].cast("string").fill_null("(none)"))
    return a.left_join(c, a.customer_id == c.cid).drop("cid").mutate(
        segment=lambda t: t.segment.fill_null("(none)"))


def importance_performance(store, survey=None, *, by: str | None = None,
                           centre: str = "mean", ci: float = 0.95) -> pd.DataFrame:
    """One row per attribute (and segment, with ``by``, a column of ``customers``):
    mean importance and performance with intervals, the gap with its interval, and
    the quadrant.

    Columns: segment, attribute, label, importance, importance_low/high, performance,
    performance_low/high, gap, gap_low, gap_high, n_importance, n_performance, n_pairs,
    quadrant.
    """
    if centre not in ("mean", "scale"):
        raise DataError(f"Unknown centre {centre!r} for the quadrants.",
                        hint="Use 'mean' (the means over the attributes) or 'scale' "
                        "(the middle of the scale).")
    survey = resolve_survey(survey)
    if not survey.attributes:
        raise DataError(f"Survey {survey.name!r} defines no attributes.",
                        hint="Add [[attribute]] tables with importance and performance "
                        "questions to the survey definition.")
    a = valid_answers(store, survey)
    a = a.filter(a.role.isin(["importance", "performance"]) & a.value.notnull())
    a = a.mutate(respondent=a.respondent.fill_null(""), day=a.answered_at.date())
    a = _with_segment(store, a, by)
    per = a.group_by(["segment", "group", "role"]).aggregate(
        mean=a.value.mean(), sd=a.value.std(), n=a.count()).to_pandas()
    imp = a.filter(a.role == "importance").select(*KEY, "segment", "group", imp=a.value)
    perf = a.filter(a.role == "performance").select(*KEY, "group", perf=a.value)
    pairs = imp.inner_join(perf, [*KEY, "group"])
    gap = pairs.group_by(["segment", "group"]).aggregate(
        gap=(pairs.perf - pairs.imp).mean(), gap_sd=(pairs.perf - pairs.imp).std(),
        n_pairs=pairs.count()).to_pandas()
    if per.empty:
        raise DataError(f"No importance or performance answers to survey {survey.name!r}.",
                        hint="Ingest survey_answers first (loyalist ingest survey_answers "
                        "FILE).")
    wide = per.pivot_table(index=["segment", "group"], columns="role",
                           values=["mean", "sd", "n"])
    wide.columns = [f"{stat}_{role}" for stat, role in wide.columns]
    out = wide.reset_index().merge(gap, on=["segment", "group"], how="left")
    out = out.rename(columns={"group": "attribute", "mean_importance": "importance",
                              "mean_performance": "performance"})
    z = 1 - (1 - ci) / 2
    for name in ("importance", "performance"):
        if name not in out:
            out[name] = np.nan
            out[f"sd_{name}"] = np.nan
            out[f"n_{name}"] = 0
        half = stats.t.ppf(z, np.maximum(out[f"n_{name}"] - 1, 1)) * out[f"sd_{name}"] \
            / np.sqrt(out[f"n_{name}"])
        out[f"{name}_low"], out[f"{name}_high"] = out[name] - half, out[name] + half
    half = stats.t.ppf(z, np.maximum(out["n_pairs"].fillna(2) - 1, 1)) * out["gap_sd"] \
        / np.sqrt(out["n_pairs"])
    out["gap_low"], out["gap_high"] = out["gap"] - half, out["gap"] + half
    labels = {a.name: a.label for a in survey.attributes.values()}
    out["label"] = out["attribute"].map(labels)
    order = {name: i for i, name in enumerate(survey.attributes)}
    out = out.sort_values(["segment", "attribute"], key=lambda s: s.map(order)
                          if s.name == "attribute" else s, ignore_index=True)
    scale = {a.name: (survey.items[a.importance].low + survey.items[a.importance].high) / 2
             for a in survey.attributes.values()}
    if centre == "mean":
        ci_imp = out.groupby("segment")["importance"].transform("mean")
        ci_perf = out.groupby("segment")["performance"].transform("mean")
    else:
        ci_imp = ci_perf = out["attribute"].map(scale)
    out["centre_importance"], out["centre_performance"] = ci_imp, ci_perf
    out["quadrant"] = [QUADRANTS[(bool(i >= ci), bool(p >= cp))] for i, p, ci, cp in
                       zip(out["importance"], out["performance"], ci_imp, ci_perf,
                           strict=True)]
    out["n_pairs"] = out["n_pairs"].fillna(0).astype(int)
    for c in ("n_importance", "n_performance"):
        out[c] = out[c].fillna(0).astype(int)
    cols = ["segment", "attribute", "label", "importance", "importance_low",
            "importance_high", "performance", "performance_low", "performance_high", "gap",
            "gap_low", "gap_high", "n_importance", "n_performance", "n_pairs", "quadrant",
            "centre_importance", "centre_performance"]
    return out[cols]


def gap_sentences(table: pd.DataFrame) -> list[str]:
    """The want-vs-deliver findings in words, biggest shortfall first."""
    lines = []
    t = table[table["segment"] == table["segment"].iloc[0]] if len(table) else table
    focus = t[t["quadrant"] == "concentrate here"].sort_values("gap")
    for r in focus.itertuples(index=False):
        sure = r.gap_high < 0
        lines.append(f"Concentrate on {r.label.lower()}: customers rate it important "
                     f"({r.importance:.1f}) and you deliver {r.performance:.1f}, a gap of "
                     f"{r.gap:+.1f}" + ("" if sure else " (not clearly below what they want)")
                     + ".")
    over = t[t["quadrant"] == "possible overkill"]
    for r in over.itertuples(index=False):
        lines.append(f"Possible overkill on {r.label.lower()}: you deliver "
                     f"{r.performance:.1f} where it matters less ({r.importance:.1f}).")
    return lines


__all__ = ["QUADRANTS", "gap_sentences", "importance_performance"]
