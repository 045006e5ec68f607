"""The overview: the state of the business at a glance.

Two kinds of figures:

- what changes only when the data change (responsiveness and call-backs from the
  requests, loss rates from the customers' lives, cohort retention, value at risk,
  NPS, the customers worth saving and the alarm summary) is computed by :func:`refresh`
  into derived tables (declared in
  :data:`loyalist.contract.derived.OVERVIEW_FIGURES`), each with the date it is as of;
  the registry of derived tables keeps when each was refreshed and the settings it was
  computed with. ``loyalist score`` refreshes them (a daily run calls :func:`refresh`);
  :func:`figures` refreshes them first when they are :func:`stale`: missing, computed
  with other settings, or older than the data or the scores they come from;
- what must be live (items open and overdue on the worklist, requests unanswered now)
  is read when asked, by :func:`live`: a few counts, each a query compiled once.

:func:`overview` gives both; the web app's overview page and its JSON twin show it.

>>> import loyalist
>>> store = loyalist.connect(":memory:")
>>> sorted(overview(store))[:4]
['alerts', 'nps', 'ok', 'retention']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import ibis
import pandas as pd
from ibis import _

from loyalist.contract.derived import DERIVED, OVERVIEW_FIGURES
from loyalist.contract.schema import TABLES
from loyalist.errors import DataError
from loyalist.store.prepared import prepare

#: the derived tables :func:`refresh` writes
FIGURE_TABLES = tuple(d.name for d in OVERVIEW_FIGURES)
#: the tables the figures are computed from: newer data there makes them stale
SOURCES = ("customers", "orders", "subscriptions", "requests", "feedback")
#: derived tables the figures read (value at risk reads the scores; the customers worth
#: saving the scores, values and alerts)
DERIVED_SOURCES = ("scores", "customer_value", "alerts")
#: months of loss rates the overview shows
MONTHS_SHOWN = 24


def settings_key(settings) -> str:
    """A fingerprint of the settings the figures depend on ([service], [calendar],
    [report], [alerts]): figures computed with other settings are stale."""
    used = {k: {key: v["value"] for key, v in section.items()}
            for k, section in settings.to_dict()["settings"].items()
            if k in ("service", "calendar", "report", "alerts")}
    return hashlib.sha256(json.dumps(used, sort_keys=True, default=str).encode()
                          ).hexdigest()[:16]


def _note(store) -> str:
    return f"settings {settings_key(store.settings)}"


def stale(store) -> list[str]:
    """Why the figures need a refresh (empty when they are up to date)."""
    log = store.derived_log()
    missing = [t for t in FIGURE_TABLES if t not in log]
    if missing:
        return [f"never computed: {', '.join(missing)}"]
    why = []
    note = _note(store)
    if any(log[t]["note"] != note for t in FIGURE_TABLES):
        why.append("computed with other settings")
    oldest = min(log[t]["written_at"] for t in FIGURE_TABLES)
    ingests = store.last_ingests()
    newer = [t for t in SOURCES if ingests.get(t) is not None and ingests[t] > oldest]
    newer += [t for t in DERIVED_SOURCES if t in log and log[t]["written_at"] > oldest]
    if newer:
        why.append(f"newer data in {', '.join(newer)}")
    return why


def _write(store, name: str, frame: pd.DataFrame | None, as_of) -> int:
    """Write one figure table: its declared columns, ``as_of``, the settings' note."""
    declared = DERIVED[name].names
    if frame is None or not len(frame):
        frame = pd.DataFrame({c: pd.Series(dtype="object") for c in declared})
    else:
        frame = frame[[c for c in frame.columns if c in declared]].assign(
            as_of=pd.Timestamp(as_of))
    store.write_derived(name, frame, note=_note(store))
    return len(frame)


