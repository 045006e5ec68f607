"""RFM summaries computed in the engine, checked against the published CDNOW summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _value_data import cdnow_orders, cdnow_summary, ibis_table
from loyalist.errors import DataError
from loyalist.features import rfm_summary


def _round_half_up(v):
    # the published file rounds half up (22.345 -> 22.35); a tiny nudge absorbs binary error
    return np.floor(np.asarray(v, float) * 100 + 0.5 + 1e-9) / 100


@pytest.fixture(scope="module")
def cdnow_cal():
    t = ibis_table(cdnow_orders())
    out = rfm_summary(t, calibration_end="1997-09-30", observation_end="1998-06-30", freq="W")
    df = out.to_pandas()
    df["ID"] = df["customer_id"].astype(int)
    return df.sort_values("ID").reset_index(drop=True)


def test_reproduces_published_cdnow_summary_exactly(cdnow_cal):
    ref = cdnow_summary()
    assert len(cdnow_cal) == len(ref) == 2357
    assert (cdnow_cal["ID"].to_numpy() == ref["ID"].to_numpy()).all()
    assert (cdnow_cal["frequency"].to_numpy() == ref["x"].to_numpy()).all()
    for ours, theirs in [("recency", "t_x"), ("T", "T"), ("monetary_value", "zbar")]:
        diff = np.abs(_round_half_up(cdnow_cal[ours]) - ref[theirs].to_numpy())
        assert diff.max() < 1e-9, (ours, int((diff > 1e-9).sum()))


def test_holdout_columns_match_the_transaction_log(cdnow_cal):
    o = cdnow_orders()
    days = o.assign(day=o.ordered_at.dt.normalize()).groupby(["customer_id", "day"]).amount.sum()
    days = days.reset_index()
    hold = days[(days.day > "1997-09-30") & (days.day <= "1998-06-30")]
    # 78 - 39 weeks of holdout: the total the BG/NBD paper compares its forecast with
    assert cdnow_cal["frequency_holdout"].sum() == len(hold) == 1882
    assert np.allclose(cdnow_cal["duration_holdout"], 273 / 7)
    per = hold.groupby("customer_id").amount.mean()
    got = cdnow_cal.set_index("customer_id")["monetary_value_holdout"]
    assert np.allclose(got.loc[per.index].to_numpy(), per.to_numpy())
    assert (got.drop(per.index) == 0).all()


def test_same_day_orders_are_one_purchase_and_days_unit():
    df = pd.DataFrame({
        "cust": ["a", "a", "a", "a", "b"],
        "when": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 17:00", "2024-01-05 10:00",
                                "2024-01-05 11:00", "2024-01-03 00:00"]),
        "value": [10.0, 5.0, 1.0, 2.0, 7.0],
    })
    t = ibis_table(df)
    out = rfm_summary(t, customer_col="cust", date_col="when", amount_col="value",
                      observation_end="2024-01-11").to_pandas().set_index("cust")
    assert out.loc["a", "frequency"] == 1
    assert out.loc["a", "recency"] == 4.0
    assert out.loc["a", "T"] == 10.0
    assert out.loc["a", "monetary_value"] == 3.0  # the repeat day's total, first day excluded
    assert out.loc["b", "frequency"] == 0 and out.loc["b", "monetary_value"] == 0.0
    assert out.loc["b", "T"] == 8.0


def test_default_observation_end_is_last_order_day_and_late_customers_are_dropped():
    df = pd.DataFrame({"customer_id": ["a", "a", "b"],
                       "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-20"]),
                       "amount": [1.0, 2.0, 3.0]})
    t = ibis_table(df)
    full = rfm_summary(t).to_pandas().set_index("customer_id")
    assert full.loc["a", "T"] == 19.0 and full.loc["b", "T"] == 0.0
    cal = rfm_summary(t, calibration_end="2024-01-10").to_pandas()
    assert list(cal["customer_id"]) == ["a"]
    assert cal["duration_holdout"].iloc[0] == 10.0


def test_errors_name_the_culprit():
    t = ibis_table(cdnow_orders().head(10))
    with pytest.raises(DataError, match="no column"):
        rfm_summary(t, date_col="date")
    with pytest.raises(DataError, match="freq"):
        rfm_summary(t, freq="M")
    with pytest.raises(DataError, match="calibration_end"):
        rfm_summary(t, calibration_end="30/09/1997")


def test_summary_without_holdout_equals_calibration_part_of_the_split():
    """The plain summary (no calibration_end) takes a shorter path than the split; up to
    the same end both must describe every customer identically."""
    t = ibis_table(cdnow_orders())
    plain = rfm_summary(t, observation_end="1997-09-30", freq="W").to_pandas()
    split = rfm_summary(t, calibration_end="1997-09-30", observation_end="1998-06-30",
                        freq="W").to_pandas()
    cols = ["frequency", "recency", "T", "monetary_value"]
    plain = plain.set_index("customer_id").sort_index()[cols]
    split = split.set_index("customer_id").sort_index()[cols]
    assert len(plain) == 2357 and plain.index.equals(split.index)
    assert (plain["frequency"] == split["frequency"]).all()
    assert np.allclose(plain.to_numpy(float), split.to_numpy(float), rtol=0, atol=1e-9)


def test_money_features_are_equal_to_the_bit_whatever_the_row_order():
    # a floating-point sum depends on the order of its terms; engines (and runs of a
    # distributed one) add rows in different orders, which moved a model's bins and the
    # worklist between DuckDB and Spark. The CDNOW log, forwards and backwards.
    from loyalist.features.behaviour import purchase_features

    o = cdnow_orders()
    o["status"] = "ok"
    o["id"] = [f"o{i}" for i in range(len(o))]
    o["amount"] = o["amount"] / 3  # thirds: sums no longer exact in binary
    fwd, back = ibis_table(o), ibis_table(o.iloc[::-1].reset_index(drop=True))
    # the plain sums do differ between the two orders (else this test proves nothing)
    plain = [t.group_by("customer_id").aggregate(s=t.amount.sum()).to_pandas()
             .set_index("customer_id")["s"].sort_index() for t in (fwd, back)]
    assert (plain[0].to_numpy() != plain[1].to_numpy()).sum() > 0
    for build, cols in [
        (lambda t: rfm_summary(t, calibration_end="1997-09-30",
                               observation_end="1998-06-30"),
         ["monetary_value", "monetary_value_holdout"]),
        (lambda t: purchase_features(t, "1998-07-01", windows=(90, 180)),
         ["spend", "mean_order_value", "spend_90d", "spend_prev_180d", "basket_90d"]),
    ]:
        a, b = (build(t).to_pandas().set_index("customer_id").sort_index() for t in (fwd, back))
        for col in cols:
            x, y = a[col].to_numpy(), b[col].to_numpy()
            same = (x == y) | (np.isnan(x) & np.isnan(y))
            assert same.all(), (col, int((~same).sum()))
