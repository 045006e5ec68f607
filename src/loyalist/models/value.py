"""From an orders table to per-customer P(alive), expected purchases and lifetime value.

:func:`fit_value` is what ``loyalist value`` runs; Python users get the same:

>>> import loyalist
>>> from loyalist.models.value import fit_value
>>> store = loyalist.connect("loyalist.duckdb")              # doctest: +SKIP
>>> result = fit_value(store.table("orders"))                # doctest: +SKIP
>>> result.customers.sort_values("clv").tail()               # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.contract.moments import moment
from loyalist.errors import ConvergenceError, DataError
from loyalist.features.rfm import rfm_summary
from loyalist.models._transactions import BoundaryWarning
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
    spend_known: bool = True
    #: the id under which the store keeps the model (when fitted through the store)
    model_id: int | None = None
    #: the per-customer RFM summary the model was fitted on, as an Ibis expression (so
    #: that it can be scored where the orders are: :func:`loyalist.models.in_engine.
    #: value_table`)
    summary: object = None
    #: where ``customers`` was scored: ``"driver"`` (NumPy) or ``"engine"``
    scored_in: str = "driver"

    @property
    def status(self) -> str:
        """``fitted`` or ``boundary`` (the model kept is a limit; see ``detail``)."""
        return getattr(self.transaction_model, "status_", "fitted")

    @property
    def detail(self) -> str:
        return getattr(self.transaction_model, "boundary_", None) or ""

    def top_share(self, fraction: float = 0.2) -> float:
        """Share of total expected value held by the top ``fraction`` of customers."""
        v = np.sort(self.customers["clv"].to_numpy())[::-1]
        if v.size == 0 or not np.all(np.isfinite(v)) or v.sum() <= 0:
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


def _has_amounts(orders, amount_col) -> bool:
    """True when at least one order carries a positive amount."""
    if not amount_col or amount_col not in orders.columns:
        return False
    col = orders[amount_col]
    n = orders.aggregate(n=(col > 0).ifelse(1, 0).sum()).to_pandas()["n"].iloc[0]
    return bool(pd.notna(n) and n > 0)


def _fit_one(name, s):
    """Fit one transaction model; returns (model or None, status, detail)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryWarning)  # reported as a status instead
        try:
            m = MODELS[name]().fit(s["frequency"], s["recency"], s["T"])
        except ConvergenceError as e:
            return None, "failed", e.message
    flat = [n for n in m.notes_ if "barely identified" in n]
    return m, m.status_, m.boundary_ or "; ".join(flat)


def _holdout_check(orders, names, calibration_end, observation_end, cols):
    """Fit each model on the calibration period and score it on the holdout period."""
    # in one order whatever the engine: a fit's sums then add up the same way
    s = rfm_summary(orders, calibration_end=calibration_end, observation_end=observation_end,
                    freq="W", **cols).order_by(cols["customer_col"]).to_pandas()
    actual = float(s["frequency_holdout"].sum()) if len(s) else 0.0
    rows, fitted = [], {}
    for name in names:
        row = {"model": name, "status": "failed", "detail": "", "log_likelihood": np.nan,
               "predicted_holdout": np.nan, "actual_holdout": actual, "rmse": np.nan}
        if len(s) == 0:
            row["detail"] = f"no customer bought on or before {calibration_end}"
            rows.append(row)
            continue
        m, row["status"], row["detail"] = _fit_one(name, s)
        if m is not None:
            fitted[name] = m
            pred = m.predict_purchases(s["duration_holdout"], s["frequency"], s["recency"],
                                       s["T"])
            err = pred - s["frequency_holdout"].to_numpy()
            row.update(log_likelihood=m.log_likelihood_, predicted_holdout=float(pred.sum()),
                       rmse=float(np.sqrt(np.mean(err ** 2))))
        rows.append(row)
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
    score: bool = True,
) -> ValueResult:
    """Fit a transaction model and Gamma-Gamma on ``orders`` and value every customer.

    Each candidate model is reported as ``fitted``, at a ``boundary`` (its maximum is a
    limit of the model, e.g. nobody drops out: it is then that limit, with the reason
    in words) or ``failed`` (with the reason) in ``selection``. ``"auto"`` keeps the
    model whose holdout predictions are closer and falls back to the next one, saying
    why, if the chosen one cannot be fitted on the whole history. Without amounts in
    the orders, spend is unknown: ``clv`` is NaN and ``spend_known`` is False.

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
    score : bool
        Score every customer on the driver (NumPy) into ``customers``; with False,
        ``customers`` is the RFM summary alone, to be scored in the engine
        (:func:`loyalist.models.in_engine.value_table`) or by :func:`score_on_driver`;
        ``summary`` is then kept in the engine (an Ibis cached table: ``release()`` it
        when done), so the queries that score it do not recompute it from the orders.
    """
    if model not in ("auto", *MODELS):
        raise DataError(f"Unknown model {model!r}; choose auto, {', '.join(MODELS)}.")
    cols = {"customer_col": customer_col, "date_col": date_col, "amount_col": amount_col}
    spend_known = _has_amounts(orders, amount_col)
    if not spend_known:
        cols["amount_col"] = amount_col if amount_col in orders.columns else None
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
    order = list(names)
    if model == "auto":
        usable = selection["rmse"].dropna().sort_values(kind="stable")  # ties: the first
        order = [*usable.index, *(n for n in names if n not in usable.index)]
        if len(usable):
            notes.append(f"chose {order[0]} by holdout RMSE ({cal_end} to {obs_end})")
        else:
            notes.append("no model could be checked on the holdout period; fitting "
                         f"{order[0]} on the whole history")

    summary = rfm_summary(orders, observation_end=obs_end.isoformat(), freq="W", **cols)
    if not score:  # to be scored in the engine: computed once there, pulled and scored
        summary = summary.cache()
    try:
        s, chosen, tm, spend_model, spend_known, mean_spend = _fit_summary(
            summary, cols, order, model, notes, spend_known)
    except BaseException:
        if not score:  # the engine's cached table goes now, while the store is open
            summary.release()
        raise
    result = ValueResult(
        model_name=chosen, transaction_model=tm, spend_model=spend_model, mean_spend=mean_spend,
        customers=s, selection=selection, horizon_days=horizon_days, margin=margin,
        discount_rate=discount_rate, calibration=calibration, calibration_models=cal_models,
        notes=notes, spend_known=spend_known, summary=summary,
    )
    return score_on_driver(result) if score else result


