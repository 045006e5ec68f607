"""Must-show (issue 19): department attribution of lost revenue within 5 points of the
generator's truth for each department, across three seeds and with the failure effects
halved.

Generator settings: ``make_business(3000, months=24, seed=s, events=False,
failure_effect=e)`` for seeds 1, 2, 3 and e = 1.0 and 0.5. The truth of each lost
customer (``truth["customers"].cause_department``: fulfilment, service or none) is
compared on the customers the records show as lost, each weighed by the same yearly
revenue the estimator uses; departments whose failures raise no hazard in the generator
(billing, product, sales) have a truth of 0. Beside the drawn truth, its expectation:
``p_cause_fulfilment`` and ``p_cause_service``, the chance behind each draw (the
generator's own probabilities), which no attribution can beat the draw's noise to.

Why 3,000 customers (re-measured 2026-12-04 on main c98d6aa, the same figures as on
2026-12-03): a larger firm shrinks both noises (the drawn fulfilment share's standard
deviation 3.4-5.4 points at 3,000 customers, 2.0-2.6 at 12,000, 1.5-1.8 at 24,000,
0.9-1.2 at 48,000) but not the model's bias, and the target is met on no size tried.
Every department within 5 points of the drawn truth in 1, 3, 2 and 4 of the 6 runs at
3,000, 12,000, 24,000 and 48,000 customers (of the expected truth: the same counts);
fulfilment is over the drawn truth in 6 of 6 runs at 24,000 and at 48,000 (by
2.1-15.1 points; at half effect 10.7-15.1 at 24,000 and 3.4-10.9 at 48,000). A larger
business would cost little (one run in a fresh process, the business and
``department_losses``: 6-7 s at 3,000, 9-12 s at 24,000 and 48,000 customers, peak 0.36,
0.57 and 0.77 GB; this file: 14 s wall) but shows the same misses. See docs/team.md.
"""

from functools import lru_cache

import pytest

import loyalist
from loyalist.datasets import make_business
from loyalist.team import department_losses

DEPTS = ("fulfilment", "service", "billing", "product", "sales")


@lru_cache(maxsize=8)
def attribution_vs_truth(seed: int, effect: float, n: int = 3000) -> dict:
    """Per department: (drawn truth, expected truth, estimate, naive, interval low,
    interval high) shares of the lost customers' revenue."""
    b = make_business(n, 24, seed=seed, events=False, failure_effect=effect)
    with loyalist.connect(":memory:") as s:
        for name in ("customers", "orders", "subscriptions", "requests", "feedback"):
            s.ingest(name, b.tables[name])
        r = department_losses(s)
    c = r.customers
    t = b.truth["customers"].set_index("customer_id")
    truth = c["customer_id"].map(t["cause_department"]).fillna("none")
    total = c["revenue"].sum()
    o = r.overall().set_index("department")
    out = {}
    for d in DEPTS:
        p = (c["customer_id"].map(t[f"p_cause_{d}"]).fillna(0.0)
             if f"p_cause_{d}" in t else 0.0 * c["revenue"])
        out[d] = (float(c.loc[truth == d, "revenue"].sum() / total),
                  float((p * c["revenue"]).sum() / total),
                  float((c[d] * c["revenue"]).sum() / total),
                  float((c[f"naive:{d}"] * c["revenue"]).sum() / total),
                  float(o.loc[d, "share_low"]), float(o.loc[d, "share_high"]))
    return out


def _show(seed, effect, got):
    for d, (truth, expected, est, naive, lo, hi) in got.items():
        print(f"seed {seed} effect {effect} {d}: truth {truth:.3f} expected {expected:.3f} "
              f"estimate {est:.3f} ({lo:.3f}-{hi:.3f}) naive {naive:.3f}")


@pytest.mark.slow
@pytest.mark.parametrize("effect", [1.0, 0.5])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_attribution_beats_naive_and_clears_departments_without_effect(seed, effect):
    """What holds today: service within 5 points, billing and sales (no effect in the
    generator) under 5 points, and a smaller worst error than the naive reading."""
    got = attribution_vs_truth(seed, effect)
    _show(seed, effect, got)
    err = {d: abs(v[2] - v[0]) for d, v in got.items()}
    naive = {d: abs(v[3] - v[0]) for d, v in got.items()}
    assert err["service"] <= 0.05 and err["billing"] <= 0.05 and err["sales"] <= 0.05
    assert max(err.values()) < max(naive.values())


