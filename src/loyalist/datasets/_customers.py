"""Who the customers are: acquisition, attributes and each one's hidden traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loyalist.datasets import _text as tx
from loyalist.datasets._common import choice, choice_rows, day_time

#: Hidden kinds of customer; each shapes the hazard of leaving and the attitude.
ARCHETYPES = ("steady", "price_sensitive", "fragile", "wanderer", "advocate")
_ARCHETYPE_P = (0.45, 0.15, 0.15, 0.12, 0.13)
#: per archetype: monthly base hazard of leaving for a competitor, of needs changing,
#: sensitivity to a price rise, sensitivity to service failures, mean attitude.
_COMPETITOR = np.array([0.005, 0.006, 0.005, 0.022, 0.0015])
_NEEDS = np.array([0.004, 0.004, 0.004, 0.005, 0.002])
_PRICE_SENS = np.array([0.2, 1.0, 0.3, 0.5, 0.1])
_SERVICE_SENS = np.array([0.8, 0.8, 2.5, 1.0, 0.4])
_ATTITUDE = np.array([0.3, 0.0, 0.0, -0.4, 1.2])

_SEGMENT_P = (0.6, 0.3, 0.1)
_SEGMENT_SPEND = np.array([1.0, 3.0, 10.0])
_SEGMENT_RATE = np.array([1.0, 1.3, 2.0])
_SEGMENT_SUBSCRIBE = np.array([0.2, 0.4, 0.6])
_SEGMENT_PLAN = np.array([[0.6, 0.3, 0.1], [0.3, 0.5, 0.2], [0.1, 0.4, 0.5]])

#: gamma-gamma spend (Fader, Hardie and Lee 2005): order value ~ Gamma(p, scale=1/nu),
#: nu ~ Gamma(q, scale=1/gamma); mean order value p * gamma / (q - 1) = 120 per order.
SPEND_P, SPEND_Q, SPEND_GAMMA = 6.0, 4.0, 60.0
#: purchase rate per month ~ Gamma(shape, scale) (the "r, alpha" heterogeneity of Pareto/NBD)
RATE_SHAPE, RATE_MEAN = 1.4, 0.6
EXISTING_SHARE = 0.35
DAYS_PER_MONTH = 365.25 / 12


@dataclass
class Customers:
    """Attributes (observable) and traits (hidden) of every customer, as arrays."""

    n: int
    created: np.ndarray  # days since start, negative for customers from before the period
    segment: np.ndarray
    region: np.ndarray
    acquired_via: np.ndarray
    owner: np.ndarray
    name_parts: np.ndarray  # (n, 3) indices into SURNAMES, TRADES, SUFFIXES
    archetype: np.ndarray
    subscriber: np.ndarray
    plan: np.ndarray
    mrr: np.ndarray
    purchase_rate: np.ndarray  # orders per day
    spend_nu: np.ndarray  # gamma-gamma nu; mean order value is SPEND_P / nu * segment factor
    unit_price: np.ndarray
    request_rate: np.ndarray  # requests per day
    usage_rate: np.ndarray  # logins per day (subscribers)
    attitude: np.ndarray
    survey_response: np.ndarray
    frailty: np.ndarray  # (n, 2): multipliers of the competitor and needs hazards
    owner_care: np.ndarray  # per customer, from the owner: <1 sloppy, >1 careful

    @property
    def spend_scale(self) -> np.ndarray:
        return _SEGMENT_SPEND[self.segment]

    @property
    def competitor_hazard(self) -> np.ndarray:
        return _COMPETITOR[self.archetype] * self.frailty[:, 0]

    @property
    def needs_hazard(self) -> np.ndarray:
        return _NEEDS[self.archetype] * self.frailty[:, 1]

    @property
    def price_sensitivity(self) -> np.ndarray:
        return _PRICE_SENS[self.archetype] * np.where(self.subscriber, 1.5, 1.0)

    @property
    def service_sensitivity(self) -> np.ndarray:
        return _SERVICE_SENS[self.archetype]


def _created(rng: np.random.Generator, n: int, period_days: float, weekday0: int) -> np.ndarray:
    """Acquisition days: some before the period, the rest growing over it; sorted."""
    existing = rng.random(n) < EXISTING_SHARE
    t = np.empty(n)
    t[existing] = -rng.random(existing.sum()) * 3 * 365.25
    # linear growth of acquisitions: density proportional to 1 + g * x on [0, 1]
    g = 1.0
    u = rng.random((~existing).sum())
    x = (-1 + np.sqrt(1 + 2 * g * u * (1 + g / 2))) / g
    t[~existing] = x * period_days
    t, keep = day_time(rng, t, weekday0, weekend_keep=0.0)
    t = np.where(keep, t, t - (((weekday0 + np.floor(t).astype(np.int64)) % 7) - 4))
    return np.sort(t)


def make_customers(rng: np.random.Generator, n: int, period_days: float,
                   weekday0: int) -> Customers:
    created = _created(rng, n, period_days, weekday0)
    segment = choice(rng, _SEGMENT_P, n)
    archetype = choice(rng, _ARCHETYPE_P, n)
    subscriber = rng.random(n) < _SEGMENT_SUBSCRIBE[segment]
    plan = np.where(subscriber, choice_rows(rng, _SEGMENT_PLAN[segment]), -1)
    base_mrr = np.asarray(tx.PLAN_MRR)[np.maximum(plan, 0)] * (1 + 0.5 * segment)
    discount = 1 - 0.05 * rng.integers(0, 4, n)
    mrr = np.where(subscriber, np.round(base_mrr * discount, 2), np.nan)
    owner_skill = np.array([1.0, 0.6, 1.3, 0.9, 1.1, 0.45, 1.4, 1.0])
    owner = rng.integers(0, len(tx.OWNERS), n)
    # attitude (how much the customer likes the firm) shows a little in behaviour too:
    # fans buy a bit more often and use the portal more
    attitude = _ATTITUDE[archetype] + rng.normal(0, 0.8, n)
    fan = np.exp(0.15 * (attitude - attitude.mean()))
    month_rate = (rng.gamma(RATE_SHAPE, RATE_MEAN / RATE_SHAPE, n) * _SEGMENT_RATE[segment]
                  * fan)
    request_month = (rng.gamma(2.0, 0.06, n) * np.where(subscriber, 1.4, 1.0)
                     * np.array([1.0, 1.3, 1.8])[segment])
    responder = rng.random(n) > 0.25  # a quarter never answer surveys
    return Customers(
        n=n,
        created=created,
        segment=segment,
        region=choice(rng, (0.22, 0.2, 0.18, 0.2, 0.2), n),
        acquired_via=choice(rng, (0.35, 0.2, 0.25, 0.12, 0.08), n),
        owner=owner,
        name_parts=np.column_stack([
            rng.integers(0, len(tx.SURNAMES), n),
            rng.integers(0, len(tx.TRADES), n),
            rng.integers(0, len(tx.SUFFIXES), n),
        ]),
        archetype=archetype,
        subscriber=subscriber,
        plan=plan,
        mrr=mrr,
        purchase_rate=month_rate / DAYS_PER_MONTH,
        spend_nu=rng.gamma(SPEND_Q, 1.0 / SPEND_GAMMA, n),
        unit_price=rng.gamma(3.0, 10.0, n),
        request_rate=request_month / DAYS_PER_MONTH,
        usage_rate=rng.gamma(2.0, 1.25, n) * fan ** 1.5 / DAYS_PER_MONTH,
        attitude=attitude,
        survey_response=np.where(responder, rng.beta(1.2, 1.8, n), 0.0),
        frailty=rng.gamma(2.0, 0.5, (n, 2)),
        owner_care=owner_skill[owner],
    )