def _fit_summary(summary, cols: dict, order: list[str], model: str, notes: list[str],
                 spend_known: bool):
    """The RFM ``summary`` pulled, the first model of ``order`` that fits it, and the
    spend model: ``(s, chosen, tm, spend_model, spend_known, mean_spend)``."""
    s = summary.order_by(cols["customer_col"]).to_pandas()
    new = int((s["T"] <= 0).sum())
    if new:  # first order on the last day: no rhythm to judge yet
        notes.append(f"{new} customer{'s' if new > 1 else ''} first bought on the last day: "
                     "no information for the fit, valued as new customers")
    tm, failures = None, []
    for name in order:
        tm, status, detail = _fit_one(name, s)
        if tm is not None:  # at a boundary: result.status and result.detail say so
            chosen = name
            break
        failures.append(f"{name}: {detail}")
        if model == "auto" and name != order[-1]:
            notes.append(f"{name} could not be fitted on the whole history ({detail}); "
                         "falling back to the next model")
    if tm is None:
        raise ConvergenceError(
            "No transaction model could be fitted on the whole history: "
            + "; ".join(failures),
            hint="value needs repeat purchases: load a longer order history, or try "
            "fit_value(..., model='auto') so that another model is tried.",
        )
    spend_model: GammaGamma | None = None
    spend, mean_spend = None, float("nan")
    which = "the orders carry no amounts"
    if spend_known:
        spend, mean_spend, spend_model = _spend(s, notes)
        spend_known = spend is not None
        which = "no repeat purchase carries an amount"
    if spend is None:
        notes.append(f"{which}: spend is unknown, so no lifetime value is computed "
                     "(expected purchases are)")
    return s, chosen, tm, spend_model, spend_known, mean_spend


#: days per time unit of the fits (weeks) and per discounting period (30 days)
PERIOD_DAYS = 30.0


def clv_periods(horizon_days: float, discount_rate: float) -> tuple[list[float], list[float]]:
    """The ends of the discounting periods of the horizon, in weeks, and each period's
    discount factor: what :func:`loyalist.models.clv.customer_lifetime_value` sums."""
    steps = max(1, int(np.ceil(horizon_days / PERIOD_DAYS - 1e-9)))
    edges = np.linspace(0.0, horizon_days / _WEEK, steps + 1)
    return [float(e) for e in edges[1:]], [float((1.0 + discount_rate) ** -k)
                                           for k in range(1, steps + 1)]


def score_on_driver(result: ValueResult) -> ValueResult:
    """``result.customers`` (the RFM summary) scored with NumPy on the driver: P(alive),
    expected purchases over the horizon and CLV (NaN when spend is unknown)."""
    s, tm = result.customers, result.transaction_model
    x, t_x, big_t = s["frequency"], s["recency"], s["T"]
    out = s.copy()
    out["p_alive"] = tm.predict_p_alive(x, t_x, big_t)
    out["expected_purchases"] = tm.predict_purchases(result.horizon_days / _WEEK, x, t_x,
                                                     big_t)
    spend = result.spend_model if result.spend_model is not None else result.mean_spend
    if not result.spend_known:
        out["monetary_value"] = np.nan
        out["clv"] = np.nan
    else:
        out["clv"] = customer_lifetime_value(
            tm, spend, x, t_x, big_t, s["monetary_value"].fillna(0.0), time_unit_days=_WEEK,
            horizon_days=result.horizon_days, margin=result.margin,
            discount_rate=result.discount_rate, period_days=PERIOD_DAYS,
        )
    result.customers = out
    result.scored_in = "driver"
    return result


def _spend(s, notes):
    """The spend model: Gamma-Gamma, else the plain mean of repeat purchases, else None
    (no repeat purchase carries an amount). Returns ``(spend, mean spend, model)``."""
    gg = GammaGamma()
    repeat = (s["frequency"] > 0) & s["monetary_value"].notna()
    try:
        gg.fit(s.loc[repeat, "frequency"], s.loc[repeat, "monetary_value"])
        return gg, gg.population_mean_spend(), gg
    except (DataError, ConvergenceError) as e:
        positive = repeat & (s["monetary_value"] > 0)
        if not positive.any():
            return None, float("nan"), None
        mean_spend = float(s.loc[positive, "monetary_value"].mean())
        why = ("it did not converge, typically because spend per purchase differs too little "
               "between customers to tell them apart" if isinstance(e, ConvergenceError)
               else e.message)
        notes.append(f"Gamma-Gamma not used ({why}); CLV uses the mean spend of repeat "
                     f"purchases, {mean_spend:.2f}")
        return mean_spend, mean_spend, None