_OFF = pytest.mark.xfail(strict=True, reason=(
    "Not met (measured 2026-12-03, again 2026-12-04, 3,000 customers, kinds selected by "
    "a one-sided Wald test): fulfilment off by 2.0-22.8 points (truth 0.09-0.31, estimate 0.19-0.40; "
    "within 5 only on seed 2 at full effect) and product given 6.1-11.2 points (truth "
    "0) on seeds 1 and 3; service, billing and sales within 5 points in 6 of 6. The draw "
    "alone is up to 7.2 points from its own expectation (fulfilment, seed 1 at half "
    "effect: drawn 0.256, expected 0.184; its standard deviation 3.4-5.4 points per "
    "run, so even the expectation itself is within 5 points of the draw on all six runs "
    "with a chance of about 0.18). Not met at 12,000, 24,000 or 48,000 customers either "
    "(every department within 5 points in 3, 2 and 4 of 6 runs; fulfilment over the "
    "drawn truth by 10.7-15.1 points at half effect on all three seeds at 24,000). See "
    "docs/team.md."))


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "effect"), [
    pytest.param(1, 1.0, marks=_OFF), (2, 1.0), pytest.param(3, 1.0, marks=_OFF),
    pytest.param(1, 0.5, marks=_OFF), pytest.param(2, 0.5, marks=_OFF),
    pytest.param(3, 0.5, marks=_OFF)])
def test_department_attribution_within_5_points(seed, effect):
    got = attribution_vs_truth(seed, effect)
    errors = {d: abs(v[2] - v[0]) for d, v in got.items()}
    assert max(errors.values()) <= 0.05, errors


_MISSED = pytest.mark.xfail(strict=True, reason=(
    "Not met (measured 2026-12-03, again 2026-12-04, 3,000 customers, kinds selected): "
    "against the generator's expected shares, fulfilment within 5 points in 4 of 6 runs (off by "
    "0.3-22.3 points), product in 2 of 6 (6.1-11.2; truth 0); every department within 5 "
    "points only on seed 2 at full effect. At 24,000 customers: 2 of 6 (fulfilment "
    "over its expectation by 1.6-14.3 points in every run); 48,000: 4 of 6. See "
    "docs/team.md."))


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "effect"), [
    pytest.param(1, 1.0, marks=_MISSED), (2, 1.0), pytest.param(3, 1.0, marks=_MISSED),
    pytest.param(1, 0.5, marks=_MISSED), pytest.param(2, 0.5, marks=_MISSED),
    pytest.param(3, 0.5, marks=_MISSED)])
def test_department_attribution_within_5_points_of_the_expected_truth(seed, effect):
    """The same bar against the expectation of the drawn causes (the generator's own
    probability of each cause per lost customer): what is left is the model's error."""
    got = attribution_vs_truth(seed, effect)
    errors = {d: abs(v[2] - v[1]) for d, v in got.items()}
    assert max(errors.values()) <= 0.05, errors


RUNS = [(s, e) for s in (1, 2, 3) for e in (1.0, 0.5)]
#: departments with a failure kind in these records (sales has none: its share and
#: interval are exactly 0, a coverage that proves nothing)
WEIGHED = ("fulfilment", "service", "billing", "product")


def _coverage(which: int) -> tuple[int, int, list]:
    missed, covered = [], 0
    for seed, effect in RUNS:
        got = attribution_vs_truth(seed, effect)
        _show(seed, effect, got)
        for d in WEIGHED:
            truth, lo, hi = got[d][which], got[d][4], got[d][5]
            if lo - 1e-9 <= truth <= hi + 1e-9:
                covered += 1
            else:
                missed.append((seed, effect, d, round(truth, 3), round(lo, 3), round(hi, 3)))
    return covered, len(RUNS) * len(WEIGHED), missed


@pytest.mark.slow
def test_interval_covers_the_drawn_truth_at_its_stated_rate():
    """Across the six runs, the 90% interval on each department's share covers the drawn
    truth as often as a calibrated 90% interval would (at least the binomial 5% quantile
    of the pairs checked). Measured 2026-12-03: 24 of 24 (seeds 4 and 5, held out: 13 of
    16); before the kinds were selected 18 of 24 (product's share, truth 0, above the
    interval's lower end in 4 of 6 runs)."""
    from scipy.stats import binom

    covered, total, missed = _coverage(0)
    print(f"covered {covered} of {total}; missed {missed}")
    assert covered >= binom.ppf(0.05, total, 0.9), missed
