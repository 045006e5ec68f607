"""The service report: responsiveness, call-backs, misrouting and open requests.

``service_report(store, as_of)`` computes every table in the engine and returns
small pandas frames; ``ServiceReport.save(folder)`` writes them as CSV with the
plots as PNG (matplotlib, Agg).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pandas as pd
from ibis import _

from loyalist.contract.moments import moment
from loyalist.errors import DataError
from loyalist.features.labels import latest_timestamp
from loyalist.features.service import (
    DAY,
    HOUR,
    ServicePolicy,
    _ts,
    link_callbacks,
    order_followthrough,
    request_facts,
)
from loyalist.features.service_signals import tracked_lifecycle

AGE_BUCKETS = [(0, 1, "< 1 day"), (1, 3, "1-3 days"), (3, 7, "3-7 days"), (7, 14, "1-2 weeks"),
               (14, 10**9, "> 2 weeks")]


@dataclass
class ServiceReport:
    as_of: pd.Timestamp
    since: pd.Timestamp | None
    summary: dict
    by: dict[str, pd.DataFrame] = field(default_factory=dict)
    monthly: pd.DataFrame | None = None
    misrouting_matrix: pd.DataFrame | None = None
    open_ageing: pd.DataFrame | None = None
    followthrough: pd.DataFrame | None = None
    response_sample: pd.DataFrame | None = None

    def save(self, folder) -> list[Path]:
        """Write every table as CSV and every plot as PNG; return the paths."""
        from loyalist.decisions.service import plots as service_plots

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        pd.Series(self.summary).to_csv(folder / "summary.csv", header=["value"])
        paths.append(folder / "summary.csv")
        for name, df in {**{f"by_{k}": v for k, v in self.by.items()},
                         "monthly": self.monthly, "misrouting_matrix": self.misrouting_matrix,
                         "open_ageing": self.open_ageing,
                         "followthrough": self.followthrough}.items():
            if df is not None:
                df.to_csv(folder / f"{name}.csv")
                paths.append(folder / f"{name}.csv")
        paths += service_plots.save_all(self, folder)
        return paths


def _metrics(t: ibis.Table) -> dict:
    return dict(
        requests=_.count(),
        answered_share=(~_.unanswered).cast("float64").mean(),
        median_response_h=(_.response_s / HOUR).median(),
        p90_response_h=(_.response_s / HOUR).quantile(0.9),
        breach_share=_.breached.cast("float64").mean(),
        callback_rate=_.is_callback.cast("float64").mean(),
    )


def business_hours_summary(facts, as_of, calendar) -> dict:
    """First-response times and breaches counted in working hours of ``calendar``.

    Targets are read as working hours; a request still unanswered is measured up to
    ``as_of``.
    """
    df = facts.select("opened_at", "first_response_at", "unanswered", "target_s").to_pandas()
    end = df["first_response_at"].where(~df["unanswered"], pd.Timestamp(as_of))
    end = end.where(end < pd.Timestamp(as_of), pd.Timestamp(as_of))
    secs = pd.Series(calendar.business_seconds(df["opened_at"], end), index=df.index)
    answered = ~df["unanswered"]
    return {"median_response_business_h": float(secs[answered].median() / HOUR),
            "breach_share_business": float((secs > df["target_s"]).mean())}


def service_report(store, as_of=None, *, since=None, policy: ServicePolicy | None = None,
                   calendar=None, sample: int = 20_000, brief: bool = False) -> ServiceReport:
    """Compute the service report from the store's requests (and orders).

    ``policy`` and ``calendar`` default to the store's settings (``[service]`` and
    ``[calendar]``). With a :class:`~loyalist.settings.BusinessCalendar`, response times
    and target breaches are also counted in working hours. ``brief`` computes only the
    summary and the monthly table (what the overview shows).
    """
    policy = policy or store.settings.service
    calendar = calendar if calendar is not None else store.settings.calendar
    requests = store.table("requests")
    as_of = moment(as_of) if as_of is not None else default_as_of(store)
    facts = request_facts(requests, as_of.to_pydatetime(), policy)
    cb = link_callbacks(requests, as_of.to_pydatetime(), policy=policy)
    facts = facts.left_join(cb.select("id", cb_flag=ibis.literal(True)), "id").drop("id_right")
    facts = facts.mutate(is_callback=facts.cb_flag.fill_null(False)).drop("cb_flag")
    if policy.team_for_category:
        expected = facts.category.substitute(policy.team_for_category, else_=ibis.null("string"))
        facts = facts.mutate(expected_team=expected,
                             misrouted=(expected.notnull() & (facts.team != expected)))
    if since is not None:
        facts = facts.filter(facts.opened_at >= _ts(moment(since, "since").to_pydatetime()))
    # every table below reads the same facts: compute them (and the call-back links,
    # a self-join) once, in the engine, instead of once per table
    facts = facts.cache()
    try:
        return _report(store, facts, as_of, since, policy, calendar, sample, brief)
    finally:
        facts.release()


def _report(store, facts, as_of, since, policy, calendar, sample, brief) -> ServiceReport:
    if facts.count().execute() == 0:
        raise DataError("No requests to report on before " + str(as_of.date()) +
                        (f" since {since}" if since else "") + ".",
                        hint="Ingest a requests export first: loyalist ingest requests FILE.")
    metrics = _metrics(facts)
    if policy.team_for_category:
        metrics["misrouted_share"] = _.misrouted.cast("float64").mean()
    summary = facts.aggregate(**metrics).to_pandas().iloc[0].to_dict()
    # one definition whatever ``since``: every request open at as_of, whatever its age
    from loyalist.decisions.measures import WINDOWS
    from loyalist.features.service import unanswered

    summary["unanswered_now"] = int(unanswered(store.table("requests"),
                                               as_of.to_pydatetime()).count().execute())
    summary["unanswered_window"] = WINDOWS["unanswered_now"].format(at=f"{as_of:%d %b %Y}")
    if calendar is not None:
        summary.update(business_hours_summary(facts, as_of, calendar))
    summary["as_of"] = str(as_of)
    by = {}
    for dim in () if brief else ("team", "channel", "category", "agent"):
        by[dim] = (facts.group_by(dim).aggregate(**metrics).order_by(ibis.desc("requests"))
                   .to_pandas().set_index(dim))
    monthly = facts.group_by("month").aggregate(**metrics).order_by("month").to_pandas()
    monthly = monthly.set_index("month")
    matrix = None
    if policy.team_for_category:
        matrix = (facts.group_by(["category", "team"]).aggregate(n=_.count()).to_pandas()
                  .pivot(index="category", columns="team", values="n").fillna(0).astype(int))
        delay = (facts.group_by("misrouted").aggregate(m=(_.response_s / HOUR).median())
                 .to_pandas().set_index("misrouted")["m"])
        summary["misrouting_delay_h"] = float(delay.get(True, float("nan"))
                                              - delay.get(False, float("nan")))
    if brief:
        return ServiceReport(as_of=as_of, since=pd.Timestamp(since) if since else None,
                             summary=summary, monthly=monthly, misrouting_matrix=matrix)
    open_ = facts.filter(facts.unanswered)
    bucket = ibis.cases(*[((open_.age_s >= lo * DAY) & (open_.age_s < hi * DAY), label)
                          for lo, hi, label in AGE_BUCKETS])
    ageing = (open_.mutate(age=bucket).group_by(["team", "age"]).aggregate(n=_.count())
              .to_pandas())
    ageing = ageing.pivot(index="team", columns="age", values="n").fillna(0).astype(int)
    ageing = ageing.reindex(columns=[b[2] for b in AGE_BUCKETS if b[2] in ageing.columns])
    follow = None
    orders = store.table("orders")
    tracked = tracked_lifecycle(orders)
    if tracked:
        problems = order_followthrough(orders, as_of.to_pydatetime(), policy)
        follow = (problems.group_by("problem").aggregate(
            orders=_.count(), median_days=(_.seconds / DAY).median())
            .order_by([ibis.desc("orders"), "problem"])  # the commonest first, on any engine
            .to_pandas().set_index("problem"))
    resp = (facts.filter(facts.response_s.notnull())
            .select("team", "category", "channel", "target_s",
                    response_h=facts.response_s / HOUR))
    n = resp.count().execute()
    if n > sample:
        resp = resp.filter(ibis.random() < sample / n)
    return ServiceReport(as_of=as_of, since=pd.Timestamp(since) if since else None,
                         summary=summary, by=by, monthly=monthly, misrouting_matrix=matrix,
                         open_ageing=ageing, followthrough=follow,
                         response_sample=resp.to_pandas())


def default_as_of(store) -> pd.Timestamp:
    """The moment just after the latest thing the store knows of."""
    latest = latest_timestamp(store, {
        "requests": ("opened_at", "first_response_at", "resolved_at"),
        "orders": ("ordered_at",)})
    if latest is None:
        raise DataError("The store has no orders or requests yet.",
                        hint="Ingest an export first, or run loyalist demo.")
    return latest.ceil("D")


__all__ = ["ServiceReport", "default_as_of", "service_report"]
