"""A seasonal peak of purchases (``make_business(seasonal_peak=...)``).

Extra orders come on top of each customer's usual rhythm around one day of the year
(a Christmas peak by default), so the share of customers who order in a quarter
depends on the quarter. They are drawn from their own random stream: a business
generated without a peak is unchanged.
"""

from __future__ import annotations

import numpy as np

from loyalist.datasets._common import day_time, poisson_times
from loyalist.datasets._customers import Customers
from loyalist.datasets._orders import WEEKEND_KEEP, Orders, lifecycle_draws

#: day of the year at the top of the peak (mid December) and its width (days, s.d.)
PEAK_DAY, PEAK_WIDTH = 350.0, 21.0


def peak_shape(t: np.ndarray, start_day: np.datetime64) -> np.ndarray:
    """0..1: how close each moment (days from ``start_day``) is to the peak day."""
    day = (start_day - start_day.astype("datetime64[Y]")).astype(np.int64) + np.asarray(t)
    d = np.abs(np.mod(day - PEAK_DAY + 182.6, 365.25) - 182.6)
    return np.exp(-0.5 * (d / PEAK_WIDTH) ** 2)


def with_peak(rng: np.random.Generator, o: Orders, c: Customers, t_end: float,
              weekday0: int, start_day: np.datetime64, extra: float) -> Orders:
    """The candidate orders plus the peak's: at the top of the peak a customer orders
    at ``1 + extra`` times their usual rate."""
    t0 = np.maximum(c.created, 0.0)
    rate = c.purchase_rate * extra / (5 / 7 + 2 / 7 * WEEKEND_KEEP)
    cust, t = poisson_times(rng, rate, t0, np.full(c.n, t_end))
    keep = rng.random(len(t)) < peak_shape(t, start_day)
    t, on_day = day_time(rng, t[keep], weekday0, WEEKEND_KEEP)
    more = lifecycle_draws(rng, c, cust[keep][on_day], t[on_day])
    return Orders(*(np.concatenate([getattr(o, f), getattr(more, f)])
                    for f in ("cust", "t", "ack_missing", "late", "cancelled", "follow_up",
                              "u")))
