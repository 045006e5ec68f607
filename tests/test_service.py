"""Service analytics against the synthetic business's ground truth and hand-made cases."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import loyalist
from loyalist.datasets import make_business
from loyalist.decisions.service.report import service_report
from loyalist.features.cues import cue_flags
from loyalist.features.service import (
    ServicePolicy,
    link_callbacks,
    misrouting,
    order_followthrough,
    request_facts,
)
from loyalist.features.service_signals import service_alerts, service_signals, tracked_lifecycle


@pytest.fixture(scope="module")
def business():
    return make_business(n_customers=3000, months=24, seed=11)


@pytest.fixture(scope="module")
def bstore(business, tmp_path_factory):
    s = loyalist.connect(tmp_path_factory.mktemp("svc") / "s.duckdb")
    for t in ("customers", "orders", "requests"):
        assert s.ingest(t, business.tables[t]).rejected == 0
    yield s
    s.close()


def _team_map(business) -> dict[str, str]:
    truth = business.truth["requests"]
    return truth.groupby("true_category")["expected_team"].first().to_dict()


def test_callback_linking_precision_and_recall(business, bstore):
    found = link_callbacks(bstore.table("requests"), business.as_of).to_pandas()
    truth = business.truth["requests"]
    true_ids = set(truth.loc[truth.is_callback, "request_id"])
    tp = len(set(found["id"]) & true_ids)
    precision, recall = tp / len(found), tp / len(true_ids)
    print(f"call-back linking: precision {precision:.3f}, recall {recall:.3f}, "
          f"{len(true_ids)} true call-backs")
    assert precision >= 0.9 and recall >= 0.9
    # the true call-backs found are linked to the contact they really repeat
    both = found.merge(truth[truth.is_callback], left_on="id", right_on="request_id")
    assert (both["callback_of_x"] == both["callback_of_y"]).mean() >= 0.95


def test_misrouting_rate_within_one_point(business, bstore):
    team_map = _team_map(business)
    got = misrouting(bstore.table("requests"), team_map).misrouted.mean().execute()
    truth = business.truth["requests"]["is_misrouted"].mean()
    print(f"misrouting: measured {got:.4f}, true {truth:.4f}")
    assert abs(got - truth) <= 0.01


def test_as_of_uses_only_what_was_known(store):
    store.ingest("requests", pd.DataFrame({
        "id": ["r1", "r2"], "customer_id": ["c", "c"], "text": ["invoice?", "delivery?"],
        "opened_at": pd.to_datetime(["2024-01-01 09:00", "2024-01-03 09:00"]),
        "first_response_at": pd.to_datetime(["2024-01-05 09:00", "2024-01-03 10:00"])}))
    facts = request_facts(store.table("requests"), "2024-01-04").to_pandas().set_index("id")
    assert bool(facts.loc["r1", "unanswered"]) and bool(facts.loc["r1", "breached"])
    assert facts.loc["r1", "age_s"] == 2 * 86_400 + 15 * 3_600
    assert facts.loc["r2", "response_s"] == 3_600 and not facts.loc["r2", "breached"]
    later = request_facts(store.table("requests"), "2024-02-01").to_pandas().set_index("id")
    assert later.loc["r1", "response_s"] == 4 * 86_400


def test_callback_needs_the_first_contact_unresolved(store):
    store.ingest("requests", pd.DataFrame({
        "id": ["a", "b", "c", "d"], "customer_id": ["x", "x", "x", "y"],
        "category": ["invoice"] * 4, "text": ["t"] * 4,
        "opened_at": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-03-01", "2024-01-03"]),
        "resolved_at": pd.to_datetime(["2024-01-10", None, None, None])}))
    cb = link_callbacks(store.table("requests"), "2024-04-01").to_pandas().set_index("id")
    assert list(cb.index) == ["b"]  # c: 'b' open but outside the 30-day window; d: other customer
    assert cb.loc["b", "callback_of"] == "a"


def test_order_followthrough_problems(store):
    store.ingest("orders", pd.DataFrame({
        "id": ["o1", "o2", "o3", "o4", "o5"], "customer_id": "c",
        "ordered_at": pd.to_datetime(["2024-01-01"] * 5),
        "acknowledged_at": pd.to_datetime([None, "2024-01-01 02:00", "2024-01-03 00:00",
                                           "2024-01-01 01:00", None]),
        "promised_at": pd.to_datetime(["2024-01-10", "2024-01-05", "2024-01-10", "2024-01-05",
                                       "2024-01-05"]),
        "fulfilled_at": pd.to_datetime([None, "2024-01-04", "2024-01-08", "2024-01-07", None]),
        "followed_up_at": pd.to_datetime([None, "2024-01-06", None, "2024-01-09", None]),
        "status": [None, None, None, None, "cancelled"]}))
    got = order_followthrough(store.table("orders"), "2024-02-01").to_pandas()
    pairs = set(zip(got.order_id, got.problem, strict=True))
    assert pairs == {("o1", "not_acknowledged"), ("o1", "late_against_promise"),
                     ("o3", "acknowledged_late"), ("o3", "not_followed_up"),
                     ("o4", "late_against_promise")}


def test_cues_in_several_languages():
    import ibis

    t = ibis.memtable(pd.DataFrame({"x": [
        "I want to cancel my account", "Ich möchte kündigen", "still not delivered, unacceptable",
        "we are switching to another provider", "thank you, all good", "scancel"]}))
    got = t.mutate(**cue_flags(t.x)).to_pandas()
    assert got["cancel"].tolist() == [True, True, False, False, False, False]
    assert got["complaint"].tolist() == [False, False, True, False, False, False]
    assert got["competitor"].tolist() == [False, False, False, True, False, False]


def test_signals_and_alerts_name_their_evidence(business, bstore):
    policy = ServicePolicy(team_for_category=_team_map(business))
    orders = bstore.table("orders")
    tracked = tracked_lifecycle(orders)
    assert tracked == {"acknowledged_at", "promised_at", "fulfilled_at", "followed_up_at"}
    sig = service_signals(bstore.table("requests"), business.as_of, orders=orders,
                          policy=policy, tracked=tracked).to_pandas()
    assert sig["customer_id"].is_unique
    assert {"callbacks_recent", "unanswered_open", "misrouted_recent",
            "orders_not_followed_up"} <= set(sig.columns)
    alerts = service_alerts(bstore.table("requests"), business.as_of, orders=orders,
                            policy=policy, tracked=tracked).to_pandas()
    req_ids = set(business.tables["requests"]["id"])
    from_requests = alerts[alerts.evidence_table == "requests"]
    assert from_requests["evidence_id"].isin(req_ids).all()
    unanswered = alerts[alerts.kind == "unanswered_request"]
    truth = business.truth["requests"].set_index("request_id")
    assert truth.loc[unanswered.evidence_id, "never_answered"].mean() > 0.9
    # customers the generator made leave over service show more alerts than the rest
    cust = business.truth["customers"].set_index("customer_id")
    per = alerts.groupby("customer_id").size().reindex(cust.index, fill_value=0)
    service_leavers = cust["reason"].eq("service") & cust["will_churn"]
    assert per[service_leavers].mean() > per[~cust["will_churn"]].mean()


def test_report_tables_and_plots(business, bstore, tmp_path):
    report = service_report(bstore, business.as_of,
                            policy=ServicePolicy(team_for_category=_team_map(business)))
    assert 0 < report.summary["callback_rate"] < 1
    assert report.summary["misrouting_delay_h"] > 0  # misrouted requests wait longer
    assert set(report.by) == {"team", "channel", "category", "agent"}
    paths = report.save(tmp_path)
    assert {p.name for p in paths} >= {"response_times.png", "callback_rate.png",
                                       "misrouting.png", "open_ageing.png", "by_team.csv"}
    assert all(p.stat().st_size > 1000 for p in paths if p.suffix == ".png")


def test_cli_service(business, tmp_path):
    db = tmp_path / "s.duckdb"
    with loyalist.connect(db) as s:
        s.ingest("requests", business.tables["requests"])
        s.ingest("orders", business.tables["orders"])
    (tmp_path / "loyalist.toml").write_text(
        "[service]\nfirst_response_hours = 8\nteam_for_category = { "
        + ", ".join(f'"{k}" = "{v}"' for k, v in _team_map(business).items()) + " }\n")
    proc = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "service", "--store",
                           str(db), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env={"COLUMNS": "160",
                                                               "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "Misrouted:" in proc.stdout and "call-backs" in proc.stdout
    assert (tmp_path / "out" / "misrouting.png").exists()


def test_report_in_business_hours(business, bstore):
    from loyalist.settings.calendar import BusinessCalendar

    cal = BusinessCalendar(timezone="Europe/Berlin", workdays=(0, 1, 2, 3, 4),
                           hours=("08:00", "18:00"))
    report = service_report(bstore, business.as_of, calendar=cal,
                            policy=ServicePolicy(first_response_hours=8))
    s = report.summary
    # working hours are fewer than wall-clock hours
    assert 0 < s["median_response_business_h"] <= s["median_response_h"]
    assert 0 < s["breach_share_business"] <= s["breach_share"]


def test_stay_in_touch_scales_with_value(store):
    from loyalist.decisions.service.stay_in_touch import stay_in_touch

    ids = [f"c{i}" for i in range(10)]
    store.ingest("orders", pd.DataFrame({
        "id": [f"o{i}" for i in range(10)], "customer_id": ids,
        "ordered_at": pd.Timestamp("2024-03-01"), "amount": [1000.0] * 2 + [10.0] * 8}))
    # c0 (valuable) last heard from 90 days ago; c2 (small) 90 days ago; c3 (small) 300
    store.ingest("touches", pd.DataFrame({
        "customer_id": ["c0", "c2", "c3"], "kind": "call",
        "at": pd.to_datetime(["2024-03-03", "2024-03-03", "2023-08-06"])}))
    got = stay_in_touch(store, "2024-06-01").set_index("customer_id")
    assert "c0" in got.index and "c2" not in got.index  # value sets the limit
    assert "c3" in got.index and got.loc["c3", "value"] == 300
    assert got.loc["c1", "text"].startswith("Never contacted")
