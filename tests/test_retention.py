"""Retention metrics against values worked out by hand on tiny stores, and against the
synthetic business's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.datasets import make_business
from loyalist.errors import DataError
from loyalist.features import retention as rt

AS_OF = pd.Timestamp("2024-07-01")


def _orders(rows):
    return pd.DataFrame(rows, columns=["id", "customer_id", "ordered_at", "amount"]).assign(
        ordered_at=lambda d: pd.to_datetime(d["ordered_at"]))


@pytest.fixture
def tiny(store):
    """Four customers, horizon 30 days, as of 2024-07-01.

    A: orders 2023-01-10 (100) and 2024-06-20 (50): active.
    B: one order 2023-02-20 (200): lost 2023-03-22.
    C: orders 2023-02-01 (10), 2023-09-15 (30): lost 2023-10-15.
    D: first order 2024-01-05 (40), last 2024-05-01 (60): lost 2024-05-31.
    """
    store.ingest("customers", pd.DataFrame({
        "id": ["A", "B", "C", "D"], "name": ["Ann <b>", "Bo", "Cy", "Di"],
        "segment": ["small", "small", "large", "large"], "owner": ["X", "Y", "X", "Y"]}))
    store.ingest("orders", _orders([
        ("o1", "A", "2023-01-10", 100.0), ("o2", "A", "2024-06-20", 50.0),
        ("o3", "B", "2023-02-20", 200.0),
        ("o4", "C", "2023-02-01", 10.0), ("o5", "C", "2023-09-15", 30.0),
        ("o6", "D", "2024-01-05", 40.0), ("o7", "D", "2024-05-01", 60.0)]))
    return store


def test_lives_follow_the_definition(tiny):
    b = rt.retention_basis(tiny, AS_OF, horizon=30)
    lv = b.lives.to_pandas().set_index("customer_id").sort_index()
    assert pd.isna(lv.loc["A", "lost_at"])
    assert lv.loc["B", "lost_at"] == pd.Timestamp("2023-03-22")
    assert lv.loc["C", "lost_at"] == pd.Timestamp("2023-10-15")
    assert lv.loc["D", "lost_at"] == pd.Timestamp("2024-05-31")
    # yearly revenue: spend in the 365 days up to the last order
    assert lv["revenue"].to_dict() == {"A": 50.0, "B": 200.0, "C": 40.0, "D": 100.0}
    assert lv.loc["C", "segment"] == "large"


def test_trailing_loss_by_hand(tiny):
    # window 2023-07-01 .. 2024-07-01: at risk = A and C (B lost before, D not yet a customer)
    t = rt.trailing_loss(tiny, as_of=AS_OF, horizon=30).iloc[0]
    assert (t["at_risk"], t["lost"]) == (2, 1)
    assert t["loss_rate"] == pytest.approx(0.5)
    assert t["revenue_loss_rate"] == pytest.approx(40 / (50 + 40))
    assert t["active_now"] == 1
    by = rt.trailing_loss(tiny, by="owner", as_of=AS_OF, horizon=30).set_index("owner")
    assert by.loc["X", "loss_rate"] == pytest.approx(0.5)  # A stays, C lost
    assert by.loc["Y", "at_risk"] == 0


def test_monthly_loss_rates_by_hand(tiny):
    m = rt.loss_rates(tiny, "M", as_of=AS_OF, horizon=30).set_index("period")
    # Oct 2023: at risk A, C (B lost in March); C lost -> 1/2
    oct_ = m.loc[pd.Timestamp("2023-10-01")]
    assert (oct_["at_risk"], oct_["lost"]) == (2, 1)
    assert oct_["annualised_loss_rate"] == pytest.approx(1 - 0.5 ** 12)
    # Mar 2023: A, B and C started before March, B lost in it
    mar = m.loc[pd.Timestamp("2023-03-01")]
    assert (mar["at_risk"], mar["lost"]) == (3, 1)
    assert mar["revenue_loss_rate"] == pytest.approx(200 / (50 + 200 + 40))
    # May 2024: A and D at risk, D lost
    may = m.loc[pd.Timestamp("2024-05-01")]
    assert (may["at_risk"], may["lost"]) == (2, 1)
    # June 2024 is the last complete month; July has not ended
    assert m.index.max() == pd.Timestamp("2024-06-01")
    seg = rt.loss_rates(tiny, "M", by="segment", as_of=AS_OF, horizon=30)
    assert seg.groupby("period")["lost"].sum().equals(m["lost"].rename_axis("period"))


def test_contract_lives_and_loss(store):
    store.ingest("subscriptions", pd.DataFrame({
        "id": ["s1", "s2", "s3", "s4"], "customer_id": ["A", "A", "B", "C"],
        "plan": ["p", "q", "p", "p"],
        "started_at": pd.to_datetime(["2023-01-01", "2023-06-01", "2023-02-01", "2023-03-01"]),
        "ended_at": pd.to_datetime(["2023-06-01", None, "2023-12-15", "2024-09-01"]),
        "mrr": [10.0, 20.0, 30.0, 40.0]}))
    b = rt.retention_basis(store, AS_OF, mode="contract")
    lv = b.lives.to_pandas().set_index("customer_id").sort_index()
    # A switched plans and is running; B ended; C's end lies after as_of (not known yet)
    assert pd.isna(lv.loc["A", "lost_at"]) and pd.isna(lv.loc["C", "lost_at"])
    assert lv.loc["B", "lost_at"] == pd.Timestamp("2023-12-15")
    assert lv["revenue"].to_dict() == {"A": 240.0, "B": 360.0, "C": 480.0}
    t = rt.trailing_loss(basis=b).iloc[0]
    assert (t["at_risk"], t["lost"]) == (3, 1)


def test_kaplan_meier_matches_hand_computed_product_limit():
    # durations 1,2,2,3,4,4,5 with censoring at 2 (one of them), 4 (one) and 5
    counts = pd.DataFrame({"duration": [1, 2, 2, 3, 4, 4, 5],
                           "events": [1, 1, 0, 1, 1, 0, 0],
                           "censored": [0, 0, 1, 0, 0, 1, 1]})
    km = rt.kaplan_meier(counts).set_index("timeline")
    # t=1: 7 at risk, 1 event -> 6/7; t=2: 6 at risk, 1 event (1 censored) -> *5/6
    # t=3: 4 at risk -> *3/4; t=4: 3 at risk, 1 event -> *2/3; t=5: censored only
    s1 = 6 / 7
    s2 = s1 * 5 / 6
    s3 = s2 * 3 / 4
    s4 = s3 * 2 / 3
    assert km["at_risk"].tolist() == [7, 6, 4, 3, 1]
    np.testing.assert_allclose(km["survival"].to_numpy(), [s1, s2, s3, s4, s4])


def test_cohort_retention_censors_at_as_of(store):
    # one cohort (Jan 2024), horizon 30: lost at 30+ days after the last order
    rows = [("a1", "A", "2024-01-01", 1.0),                          # lost 2024-01-31 (30 d)
            ("b1", "B", "2024-01-01", 1.0), ("b2", "B", "2024-02-10", 1.0),  # lost 03-11 (70 d)
            ("c1", "C", "2024-01-01", 1.0), ("c2", "C", "2024-06-20", 1.0),  # active: censored
            ("d1", "D", "2024-01-01", 1.0), ("d2", "D", "2024-03-01", 1.0)]  # lost 03-31 (90 d)
    store.ingest("orders", _orders(rows))
    c = rt.cohort_retention(store, freq="M", step_days=1, as_of=AS_OF, horizon=30)
    c = c.set_index("days")
    assert c["customers"].iloc[0] == 4
    # censored customer C is observed 182 days: curve runs to day 182
    assert c.index.max() == 182
    assert c.loc[29, "retained"] == 1.0
    assert c.loc[30, "retained"] == pytest.approx(3 / 4)
    assert c.loc[70, "retained"] == pytest.approx(3 / 4 * 2 / 3)
    assert c.loc[90, "retained"] == pytest.approx(3 / 4 * 2 / 3 * 1 / 2)
    assert c.loc[182, "retained"] == pytest.approx(0.25)  # C never leaves: no drop to 0
    assert c.loc[91, "at_risk"] == 1


def test_nrr_and_grr_by_hand(store):
    as_of = pd.Timestamp("2025-01-01")
    store.ingest("orders", _orders([
        ("1", "A", "2023-03-01", 100.0), ("2", "A", "2024-03-01", 150.0),  # expands
        ("3", "B", "2023-05-01", 100.0), ("4", "B", "2024-05-01", 40.0),   # contracts
        ("5", "C", "2023-06-01", 100.0),                                   # lost
        ("6", "D", "2024-02-01", 500.0),                                   # new: not counted
        ("7", "E", "2022-12-01", 10.0)]))                                  # history start
    rr = rt.revenue_retention(store, months=12, points=3, as_of=as_of)
    assert len(rr) == 1  # two years of history behind 2025-01-01 only
    r = rr.iloc[0]
    assert r["customers"] == 3 and r["customers_retained"] == 2
    assert r["nrr"] == pytest.approx((150 + 40 + 0) / 300)
    assert r["grr"] == pytest.approx((100 + 40 + 0) / 300)
    assert r["window_start"] == pd.Timestamp("2024-01-01")


def _value_rows(ids, clv):
    """customer_value rows with every declared column (only clv matters here)."""
    return pd.DataFrame({"customer_id": ids, "frequency": 1.0, "recency_weeks": 1.0,
                         "age_weeks": 2.0, "p_alive": 0.5, "expected_purchases": 1.0,
                         "clv": clv, "model": "test"})


def test_value_concentration_and_lorenz(store):
    values = [100.0, 50.0, 20.0, 10.0, 10.0, 5.0, 3.0, 1.0, 0.5, 0.5]
    store.write_derived("customer_value", _value_rows([f"c{i}" for i in range(10)], values))
    c = rt.value_concentration(store)
    assert c.customers == 10
    assert c.top_share == pytest.approx(150 / 200)
    lz = c.lorenz
    assert lz["share_value"].iloc[-1] == pytest.approx(1.0)
    assert lz["share_value"].is_monotonic_increasing
    # the curve after the top 50% of customers: 100+50+20+10+10 of 200
    half = lz.loc[np.isclose(lz["share_customers"], 0.5), "share_value"].iloc[0]
    assert half == pytest.approx(190 / 200)
    assert rt.value_concentration(store, top_fraction=0.3).top_share == pytest.approx(170 / 200)


def test_revenue_at_risk(tiny):
    assert rt.revenue_at_risk(tiny) is None  # no scores yet
    tiny.write_derived("scores", pd.DataFrame({
        "customer_id": ["A", "D"], "as_of": pd.Timestamp(AS_OF), "p_leave": [0.2, 0.9],
        "model_id": 1}))
    tiny.write_derived("customer_value", _value_rows(["A", "D"], [1000.0, 10.0]))
    r = rt.revenue_at_risk(tiny).iloc[0]
    assert r["value_at_risk"] == pytest.approx(0.2 * 1000 + 0.9 * 10)
    assert r["expected_leavers"] == pytest.approx(1.1)
    by = rt.revenue_at_risk(tiny, by="segment").set_index("segment")
    assert by.loc["small", "value_at_risk"] == pytest.approx(200.0)


def test_bad_inputs_raise_loyalist_errors(tiny):
    with pytest.raises(DataError, match="group retention by"):
        rt.trailing_loss(tiny, by="region", as_of=AS_OF, horizon=30)
    with pytest.raises(DataError, match="frequency"):
        rt.loss_rates(tiny, "W", as_of=AS_OF, horizon=30)
    with pytest.raises(DataError, match="subscriptions"):
        rt.retention_basis(tiny, AS_OF, mode="contract")
    with pytest.raises(DataError, match="positive"):
        rt.retention_basis(tiny, AS_OF, horizon=0)


@pytest.fixture(scope="module")
def business():
    return make_business(n_customers=3000, months=24, seed=21)


def test_yearly_loss_rate_against_the_truth(business, tmp_path):
    """The measured 12-month loss rate against the generator's truth.

    Truth: of the customers who were customers 12 months before as_of (acquired and
    not yet departed), the share whose true departure (``churned_at``) falls in the
    12 months. The lapse definition also counts quiet customers who are still alive
    but ordered nothing for a horizon, so it reads high: the stated tolerance is
    between 3 points below and 16 points above the truth, and most of those it
    calls lost must truly have left.
    """
    with loyalist.connect(tmp_path / "b.duckdb") as s:
        for t in ("customers", "orders"):
            s.ingest(t, business.tables[t])
        b = rt.retention_basis(s, business.as_of)
        got = rt.trailing_loss(basis=b).iloc[0]
        lives = b.lives.to_pandas().set_index("customer_id")
    truth = business.truth["customers"].set_index("customer_id").loc[lives.index]
    w0 = business.as_of - pd.DateOffset(months=12)
    was = (lives["started_at"] < w0) & (truth["churned_at"].isna() | (truth["churned_at"] >= w0))
    true_rate = (truth.loc[was, "churned_at"] < business.as_of).mean()
    lost = lives["lost_at"].notna() & (lives["lost_at"] >= w0)
    precision = truth.loc[lost, "churned"].mean()
    print(f"12-month loss rate: measured {got['loss_rate']:.3f}, truth {true_rate:.3f} "
          f"(horizon {b.horizon} days, {int(got['at_risk'])} customers at risk); "
          f"{precision:.1%} of those measured lost truly left")
    assert true_rate - 0.03 < got["loss_rate"] < true_rate + 0.16
    assert precision > 0.45


def test_cached_basis_gives_the_same_figures_and_is_released(tiny):
    b = rt.retention_basis(tiny, AS_OF, horizon=30)
    plain = (rt.loss_rates(basis=b), rt.trailing_loss(by="owner", basis=b),
             rt.cohort_retention(basis=b))
    with b.cached() as c:
        assert c.lives.get_name()  # a named table in the engine, not an expression
        cached = (rt.loss_rates(basis=c), rt.trailing_loss(by="owner", basis=c),
                  rt.cohort_retention(basis=c))
        assert c.ends.count().execute() == 4
    with pytest.raises(Exception):  # noqa: B017 - released: the engine no longer has it
        c.lives.count().execute()
    for p, q in zip(plain, cached, strict=True):
        pd.testing.assert_frame_equal(p, q)
    with pytest.raises(RuntimeError), b.cached() as d:
        raise RuntimeError("a failing section")
    with pytest.raises(Exception):  # noqa: B017 - released on the error too
        d.lives.count().execute()
