"""Orders: a Poisson rhythm per customer, gamma-gamma spend, and each order's lifecycle.

Orders are drawn first over each customer's whole possible life (``draw_orders``) so that
their follow-through failures can feed the hazard of leaving; once the departures are
known, ``shape_orders`` thins them during the drift (lengthening gaps, shrinking
baskets) and cuts them at departure and at the end of the observed period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loyalist.datasets._common import day_time, poisson_times, working_hours
from loyalist.datasets._customers import SPEND_P, Customers

WEEKEND_KEEP = 0.3
ACK_MISS = 0.025  # orders never acknowledged, before the owner's care
LATE_P = 0.1
CANCEL_P = 0.015
RETURN_P, RETURN_P_DRIFT = 0.02, 0.08
FOLLOW_UP_P = np.array([0.45, 0.6, 0.85])  # by segment, before the owner's care
PROMISE_DAYS = np.array([5, 4, 3])  # by segment
#: during the drift an order survives with 1 - DRIFT_THIN * sqrt(progress), its amount
#: shrinks by 1 - DRIFT_SHRINK * progress (progress from 0 at the decision to 1 at leaving)
DRIFT_THIN, DRIFT_SHRINK = 0.9, 0.5


@dataclass
class Orders:
    cust: np.ndarray
    t: np.ndarray
    ack_missing: np.ndarray
    late: np.ndarray
    cancelled: np.ndarray
    follow_up: np.ndarray
    u: np.ndarray  # (n, 4) uniforms kept for later draws that must not change the stream

    def take(self, keep: np.ndarray) -> Orders:
        return Orders(self.cust[keep], self.t[keep], self.ack_missing[keep], self.late[keep],
                      self.cancelled[keep], self.follow_up[keep], self.u[keep])


def draw_orders(rng: np.random.Generator, c: Customers, t_end: float,
                weekday0: int) -> Orders:
    """Candidate orders of every customer from acquisition (or the start) to ``t_end``."""
    t0 = np.maximum(c.created, 0.0)
    rate = c.purchase_rate / (5 / 7 + 2 / 7 * WEEKEND_KEEP)
    cust, t = poisson_times(rng, rate, t0, np.full(c.n, t_end))
    t, keep = day_time(rng, t, weekday0, WEEKEND_KEEP)
    # a new customer's first order comes with the acquisition (as in BTYD models)
    new = np.flatnonzero(c.created >= 0)
    cust = np.concatenate([cust[keep], new])
    t = np.concatenate([t[keep], c.created[new] + 0.01])
    return lifecycle_draws(rng, c, cust, t)


def lifecycle_draws(rng: np.random.Generator, c: Customers, cust: np.ndarray,
                    t: np.ndarray) -> Orders:
    """Orders at (customer, time) with the draws of what will happen to each."""
    m = len(t)
    care = c.owner_care[cust]
    seg = c.segment[cust]
    return Orders(
        cust=cust,
        t=t,
        ack_missing=rng.random(m) < ACK_MISS / care,
        late=rng.random(m) < LATE_P,
        cancelled=rng.random(m) < CANCEL_P,
        follow_up=rng.random(m) < np.minimum(FOLLOW_UP_P[seg] * care, 0.97),
        u=rng.random((m, 4)),
    )


def failures(o: Orders, c: Customers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow-through failures as (customer, day, weight) for the service load."""
    promise = np.floor(o.t) + PROMISE_DAYS[c.segment[o.cust]]
    ack = o.ack_missing & ~o.cancelled
    late = o.late & ~o.cancelled
    cust = np.concatenate([o.cust[ack], o.cust[late]])
    when = np.concatenate([o.t[ack] + 2.0, promise[late] + 1.0])
    weight = np.concatenate([np.full(ack.sum(), 0.4), np.full(late.sum(), 0.25)])
    return cust, when, weight


def drift_progress(t: np.ndarray, decision: np.ndarray, departure: np.ndarray,
                   warned: np.ndarray) -> np.ndarray:
    """0 before the decision (or for customers who never warn), rising to 1 at leaving."""
    span = np.maximum(departure - decision, 1e-9)
    p = np.clip((t - decision) / span, 0.0, 1.0)
    return np.where(warned & np.isfinite(decision), np.nan_to_num(p), 0.0)


def shape_orders(rng: np.random.Generator, o: Orders, c: Customers, decision: np.ndarray,
                 departure: np.ndarray, warned: np.ndarray, as_of: float,
                 weekday0: int) -> dict[str, np.ndarray]:
    """The observed orders: drift applied, cut at departure and at ``as_of``; time-sorted."""
    gone = np.nan_to_num(departure, nan=np.inf)
    progress = drift_progress(o.t, decision[o.cust], departure[o.cust], warned[o.cust])
    keep = (o.t < gone[o.cust]) & (o.t < as_of) & (o.u[:, 0] >= DRIFT_THIN * np.sqrt(progress))
    o = o.take(keep)
    o = o.take(np.argsort(o.t))
    progress = drift_progress(o.t, decision[o.cust], departure[o.cust], warned[o.cust])
    m = len(o.t)
    seg = c.segment[o.cust]

    value = rng.gamma(SPEND_P, 1.0 / c.spend_nu[o.cust]) * c.spend_scale[o.cust]
    amount = np.round(np.maximum(value * (1 - DRIFT_SHRINK * progress), 1.0), 2)
    quantity = 1 + rng.poisson(amount / c.unit_price[o.cust])

    ack = working_hours(o.t + rng.lognormal(np.log(1.5), 1.0, m) / 24.0, weekday0, rng)
    ack = np.where(o.ack_missing, np.nan, ack)
    promise_days = PROMISE_DAYS[seg]
    promised = np.floor(o.t) + promise_days + 17.0 / 24.0
    early = promised - rng.random(m) * 0.6 * promise_days
    late_by = 0.5 + rng.gamma(1.5, 2.0, m)
    fulfilled = np.where(o.late, promised + late_by, np.maximum(early, o.t + 0.1))
    fulfilled = working_hours(fulfilled, weekday0, rng)
    fulfilled = np.where(o.cancelled, np.nan, fulfilled)
    returned = ~o.cancelled & (o.u[:, 1] < RETURN_P + (RETURN_P_DRIFT - RETURN_P) * (progress > 0))
    follow = fulfilled + 1.0 + rng.gamma(2.0, 1.0, m)
    follow = np.where(o.follow_up, working_hours(follow, weekday0, rng), np.nan)

    def seen(x):
        return np.where(x <= as_of, x, np.nan)

    ack_s, fulfilled_s, follow_s = seen(ack), seen(fulfilled), seen(follow)
    status = np.select(
        [o.cancelled, returned & np.isfinite(fulfilled_s), np.isfinite(fulfilled_s),
         np.isfinite(ack_s)],
        [1, 2, 3, 4], default=0)
    return {
        "cust": o.cust, "t": o.t, "amount": amount, "quantity": quantity, "status": status,
        "acknowledged": ack_s, "promised": promised, "fulfilled": fulfilled_s,
        "followed_up": follow_s, "ack_missing": o.ack_missing & ~o.cancelled,
        "late": o.late & ~o.cancelled, "no_follow_up": ~o.follow_up & ~o.cancelled,
        "in_drift": progress > 0, "returned": returned,
    }


STATUSES = ("placed", "cancelled", "returned", "fulfilled", "acknowledged")
