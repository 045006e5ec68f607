"""BTYD scoring as engine expressions (models/in_engine.py) equals the NumPy reference
on CDNOW (the published 2,357-customer calibration summary), to 1e-9 relative."""

from __future__ import annotations

import copy

import ibis
import numpy as np
import pandas as pd
import pytest

from _value_data import cdnow_summary
from loyalist.errors import NotOnEngineError
from loyalist.models import BGNBD, MBGNBD, GammaGamma, ParetoNBD
from loyalist.models.in_engine import score_table


@pytest.fixture(scope="module")
def cdnow():
    d = cdnow_summary()  # ID, x, t_x, T (weeks), zbar (mean repeat spend)
    return pd.DataFrame({"frequency": d["x"].astype(float), "recency": d["t_x"],
                         "T": d["T"], "monetary_value": d["zbar"],
                         "row": np.arange(len(d), dtype=np.int64)})


@pytest.fixture(scope="module")
def pareto(cdnow):
    return ParetoNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def _scored(d, model, spend=None):
    t = score_table(ibis.memtable(d), model, spend)
    return t.order_by("row").to_pandas()


@pytest.mark.parametrize("kind", [BGNBD, MBGNBD])
def test_p_alive_and_spend_in_the_engine_equal_numpy(cdnow, kind):
    model = kind().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    gg = GammaGamma().fit(cdnow["frequency"], cdnow["monetary_value"])
    got = _scored(cdnow, model, gg)
    want = model.predict_p_alive(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert want.min() < 0.1 and want.max() > 0.9  # the whole range is exercised
    np.testing.assert_allclose(got["p_alive"], want, rtol=1e-9, atol=0)
    spend = gg.predict_spend(cdnow["frequency"], cdnow["monetary_value"])
    np.testing.assert_allclose(got["expected_spend"], spend, rtol=1e-9, atol=0)


def test_extreme_customers_neither_overflow_nor_lose_precision(cdnow):
    """Long silences (P(alive) near 0, where 1 / (1 + e^d) would overflow) and tiny
    gaps between the last purchase and the end (log1p territory)."""
    model = BGNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    d = pd.DataFrame({"frequency": [0.0, 1.0, 30.0, 60.0, 5.0, 2.0],
                      "recency": [0.0, 0.5, 1.0, 2.0, 38.86 - 1e-7, 10.0],
                      "T": [38.86, 1000.0, 5000.0, 1e5, 38.86, 10.0 + 1e-9],
                      "monetary_value": [0.0, 10.0, 20.0, 30.0, 40.0, 50.0],
                      "row": np.arange(6, dtype=np.int64)})
    got = _scored(d, model)["p_alive"].to_numpy()
    want = model.predict_p_alive(d["frequency"], d["recency"], d["T"])
    assert np.isfinite(got).all() and want.min() < 1e-100
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)


