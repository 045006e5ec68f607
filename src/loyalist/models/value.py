"""From an orders table to per-customer P(alive), expected purchases and lifetime value.

:func:`fit_value` is what ``loyalist value`` runs; Python users get the same:

>>> import loyalist
>>> from loyalist.models.value import fit_value
>>> store = loyalist.connect("loyalist.duckdb")              # doctest: +SKIP
>>> result = fit_value(store.table("orders"))                # doctest: +SKIP
>>> result.customers.sort_values("clv").tail()               # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.contract.moments import moment
from loyalist.errors import ConvergenceError, DataError
from loyalist.features.rfm import rfm_summary
from loyalist.models.bgnbd import BGNBD, MBGNBD
from loyalist.models.clv import customer_lifetime_value
from loyalist.models.gammagamma import GammaGamma
from loyalist.models.paretonbd import ParetoNBD

MODELS = {"bgnbd": BGNBD, "paretonbd": ParetoNBD, "mbgnbd": MBGNBD}
_WEEK = 7.0


@dataclass
class ValueResult:
    """What :func:`fit_value` found. ``customers`` has one row per customer."""

    model_name: str
    transaction_model: object
    spend_model: GammaGamma | None
    mean_spend: float
    customers: pd.DataFrame
    selection: pd.DataFrame | None
    horizon_days: float
    margin: float
    discount_rate: float
    calibration: pd.DataFrame | None = None
    calibration_models: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def top_share(self, fraction: float = 0.2) -> float:
        """Share of total expected value held by the top ``fraction`` of customers."""
        v = np.sort(self.customers["clv"].to_numpy())[::-1]
        if v.size == 0 or v.sum() <= 0:
            return float("nan")
        k = max(1, int(np.ceil(fraction * v.size)))
        return float(v[:k].sum() / v.sum())

    def save_plots(self, folder, formats=("png",)) -> list:
        """Write the calibration-vs-holdout and P(alive) plots; returns the paths."""
        from pathlib import Path

        from loyalist.models import plotting

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        axes = {}
        cal_model = self.calibration_models.get(self.model_name)
        if cal_model is not None and self.calibration is not None:
            axes["calibration_holdout"] = plotting.plot_calibration_holdout(
                cal_model, self.calibration)
        c = self.customers
        axes["p_alive_matrix"] = plotting.plot_p_alive_matrix(
            self.transaction_model, float(c["T"].max()),
            max_frequency=int(min(c["frequency"].quantile(0.99), 60)))
        paths = []
        for name, ax in axes.items():
            for fmt in formats:
                path = folder / f"{name}.{fmt}"
                ax.figure.savefig(path)
                paths.append(path)
        return paths


def _date_range(orders, date_col):
    row = orders.aggregate(lo=orders[date_col].min(), hi=orders[date_col].max()).to_pandas()
    lo, hi = row["lo"].iloc[0], row["hi"].iloc[0]
    if pd.isna(lo):
        raise DataError("The orders table is empty.", hint="ingest orders first: loyalist ingest")
    return pd.Timestamp(lo).date(), pd.Timestamp(hi).date()


def _holdout_check(orders, names, calibration_end, observation_end, cols):
    """Fit each model on the calibration period and score it on the holdout period."""
    s = rfm_summary(orders, calibration_end=calibration_end, observation_end=observation_end,
                    freq="W", **cols).to_pandas()
    s = s[s["T"] > 0].reset_index(drop=True)  # first seen on the last calibration day
    rows, fitted = [], {}
    for name in names:
        try:
            m = MODELS[name]().fit(s["frequency"], s["recency"], s["T"])
        except ConvergenceError:
            rows.append({"model": name, "log_likelihood": np.nan, "rmse": np.inf})
            continue
        fitted[name] = m
        pred = m.predict_purchases(s["duration_holdout"], s["frequency"], s["recency"], s["T"])
        err = pred - s["frequency_holdout"].to_numpy()
        rows.append({
            "model": name, "log_likelihood": m.log_likelihood_,
            "predicted_holdout": float(pred.sum()),
            "actual_holdout": float(s["frequency_holdout"].sum()),
            "rmse": float(np.sqrt(np.mean(err ** 2))),
        })
    return pd.DataFrame(rows).set_index("model"), s, fitted


def fit_value(
    orders,
    *,
    model: str = "auto",
    calibration_end=None,
    observation_end=None,
    margin: float = 0.3,
    discount_rate: float = 0.01,
    horizon_days: float = 365.0,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    amount_col: str = "amount",
) -> ValueResult:
    """Fit a transaction model and Gamma-Gamma on ``orders`` and value every customer.

    Parameters
    ----------
    orders : ibis.Table
        The orders table (``store.table("orders")``).
    model : {"auto", "bgnbd", "paretonbd", "mbgnbd"}
        ``"auto"`` fits BG/NBD and Pareto/NBD on the calibration period and keeps
        the one whose holdout predictions per customer are closer (lower RMSE).
    calibration_end : date-like, optional
        End of the calibration period of the holdout check; default: two thirds of
        the way through the order history.
    observation_end : date-like, optional
        Last day of data; default the last order day.
    margin, discount_rate, horizon_days :
        For the lifetime value (``discount_rate`` per 30 days).
    """
    if model not in ("auto", *MODELS):
        raise DataError(f"Unknown model {model!r}; choose auto, {', '.join(MODELS)}.")
    cols = {"customer_col": customer_col, "date_col": date_col, "amount_col": amount_col}
    lo, hi = _date_range(orders, date_col)
    obs_end = hi if observation_end is None else moment(observation_end, "observation_end").date()
    if calibration_end is None:
        cal_end = lo + (obs_end - lo) * 2 // 3
    else:
        cal_end = moment(calibration_end, "calibration_end").date()
    if not lo < cal_end < obs_end:
        raise DataError(
            f"calibration_end {cal_end} must fall between the first order day {lo} and the "
            f"end of observation {obs_end}.",
        )
    notes: list[str] = []
    names = ["bgnbd", "paretonbd"] if model == "auto" else [model]
    selection, calibration, cal_models = _holdout_check(
        orders, names, cal_end.isoformat(), obs_end.isoformat(), cols)
    chosen = model if model != "auto" else str(selection["rmse"].idxmin())
    if model == "auto":
        notes.append(f"chose {chosen} by holdout RMSE ({cal_end} to {obs_end})")

    s = rfm_summary(orders, observation_end=obs_end.isoformat(), freq="W", **cols).to_pandas()
    new = s["T"] <= 0
    if new.any():  # first order on the last day: no rhythm to judge yet
        notes.append(f"{int(new.sum())} customers first bought on the last day and are not "
                     "valued yet")
        s = s[~new].reset_index(drop=True)
    tm = MODELS[chosen]().fit(s["frequency"], s["recency"], s["T"])
    spend_model: GammaGamma | None = GammaGamma()
    try:
        spend_model.fit(s["frequency"], s["monetary_value"])
        mean_spend = spend_model.population_mean_spend()
        spend = spend_model
    except (DataError, ConvergenceError) as e:
        spend_model = None
        repeat = s["frequency"] > 0
        mean_spend = float(s.loc[repeat, "monetary_value"].mean()) if repeat.any() else 0.0
        spend = mean_spend
        notes.append(f"Gamma-Gamma not used ({e.message}); CLV uses the mean spend {mean_spend:.2f}")
    x, t_x, big_t = s["frequency"], s["recency"], s["T"]
    out = s.copy()
    out["p_alive"] = tm.predict_p_alive(x, t_x, big_t)
    out["expected_purchases"] = tm.predict_purchases(horizon_days / _WEEK, x, t_x, big_t)
    out["clv"] = customer_lifetime_value(
        tm, spend, x, t_x, big_t, s["monetary_value"], time_unit_days=_WEEK,
        horizon_days=horizon_days, margin=margin, discount_rate=discount_rate,
    )
    return ValueResult(
        model_name=chosen, transaction_model=tm, spend_model=spend_model, mean_spend=mean_spend,
        customers=out, selection=selection, horizon_days=horizon_days, margin=margin,
        discount_rate=discount_rate, calibration=calibration, calibration_models=cal_models,
        notes=notes,
    )
