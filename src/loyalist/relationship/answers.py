"""Survey answers from the store: checked against the definition, one row per response.

A *response* is everything one respondent of one customer answered to one survey on
one day (``customer_id``, ``respondent``, the day of ``answered_at``): exports often
stamp each item with its own time, so the day, not the second, ties the items together.
Everything here is an Ibis expression until the per-response table is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from loyalist.contract.survey import Survey, resolve_survey
from loyalist.errors import DataError

KEY = ("customer_id", "respondent", "day")


def _answers(store, survey: Survey) -> ibis.Table:
    t = store.table("survey_answers")
    return t.filter(t.survey == survey.name)


def valid_answers(store, survey: Survey) -> ibis.Table:
    """Answers of ``survey`` whose item it knows and whose value is on the item's scale,
    with the item's ``role`` and ``group`` (construct or attribute)."""
    items = ibis.memtable(survey.item_table().drop(columns=["reversed"]))
    a = _answers(store, survey)
    j = a.inner_join(items, a.item == items.item)
    ok = ibis.ifelse(j.open, j.value.isnull(),
                     j.value.notnull() & (j.value >= j.low) & (j.value <= j.high))
    return j.filter(ok).select("customer_id", "answered_at", "respondent", "item", "value",
                               "text", "role", "group")


@dataclass
class AnswerCheck:
    """What a check of the stored answers found: rows of the survey, rows that break
    its definition (``problems``: reason and count), and what was quarantined."""

    survey: str
    answers: int
    bad: int
    problems: pd.DataFrame
    quarantined: int = 0
    check_id: int | None = None
    rejects_file: str | None = None

    @property
    def message(self) -> str | None:
        if not self.bad:
            return None
        top = self.problems.iloc[0]
        where = (f"moved to the quarantine (loyalist rejects --ingest {self.check_id})"
                 if self.quarantined else "left out of the analysis")
        return (f"{self.bad:,} of {self.answers:,} answers to survey {self.survey!r} break "
                f"its definition and were {where}; most common: {top['reason']} "
                f"({int(top['rows']):,} rows).")


def survey_of(store, survey=None) -> Survey:
    """``survey`` as given (a Survey or a TOML path), else the store's ``[relationship]
    survey`` setting, else the relationship survey that ships."""
    if survey is None:
        settings = getattr(store, "settings", None)
        rel = getattr(settings, "relationship", None)
        if rel is not None:
            survey = rel.survey_path(getattr(settings, "path", None))
    return resolve_survey(survey)


def _g(x) -> str:
    return f"{x:g}"


def _reason(r) -> str:
    """Why answer ``r`` (a row of :func:`answer_problems`) breaks its survey."""
    if not r.known:
        return f"unknown item '{r.item}': survey '{r.survey}' has no such item"
    if r.open:
        return f"item '{r.item}' is an open question: it takes text, not {_g(r.value)}"
    if pd.isna(r.value):
        return (f"item '{r.item}' needs a number on its scale {_g(r.low)}-{_g(r.high)}; "
                "got none")
    return (f"answer {_g(r.value)} is outside the scale {_g(r.low)}-{_g(r.high)} of item "
            f"'{r.item}'")


def answer_problems(store, survey: Survey) -> pd.DataFrame:
    """Stored answers of ``survey`` that break its definition (an item it does not know,
    an answer off the item's scale, a number for an open question or none for a scaled
    one): ``line, item, value, reason``. Found in the engine; only the bad rows come
    back."""
    items = ibis.memtable(survey.item_table()[["item", "low", "high", "open"]].rename(
        columns={"item": "known_item"}))
    a = store.table("survey_answers", meta=True)
    a = a.filter(a.survey == survey.name)
    j = a.left_join(items, a.item == items.known_item)
    known = j.known_item.notnull()
    bad = ~known | ibis.ifelse(j.open, j.value.notnull(),
                               j.value.isnull() | (j.value < j.low) | (j.value > j.high))
    rows = j.filter(bad).select(line=j._line, item=j.item, value=j.value, known=known,
                                open=j.open.fill_null(False), low=j.low, high=j.high
                                ).to_pandas()
    rows = rows.sort_values(["line", "item"], ignore_index=True)
    rows["survey"] = survey.name
    rows["reason"] = pd.Series([_reason(r) for r in rows.itertuples(index=False)],
                               index=rows.index, dtype=object)
    return rows[["line", "item", "value", "reason"]]


