"""The overview: risk, alerts, NPS, service health and this week's top whispers."""

from __future__ import annotations

from typing import Literal

import ibis
from fastapi import APIRouter, Depends, Request
from ibis import _

from loyalist.errors import DataError
from loyalist.web.auth import Caller, need
from loyalist.web.context import plain, records, thread_store
from loyalist.web.pages import html

router = APIRouter()


def _nps(store) -> dict | None:
    f = store.table("feedback")
    f = f.filter(f.nps.notnull())
    score = (f.nps >= 9).cast("float64") - (f.nps <= 6).cast("float64")
    total = f.aggregate(answers=_.count(), nps=score.mean() * 100,
                        promoters=(f.nps >= 9).cast("float64").mean(),
                        detractors=(f.nps <= 6).cast("float64").mean(), trust=f.trust.mean(),
                        satisfaction=f.satisfaction.mean()).to_pandas().iloc[0].to_dict()
    n = int(total.pop("answers"))
    if not n:
        return None
    monthly = (f.mutate(month=f.answered_at.truncate("M"), s=score).group_by("month")
               .aggregate(nps=_.s.mean() * 100, answers=_.count(), trust=_.trust.mean(),
                          satisfaction=_.satisfaction.mean())
               .order_by("month").to_pandas())
    return {"answers": n, **plain(total), "monthly": records(monthly)}


def _risk(store) -> dict | None:
    if "scores" not in store.tables():
        return None
    s = store.table("scores")
    agg = s.aggregate(scored=_.count(), expected_leavers=_.p_leave.sum(),
                      with_alerts=(_.alerts > 0).cast("int64").sum(),
                      as_of=_.as_of.max()).to_pandas()
    top = (s.order_by([ibis.desc("p_leave"), ibis.asc("customer_id")]).limit(10)
           .to_pandas())
    return {**plain(agg.iloc[0].to_dict()), "riskiest": records(top)}


def _whispers(store) -> list[dict]:
    """The commonest first reasons behind the scores, with an example text of each."""
    if "reasons" not in store.tables():
        return []
    r = store.table("reasons")
    r = r.filter(r.rank == 1)
    top = (r.group_by("family").aggregate(customers=_.count(), example=_.text.arbitrary())
           .order_by([ibis.desc("customers"), ibis.asc("family")]).limit(8))
    return records(top.to_pandas())


def _alerts(store) -> list[dict]:
    if "alerts" not in store.tables():
        return []
    a = store.table("alerts")
    return records(a.group_by("kind").aggregate(n=_.count(), customers=_.customer_id.nunique())
                   .order_by(ibis.desc("n")).to_pandas())


def _service(store, cache) -> dict | None:
    from loyalist.web.views.service import service_data

    try:
        data = service_data(store, cache)
    except DataError:
        return None
    return {"summary": data["summary"], "monthly": data["monthly"]}


def _retention(store) -> dict | None:
    """Loss rates (trailing 12 months and by month) and value at risk, from the report's
    engine-side metrics (:mod:`loyalist.features.retention`)."""
    from loyalist.features import retention

    settings = store.settings.report
    out = {"target_annual_loss": settings.target_annual_loss}
    try:
        basis = retention.retention_basis(store, horizon=settings.horizon)
        out["trailing"] = plain(retention.trailing_loss(store, basis=basis).iloc[0].to_dict())
        monthly = retention.loss_rates(store, basis=basis).tail(24)
        out["monthly"] = records(monthly[["period", "loss_rate", "annualised_loss_rate",
                                          "revenue_loss_rate"]])
        cohorts = retention.cohort_retention(store, basis=basis)
        out["cohorts"] = records(cohorts[["cohort", "months", "retained", "customers"]])
        risk = retention.revenue_at_risk(store, basis=basis)
        out["at_risk"] = plain(risk.iloc[0].to_dict()) if risk is not None else None
    except (DataError, KeyError, AttributeError):
        return None
    return out


def overview_data(store, cache) -> dict:
    """Everything on the overview page, as JSON-ready data."""

    def make():
        counts = store.status()[["table", "rows"]]
        return {"ok": True, "tables": {r.table: int(r.rows) for r in counts.itertuples()},
                "risk": _risk(store), "alerts": _alerts(store), "whispers": _whispers(store),
                "nps": _nps(store), "service": _service(store, cache),
                "retention": _retention(store)}

    return cache.get("overview", make)


def metrics(store, freq: str = "M", by: str | None = None) -> dict:
    """Retention metrics: loss rates per period (optionally by segment or owner), the
    trailing 12 months, revenue retention (NRR/GRR) and value concentration."""
    from loyalist.features import retention

    basis = retention.retention_basis(store)
    conc = retention.value_concentration(store, basis=basis)
    return {"ok": True, "as_of": plain(basis.as_of), "mode": basis.mode,
            "horizon_days": basis.horizon,
            "loss_rates": records(retention.loss_rates(store, freq, by, basis=basis)),
            "trailing": records(retention.trailing_loss(store, by, basis=basis)),
            "revenue_retention": records(retention.revenue_retention(store)),
            "concentration": {"top_fraction": conc.top_fraction, "top_share": conc.top_share,
                              "customers": conc.customers, "total": plain(conc.total),
                              "source": conc.source}}


@router.get("/api/metrics", tags=["overview"])
def api_metrics(request: Request, freq: Literal["M", "Q", "Y"] = "M",
                by: Literal["segment", "owner"] | None = None,
                caller: Caller = Depends(need("viewer"))):
    """Loss rates by period (and segment or owner), NRR/GRR and value concentration."""
    state = request.app.state
    key = f"metrics:{freq}:{by}"
    return state.cache.get(key, lambda: metrics(thread_store(state.store), freq, by))


@router.get("/api/overview", tags=["overview"])
def api_overview(request: Request, caller: Caller = Depends(need("viewer"))):
    """Risk, alerts by kind, NPS, service health and the top whispers."""
    state = request.app.state
    return overview_data(thread_store(state.store), state.cache)


@router.get("/", include_in_schema=False)
def overview_page(request: Request, caller: Caller = Depends(need("viewer"))):
    state = request.app.state
    return html(request, "overview.html", title="Overview",
                data=overview_data(thread_store(state.store), state.cache))
