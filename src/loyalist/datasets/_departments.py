"""Which department's failure made each lost customer leave, and the revenue lost.

The hazard's service cause is the decayed load of the failures a customer lived
through (:func:`~loyalist.datasets._hazard.service_load`): orders never acknowledged or
delivered late (fulfilment's) and requests never answered, answered slowly, never
resolved or called back about (service's). A leaver whose drawn reason is that load
is given to one of the two departments in proportion to its share of the load in the
month of the decision, on its own random stream (the business is otherwise unchanged);
the other reasons (a competitor's pull, the price rise, changed needs) are no
department's failure (``none``). Billing complaints and product problems are written
at their everyday rates and raise no hazard: a department must not be blamed for them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.datasets._hazard import service_load

#: the departments whose failures raise the generator's hazard, in load order
FAILURE_DEPARTMENTS = ("fulfilment", "service")
NONE = "none"
#: the index of the service-failure cause in ``_text.REASONS``
_SERVICE = 2


def cause_departments(seed: int, order_fails, request_fails, n: int, edges: np.ndarray,
                      decision: np.ndarray, reason: np.ndarray) -> np.ndarray:
    """Per customer: the department whose failures made them decide to leave, ``none``
    for another reason, or None for customers who never decide to leave."""
    loads = [service_load(*f, n, edges) for f in (order_fails, request_fails)]
    out = np.full(n, None, dtype=object)
    leaves = reason >= 0
    out[leaves] = NONE
    rows = np.flatnonzero(reason == _SERVICE)
    if len(rows):
        k = np.clip(np.searchsorted(edges, decision[rows], side="right") - 1, 0,
                    loads[0].shape[1] - 1)
        part = np.column_stack([ld[rows, k] for ld in loads]).astype(np.float64)
        total = part.sum(axis=1)
        p = np.where(total[:, None] > 0, part / np.where(total > 0, total, 1.0)[:, None], 0.5)
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(16)[15])
        pick = (rng.random(len(rows)) > p[:, 0]).astype(np.int64)
        out[rows] = np.asarray(FAILURE_DEPARTMENTS, dtype=object)[pick]
    return out


def cause_probabilities(order_fails, request_fails, n: int, edges: np.ndarray,
                        decision: np.ndarray, components: tuple) -> dict[str, np.ndarray]:
    """Per customer who decides to leave: the chance that each department's failures
    were the cause (the service component's share of the hazard in the month of the
    decision, split by the two loads as :func:`cause_departments` splits it); NaN for
    customers who never decide. The expectation of the drawn ``cause_department``: what
    an attribution can hope to recover, without the draw's noise."""
    loads = [service_load(*f, n, edges) for f in (order_fails, request_fails)]
    out = {d: np.full(n, np.nan) for d in FAILURE_DEPARTMENTS}
    rows = np.flatnonzero(np.isfinite(decision))
    if not len(rows):
        return out
    shape = loads[0].shape
    k = np.clip(np.searchsorted(edges, decision[rows], side="right") - 1, 0, shape[1] - 1)
    total = sum(np.broadcast_to(c, shape)[rows, k].astype(np.float64) for c in components)
    service = np.broadcast_to(components[_SERVICE], shape)[rows, k] / np.where(
        total > 0, total, 1.0)
    part = np.column_stack([ld[rows, k] for ld in loads]).astype(np.float64)
    both = part.sum(axis=1)
    p = np.where(both[:, None] > 0, part / np.where(both > 0, both, 1.0)[:, None], 0.5)
    for j, d in enumerate(FAILURE_DEPARTMENTS):
        out[d][rows] = service * p[:, j]
    return out


def revenue_lost(customers: pd.Series, churned_at: pd.Series, orders: pd.DataFrame,
                 subscriptions: pd.DataFrame) -> np.ndarray:
    """Per customer who left: order revenue of the 365 days before leaving plus 12 x
    the MRR running when they left (NaN for customers who stay)."""
    when = pd.Series(churned_at.to_numpy(), index=customers.to_numpy())
    o = orders[["customer_id", "ordered_at", "amount"]].assign(
        left=lambda d: d["customer_id"].map(when))
    o = o[o["left"].notna() & (o["ordered_at"] <= o["left"])
          & (o["ordered_at"] > o["left"] - pd.Timedelta(days=365))]
    rev = o.groupby("customer_id")["amount"].sum()
    s = subscriptions.assign(left=lambda d: d["customer_id"].map(when))
    s = s[s["left"].notna() & (s["started_at"] < s["left"])
          & (s["ended_at"].isna() | (s["ended_at"] >= s["left"] - pd.Timedelta(days=1)))]
    mrr = s.groupby("customer_id")["mrr"].sum() * 12
    total = rev.add(mrr, fill_value=0.0)
    out = customers.map(total).fillna(0.0).to_numpy(dtype=float)
    return np.where(churned_at.notna().to_numpy(), out, np.nan)