def check_answers(store, survey=None, *, quarantine: bool = False) -> AnswerCheck:
    """Check the stored answers of ``survey`` (a Survey, a TOML path, or None for the
    store's ``[relationship] survey``) against its definition; with ``quarantine``, move
    the bad rows out of ``survey_answers`` into the quarantine (nothing is lost: the
    quarantine keeps them; a DuckDB store's bookkeeping)."""
    survey = survey_of(store, survey)
    items = survey.item_table()
    n = int(_answers(store, survey).count().execute())
    bad = answer_problems(store, survey)
    pattern = bad["reason"].str.replace(r"'[^']*'|\d+(\.\d+)?", "…", regex=True)
    problems = (bad.assign(kind=pattern).groupby("kind").agg(
        reason=("reason", "first"), rows=("reason", "size"))
        .sort_values("rows", ascending=False).reset_index(drop=True))
    out = AnswerCheck(survey.name, n, len(bad), problems)
    if quarantine and len(bad):
        from loyalist.store.ingest.survey_checks import quarantine_survey_answers

        out.check_id, out.quarantined, out.rejects_file = quarantine_survey_answers(
            store, items, survey.name, store.rejects_dir)
    return out


def ingest_answers(store, source, survey=None, **kwargs):
    """Ingest ``source`` into ``survey_answers`` (like :meth:`Store.ingest`), then move
    the answers that break the survey definition to the quarantine.

    Returns (IngestResult, AnswerCheck).
    """
    survey = survey_of(store, survey)
    result = store.ingest("survey_answers", source, **kwargs)
    return result, check_answers(store, survey, quarantine=True)


def responses(store, survey=None, *, segment: str | None = None) -> pd.DataFrame:
    """One row per response: customer_id, respondent, day, answered_at, then one column
    per numeric item (raw answers, reversed items not yet turned round); with
    ``segment``, that column of ``customers`` too."""
    survey = resolve_survey(survey)
    a = valid_answers(store, survey)
    a = a.filter(a.value.notnull())
    codes = [i.code for i in survey.items.values() if not i.open]
    a = a.mutate(respondent=a.respondent.fill_null(""), day=a.answered_at.date())
    wide = a.pivot_wider(id_cols=list(KEY), names_from="item", values_from="value",
                         values_agg="mean", names=codes)
    when = a.group_by(list(KEY)).aggregate(answered_at=a.answered_at.max())
    wide = wide.inner_join(when, list(KEY))
    if segment is not None:
        c = store.table("customers")
        if segment not in c.columns:
            raise DataError(f"The customers table has no column {segment!r}.",
                            hint=f"Segment by one of: {', '.join(c.columns)}.")
        wide = wide.left_join(c.select(customer_id=c.id, segment=c[segment].cast("string")),
                              "customer_id").drop("customer_id_right")
    df = wide.to_pandas()
    for code in codes:
        if code not in df:
            df[code] = np.nan
    df["respondent"] = df["respondent"].replace("", None)
    return df.sort_values(["answered_at", "customer_id"], ignore_index=True)


def scored(df: pd.DataFrame, survey: Survey) -> pd.DataFrame:
    """The responses with reversed items turned round."""
    out = df.copy()
    for item in survey.items.values():
        if item.reversed and item.code in out:
            out[item.code] = item.score(out[item.code])
    return out


def construct_scores(df: pd.DataFrame, survey: Survey, min_share: float = 0.5
                     ) -> pd.DataFrame:
    """Per response, each construct's score: the mean of its (reversal-scored) items,
    when at least ``min_share`` of them were answered."""
    s = scored(df, survey)
    out = {}
    for name, c in survey.constructs.items():
        block = s[list(c.items)]
        enough = block.notna().mean(axis=1) >= min_share
        out[name] = block.mean(axis=1).where(enough)
    return pd.DataFrame(out, index=df.index)


__all__ = ["AnswerCheck", "answer_problems", "check_answers", "construct_scores", "ingest_answers",
           "responses", "scored", "valid_answers"]