def refresh(store, *, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Compute the overview's figures and write them to their derived tables; returns the
    rows written per table. Where a figure cannot be computed (no requests, no orders or
    subscriptions, no scores, no answers), its table is written empty."""
    step = progress or (lambda _m: None)
    from loyalist.decisions.service.report import service_report
    from loyalist.features import retention

    written = {}
    step("overview: service")
    try:
        rep = service_report(store, sample=0, brief=True)
        written["service_summary"] = _write(store, "service_summary",
                                            pd.DataFrame([rep.summary]), rep.as_of)
        written["service_monthly"] = _write(store, "service_monthly",
                                            rep.monthly.reset_index(), rep.as_of)
    except DataError:
        written.update({t: _write(store, t, None, None)
                        for t in ("service_summary", "service_monthly")})
    step("overview: loss rates and cohorts")
    from loyalist.decisions.measures import retention_rule

    mode, horizon = retention_rule(store)
    got: dict[str, tuple] = {}
    try:
        with retention.retention_basis(store, mode=mode, horizon=horizon).cached() as basis:
            trailing = retention.trailing_loss(store, basis=basis).assign(
                mode=basis.mode, horizon_days=basis.horizon)
            got["loss_trailing"] = (trailing, basis.as_of)
            got["loss_monthly"] = (retention.loss_rates(store, basis=basis), basis.as_of)
            got["cohort_retention"] = (retention.cohort_retention(store, basis=basis),
                                       basis.as_of)
            got["value_at_risk"] = (retention.revenue_at_risk(store, basis=basis),
                                    basis.as_of)
    except (DataError, KeyError, AttributeError):
        got = {}
    for name in ("loss_trailing", "loss_monthly", "cohort_retention", "value_at_risk"):
        written[name] = _write(store, name, *got.get(name, (None, None)))
    step("overview: customers worth saving")
    from loyalist.decisions.worth_saving import lead_tables

    ranked, counts, as_of = lead_tables(store)
    written["worth_saving"] = _write(store, "worth_saving", ranked, as_of)
    written["worth_saving_summary"] = _write(store, "worth_saving_summary", counts, as_of)
    step("overview: NPS")
    summary, monthly, as_of = _nps(store)
    written["nps_summary"] = _write(store, "nps_summary", summary, as_of)
    written["nps_monthly"] = _write(store, "nps_monthly", monthly, as_of)
    return written


def _nps(store) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.Timestamp | None]:
    f = store.table("feedback")
    f = f.filter(f.nps.notnull())
    promoter = (f.nps >= 9).cast("float64")
    detractor = (f.nps <= 6).cast("float64")
    total = f.aggregate(answers=_.count(), nps=(promoter - detractor).mean() * 100,
                        promoters=promoter.mean(), detractors=detractor.mean(),
                        trust=f.trust.mean(), satisfaction=f.satisfaction.mean(),
                        last=f.answered_at.max()).to_pandas()
    if not int(total["answers"].iloc[0]):
        return None, None, None
    as_of = pd.Timestamp(total.pop("last").iloc[0]).ceil("D")
    monthly = (f.mutate(month=f.answered_at.truncate("M"), s=promoter - detractor)
               .group_by("month")
               .aggregate(nps=_.s.mean() * 100, answers=_.count(), trust=_.trust.mean(),
                          satisfaction=_.satisfaction.mean())
               .order_by("month").to_pandas())
    return total, monthly, as_of


def _rows(store, name: str, order=()) -> list[dict]:
    t = store.table(name)
    return (t.order_by(list(order)) if order else t).to_pyarrow().to_pylist()


def figures(store, *, refresh_if_stale: bool = True) -> dict:
    """The figures that change only with the data, read from their derived tables (after
    a :func:`refresh` when they are :func:`stale` and the store may be written), each
    section with ``as_of`` and ``refreshed_at``; plus the scores' summaries (risk,
    alerts by kind, the commonest reasons) and the rows per table."""
    why = stale(store)
    if why and refresh_if_stale and not store.read_only:
        refresh(store)
        why = stale(store)
    log = store.derived_log()
    present = set(log)  # written just now, perhaps: not the store's (remembered) list

    def when(name):
        return log[name]["written_at"] if name in log else None

    def section(name, order=()):
        return _rows(store, name, order) if name in present else []

    out: dict = {"ok": True, "stale": why,
                 "tables": table_counts(store)}
    out.update(_scores(store, present))
    nps = section("nps_summary")
    out["nps"] = None if not nps else {
        **nps[0], "monthly": section("nps_monthly", ["month"]),
        "refreshed_at": when("nps_summary")}
    service = section("service_summary")
    out["service"] = None if not service else {
        "summary": service[0], "monthly": section("service_monthly", ["month"]),
        "as_of": service[0]["as_of"], "refreshed_at": when("service_summary")}
    trailing = section("loss_trailing")
    risk = section("value_at_risk")
    out["retention"] = None if not trailing else {
        "target_annual_loss": store.settings.report.target_annual_loss,
        "trailing": trailing[0],
        "monthly": section("loss_monthly", ["period"])[-MONTHS_SHOWN:],
        "cohorts": section("cohort_retention", ["cohort", "months"]),
        "at_risk": risk[0] if risk else None,
        "as_of": trailing[0]["as_of"], "refreshed_at": when("loss_trailing")}
    out["windows"] = _windows(store, out)
    return out


def _counts(store):
    """Rows of every input table, as one row of one query."""
    row = None
    for name in TABLES:
        one = store.table(name).aggregate(**{name: _.count()})
        row = one if row is None else row.cross_join(one)
    return row, {}


def table_counts(store) -> dict[str, int]:
    """Rows per input table (one query, compiled once per store)."""
    got = prepare(store, "overview table counts", _counts).rows(store)[0]
    return {t: int(got[t] or 0) for t in TABLES}


def _windows(store, out: dict) -> dict:
    """Each headline figure's window in words (:mod:`loyalist.decisions.measures`)."""
    from loyalist.decisions.measures import (
        WINDOWS,
        expected_window,
        loss_window,
        scoring_rule,
    )

    w = {}
    ret, risk = out.get("retention"), out.get("risk")
    if ret:
        t = ret["trailing"]
        w["loss_rate"] = loss_window(t, ret["as_of"], t.get("mode"), t.get("horizon_days"))
    if risk:
        rule = scoring_rule(store)
        w["expected_to_leave"] = expected_window(int(risk["scored"]), risk["as_of"],
                                                 rule[1] if rule else None)
        w["with_alarm"] = WINDOWS["with_alarm"].format(
            as_of=f"{pd.Timestamp(risk['as_of']):%d %b %Y}")
    return w


