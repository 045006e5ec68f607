"""Must show (issue 19): agent rankings correlate with the true agent quality at Spearman
0.8 or more for agents with 50+ contacts, across three seeds and with the generator's
effects halved.

Generator settings: ``make_business(n_customers=6000, months=24, seed=s, events=False,
agent_quality=e)`` for s in 0, 1, 2 and e in 1.0 (full) and 0.5 (halved): 20 agents in six
teams, each agent's true quality standardised over them; skill = quality x e multiplies
P(no answer) by exp(-0.5 skill), hours to answer by exp(-0.6 skill), P(unresolved) by
exp(-0.6 skill) and moves the satisfaction of survey answers rating the agent's requests
by 0.6 skill points. The ranking: ``agent_table(..., period_days=730)['rank_score']``
(empirical-Bayes shrunk responsiveness, first-contact resolution and satisfaction, each
standardised, averaged), agents with 50+ contacts (all 20, 550-1,100 each).

Measured (load ~10): full effect 0.89, 0.90, 0.95; halved 0.66, 0.75, 0.83. The halved
target is not met: the teams differ in how fast they answer and how long their matters
take (the generator's team process), which a ranking across teams cannot tell from
their agents' quality; adjusting for the mix of channels and categories made it worse
(it removes each team's mean quality too). The halved test is a strict xfail.
"""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

import loyalist
from loyalist.datasets import make_business
from loyalist.settings import Settings
from loyalist.team.agents import agent_table

pytestmark = pytest.mark.slow


def _rho(seed: int, effect: float, tmp_path) -> float:
    b = make_business(n_customers=6000, months=24, seed=seed, events=False,
                      agent_quality=effect)
    path = tmp_path / f"s{seed}_{effect}.duckdb"
    with loyalist.connect(path) as s:
        for name in ("customers", "orders", "requests", "feedback", "staff"):
            s.ingest(name, b.tables[name])
        a = agent_table(s, b.as_of, Settings(), period_days=730)
    a = a[a["handled"] >= 50]
    q = b.truth["agents"].set_index("agent")["quality"]
    rho = stats.spearmanr(a["rank_score"], a["agent"].map(q)).statistic
    print(f"seed {seed} effect {effect}: {len(a)} agents, Spearman {rho:.2f}")
    return float(rho)


def test_agent_ranking_follows_true_quality_full_effect(tmp_path):
    rhos = [_rho(seed, 1.0, tmp_path) for seed in (0, 1, 2)]
    assert min(rhos) >= 0.8, rhos


@pytest.mark.xfail(strict=True, reason="halved effects: Spearman 0.66, 0.75, 0.83 "
                   "(team process differences confound a ranking across teams)")
def test_agent_ranking_follows_true_quality_halved(tmp_path):
    rhos = [_rho(seed, 0.5, tmp_path) for seed in (0, 1, 2)]
    print(pd.Series(rhos))
    assert min(rhos) >= 0.8, rhos
