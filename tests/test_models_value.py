"""Lifetime value, the fit_value pipeline, `loyalist value`, and the plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyalist
from _value_data import cdnow_orders, cdnow_summary, ibis_table
from loyalist.cli.main import main
from loyalist.errors import DataError
from loyalist.features import rfm_summary
from loyalist.models import (
    BGNBD,
    MBGNBD,
    GammaGamma,
    ParetoNBD,
    customer_lifetime_value,
    fit_value,
    plotting,
)
from loyalist.models.simulate import simulate_orders


@pytest.fixture(scope="module")
def cdnow_models():
    s = cdnow_summary()
    return s, BGNBD().fit(s["x"], s["t_x"], s["T"]), GammaGamma().fit(s["x"], s["zbar"])


def test_clv_is_margin_times_spend_times_discounted_purchases(cdnow_models):
    s, bg, gg = cdnow_models
    x, t_x, big_t, z = s["x"], s["t_x"], s["T"], s["zbar"]
    clv = customer_lifetime_value(bg, gg, x, t_x, big_t, z, time_unit_days=7,
                                  horizon_days=364, margin=0.3, discount_rate=0.0,
                                  period_days=28)
    # without discounting, CLV = margin * E[spend] * E[purchases over the horizon]
    undiscounted = 0.3 * gg.predict_spend(x, z) * bg.predict_purchases(52, x, t_x, big_t)
    assert np.allclose(clv, undiscounted, rtol=1e-9)
    discounted = customer_lifetime_value(bg, gg, x, t_x, big_t, z, time_unit_days=7,
                                         horizon_days=364, discount_rate=0.01)
    assert np.all(discounted < clv + 1e-12) and np.all(discounted > 0.85 * clv)
    flat = customer_lifetime_value(bg, 10.0, x, t_x, big_t, z, time_unit_days=7)
    assert np.all(np.isfinite(flat))
    with pytest.raises(DataError, match="margin"):
        customer_lifetime_value(bg, gg, x, t_x, big_t, z, margin=1.5)


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD, ParetoNBD], ids=lambda c: c.__name__)
def test_count_probabilities_are_a_distribution_with_the_right_mean(cls, cdnow_models):
    s = cdnow_models[0]
    m = cls().fit(s["x"], s["t_x"], s["T"])
    k = np.arange(300)
    p = m.predict_purchase_count_probability(k, 52.0)
    assert np.all(p >= 0) and p.sum() == pytest.approx(1.0, abs=1e-6)
    assert (k * p).sum() == pytest.approx(m.predict_new_customer_purchases(52.0), rel=1e-4)


def test_fit_value_on_cdnow():
    t = ibis_table(cdnow_orders())
    r = fit_value(t, calibration_end="1997-09-30", horizon_days=365)
    assert r.model_name in ("bgnbd", "paretonbd")
    assert list(r.selection.index) == ["bgnbd", "paretonbd"]
    assert (r.selection["actual_holdout"] == 1882).all()
    c = r.customers
    assert len(c) == 2357 and c["customer_id"].is_unique
    for col in ("p_alive", "expected_purchases", "clv"):
        assert np.all(np.isfinite(c[col])) and np.all(c[col] >= 0)
    assert 0.2 < r.top_share(0.2) <= 1.0
    # frequent recent buyers are worth more than one-off buyers
    assert c.loc[c.frequency >= 10, "clv"].mean() > 5 * c.loc[c.frequency == 0, "clv"].mean()
    with pytest.raises(DataError, match="Unknown model"):
        fit_value(t, model="weibull")


def test_loyalist_value_command_writes_customer_value(tmp_path, capsys):
    path = tmp_path / "s.duckdb"
    with loyalist.connect(path) as s:
        s.ingest("orders", cdnow_orders())
    code = main(["value", "--store", str(path), "--model", "bgnbd",
                 "--calibration-end", "1997-09-30", "--margin", "0.25",
                 "--plots", str(tmp_path / "plots")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BGNBD" in out and "top 20%" in out and "customer_value" in out
    with loyalist.connect(path) as s:
        saved = s.table("customer_value").to_pandas()
    assert len(saved) == 2357
    assert {"customer_id", "p_alive", "expected_purchases", "clv"} <= set(saved.columns)
    assert (saved["model"] == "bgnbd").all()
    for name in ("calibration_holdout.png", "calibration_holdout.svg", "p_alive_matrix.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000


def test_plots_draw_and_save(tmp_path, cdnow_models):
    s, bg, _ = cdnow_models
    cal = rfm_summary(ibis_table(cdnow_orders()), calibration_end="1997-09-30",
                      observation_end="1998-06-30", freq="W").to_pandas()
    o = cdnow_orders()
    day = (o["ordered_at"] - pd.Timestamp("1997-01-01")).dt.days / 7
    first = day.groupby(o["customer_id"]).transform("min")
    repeat_days = pd.DataFrame({"c": o["customer_id"], "d": day})[day > first].drop_duplicates()
    axes = [
        plotting.plot_calibration_holdout(bg, cal),
        plotting.plot_cumulative_purchases(bg, day.groupby(o["customer_id"]).min(),
                                           repeat_days["d"], calibration_end=39),
        plotting.plot_p_alive_matrix(bg, 38.86),
        plotting.plot_p_alive_history(bg, [0, 2, 5, 30.43], 38.86),
    ]
    for i, ax in enumerate(axes):
        assert ax.get_title()
        for ext in ("png", "svg"):
            f = tmp_path / f"plot{i}.{ext}"
            ax.figure.savefig(f)
            assert f.stat().st_size > 1000
    # tracking: the predicted curve ends near the actual number of repeat purchases
    lines = axes[1].get_lines()
    actual, predicted = lines[0].get_ydata()[-1], lines[1].get_ydata()[-1]
    assert predicted == pytest.approx(actual, rel=0.1)
    with pytest.raises(DataError):
        plotting.plot_calibration_holdout(bg, s)


def _store_with(tmp_path, orders, name="s.duckdb"):
    path = tmp_path / name
    with loyalist.connect(path) as s:
        s.ingest("orders", orders)
    return path


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loyalist_value_answers_a_25_customer_shop(tmp_path, capsys, seed):
    """25 customers, about 200 orders in a year (simulate_orders: Gamma(r=3) rates with a
    mean of 8 purchases a year, nobody drops out): an answer, each model's status, no
    nan, 80 columns."""
    orders = simulate_orders(25, purchases_per_year=8.0, r=3.0, random_state=seed)
    assert 150 <= len(orders) <= 260
    path = _store_with(tmp_path, orders)
    code = main(["value", "--store", str(path)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "Holdout check" in text and "(chosen)" in text
    assert ("at a boundary" in text) or ("fitted" in text)
    assert "nan" not in text.lower().replace("n/a", "")
    assert max(len(line) for line in text.splitlines()) <= 80
    with loyalist.connect(path) as s:
        saved = s.table("customer_value").to_pandas()
    assert len(saved) == orders["customer_id"].nunique()
    assert saved["p_alive"].between(0, 1).all() and np.isfinite(saved["clv"]).all()


def test_fit_value_reports_the_boundary_of_poisson_buyers():
    orders = simulate_orders(400, purchases_per_year=6.0, random_state=4)
    r = fit_value(ibis_table(orders))
    assert set(r.selection["status"]) == {"boundary"}
    assert r.selection["detail"].str.contains("almost no customer drops out").all()
    assert r.status == "boundary" and "P(alive) is close to 1" in r.detail
    assert (r.customers["p_alive"] == 1.0).all()


def test_value_without_amounts_says_spend_is_unknown(tmp_path, capsys):
    orders = simulate_orders(60, purchases_per_year=6.0, random_state=5).drop(columns="amount")
    path = _store_with(tmp_path, orders)
    code = main(["value", "--store", str(path), "--model", "bgnbd"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "unknown: no amounts" in text and "spend is unknown" in text
    assert "nan" not in text.lower().replace("n/a", "") and "top 20%" not in text
    with loyalist.connect(path) as s:
        saved = s.table("customer_value").to_pandas()
    assert saved["clv"].isna().all() and saved["expected_purchases"].gt(0).all()
    r = fit_value(ibis_table(orders), model="bgnbd")
    assert not r.spend_known and np.isnan(r.mean_spend) and np.isnan(r.top_share())


def test_auto_falls_back_with_the_reason(monkeypatch):
    """When the model auto prefers cannot be fitted on the whole history, the next one
    is used and the notes say why."""
    from loyalist.errors import ConvergenceError
    from loyalist.models import value

    class Refuses(ParetoNBD):
        def fit(self, frequency, recency, T, weights=None):
            if np.max(T) > 40:  # the whole history (78 weeks), not the calibration (39)
                raise ConvergenceError("ParetoNBD refused for the test")
            return super().fit(frequency, recency, T, weights)

    monkeypatch.setitem(value.MODELS, "paretonbd", Refuses)
    monkeypatch.setitem(value.MODELS, "bgnbd", type("Worse", (BGNBD,), {
        "predict_purchases": lambda self, t, *a: 10.0 * BGNBD.predict_purchases(self, t, *a)}))
    r = fit_value(ibis_table(cdnow_orders()), calibration_end="1997-09-30")
    assert r.selection["rmse"].idxmin() == "paretonbd"  # preferred on the holdout
    assert r.model_name == "bgnbd"
    assert any("paretonbd could not be fitted on the whole history (ParetoNBD refused for "
               "the test); falling back" in n for n in r.notes)


def test_no_repeat_purchase_gives_a_cli_hint_with_real_options(tmp_path, capsys):
    one_each = pd.DataFrame({"customer_id": [f"c{i}" for i in range(30)],
                             "ordered_at": pd.date_range("2024-01-01", periods=30, freq="3D"),
                             "amount": 10.0})
    path = _store_with(tmp_path, one_each)
    code = main(["value", "--store", str(path), "--model", "bgnbd"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "no customer made a repeat purchase" in err
    assert "--model auto" in err and "loyalist ingest orders" in err
    assert main(["value", "--help"]) == 0
    assert "--model" in capsys.readouterr().out
