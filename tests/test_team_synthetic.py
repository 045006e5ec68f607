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

The two levers the test could honestly pull, measured (docs/team.md; bench
uplift_targeting.py --peers, --customers 10000) and not pulled:

- a learner for small randomised data: an R-learner with the known propensity (ridge on
  the standardised features), the same as P(leave) x a learned persuadability, and the
  mean of that and the X-learner (the blend), cross-fitted the same way, moved the ratio
  by -0.12 to +0.15 run by run, inside the intervals; only the blend reached 1.25x where
  the X-learner does not, once (groups, seed 0, full: 1.26x against 1.24x; the
  X-learner's own random seed moves its ratio by up to 0.09), so the X-learner stays
  the product's learner (Hillstrom Qini 0.0768 unchanged);
- more outcomes: a business of 10,000 customers (about 3,000 units an arm) is a harder
  test, not an easier one: its risk model is better, the ceiling falls to 1.20-1.33x
  (under 1.25x on two seeds of three), and the learners reach 0.77-1.22x. The test keeps
  3,000 customers (its time).

After the last case the table of every case (learner with 95% interval / ceiling) is
printed (``-s``).
"""

from __future__ import annotations

import pytest

from _outreach import learner_and_ceiling, outreach_world, saves_over_risk, units_with_truth
from loyalist.datasets import make_business
from loyalist.datasets.outreach import HARM
from loyalist.team.targeting import matrix
from loyalist.team.uplift import XLearnerUplift, check_uplift

WORLDS = {"groups": {}, "no groups": {"lost_cause_share": 0.0, "sleeping_dog_share": 0.0}}
#: (world, seed, effect scale): the learner's ratio and the ceiling's, measured after
#: the look-ahead fix of stop 25 (it changed the scores slightly; the case that met
#: the target in stop 24, no groups seed 0 full effect at 1.27x, now reads 1.21x)
MISSES = {
    ('groups', 0, 1.0): "1.15x (95% 1.04-1.28; ceiling 1.36x)",
    ('groups', 0, 0.5): "1.04x (95% 0.93-1.16; ceiling 1.36x)",
    ('groups', 1, 1.0): "1.03x (95% 0.92-1.16; ceiling 1.28x)",
    ('groups', 1, 0.5): "0.93x (95% 0.82-1.04; ceiling 1.28x)",
    ('groups', 2, 1.0): "1.00x (95% 0.87-1.15; ceiling 1.36x)",
    ('groups', 2, 0.5): "0.87x (95% 0.74-1.01; ceiling 1.36x)",
    ('no groups', 0, 1.0): "1.21x (95% 1.10-1.34; ceiling 1.38x)",
    ('no groups', 0, 0.5): "1.02x (95% 0.91-1.14; ceiling 1.38x)",
    ('no groups', 1, 1.0): "1.13x (95% 1.02-1.23; ceiling 1.28x)",
    ('no groups', 1, 0.5): "0.99x (95% 0.88-1.10; ceiling 1.28x)",
    ('no groups', 2, 1.0): "1.01x (95% 0.90-1.14; ceiling 1.36x)",
    ('no groups', 2, 0.5): "0.83x (95% 0.72-0.95; ceiling 1.36x)",
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


@pytest.fixture(scope="module")
def table():
    """Rows of the cases run, printed as one table after the last."""
    rows: list[str] = []
    yield rows
    print("\n| world | seed | effects | units | learner (95%) / ceiling | ranking in force |\n"
          "|---|---|---|---|---|---|")
    print("\n".join(rows))


@pytest.mark.slow
@pytest.mark.parametrize("world, seed, scale", [_case(w, s, x) for w in WORLDS
                                                 for s in (0, 1, 2) for x in (1.0, 0.5)])
def test_uplift_ranking_saves_a_quarter_more_than_risk(tmp, table, world, seed, scale):
    b = make_business(n_customers=3000, months=24, seed=seed, events=False)
    harm = HARM * scale if world == "groups" else 0.0
    w = outreach_world(tmp, business=b, uplift=0.6 * scale, harm=harm, heterogeneity=0.9,
                       name=f"{world.replace(' ', '_')}_{seed}_{scale}.duckdb",
                       **WORLDS[world])
    units = units_with_truth(w)
    s, c = learner_and_ceiling(units)
    ratio, lo, hi = saves_over_risk(units, s, seed=seed)
    # the worklist's own gate (fit_uplift): uplift only when the held-out Qini's 95%
    # interval is above 0
    X, _ = matrix(units)
    check, _, _ = check_uplift(XLearnerUplift(random_state=0), X, units["retained"],
                               units["treated"], seed=0)
    gate = (f"uplift (Qini {check.qini_low:.3f}-{check.qini_high:.3f})" if check.qini_low > 0
            else f"risk (Qini {check.qini_low:.3f}-{check.qini_high:.3f})")
    cr, clo, chi = saves_over_risk(units, c, seed=seed)
    print(f"{world}, seed {seed}, effects x{scale}: {len(units)} units; uplift ranking "
          f"{ratio:.2f}x the risk ranking's saves (95% {lo:.2f}-{hi:.2f}); ceiling "
          f"{cr:.2f}x ({clo:.2f}-{chi:.2f})")
    table.append(f"| {world} | {seed} | x{scale} | {len(units)} | {ratio:.2f}x ({lo:.2f}-"
                 f"{hi:.2f}) / {cr:.2f}x | {gate} |")
    # the ceiling is what the features allow: a target it misses no learner can meet
    assert cr >= 1.25, f"ceiling {cr:.2f}x"
    assert ratio >= 1.25, f"{ratio:.2f}x (95% {lo:.2f}-{hi:.2f}), ceiling {cr:.2f}x"
