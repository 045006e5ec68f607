"""One definition per figure: each headline figure computed once, with its window in
words, so the overview, the service page, the report and the CLI say the same thing.

- **unanswered now**: requests opened before the moment with no first response by
  then, whatever their age (:func:`loyalist.features.service.unanswered`); live on the
  overview (now), at the data's end on the service page and in the report;
- **loss rate**: of the customers who were customers at the start of the trailing
  12 months, the share lost by the end; a customer is lost by the rule of
  :func:`retention_rule` (the scores' own, so "lost" means what the model predicts);
- **expected to leave**: the sum of P(leave) over the customers scored, within the
  churn model's horizon;
- **with an alarm**: customers scored with at least one alarm-level alert
  (:mod:`loyalist.decisions.signals.alert_weights`).
"""

from __future__ import annotations

import json

import ibis
import pandas as pd

#: each figure's window, in words (formatted with the figure's own values)
WINDOWS = {
    "unanswered_now": "requests opened before {at} with no first response by then, "
                      "whatever their age",
    "loss_rate": "customers at {start} lost by {as_of} (the trailing {months} months); "
                 "{rule}",
    "expected_to_leave": "sum of P(leave) of the {scored} customers scored on {as_of}, "
                         "{within}",
    "with_alarm": "customers scored on {as_of} with an alert whose kind went with leaving "
                  "on the firm's own history",
}


def _day(v) -> str:
    return f"{pd.Timestamp(v):%d %b %Y}" if v is not None and pd.notna(v) else "?"


def scoring_rule(store) -> tuple[str, int | None] | None:
    """Mode and horizon of the churn model behind the current scores (None when the
    store has no scores from a time-based model)."""
    if "scores" not in store.tables():
        return None
    models = store.models("churn")
    if models.empty:
        return None
    info = models.iloc[0]["info"]
    info = json.loads(info) if isinstance(info, str) else info
    if info.get("mode") not in ("lapse", "contract"):
        return None
    return info["mode"], (int(info["horizon"]) if info["mode"] == "lapse" else None)


def retention_rule(store, horizon: int | None = None) -> tuple[str, int | None]:
    """The mode and horizon every loss figure uses: ``horizon`` when given, else
    ``[report] horizon``, else the scores' own (so "lost" means what the model
    predicts), else the automatic choice."""
    horizon = horizon if horizon is not None else store.settings.report.horizon
    used = scoring_rule(store)
    if horizon is None and used:
        return used
    return "auto", horizon


def lost_words(mode: str, horizon: int | None) -> str:
    """The rule that makes a customer lost, in words."""
    if mode == "lapse":
        return f"a customer is lost {horizon} days after their last order with no new one"
    return "a customer is lost when their last subscription has ended"


def unanswered_now(store, at=None) -> dict:
    """Requests unanswered at ``at`` (default: now) with the window in words."""
    from loyalist.features.service import unanswered

    at = pd.Timestamp.now("UTC").tz_localize(None) if at is None else pd.Timestamp(at)
    n = int(unanswered(store.table("requests"), at.to_pydatetime()).count().execute())
    return {"value": n, "at": at, "window": WINDOWS["unanswered_now"].format(at=_day(at))}


def unanswered_query(store):
    """How to build the count of requests unanswered at a parameter ``at`` (for a
    query compiled once: :mod:`loyalist.store.prepared`)."""
    from loyalist.features.service import unanswered

    at = ibis.param("string")  # prepared queries bind text: an ISO moment, cast here
    return (unanswered(store.table("requests"), at.cast("timestamp"))
            .aggregate(n=ibis._.count()), {"at": at})


def loss_window(trailing: dict, as_of, mode: str, horizon: int | None) -> str:
    """The loss rate's window in words."""
    months = int(trailing.get("months") or 12)
    start = pd.Timestamp(as_of) - pd.DateOffset(months=months)
    return WINDOWS["loss_rate"].format(start=_day(start), as_of=_day(as_of), months=months,
                                       rule=lost_words(mode, horizon))


def expected_window(scored: int, as_of, horizon: int | None) -> str:
    within = f"within {horizon} days" if horizon else "within the model's horizon"
    return WINDOWS["expected_to_leave"].format(scored=f"{scored:,}", as_of=_day(as_of),
                                               within=within)


__all__ = ["WINDOWS", "expected_window", "loss_window", "lost_words", "retention_rule",
           "scoring_rule", "unanswered_now", "unanswered_query"]
