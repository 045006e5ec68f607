"""Uplift targeting on the synthetic business (slow): does ranking the worklist's
candidates by learned uplift save more customers than ranking them by risk?

Generator settings: make_business(n_customers=3000, months=24, seed in 0, 1, 2,
events=False); scored 120 days before the records end (horizon 90, one training date);
one discretionary playbook (min_p_leave 0.05, half held out); simulate_outreach with
uplift 0.6 and, halved, 0.3, heterogeneity 0.9 (the effect is 0.1 to 1.6 times the
playbook's, from a request in the 90 days before and a year of tenure: what the records
show). The learner (X-learner, default settings, the features of
loyalist.team.targeting) is cross-fitted on two halves of the customers and ranks the
other half; the top 30% by predicted uplift against the top 30% by P(leave), counted in
expected saves (would lapse x true probability that the contact keeps them).

The issue's target, 1.25x, is NOT met (measured 0.92-1.23x with the shallow LightGBM
X-learner, 0.85-1.10x before; docs/team.md). It cannot be met on these settings: the best
ranking any learner could make from these features (P(lapse | features) from the truth
times the true P(keep)) saves 1.35x, 1.24x and 1.30x on seeds 0, 1, 2
(bench/uplift_targeting.py). The test is a strict expected failure, so it is noticed if
that changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.datasets import make_business, simulate_outreach
from loyalist.decisions.scoring import score
from loyalist.decisions.worklist import build_worklist
from loyalist.team.targeting import matrix, uplift_units
from loyalist.team.uplift import XLearnerUplift

PLAYBOOK = """
[worklist]
use_defaults = false
window_days = 90

[[worklist.playbook]]
name = "save"
min_p_leave = 0.05
action = "Save call"
control_share = 0.5
"""


def _ratio(tmp, seed: int, uplift: float) -> tuple[float, float, float]:
    b = make_business(n_customers=3000, months=24, seed=seed, events=False)
    store = loyalist.connect(tmp / f"s{seed}_{uplift}.duckdb")
    for name in ("customers", "orders", "subscriptions", "requests", "feedback"):
        store.ingest(name, b.tables[name])
    as_of = b.as_of - pd.Timedelta(days=120)
    score(store, as_of, horizon=90, n_train_dates=1)
    (tmp / "pb.toml").write_text(PLAYBOOK)
    build_worklist(store, as_of, playbooks=tmp / "pb.toml", seed=7)
    a = store.raw.execute("SELECT * FROM _loyalist_assignments").df()
    sim = simulate_outreach(b, a, {"save": uplift}, window_days=90, seed=3, heterogeneity=0.9)
    store.ingest("orders", sim.orders)
    store.ingest("touches", sim.touches)
    units = uplift_units(store, b.as_of, 90)
    store.close()
    truth = sim.truth.assign(ek=sim.truth["would_lapse"] * sim.truth["p_keep"])
    units = units.merge(truth[["customer_id", "playbook", "ek"]], on=["customer_id", "playbook"])
    fold = pd.util.hash_pandas_object(units["customer_id"], index=False).to_numpy() % 2
    X, _ = matrix(units)
    y, t = units["retained"].to_numpy(), units["treated"].to_numpy()
    s = np.zeros(len(units))
    for f in (0, 1):
        m = XLearnerUplift().fit(X[fold != f], y[fold != f], t[fold != f])
        s[fold == f] = m.predict_uplift(X[fold == f])
    k = int(0.3 * len(units))
    ek = units["ek"].to_numpy()
    by_uplift, by_risk = np.argsort(-s)[:k], np.argsort(-units["p_leave"].to_numpy())[:k]
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(500):  # customers resampled, the two selections held
        w = rng.poisson(1.0, len(units))
        boot.append((w[by_uplift] * ek[by_uplift]).sum() / max((w[by_risk] * ek[by_risk]).sum(),
                                                               1e-9))
    ratio = ek[by_uplift].sum() / ek[by_risk].sum()
    lo, hi = np.quantile(boot, [0.025, 0.975])
    print(f"seed {seed}, uplift {uplift}: {len(units)} units, expected saves in the top "
          f"{k}: uplift ranking {ek[by_uplift].sum():.1f}, risk ranking "
          f"{ek[by_risk].sum():.1f}, ratio {ratio:.2f} (95% {lo:.2f}-{hi:.2f})")
    return ratio, lo, hi


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="uplift ranking saves 0.92-1.23x the risk ranking's customers, "
                   "not the 1.25x the issue asks; a perfect learner's ceiling on these "
                   "features is 1.24-1.35x (docs/team.md)")
def test_uplift_ranking_saves_a_quarter_more_than_risk(tmp_path):
    ratios = [_ratio(tmp_path, seed, u) for seed in (0, 1, 2) for u in (0.6, 0.3)]
    assert all(r >= 1.25 for r, _lo, _hi in ratios), ratios