def _scores(store, present: set) -> dict:
    """Summaries of the latest scores, reasons and alerts (derived tables themselves)."""
    out: dict = {"risk": None, "alerts": [], "whispers": []}
    if "scores" in present:
        s = store.table("scores")
        risk = s.aggregate(scored=_.count(), expected_leavers=_.p_leave.sum(),
                           with_alerts=(_.alerts > 0).cast("int64").sum(),
                           as_of=_.as_of.max()).to_pyarrow().to_pylist()[0]
        top = s.order_by([ibis.desc("p_leave"), ibis.asc("customer_id")]).limit(10)
        out["risk"] = {**risk, "riskiest": top.to_pyarrow().to_pylist()}
    if "reasons" in present:
        r = store.table("reasons")
        r = r.filter(r.rank == 1)
        out["whispers"] = (r.group_by("family")
                           .aggregate(customers=_.count(), example=_.text.arbitrary())
                           .order_by([ibis.desc("customers"), ibis.asc("family")]).limit(8)
                           .to_pyarrow().to_pylist())
        out["whispers"] = family_rows(out["whispers"])
    if "alerts" in present:
        a = store.table("alerts")
        out["alerts"] = (a.group_by("kind")
                         .aggregate(n=_.count(), customers=_.customer_id.nunique())
                         .order_by([ibis.desc("n"), ibis.asc("kind")]).to_pyarrow().to_pylist())
    out.update(_alarms(store, present, out["alerts"]))
    return out


