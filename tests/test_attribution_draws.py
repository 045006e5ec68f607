"""The interval's fast parts (``loyalist.team.attribution``) give what the plain numpy they
replace gives: the lost customers' distinct patterns as ``np.unique(axis=0)`` finds them
(same rows, same order, same inverse), and each customer's drawn cause as the count of
cumulative shares at or below their draw over the customers x departments array."""

import numpy as np

from loyalist.team.attribution import draw_causes, exposure, unique_rows


def _patterns(rng, m):
    counts = rng.poisson([0.3, 0.1, 1.5, 0.05], size=(m, 4)).astype(float)
    return np.column_stack([counts, exposure(rng.poisson(3.0, m))])


def test_unique_rows_is_numpys_unique_by_rows():
    rng = np.random.default_rng(4)
    for m in (1, 2, 500, 20_000):
        a = _patterns(rng, m)
        want, want_inv = np.unique(a, axis=0, return_inverse=True)
        got, got_inv = unique_rows(a)
        assert np.array_equal(got, want)
        assert np.array_equal(got_inv, want_inv.reshape(-1))
        assert np.array_equal(got[got_inv], a)
    got, got_inv = unique_rows(np.zeros((0, 5)))
    assert got.shape == (0, 5) and got_inv.shape == (0,)


def test_drawn_causes_are_the_count_of_cumulative_shares_under_the_draw():
    rng = np.random.default_rng(5)
    shares = rng.dirichlet(np.ones(5), size=300)[:, :4]  # the rest: no department
    shares[rng.random(shares.shape) < 0.3] = 0.0  # departments a pattern never meets
    cum = np.cumsum(shares, axis=1)
    inv = rng.integers(0, len(cum), 50_000)
    u = rng.random(len(inv))
    u[:300] = cum[inv[:300], 1]  # draws exactly on a boundary count it
    want = (u[:, None] >= cum[inv]).sum(axis=1)
    got = draw_causes(cum, inv, u)
    assert np.array_equal(got, want)
    assert set(np.unique(got)) == set(range(5))
