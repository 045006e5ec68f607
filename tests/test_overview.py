"""The overview's figures: refreshed into declared derived tables, equal to the
computations they keep, stale when their data, scores or settings change, and the live
counts read now.

Store: the synthetic business (make_business, 400 customers, 12 months, seed 9), with
stand-in scores and a worklist built on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.decisions import overview


def _scores(store, seed=0):
    ids = store.table("customers").id.to_pandas().sort_values().to_numpy()
    p = np.random.default_rng(seed).uniform(0.01, 0.95, len(ids))
    store.write_derived("scores", pd.DataFrame({
        "customer_id": ids, "as_of": pd.Timestamp("2024-01-01"), "p_leave": p,
        "model_id": 1, "top_reason": "r", "alerts": (p > 0.8).astype(int)}))
    store.write_derived("reasons", pd.DataFrame({
        "customer_id": ids, "rank": 1, "family": "purchase", "text": "r", "model_id": 1}))
    store.write_derived("alerts", pd.DataFrame({
        "customer_id": ids[p > 0.8], "kind": "unanswered_request", "evidence_table": "requests",
        "evidence_id": "R1", "text": "waiting", "must_do": True,
        "as_of": pd.Timestamp("2024-01-01")}))


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from loyalist.datasets import make_business
    from loyalist.decisions.worklist import build_worklist

    business = make_business(n_customers=400, months=12, seed=9, events=False)
    path = tmp_path_factory.mktemp("overview") / "shop.duckdb"
    s = loyalist.connect(path)
    for name in ("customers", "orders", "subscriptions", "requests", "feedback"):
        if len(business.tables.get(name, [])):
            s.ingest(name, business.tables[name], strict=name != "customers")
    _scores(s)
    build_worklist(s)
    yield s
    s.close()


def test_refresh_writes_the_figures_the_computations_give(shop):
    from loyalist.decisions.service.report import service_report
    from loyalist.features import retention

    assert overview.stale(shop)  # never computed
    written = overview.refresh(shop)
    assert set(written) == set(overview.FIGURE_TABLES) and written["loss_monthly"] > 0
    assert overview.stale(shop) == []
    basis = retention.retention_basis(shop, horizon=shop.settings.report.horizon)
    expected = retention.loss_rates(shop, basis=basis)
    kept = shop.table("loss_monthly").order_by("period").to_pandas()
    assert kept["lost"].tolist() == expected["lost"].tolist()
    assert np.allclose(kept["loss_rate"], expected["loss_rate"], equal_nan=True)
    assert (kept["as_of"] == basis.as_of).all()
    cohorts = retention.cohort_retention(shop, basis=basis)
    assert shop.table("cohort_retention").count().execute() == len(cohorts)
    rep = service_report(shop)
    summary = shop.table("service_summary").to_pandas().iloc[0]
    assert summary["requests"] == rep.summary["requests"]
    assert summary["median_response_h"] == pytest.approx(rep.summary["median_response_h"])
    risk = retention.revenue_at_risk(shop, basis=basis).iloc[0]
    kept_risk = shop.table("value_at_risk").to_pandas().iloc[0]
    assert kept_risk["value_at_risk"] == pytest.approx(risk["value_at_risk"])
    nps = shop.table("feedback").nps.to_pandas().dropna()
    kept_nps = shop.table("nps_summary").to_pandas().iloc[0]
    assert kept_nps["nps"] == pytest.approx(((nps >= 9).mean() - (nps <= 6).mean()) * 100)


def test_the_overview_reads_the_figures_and_counts_the_live_ones(shop):
    from loyalist.decisions.worklist import open_items, worklist_progress

    overview.refresh(shop)
    o = overview.overview(shop)
    assert o["stale"] == []
    log = shop.derived_log()
    assert o["retention"]["refreshed_at"] == log["loss_trailing"]["written_at"]
    assert o["retention"]["as_of"] == shop.table("loss_trailing").as_of.max().execute()
    assert o["service"]["as_of"] and o["nps"]["as_of"]
    requests = shop.table("requests").to_pandas()
    assert o["work"]["unanswered_now"] == requests["first_response_at"].isna().sum()
    assert o["service"]["summary"]["unanswered_now"] == o["work"]["unanswered_now"]
    assert o["work"]["open_items"] == len(open_items(shop)) > 0
    assert o["work"]["overdue"] == worklist_progress(shop)["overdue"].sum()
    assert o["risk"]["scored"] == shop.table("scores").count().execute()


def test_figures_go_stale_with_new_data_scores_or_settings(shop):
    overview.refresh(shop)
    assert overview.stale(shop) == []
    _scores(shop, seed=1)
    assert any("scores" in why for why in overview.stale(shop))
    overview.refresh(shop)
    before = shop.table("nps_summary").answers.max().execute()
    extra = pd.DataFrame({"id": ["F-new-1", "F-new-2"], "customer_id": "C0000001",
                          "answered_at": pd.Timestamp("2023-12-20"), "nps": [10, 0]})
    shop.ingest("feedback", extra)
    assert any("feedback" in why for why in overview.stale(shop))
    figures = overview.figures(shop)  # refreshes first
    assert figures["stale"] == [] and figures["nps"]["answers"] == before + 2
    other = shop.settings.with_values("report", horizon=45)
    assert overview.settings_key(other) != overview.settings_key(shop.settings)
    shop.settings, kept = other, shop.settings
    try:
        assert "computed with other settings" in overview.stale(shop)
    finally:
        shop.settings = kept


def test_a_store_without_data_gets_empty_figures(tmp_path):
    with loyalist.connect(tmp_path / "empty.duckdb") as s:
        written = overview.refresh(s)
        o = overview.overview(s)
    assert set(written.values()) == {0}
    assert o["retention"] is None and o["service"] is None and o["nps"] is None
    assert o["work"] == {**o["work"], "open_items": 0, "overdue": 0, "unanswered_now": 0}


def test_the_customers_worth_saving_are_kept_at_refresh_and_read_with_todays_owner(shop):
    """Ranked once by refresh (what `loyalist score` runs), the same as the live ranking;
    the page then reads only the ten rows' names, items and owners, so an item moved
    since shows its new owner without scoring again."""
    from loyalist.decisions.worklist.team import assign
    from loyalist.decisions.worth_saving import lead, stored_lead

    overview.refresh(shop)
    live, kept = lead(shop, limit=10), stored_lead(shop, limit=10)
    assert [r["customer_id"] for r in kept["worth_saving"]["rows"]] == [
        r["customer_id"] for r in live["worth_saving"]["rows"]]
    assert kept["worth_saving"]["customers"] == live["worth_saving"]["customers"] > 0
    assert kept["alarms"] == {**live["alarms"], "weighed": bool(live["alarms"]["weighed"])}
    ranked = shop.table("worth_saving").order_by("rank").to_pandas()
    assert ranked["value_at_risk"].is_monotonic_decreasing and ranked["rank"].iloc[0] == 1
    with_item = next((r for r in kept["worth_saving"]["rows"] if r["item_id"]), None)
    assert with_item is not None, "a customer worth saving should have an open item"
    staff = shop.table("staff").id.to_pandas().astype(str).tolist()
    new_owner = next(o for o in [*staff, "Retention team", "Service desk"]
                     if o != with_item["item_owner"])
    assign(shop, [with_item["item_id"]], new_owner)
    again = {r["customer_id"]: r for r in overview.figures(shop)["worth_saving"]["rows"]}
    assert again[with_item["customer_id"]]["item_owner"] == new_owner


def test_a_store_scored_before_it_kept_the_ranking_says_so(tmp_path):
    from loyalist.datasets import make_business
    from loyalist.web.pages import environment

    business = make_business(n_customers=150, months=12, seed=4, events=False)
    with loyalist.connect(tmp_path / "old.duckdb") as s:
        for name in ("customers", "orders"):
            s.ingest(name, business.tables[name], strict=name != "customers")
        _scores(s)
        data = overview.overview(s, refresh_if_stale=False)
    assert data["risk"] and data["worth_saving"] is None
    assert any("worth_saving" in why for why in data["stale"])
    html = environment().get_template("overview.html").render(
        data=data, request=None, path="/", user=None, csrf="")
    assert "Not ranked yet" in html and "loyalist score" in html
