"""The hazard of leaving, computed in one place, and the draw of who leaves when.

Each customer has a monthly hazard of *deciding* to leave, the sum of four causes
(:data:`~loyalist.datasets._text.REASONS`): a competitor's pull, changed needs, a price
rise, and the service failures the customer has recently lived through (unanswered or
unresolved requests, call-backs, orders never acknowledged or delivered late). The
decision starts the drift; the customer leaves some weeks later (or at once, without
warning). A later simulation of outreach reduces :func:`churn_hazard` for the customers
it reaches, so its true effect is known.
"""

from __future__ import annotations

import numpy as np

from loyalist.datasets._common import choice_rows
from loyalist.datasets._customers import Customers

#: monthly hazard added per unit of recent service failure, times the customer's sensitivity
SERVICE_EFFECT = 0.05
#: share of the service load that carries over to the next month
SERVICE_MEMORY = 0.7
#: extra monthly hazard in the months after the price rise, times price sensitivity
PRICE_SHOCK = (0.05, 0.03, 0.015)
#: chance that a leaver of each reason leaves without any warning
SILENT_P = np.array([0.25, 0.2, 0.1, 0.6])
#: days between the decision and leaving, for customers who warn: 30 + Gamma(2, 30)
LEAD_MIN, LEAD_SHAPE, LEAD_SCALE = 30.0, 2.0, 30.0


def service_load(cust: np.ndarray, when: np.ndarray, weight: np.ndarray, n: int,
                 edges: np.ndarray) -> np.ndarray:
    """Decayed service failures each customer carries into each month, (n, months).

    Failures of month k count from month k + 1 on, so the load never looks ahead.
    """
    months = len(edges) - 1
    k = np.searchsorted(edges, when, side="right") - 1
    ok = (k >= 0) & (k < months)
    new = np.bincount(cust[ok] * months + k[ok], weights=weight[ok],
                      minlength=n * months).reshape(n, months).astype(np.float32)
    load = np.zeros((n, months), dtype=np.float32)
    for m in range(1, months):
        load[:, m] = SERVICE_MEMORY * load[:, m - 1] + new[:, m - 1]
    return load


def churn_hazard(customers: Customers, load: np.ndarray, price_month: int, *,
                 effect: float = 1.0) -> tuple[np.ndarray, ...]:
    """Monthly hazard of deciding to leave, per cause, each broadcastable to (n, months).

    Returns the components in the order of ``REASONS``: competitor, price, service,
    needs_changed. Their sum is the hazard; a share of the drawn leavers is attributed to
    each cause in proportion to its component in the month of the decision. ``effect``
    scales the service failures' part (0.5: half their effect).
    """
    months = load.shape[1]
    shock = np.zeros(months, dtype=np.float32)
    for i, s in enumerate(PRICE_SHOCK):
        if 0 <= price_month + i < months:
            shock[price_month + i] = s
    competitor = customers.competitor_hazard.astype(np.float32)[:, None]
    price = customers.price_sensitivity.astype(np.float32)[:, None] * shock[None, :]
    service = (SERVICE_EFFECT * effect * customers.service_sensitivity.astype(np.float32))[:, None] * load
    needs = customers.needs_hazard.astype(np.float32)[:, None]
    return competitor, price, service, needs


def draw_decisions(rng: np.random.Generator, customers: Customers, components: tuple,
                   edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First passage of the cumulative hazard over an Exp(1) draw.

    Returns (decision day or NaN, reason index or -1). Exposure starts at acquisition.
    """
    n = customers.n
    hazard = components[0] + components[1] + components[2] + components[3]
    length = np.diff(edges).astype(np.float32)
    begin = np.maximum(edges[:-1][None, :], customers.created[:, None]).astype(np.float32)
    exposure = np.clip((edges[1:][None, :] - begin) / length[None, :], 0.0, 1.0)
    cum = np.cumsum(hazard * exposure, axis=1)
    threshold = rng.exponential(1.0, n).astype(np.float32)
    crossed = cum > threshold[:, None]
    leaves = crossed[:, -1]
    k = np.argmax(crossed, axis=1)
    rows = np.flatnonzero(leaves)
    kk = k[rows]
    before = np.where(kk > 0, cum[rows, np.maximum(kk - 1, 0)], 0.0)
    frac = (threshold[rows] - before) / hazard[rows, kk]
    decision = np.full(n, np.nan)
    decision[rows] = begin[rows, kk] + frac * length[kk]
    parts = np.column_stack([np.broadcast_to(c, hazard.shape)[rows, kk] for c in components])
    reason = np.full(n, -1, dtype=np.int64)
    reason[rows] = choice_rows(rng, parts.astype(np.float64))
    return decision, reason


def draw_departures(rng: np.random.Generator, decision: np.ndarray, reason: np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Day of leaving and whether the customer warned (drifted) before it."""
    n = len(decision)
    leaves = reason >= 0
    silent = leaves & (rng.random(n) < SILENT_P[np.maximum(reason, 0)])
    lead = LEAD_MIN + rng.gamma(LEAD_SHAPE, LEAD_SCALE, n)
    departure = np.where(silent, decision, decision + lead)
    warned = leaves & ~silent
    return departure, warned