def test_a_pareto_p_alive_is_a_table_not_a_column_expression(cdnow, pareto):
    """The Pareto/NBD's P(alive) needs a join (per distinct (x, t_x, T)): score_table
    computes it, the column expression says where to go instead."""
    from loyalist.models.in_engine import p_alive

    model = pareto
    t = ibis.memtable(cdnow)
    with pytest.raises(NotOnEngineError, match="P\\(alive\\) of a ParetoNBD") as e:
        p_alive(model, t.frequency, t.recency, t["T"])
    assert "score_table" in e.value.hint
    got = _scored(cdnow, model)
    want = model.predict_p_alive(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert model._use_series(model._theta_) and want.min() < 0.01
    assert (got["row"] == cdnow["row"]).all()
    np.testing.assert_allclose(got["p_alive"], want, rtol=1e-9, atol=0)


@pytest.mark.parametrize("kind", ["bgnbd", "mbgnbd", "paretonbd"])
def test_value_scored_in_the_engine_equals_the_driver_on_cdnow(kind):
    """P(alive), expected purchases over a year (a 2F1 series summed in the engine) and
    the CLV (13 discounted 30-day periods) of every CDNOW customer: the engine's equal
    NumPy's to 1e-9 relative, long silences and frequent buyers included (the
    Pareto/NBD's P(alive) by its own series, alpha > beta on CDNOW)."""
    from _value_data import cdnow_orders, ibis_table
    from loyalist.models.in_engine import value_table
    from loyalist.models.value import fit_value, score_on_driver

    result = fit_value(ibis_table(cdnow_orders()), model=kind, calibration_end="1997-09-30",
                       score=False)
    got = value_table(result).order_by("customer_id").to_pandas()
    want = score_on_driver(result).customers
    assert list(got["customer_id"]) == list(want["customer_id"]) and len(got) > 2000
    assert want["expected_purchases"].max() > 10 * want["expected_purchases"].median()
    for col in ("p_alive", "expected_purchases", "clv"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-9, atol=0, err_msg=col)


def test_the_store_scores_in_the_engine(tmp_path):
    """value_customers writes customer_value from the engine's expressions (the same
    numbers as NumPy), for a Pareto/NBD too."""
    import loyalist
    from _value_data import cdnow_orders
    from loyalist.decisions.value import value_customers
    from loyalist.models.value import score_on_driver

    orders = cdnow_orders()
    with loyalist.connect(tmp_path / "v.duckdb") as s:
        s.ingest("orders", orders.assign(id=[f"o{i}" for i in range(len(orders))]))
        r = value_customers(s, model="bgnbd", calibration_end="1997-09-30")
        stored = s.table("customer_value").order_by("customer_id").to_pandas()
        assert r.scored_in == "engine" and not any("driver" in n for n in r.notes)
        summary = r.customers[["customer_id", "frequency", "recency", "T", "monetary_value"]]
        r.customers = summary
        want = score_on_driver(r).customers
        np.testing.assert_allclose(stored["clv"], want["clv"], rtol=1e-9, atol=0)
        np.testing.assert_allclose(stored["p_alive"], want["p_alive"], rtol=1e-9, atol=0)
        p = value_customers(s, model="paretonbd", calibration_end="1997-09-30")
        assert p.scored_in == "engine" and not any("driver" in n for n in p.notes)
        stored = s.table("customer_value").order_by("customer_id").to_pandas()
        assert len(stored) == len(summary) and (stored["model"] == "paretonbd").all()
        p.customers = summary
        want = score_on_driver(p).customers
        np.testing.assert_allclose(stored["clv"], want["clv"], rtol=1e-9, atol=0)


def test_the_quadrature_over_drop_out_runs_in_the_engine_too(monkeypatch):
    """Where the NumPy path integrates over the drop-out probability instead of summing
    the series (a concentrated Beta: forced here by lowering the switch), the engine
    sums the same Gauss-Hermite nodes per customer: equal to 1e-9 relative."""
    from _value_data import cdnow_orders, ibis_table
    from loyalist.models import bgnbd
    from loyalist.models.in_engine import value_table
    from loyalist.models.value import fit_value, score_on_driver

    result = fit_value(ibis_table(cdnow_orders()), model="bgnbd",
                       calibration_end="1997-09-30", score=False)
    monkeypatch.setattr(bgnbd, "_A_SERIES_MAX", 0.0)
    got = value_table(result).order_by("customer_id").to_pandas()
    want = score_on_driver(result).customers
    for col in ("expected_purchases", "clv"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-9, atol=0, err_msg=col)


@pytest.mark.parametrize("branch", ["series", "quadrature"])
def test_pareto_branches_in_the_engine_equal_numpy(pareto, monkeypatch, branch):
    """Each branch of the Pareto/NBD's P(alive) in the engine against NumPy's, on
    customers that reach its delicate corners: alpha < beta (the series with B = r + x;
    CDNOW's fit has alpha > beta), the last purchase on the last day (no drop-out term:
    P(alive) 1), a purchase a moment before the end (F(t_x) - F(T) cancels), long
    silences (P(alive) near 0), frequent buyers; and the quadrature (the NumPy path's
    switch, forced by lowering it)."""
    from loyalist.models import paretonbd
    from loyalist.models.in_engine_pareto import p_alive_table

    if branch == "quadrature":
        monkeypatch.setattr(paretonbd, "_Z_SERIES", -1.0)
    model = copy.deepcopy(pareto)  # fitted; its parameters set here
    model._theta_ = model._theta_from_params([0.55, 10.6, 0.61, 14.0])  # alpha < beta
    assert model._use_series(model._theta_) == (branch == "series")
    d = pd.DataFrame({"frequency": [0.0, 1.0, 2.0, 5.0, 30.0, 60.0, 3.0, 1.0, 0.0],
                      "recency": [0.0, 10.0, 38.0, 20.0, 1.0, 70.0, 38.86 - 1e-7, 5.0, 0.0],
                      "T": [38.86, 10.0, 38.86, 500.0, 5000.0, 78.0, 38.86, 1e4, 0.0],
                      "row": np.arange(9, dtype=np.int64)})
    got = p_alive_table(ibis.memtable(d), model).order_by("row").to_pandas()["p_alive"]
    want = model.predict_p_alive(d["frequency"], d["recency"], d["T"])
    assert want[1] == 1.0 and want.min() < 1e-10 and np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)
