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
