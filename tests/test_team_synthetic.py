"""Uplift targeting on the synthetic business (slow): does ranking the worklist's
candidates by learned uplift save 25% more customers than ranking them by risk, for the
same number of contacts?

Generator settings (tests/_outreach.py's world): make_business(n_customers=3000,
months=24, seed in 0, 1, 2, events=False); scored 120 days before the records end
(horizon 90, one training date); one discretionary playbook (min_p_leave 0.05, half held
out, worklist seed 7); simulate_outreach(seed=3, window_days=90, heterogeneity=0.9: the
persuadable effect is 0.1 to 1.6 times the playbook's, from a request in the 90 days
before and a year of tenure) in two worlds:

- ``groups``: the default response groups, LOST_CAUSE_SHARE 0.6 of the leavers who had
  decided to go for a reason outside the firm's reach (needs changed, a competitor) and
  SLEEPING_DOG_SHARE 0.2 of the quiet (no request in a year) customers of over a year who
  would stay; effects: persuadable uplift 0.6 and sleeping-dog harm HARM 0.25, halved
  0.3 and 0.125 (the shares are facts about the customers and stay);
- ``no groups``: both shares and the harm 0 (the simulation before the groups), uplift
  0.6, halved 0.3.

The learner (the default X-learner on the features of loyalist.team.targeting) is
cross-fitted on two halves of the customers and ranks the other half; the top 30% by
predicted uplift against the top 30% by P(leave), counted in expected net saves (the
truth's expected_effect: would lapse x P(keep) minus P(harm)), with a bootstrap interval.
Beside each figure the ceiling: the same features' best ranking (expected_effect learned
from the truth itself, cross-fitted). Cases the learner misses are strict expected
failures quoting the figures measured (bench/uplift_targeting.py, docs/team.md).
"""

from __future__ import annotations

import pytest

from _outreach import learner_and_ceiling, outreach_world, saves_over_risk, units_with_truth
from loyalist.datasets import make_business
from loyalist.datasets.outreach import HARM

WORLDS = {"groups": {}, "no groups": {"lost_cause_share": 0.0, "sleeping_dog_share": 0.0}}
#: (world, seed, effect scale): the learner's ratio and the ceiling's, measured
MISSES = {
    ("groups", 0, 1.0): "1.24x (95% 1.12-1.37; ceiling 1.36x)",
    ("groups", 0, 0.5): "1.00x (0.90-1.11; ceiling 1.36x)",
    ("groups", 1, 1.0): "1.08x (0.98-1.20; ceiling 1.28x)",
    ("groups", 1, 0.5): "0.97x (0.87-1.09; ceiling 1.28x)",
    ("groups", 2, 1.0): "1.10x (0.96-1.25; ceiling 1.36x)",
    ("groups", 2, 0.5): "0.88x (0.76-1.02; ceiling 1.36x)",
    ("no groups", 0, 0.5): "1.00x (0.89-1.12; ceiling 1.34x)",
    ("no groups", 1, 1.0): "1.10x (1.00-1.22; ceiling 1.26x)",
    ("no groups", 1, 0.5): "1.03x (0.94-1.13; ceiling 1.26x)",
    ("no groups", 2, 1.0): "1.11x (1.00-1.23; ceiling 1.35x)",
    ("no groups", 2, 0.5): "0.90x (0.78-1.01; ceiling 1.35x)",
}


def _case(world, seed, scale):
    miss = MISSES.get((world, seed, scale))
    marks = ([pytest.mark.xfail(strict=True, raises=AssertionError,
                                reason=f"uplift ranking saves {miss} the risk ranking's")]
             if miss is not None else [])
    return pytest.param(world, seed, scale, marks=marks, id=f"{world}-seed{seed}-x{scale}")


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("uplift_target")


@pytest.mark.slow
@pytest.mark.parametrize("world, seed, scale", [_case(w, s, x) for w in WORLDS
                                                 for s in (0, 1, 2) for x in (1.0, 0.5)])
def test_uplift_ranking_saves_a_quarter_more_than_risk(tmp, world, seed, scale):
    b = make_business(n_customers=3000, months=24, seed=seed, events=False)
    harm = HARM * scale if world == "groups" else 0.0
    w = outreach_world(tmp, business=b, uplift=0.6 * scale, harm=harm, heterogeneity=0.9,
                       name=f"{world.replace(' ', '_')}_{seed}_{scale}.duckdb",
                       **WORLDS[world])
    units = units_with_truth(w)
    s, c = learner_and_ceiling(units)
    ratio, lo, hi = saves_over_risk(units, s, seed=seed)
    cr, clo, chi = saves_over_risk(units, c, seed=seed)
    print(f"{world}, seed {seed}, effects x{scale}: {len(units)} units; uplift ranking "
          f"{ratio:.2f}x the risk ranking's saves (95% {lo:.2f}-{hi:.2f}); ceiling "
          f"{cr:.2f}x ({clo:.2f}-{chi:.2f})")
    # the ceiling is what the features allow: a target it misses no learner can meet
    assert cr >= 1.25, f"ceiling {cr:.2f}x"
    assert ratio >= 1.25, f"{ratio:.2f}x (95% {lo:.2f}-{hi:.2f}), ceiling {cr:.2f}x"
