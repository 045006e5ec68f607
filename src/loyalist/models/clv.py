"""Discounted customer lifetime value from a transaction model and a spend model.

    CLV_i = margin * E[spend per transaction]_i
            * sum_k E[purchases in period k]_i / (1 + discount_rate) ** k

over the periods ``k = 1..K`` of the horizon (30-day periods by default, so
``discount_rate`` is monthly). The transaction model is one of :class:`BGNBD`,
:class:`MBGNBD` or :class:`ParetoNBD`; the spend model :class:`GammaGamma` (or a
constant mean spend). Spend and purchase processes are assumed independent, as in
Fader, Hardie & Lee (2005).
"""

from __future__ import annotations

import numpy as np

from loyalist.errors import DataError
from loyalist.models._base import check_fitted


def customer_lifetime_value(
    transaction_model,
    spend_model,
    frequency,
    recency,
    T,
    monetary_value,
    *,
    time_unit_days: float = 1.0,
    horizon_days: float = 365.0,
    margin: float = 0.3,
    discount_rate: float = 0.01,
    period_days: float = 30.0,
):
    """Discounted profit expected from each customer over the next ``horizon_days``.

    Parameters
    ----------
    transaction_model : fitted BGNBD, MBGNBD or ParetoNBD
    spend_model : fitted GammaGamma, or a number (the same mean spend for everyone)
    frequency, recency, T : array-like
        RFM summary in the transaction model's time unit.
    monetary_value : array-like
        Mean value of each customer's repeat transactions.
    time_unit_days : float
        Days per time unit of ``recency``/``T`` (1 for days, 7 for weeks).
    horizon_days, period_days : float
        Horizon, and the length of one discounting period.
    margin : float
        Profit margin on revenue, in (0, 1].
    discount_rate : float
        Discount rate per period (``0.01`` per 30 days is about 12.7% a year).

    Returns
    -------
    numpy.ndarray
    """
    check_fitted(transaction_model)
    if not 0 < margin <= 1:
        raise DataError(f"'margin' must be in (0, 1]; got {margin!r}.")
    if not 0 <= discount_rate < 1:
        raise DataError(f"'discount_rate' must be in [0, 1) per period; got {discount_rate!r}.")
    if horizon_days <= 0 or period_days <= 0 or time_unit_days <= 0:
        raise DataError("'horizon_days', 'period_days' and 'time_unit_days' must be > 0.")
    if isinstance(spend_model, (int, float)):
        spend = np.full(np.shape(np.asarray(frequency)), float(spend_model))
    else:
        check_fitted(spend_model)
        spend = spend_model.predict_spend(frequency, monetary_value)
    steps = max(1, int(np.ceil(horizon_days / period_days - 1e-9)))
    purchases = transaction_model.predict_discounted_purchases(
        frequency, recency, T, horizon=horizon_days / time_unit_days,
        discount_rate=discount_rate, steps=steps,
    )
    return margin * spend * purchases