def _alarms(store, present: set, alerts: list[dict]) -> dict:
    """The alarm summary, the customers worth saving, and each alert kind with its level
    and weight in words (see :mod:`loyalist.decisions.signals.alert_weights`)."""
    from loyalist.decisions.words import kind_words
    from loyalist.decisions.worth_saving import stored_lead, weights

    got = {"alarms": None, "worth_saving": None}
    if "scores" in present and "worth_saving" in present:
        # kept by `loyalist score` (refresh); only the ten rows' items are read now
        # the tables written, perhaps just now: a web thread's list is remembered
        got.update(stored_lead(store, limit=10, tables=present) or {})
    weighed = {w["kind"]: w for w in (weights(store) if "alert_weights" in present else [])}
    first = next(iter(weighed.values()), None)
    got["alert_measured"] = None if first is None else {
        k: first[k] for k in ("measured_at", "horizon_days", "comparable")}
    for a in alerts:
        w = weighed.get(a["kind"]) or {}
        a["kind_words"] = kind_words(a["kind"])
        a["level"] = w.get("level", "not weighed")
        a["weight"] = w.get("words")
        for k in ("risk_ratio", "ratio_low", "ratio_high", "share_left_with",
                  "share_left_without", "customers_with"):
            a[k] = w.get(k)
    alerts.sort(key=lambda a: (a["level"] != "alarm", -(a["risk_ratio"] or 0), -a["n"]))
    return got


def family_rows(rows: list[dict]) -> list[dict]:
    """Whisper summaries with their family in words."""
    from loyalist.decisions.words import family_words

    return [{**r, "family_words": family_words(r["family"])} for r in rows]


def _unanswered(store):
    from loyalist.decisions.measures import unanswered_query

    return unanswered_query(store)


def _work(store):
    from loyalist.store.worklist import open_events

    day = ibis.param("string")  # prepared queries take text: YYYY-MM-DD
    today = day.cast("date").cast("timestamp")
    o = open_events(store)
    # overdue as the worklist counts it: due before today (not the data's last date),
    # and not snoozed beyond today
    late = (o.due_at < today) & (o.snoozed_until.isnull() | (o.snoozed_until <= today))
    return o.aggregate(open=_.count(), overdue=late.cast("int64").sum()), {"today": day}


def live(store) -> dict:
    """What must be live, read now: requests unanswered, items open on the worklist and
    those overdue (due before today, as the worklist's progress counts them)."""
    from loyalist.decisions.measures import WINDOWS
    from loyalist.store.worklist import has_worklist

    at = pd.Timestamp.now("UTC").tz_localize(None).to_pydatetime()
    out = {"at": at,
           "unanswered_now": int(prepare(store, "overview unanswered v2", _unanswered)
                                 .rows(store, at=at.isoformat(sep=" "))[0]["n"]),
           "unanswered_window": WINDOWS["unanswered_now"].format(at=f"{at:%d %b %Y %H:%M}"),
           "open_items": 0, "overdue": 0}
    if has_worklist(store):
        today = f"{pd.Timestamp.now():%Y-%m-%d}"
        work = prepare(store, "overview work", _work).rows(store, today=today)[0]
        out["open_items"], out["overdue"] = int(work["open"]), int(work["overdue"] or 0)
    return out


def overview(store, *, refresh_if_stale: bool = True) -> dict:
    """The whole overview: :func:`figures` with the :func:`live` counts (``work``; and
    ``unanswered_now`` in the service summary, where it has always been shown)."""
    out = figures(store, refresh_if_stale=refresh_if_stale)
    return with_live(out, live(store))


def with_live(figures_: dict, now: dict) -> dict:
    """``figures_`` with the live counts ``now`` added."""
    out = {**figures_, "work": now}
    if out.get("service"):
        out["service"] = {**out["service"], "summary": {
            **out["service"]["summary"], "unanswered_now": now["unanswered_now"],
            "unanswered_window": now["unanswered_window"]}}
    return out


__all__ = ["FIGURE_TABLES", "figures", "live", "overview", "refresh", "settings_key", "stale",
           "with_live"]
