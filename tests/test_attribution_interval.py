"""The interval on the losses by department (``loyalist.team.attribution``) where the model
is right: patterns drawn from a known excess-hazard model, each loss's cause drawn with
the true shares, heavy-tailed revenue. A 90% interval must cover the drawn truth about
90% of the time, neither much less (too narrow) nor much more (too wide).

The generator's business, where the model is not exactly right, is checked in
``tests/test_losses_truth.py``.
"""

import numpy as np
import pytest
from scipy.stats import binom

from loyalist.team.attribution import (
    KEEP_Z,
    attribution_interval,
    bootstrap_fits,
    exposure,
    fit_excess,
    kind_shares,
    select_kinds,
)

#: kinds 0 and 1 belong to department 0, kind 2 to department 1; kind 1 raises no hazard
DEPT_OF_KIND = [0, 0, 1]
BETA = np.array([0.010, 0.0, 0.020])
A, G = -4.0, np.array([-0.4])


def _world(rng):
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(4), np.arange(3), [0, 1, 3],
                                indexing="ij"), -1).reshape(-1, 4)
    x, orders = grid[:, :3].astype(float), grid[:, 3]
    z = exposure(orders)
    n = rng.integers(150, 1500, len(x)).astype(float)
    h = np.exp(A + z @ G) + x @ BETA
    d = rng.poisson(n * h).astype(float)
    # one lost customer per departure, in its pattern, with its drawn cause
    rows = np.repeat(np.arange(len(x)), d.astype(int))
    p = kind_shares((A, G, BETA), x[rows], z[rows])
    dept = np.zeros((len(rows), 3))
    for k, j in enumerate(DEPT_OF_KIND):
        dept[:, j] += p[:, k]
    cause = (rng.random(len(rows))[:, None] >= np.cumsum(dept[:, :2], 1)).sum(1)
    revenue = rng.lognormal(8, 1.5, len(rows))
    return x, z, d, n, rows, revenue, cause


@pytest.mark.slow
@pytest.mark.parametrize("select", [False, True])
def test_interval_covers_the_drawn_truth_at_its_rate_when_the_model_is_right(select):
    """Plain, and with the kinds selected (``select_kinds``, each replicate tested the
    same way), as ``department_losses`` does."""
    rng = np.random.default_rng(7)
    covered = total = 0
    widths = []
    for _ in range(40):
        x, z, d, n, rows, revenue, cause = _world(rng)
        fit = fit_excess(x, z, d, n)
        if select:
            fit = select_kinds(x, z, d, n, fit)
        low, high = attribution_interval(x, z, d, n, x[rows], z[rows], revenue,
                                         np.zeros(len(rows), int), 1, DEPT_OF_KIND, 2,
                                         fit, reps=200, seed=int(rng.integers(1 << 30)),
                                         keep_z=KEEP_Z if select else None)
        truth = np.bincount(cause, weights=revenue, minlength=3)
        # row 0: the one group; row 1: every group together (the same here)
        np.testing.assert_allclose(low[0], low[1])
        inside = (low[1] <= truth + 1e-9) & (truth <= high[1] + 1e-9)
        covered += int(inside.sum())
        total += 3
        widths.append((high[1] - low[1]) / revenue.sum())
    lo, hi = binom.ppf(0.01, total, 0.9), binom.ppf(0.99, total, 0.9)
    print(f"covered {covered} of {total} (90% interval; a calibrated one: {lo:.0f}-{hi:.0f});"
          f" mean width {np.mean(widths, 0).round(3)}")
    assert lo <= covered <= hi
    assert np.all(np.mean(widths, 0) > 0.01)


@pytest.mark.slow
def test_one_step_bootstrap_matches_full_refits():
    """The replicates' one Newton step (cheap) against refitting each replicate (the
    fit's cost every time): the spread of each beta agrees within 25%."""
    rng = np.random.default_rng(3)
    x, z, d, n, *_ = _world(rng)
    fit = fit_excess(x, z, d, n)
    one = np.array([f[2] for f in bootstrap_fits(x, z, d, n - d, fit, 150,
                                                 np.random.default_rng(1))])
    r2 = np.random.default_rng(1)
    full = []
    for _ in range(150):
        dr = r2.poisson(d).astype(float)
        nr = dr + r2.poisson(n - d)
        full.append(fit_excess(x, z, dr, nr, start=fit)[2])
    full = np.array(full)
    for k in (0, 2):  # the kinds with an effect (kind 1 sits at its bound)
        assert abs(one[:, k].std() / full[:, k].std() - 1) < 0.25, (one.std(0), full.std(0))
        assert abs(one[:, k].mean() - full[:, k].mean()) < 0.5 * full[:, k].std()


def test_select_kinds_drops_the_kind_without_effect_and_keeps_the_others():
    """Over 15 worlds the kind that raises no hazard keeps a share (beta > 0) in about
    half of the plain fits (its noise is cut at 0 on one side) and in about 5% once the
    kinds are tested; the kinds with an effect are kept."""
    rng = np.random.default_rng(11)
    plain = kept = 0
    for _ in range(15):
        x, z, d, n, *_ = _world(rng)
        fit = fit_excess(x, z, d, n)
        a, g, beta = select_kinds(x, z, d, n, fit)
        plain += int(fit[2][1] > 0)
        kept += int(beta[1] > 0)
        assert beta[0] > 0 and beta[2] > 0, beta
        assert np.all(beta >= 0)
    assert kept <= 3 and kept < plain, (kept, plain)
