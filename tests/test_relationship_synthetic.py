"""The relationship analysis against the truth of the synthetic business.

Generator settings: ``make_business(n_customers=10_000, months=24, seed=s,
survey=SurveySettings(effect=e))`` for seeds 1, 2, 3 and effects 1.0 (as shipped) and
0.5 (every relationship effect halved: attributes on trust, commitment and the NPS
attitude; the account manager's care on perceptions; trust and commitment on buying,
spending, portal use, requests, referrals and the competitor's pull). Measurement
(loadings, noise) and non-response keep their settings. Each run ingests the tables
and calls ``analyse`` with 200 bootstrap draws.
"""

from __future__ import annotations

import pandas as pd
import pytest

import loyalist
from loyalist.datasets import make_business
from loyalist.datasets._relationship import SurveySettings
from loyalist.relationship import analyse, relative_weights

pytestmark = pytest.mark.slow
SETTINGS = [(seed, effect) for seed in (1, 2, 3) for effect in (1.0, 0.5)]
TABLES = ("customers", "orders", "subscriptions", "requests", "feedback", "survey_answers",
          "events")
_RUNS: dict = {}


def _run(seed: int, effect: float):
    if (seed, effect) not in _RUNS:
        b = make_business(n_customers=10_000, months=24, seed=seed,
                          survey=SurveySettings(effect=effect))
        with loyalist.connect(":memory:") as s:
            for name in TABLES:
                s.ingest(name, b.tables[name])
            _RUNS[(seed, effect)] = (b, analyse(s, n_boot=200))
    return _RUNS[(seed, effect)]


@pytest.mark.parametrize("seed, effect", SETTINGS)
def test_reliability_within_005_of_the_truth(seed, effect):
    b, res = _run(seed, effect)
    truth = b.truth["reliability"].set_index("construct")["reliability"]
    for r in res.reliability:
        print(f"{r.construct}: alpha {r.alpha:.3f}, omega {r.omega:.3f}, truth "
              f"{truth[r.construct]:.3f}")
        assert abs(r.omega - truth[r.construct]) < 0.05
        assert abs(r.alpha - truth[r.construct]) < 0.05
        assert r.omega_ci[0] < r.omega < r.omega_ci[1]


@pytest.mark.parametrize("seed, effect", SETTINGS)
def test_drivers_in_the_true_order(seed, effect):
    b, res = _run(seed, effect)
    truth = b.truth["drivers"]
    # the generator's structural order is also the order of the true relative weights
    # of the latent perceptions among the respondents (the estimand)
    latent = b.truth["relationship"].set_index("customer_id")
    resp = b.truth["responses"]
    cols = [c for c in latent.columns if c.startswith("perceived_")]
    P = latent.loc[resp["customer_id"], cols].reset_index(drop=True)
    P.columns = [c.removeprefix("perceived_") for c in cols]
    for outcome, latent_y in (("trust", "trust"), ("commitment", "commitment"),
                              ("nps", "expected_nps")):
        order = _true_order(truth, outcome)
        rw = relative_weights(P, resp[latent_y]).sort_values(ascending=False)
        assert list(rw.index[:3]) == order[:3], (outcome, rw)
        print(f"{outcome}: estimated {res.drivers[outcome].top(3)}, truth {order[:3]}")
    for outcome in ("trust", "commitment"):
        assert res.drivers[outcome].top(3) == _true_order(truth, outcome)[:3]
    # NPS (one noisy item): the first driver always; the top three, see below
    assert res.drivers["nps"].top(1) == _true_order(truth, "nps")[:1]


def _true_order(truth: pd.DataFrame, outcome: str) -> list[str]:
    return truth[truth["outcome"] == outcome].sort_values("rank")["attribute"].tolist()


def test_nps_drivers_top_three_in_five_of_six_runs():
    hits = [_run(s, e)[1].drivers["nps"].top(3) == _true_order(_run(s, e)[0].truth["drivers"],
                                                                 "nps")[:3]
            for s, e in SETTINGS]
    print(f"NPS top three in the true order in {sum(hits)} of {len(hits)} runs")
    assert sum(hits) >= 5


@pytest.mark.parametrize("seed, effect", SETTINGS)
def test_silent_promoters_found_from_behaviour(seed, effect):
    from sklearn.metrics import roc_auc_score

    b, res = _run(seed, effect)
    p = res.people.set_index("customer_id")
    truth = b.truth["customers"].set_index("customer_id").loc[p.index]
    silent = p["silent"].to_numpy()
    auc = roc_auc_score(truth["promoter"][silent], p["p_promoter"][silent])
    predicted, actual = p["p_promoter"][silent].mean(), truth["p_promoter_answer"][silent].mean()
    print(f"{silent.sum()} silent customers: ROC AUC {auc:.3f}; predicted promoter share "
          f"{predicted:.3f}, true chance of a 9-10 answer {actual:.3f}")
    assert silent.sum() > 1000 and auc >= 0.75
    # calibrated for the silent: closer to their truth than the answerers' own share
    answerers = res.advocacy.summary_["promoter_share_answerers"]
    assert abs(predicted - actual) < abs(answerers - actual)


def test_at_risk_promoters_leave_at_least_twice_as_often_as_loyal_advocates():
    """Leaving: the truth's ``will_churn`` (leaves within 90 days after the date). The
    customers who had already gone unnoticed (``churned``, yet still looking active)
    count as staying here; counting them as leaving too is printed beside it."""
    rows = []
    for seed, effect in SETTINGS:
        b, res = _run(seed, effect)
        p = res.people.set_index("customer_id")
        truth = b.truth["customers"].set_index("customer_id").loc[p.index]
        for seg in ("at-risk promoter", "loyal advocate"):
            sel = (p["relationship_segment"] == seg).to_numpy()
            rows.append({"seed": seed, "effect": effect, "segment": seg,
                         "customers": int(sel.sum()),
                         "left": int(truth["will_churn"][sel].sum()),
                         "gone_by_then": int((truth["will_churn"] | truth["churned"])[sel].sum())})
    t = pd.DataFrame(rows)
    t["rate"] = t["left"] / t["customers"]
    t["rate_gone"] = t["gone_by_then"] / t["customers"]
    wide = t.pivot_table(index=["seed", "effect"], columns="segment",
                         values=["customers", "rate", "rate_gone"])
    ratio = wide["rate"]["at-risk promoter"] / wide["rate"]["loyal advocate"]
    ratio_gone = wide["rate_gone"]["at-risk promoter"] / wide["rate_gone"]["loyal advocate"]
    pooled = t.groupby("segment")[["left", "customers"]].sum()
    rate = pooled["left"] / pooled["customers"]
    pooled_ratio = rate["at-risk promoter"] / rate["loyal advocate"]
    print(pd.DataFrame({"at-risk": wide["customers"]["at-risk promoter"],
                        "ratio": ratio, "counting those gone already": ratio_gone}
                       ).round(2).to_string())
    print(f"pooled over the six runs: at-risk promoters leave {pooled_ratio:.2f}x as often")
    assert (wide["customers"]["at-risk promoter"] >= 30).all()
    assert (ratio >= 2.0).all() and pooled_ratio >= 2.0
    assert (ratio_gone >= 2.0).all()
