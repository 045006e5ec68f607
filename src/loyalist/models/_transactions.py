"""What the three continuous-time transaction models (BG/NBD, MBG/NBD, Pareto/NBD) share.

Inputs are the RFM summary of :func:`loyalist.features.rfm_summary`: ``frequency``
(repeat purchases, the first excluded), ``recency`` (time of the last purchase,
measured from the first) and ``T`` (time from the first purchase to the end of
observation), all in one time unit.
"""

from __future__ import annotations

import numpy as np

from loyalist.errors import DataError
from loyalist.models._base import BaseFitter, as_array, check_fitted, unique_index


def check_rfm(frequency, recency, T, weights=None):
    """Validate and convert the three RFM columns; errors name the culprit."""
    x = as_array(frequency, "frequency")
    t_x = as_array(recency, "recency")
    big_t = as_array(T, "T")
    x, t_x, big_t = np.broadcast_arrays(x, t_x, big_t)
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise DataError(
            "'frequency' must hold non-negative whole numbers (repeat purchases).",
            hint="use loyalist.features.rfm_summary, which counts repeat purchase days.",
        )
    if np.any(t_x < 0) or np.any(big_t < 0):
        raise DataError("'recency' and 'T' must be >= 0 (T = 0: acquired at the end of "
                        "observation, which carries no information but is valid).")
    if np.any(t_x > big_t * (1 + 1e-12)):
        n = int((t_x > big_t).sum())
        raise DataError(
            f"'recency' is greater than 'T' in {n} row(s); recency is measured from the "
            "first purchase and cannot exceed the customer's age T.",
            hint="check that both use the same time unit and the same end of observation.",
        )
    if np.any((x == 0) & (t_x != 0)):
        raise DataError(
            "'recency' must be 0 for customers with frequency 0 (no repeat purchase).",
        )
    w = None
    if weights is not None:
        w = as_array(weights, "weights")
        if w.shape != x.shape or np.any(w < 0):
            raise DataError("'weights' must be non-negative and have one value per row.")
    return x.astype(float), np.minimum(t_x, big_t).astype(float), big_t.astype(float), w


class TransactionModel(BaseFitter):
    """Shared fit/predict API of the continuous-time non-contractual models."""

    def fit(self, frequency, recency, T, weights=None):
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like
            RFM summary per customer (see :func:`loyalist.features.rfm_summary`).
        weights : array-like, optional
            Number of customers each row stands for (for pre-aggregated input).

        Returns
        -------
        self
        """
        x, t_x, big_t, w = check_rfm(frequency, recency, T, weights)
        return self._fit_data({"x": x, "t_x": t_x, "T": big_t}, w, x.size)

    def _prepare(self, data):
        x = np.asarray(data["x"], dtype=float)
        data["_xu"], data["_xi"] = unique_index(x.ravel())
        data["_xi"] = data["_xi"].reshape(x.shape)
        return data

    # -- to be provided -------------------------------------------------------------
    def _log_p_alive(self, x, t_x, big_t):  # pragma: no cover
        raise NotImplementedError

    def _expected_if_alive(self, t, x, t_x, big_t):  # pragma: no cover
        raise NotImplementedError

    # -- predictions -----------------------------------------------------------------
    def predict_p_alive(self, frequency, recency, T, t=0.0):
        """Probability that each customer is still active.

        With ``t > 0``: the probability the customer will still be active ``t`` time
        units after the end of observation if they make no purchase until then (the
        curve that falls while a customer stays silent).
        """
        check_fitted(self)
        x, t_x, big_t, _ = check_rfm(frequency, recency, T)
        return np.exp(self._log_p_alive(x, t_x, big_t + np.asarray(t, dtype=float)))

    def predict_purchases(self, t, frequency, recency, T):
        """Expected number of purchases in the next ``t`` time units, per customer."""
        check_fitted(self)
        x, t_x, big_t, _ = check_rfm(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        if np.any(t < 0):
            raise DataError("'t' (the horizon) must be >= 0.")
        p_alive = np.exp(self._log_p_alive(x, t_x, big_t))
        return p_alive * self._expected_if_alive(t, x, t_x, big_t)

    def predict_new_customer_purchases(self, t):
        """Expected repeat purchases in ``(0, t]`` of a customer just acquired."""
        check_fitted(self)
        t = np.asarray(t, dtype=float)
        flat = np.atleast_1d(t).ravel()
        zero = np.zeros_like(flat)
        out = np.exp(self._log_p_alive(zero, zero, zero)) * self._expected_if_alive(
            flat, zero, zero, zero
        )
        return float(out[0]) if t.ndim == 0 else out.reshape(t.shape)

    def predict_discounted_purchases(self, frequency, recency, T, *, horizon, discount_rate,
                                     steps):
        """Expected purchases in ``(0, horizon]``, discounted per step.

        The horizon is cut into ``steps`` equal periods; purchases expected in period
        ``k`` are divided by ``(1 + discount_rate) ** k`` (so ``discount_rate`` is per
        period, e.g. monthly).
        """
        check_fitted(self)
        if steps < 1 or horizon <= 0 or discount_rate <= -1:
            raise DataError("Need horizon > 0, steps >= 1 and discount_rate > -1.")
        edges = np.linspace(0.0, float(horizon), int(steps) + 1)
        x, t_x, big_t, _ = check_rfm(frequency, recency, T)
        p_alive = np.exp(self._log_p_alive(x, t_x, big_t))
        total = np.zeros_like(x)
        prev = np.zeros_like(x)
        for k in range(1, int(steps) + 1):
            cur = self._expected_if_alive(edges[k], x, t_x, big_t)
            total += (cur - prev) / (1.0 + discount_rate) ** k
            prev = cur
        return p_alive * total
