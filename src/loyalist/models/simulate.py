"""Draw customer histories from each model (for tests, benchmarks and what-ifs).

Every function is vectorised over customers and returns a pandas DataFrame in the
shape the matching model's ``fit`` takes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _rng(random_state):
    return np.random.default_rng(random_state)


def _last_of_poisson(rng, rate_time, window):
    """Counts of a Poisson process over ``window`` and the time of the last event."""
    x = rng.poisson(rate_time)
    # the last of x uniform points on (0, window) is window * U ** (1 / x)
    with np.errstate(divide="ignore"):
        t_x = np.where(x > 0, window * rng.random(x.size) ** (1.0 / np.maximum(x, 1)), 0.0)
    return x, t_x


def simulate_bgnbd(r, alpha, a, b, T, *, modified=False, random_state=None) -> pd.DataFrame:
    """Histories from BG/NBD (or MBG/NBD with ``modified=True``) over ages ``T``."""
    rng = _rng(random_state)
    big_t = np.asarray(T, dtype=float)
    n = big_t.size
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    # purchases survived before dropping out: geometric on {1, 2, ...} (BG) or {0, 1, ...}
    j = rng.geometric(p) - (1 if modified else 0)
    n_events = rng.poisson(lam * big_t)
    x = np.minimum(n_events, j)
    # given n_events uniform times on (0, T), the x-th earliest is T * Beta(x, n_events-x+1)
    with np.errstate(invalid="ignore"):
        t_x = np.where(x > 0, big_t * rng.beta(np.maximum(x, 1), np.maximum(n_events - x, 0) + 1),
                       0.0)
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": big_t})


def simulate_paretonbd(r, alpha, s, beta, T, *, random_state=None) -> pd.DataFrame:
    """Histories from Pareto/NBD over ages ``T``."""
    rng = _rng(random_state)
    big_t = np.asarray(T, dtype=float)
    n = big_t.size
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    life = rng.exponential(1.0 / mu)
    window = np.minimum(life, big_t)
    x, t_x = _last_of_poisson(rng, lam * window, window)
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": big_t})


def simulate_bgbb(alpha, beta, gamma, delta, n_periods, n_customers, *, random_state=None):
    """Histories from BG/BB: ``n_customers`` with ``n_periods`` opportunities each."""
    rng = _rng(random_state)
    p = rng.beta(alpha, beta, n_customers)
    theta = rng.beta(gamma, delta, n_customers)
    # alive for the first `life` opportunities: dropping out happens at the start of an
    # opportunity, possibly the first, so P(life >= t) = (1 - theta) ** t
    life = np.minimum(rng.geometric(theta) - 1, n_periods)
    buys = rng.random((n_customers, n_periods)) < p[:, None]
    buys &= np.arange(1, n_periods + 1)[None, :] <= life[:, None]
    x = buys.sum(axis=1)
    last = np.where(x > 0, n_periods - np.argmax(buys[:, ::-1], axis=1), 0)
    return pd.DataFrame({"frequency": x, "recency": last, "n_periods": n_periods})


def simulate_gammagamma(p, q, gamma, frequency, *, random_state=None) -> pd.DataFrame:
    """Mean spend of ``frequency`` transactions per customer (0 where frequency is 0)."""
    rng = _rng(random_state)
    x = np.asarray(frequency)
    nu = rng.gamma(q, 1.0 / gamma, x.size)
    # the mean of x Gamma(p, nu) draws is Gamma(p x, x nu)
    with np.errstate(divide="ignore"):
        m = np.where(x > 0, rng.gamma(np.maximum(p * x, 1e-12), 1.0 / (np.maximum(x, 1) * nu)), 0.0)
    return pd.DataFrame({"frequency": x, "monetary_value": m})


def simulate_sbg(alpha, beta, n_periods, n_customers, *, random_state=None) -> pd.DataFrame:
    """Subscriber lifetimes from sBG, observed for ``n_periods`` renewals."""
    rng = _rng(random_state)
    theta = rng.beta(alpha, beta, n_customers)
    t = rng.geometric(theta)
    churned = t <= n_periods
    return pd.DataFrame({"periods": np.where(churned, t, n_periods), "churned": churned})


def simulate_orders(n_customers, *, days=365, r=1.5, purchases_per_year=5.0,
                    lifetime_days=None, start="2011-01-01", spend_shape=2.0, spend_mean=30.0,
                    random_state=None) -> pd.DataFrame:
    """An orders table (``id``, ``customer_id``, ``ordered_at``, ``amount``) of customers
    who buy as Poisson processes over ``days`` days from ``start``.

    Purchase rates are Gamma(``r``) across customers with mean ``purchases_per_year``.
    With ``lifetime_days=None`` nobody drops out (the NBD world, where the drop-out
    models sit on their boundary); otherwise each customer stops buying after an
    exponential lifetime with that mean (Pareto/NBD with s -> infinity). Customers
    without an order in the window do not appear. Amounts are Gamma(``spend_shape``)
    with mean ``spend_mean``, rounded to cents.
    """
    rng = _rng(random_state)
    lam = rng.gamma(r, purchases_per_year / r / 365.0, n_customers)
    window = np.full(n_customers, float(days))
    if lifetime_days is not None:
        window = np.minimum(window, rng.exponential(lifetime_days, n_customers))
    counts = rng.poisson(lam * window)
    who = np.repeat(np.arange(n_customers), counts)
    day = np.floor(rng.random(who.size) * window[who]).astype(np.int64)
    amount = np.round(rng.gamma(spend_shape, spend_mean / spend_shape, who.size), 2)
    width = len(str(n_customers))
    return pd.DataFrame({
        "id": [f"O{i}" for i in range(who.size)],
        "customer_id": [f"C{c:0{width}d}" for c in who],
        "ordered_at": pd.Timestamp(start) + pd.to_timedelta(day, unit="D"),
        "amount": amount,
    })
