"""Every customer's value, kept in the store: the value model fitted on the orders,
``customer_value`` written, and the model registered (``loyalist models``).

``loyalist value`` and the Python API do the same thing through :func:`value_customers`.
"""

from __future__ import annotations

import ibis
import pandas as pd

from loyalist.errors import NotOnEngineError
from loyalist.features.purchases import purchases
from loyalist.models.in_engine import value_table
from loyalist.models.value import ValueResult, fit_value, score_on_driver

#: the columns of ``customer_value`` (declared in loyalist.contract.derived)
_COLUMNS = {"customer_id": "customer_id", "frequency": "frequency", "recency": "recency_weeks",
            "T": "age_weeks", "monetary_value": "monetary_value", "p_alive": "p_alive",
            "expected_purchases": "expected_purchases", "clv": "clv"}


def value_customers(store, *, model: str = "auto", calibration_end=None,
                    margin: float = 0.3, discount_rate: float = 0.01,
                    horizon_days: float = 365.0) -> ValueResult:
    """Fit the value model on the store's purchases (orders net of returns, see
    :func:`loyalist.features.purchases.purchases`; :func:`loyalist.models.value.
    fit_value`), score every customer in the engine (:func:`loyalist.models.in_engine.
    value_table`: P(alive), expected purchases and CLV as engine expressions; on the
    driver only for what has none, saying so in the notes), write
    ``customer_value`` and register the fitted model; return what the fit found."""
    orders = purchases(store)  # returned orders left out, partial returns netted
    result = fit_value(orders, model=model, calibration_end=calibration_end, margin=margin,
                       discount_rate=discount_rate, horizon_days=horizon_days, score=False)
    # fit_value kept the RFM summary in the engine (computed once for the fit's pull
    # and for every query that scores it: the series' frequencies and smallest T, each
    # join of its terms, the result), released once customer_value is written
    with result.summary as summary:
        return _score_and_write(store, orders, result, summary, margin=margin,
                                discount_rate=discount_rate, horizon_days=horizon_days)


def _score_and_write(store, orders, result: ValueResult, summary, *, margin: float,
                     discount_rate: float, horizon_days: float) -> ValueResult:
    try:  # every customer scored where the orders are: nothing per customer on the driver
        scored = value_table(result, summary)
        frame = scored.select(model=ibis.literal(result.model_name), **{
            new: scored[old] for old, new in _COLUMNS.items()})
        in_engine = True
    except NotOnEngineError as e:
        in_engine = False
        score_on_driver(result)
        result.notes.append(f"scored on the driver ({e.operation} is not built)")
        frame = result.customers[list(_COLUMNS)].rename(columns=_COLUMNS)
        frame["model"] = result.model_name
    span = orders.aggregate(first=orders.ordered_at.min(), last=orders.ordered_at.max(),
                            n=orders.count()).to_pandas().iloc[0]
    selection = result.selection
    metrics = {}
    if selection is not None and result.model_name in selection.index:
        row = selection.loc[result.model_name]
        for key in ("rmse", "predicted_holdout", "actual_holdout"):
            if key in row and pd.notna(row[key]):
                metrics[f"holdout_{key}" if key == "rmse" else key] = round(float(row[key]), 4)
    model_id = store.save_model("value", result.transaction_model, {
        "kind": "value", "model": result.model_name, "status": result.status,
        "detail": result.detail, "margin": margin, "discount_rate": discount_rate,
        "horizon_days": horizon_days, "notes": result.notes,
        "trained_on": {"from": str(pd.Timestamp(span["first"]).date()),
                       "to": str(pd.Timestamp(span["last"]).date()), "rows": int(span["n"])},
        "metrics": metrics})
    store.write_derived("customer_value", frame, note=f"model {model_id}")
    result.model_id = model_id
    if in_engine:
        # what was written, in fit_value's columns (the CLI's summary and plots)
        back = {new: old for old, new in _COLUMNS.items()}
        result.customers = store.table("customer_value").order_by("customer_id").to_pandas(
            ).drop(columns="model").rename(columns=back)
        result.scored_in = "engine"
    return result


__all__ = ["value_customers"]
