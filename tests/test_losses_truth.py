"""Must-show (issue 19): department attribution of lost revenue within 5 points of the
generator's truth for each department, across three seeds and with the failure effects
halved.

Generator settings: ``make_business(3000, months=24, seed=s, events=False,
failure_effect=e)`` for seeds 1, 2, 3 and e = 1.0 and 0.5. The truth of each lost
customer (``truth["customers"].cause_department``: fulfilment, service or none) is
compared on the customers the records show as lost, each weighed by the same yearly
revenue the estimator uses; departments whose failures raise no hazard in the generator
(billing, product, sales) have a truth of 0.
"""

from functools import lru_cache

import pytest

import loyalist
from loyalist.datasets import make_business
from loyalist.team import department_losses

DEPTS = ("fulfilment", "service", "billing", "product", "sales")


@lru_cache(maxsize=8)
def attribution_vs_truth(seed: int, effect: float, n: int = 3000) -> dict:
    b = make_business(n, 24, seed=seed, events=False, failure_effect=effect)
    with loyalist.connect(":memory:") as s:
        for name in ("customers", "orders", "subscriptions", "requests", "feedback"):
            s.ingest(name, b.tables[name])
        r = department_losses(s)
    c = r.customers
    cause = b.truth["customers"].set_index("customer_id")["cause_department"]
    truth = c["customer_id"].map(cause).fillna("none")
    total = c["revenue"].sum()
    out = {}
    for d in DEPTS:
        out[d] = (float(c.loc[truth == d, "revenue"].sum() / total),
                  float((c[d] * c["revenue"]).sum() / total),
                  float((c[f"naive:{d}"] * c["revenue"]).sum() / total))
    return out


def _show(seed, effect, got):
    for d, (truth, est, naive) in got.items():
        print(f"seed {seed} effect {effect} {d}: truth {truth:.3f} estimate {est:.3f} "
              f"naive {naive:.3f}")


@pytest.mark.slow
@pytest.mark.parametrize("effect", [1.0, 0.5])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_attribution_beats_naive_and_clears_departments_without_effect(seed, effect):
    """What holds today: service within 5 points, billing and sales (no effect in the
    generator) under 5 points, and a smaller worst error than the naive reading."""
    got = attribution_vs_truth(seed, effect)
    _show(seed, effect, got)
    err = {d: abs(est - t) for d, (t, est, _n) in got.items()}
    naive = {d: abs(n - t) for d, (t, _e, n) in got.items()}
    assert err["service"] <= 0.05 and err["billing"] <= 0.05 and err["sales"] <= 0.05
    assert max(err.values()) < max(naive.values())


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="Not met (measured 2026-12-03, 3,000 customers): "
                   "fulfilment off by 5-23 points (truth 0.09-0.31, estimate 0.20-0.40) and "
                   "product over-attributed by up to 13 points in 4 of 6 runs; service, "
                   "billing and sales within 5 points in 6 of 6. See notes/losses.md.")
@pytest.mark.parametrize("effect", [1.0, 0.5])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_department_attribution_within_5_points(seed, effect):
    got = attribution_vs_truth(seed, effect)
    errors = {d: abs(est - truth) for d, (truth, est, _n) in got.items()}
    assert max(errors.values()) <= 0.05, errors
