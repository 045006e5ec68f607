"""Issue 20's must-show for the customer council, on the synthetic business across three
seeds and with the generator's effects halved: a 50-member panel's segment shares
within 5 points of the customer base, and a 12-member panel covering every segment
over 5% of customers (also true of the regions over 5%). A plain baseline is measured in
the same run: a simple random sample of current customers (seeded), whose largest
segment gap is printed beside the panel's.

Generator settings: ``make_business(n_customers=2000, months=24, seed=s,
competition=effect, survey=SurveySettings(effect=effect), events=False)`` for seeds 1, 2,
3 and effect 1 (full) and 0.5 (halved): the relationship effects (trust and commitment,
which drive buying and leaving, hence who is a current customer, their value, NPS and
risk) and the competition's are halved together. Scores: the stand-in of ``test_council.business_store`` (P(leave) from the
generator's truth, smoothed), so advocates and valuable customers at risk take their
seats as in use; ``[council]`` defaults (advocates 25%, at risk 25%).
"""

from __future__ import annotations

import numpy as np
import pytest

from loyalist import council
from test_council import business_store, shares

RUNS = [(seed, effect) for seed in (1, 2, 3) for effect in (1.0, 0.5)]


@pytest.mark.slow
@pytest.mark.parametrize("seed, effect", RUNS, ids=[f"seed{s}-effect{e}" for s, e in RUNS])
def test_panels_represent_the_base(seed, effect):
    b, s = business_store(seed=seed, effect=effect, survey=effect)
    try:
        base = council.customer_base(s, b.as_of)
        p50 = council.suggest(s, size=50, as_of=b.as_of)
        p12 = council.suggest(s, size=12, as_of=b.as_of)
    finally:
        s.close()
    gap50 = (shares(p50, base)["panel"] - shares(p50, base)["base"]).abs().max()
    rng = np.random.default_rng(seed)
    srs = base.iloc[rng.choice(len(base), 50, replace=False)]
    gap_srs = (shares(srs, base)["panel"] - shares(srs, base)["base"]).abs().max()
    sh12 = shares(p12, base)
    big = sh12.index[sh12["base"] > 0.05]
    regions = base["region"].value_counts(normalize=True)
    roles = p50["role"].value_counts().to_dict()
    print(f"seed {seed} effect {effect}: {len(base)} current customers; 50-member panel "
          f"largest segment gap {gap50:.3f} (random sample {gap_srs:.3f}); 12-member panel "
          f"covers {int((sh12.loc[big, 'panel'] > 0).sum())} of {len(big)} segments over "
          f"5%, {p12['region'].nunique()} of {int((regions > 0.05).sum())} regions; "
          f"roles {roles}")
    assert gap50 <= 0.05
    assert (sh12.loc[big, "panel"] > 0).all()
    assert set(regions[regions > 0.05].index) <= set(p12["region"])
    assert roles.get("advocate", 0) >= 5 and roles.get("valuable at risk", 0) >= 5
