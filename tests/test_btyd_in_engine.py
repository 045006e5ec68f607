"""BTYD scoring as engine expressions (models/in_engine.py) equals the NumPy reference
on CDNOW (the published 2,357-customer calibration summary), to 1e-9 relative."""

from __future__ import annotations

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


def test_a_model_without_an_engine_expression_says_so(cdnow):
    model = ParetoNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    with pytest.raises(NotOnEngineError, match="P\\(alive\\) of a ParetoNBD") as e:
        score_table(ibis.memtable(cdnow), model)
    assert "predict_p_alive" in e.value.hint


@pytest.mark.parametrize("kind", ["bgnbd", "mbgnbd"])
def test_value_scored_in_the_engine_equals_the_driver_on_cdnow(kind):
    """P(alive), expected purchases over a year (a 2F1 series summed in the engine) and
    the CLV (13 discounted 30-day periods) of every CDNOW customer: the engine's equal
    NumPy's to 1e-9 relative, long silences and frequent buyers included."""
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


def test_the_store_scores_in_the_engine_and_says_when_it_cannot(tmp_path):
    """value_customers writes customer_value from the engine's expressions (the same
    numbers as NumPy); a Pareto/NBD, which has none for P(alive), is scored on the
    driver and the notes say so."""
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
        assert p.scored_in == "driver"
        assert any("scored on the driver (P(alive) of a ParetoNBD" in n for n in p.notes)
        assert s.table("customer_value").count().execute() == len(stored)


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
