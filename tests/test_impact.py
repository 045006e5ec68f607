"""Impact: simulated outreach with a known effect in the synthetic business, recovered by
``measure_impact`` within its interval; the interval methods against hand computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.datasets import make_business, simulate_outreach
from loyalist.decisions.scoring import score
from loyalist.decisions.worklist import build_worklist, helps_factors, open_items
from loyalist.decisions.worklist.impact import measure_impact, newcombe, welch, wilson
from loyalist.errors import DataError
from loyalist.settings.worklist import load_playbooks
from loyalist.store.worklist import assignments as worklist_assignments

UPLIFT = {"save_larger": 0.6, "save_small": 0.0}
PLAYBOOKS = """
[worklist]
use_defaults = false
window_days = 90

[[worklist.playbook]]
name = "save_larger"
segment = ["medium", "key account"]
min_p_leave = 0.15
action = "Save call"
control_share = 0.5

[[worklist.playbook]]
name = "save_small"
segment = "small"
min_p_leave = 0.15
action = "Save call"
control_share = 0.5
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A business scored 120 days before its records end, a worklist with half of each
    playbook held out, and the outreach the team did, ingested."""
    tmp = tmp_path_factory.mktemp("impact")
    business = make_business(n_customers=4000, months=24, seed=21, events=False)
    store = loyalist.connect(tmp / "s.duckdb")
    for name in ("customers", "orders", "subscriptions", "requests", "feedback"):
        store.ingest(name, business.tables[name])
    as_of = business.as_of - pd.Timedelta(days=120)
    score(store, as_of, horizon=90, n_train_dates=1)
    (tmp / "playbooks.toml").write_text(PLAYBOOKS)
    run = build_worklist(store, as_of, playbooks=tmp / "playbooks.toml", seed=7)
    assignments = worklist_assignments(store).to_pandas()
    # the response groups off (lost causes, sleeping dogs): this fixture loads every order
    # before the outreach, so a sleeping dog's orders could not be taken away
    sim = simulate_outreach(business, assignments, UPLIFT, window_days=90, seed=3,
                            lost_cause_share=0, sleeping_dog_share=0, harm=0)
    store.ingest("orders", sim.orders)
    store.ingest("touches", sim.touches)
    yield business, store, run, assignments, sim
    store.close()


def test_impact_recovers_the_true_effect(world):
    business, store, run, assignments, sim = world
    res = measure_impact(store, window_days=90, as_of=business.as_of)
    table = res.table.set_index("playbook")
    true = sim.true_effect().set_index("playbook")
    print(pd.concat([true[["n", "uplift", "revenue_uplift"]].add_prefix("true_"),
                     table[["n_treated", "n_control", "uplift", "ci_low", "ci_high",
                            "revenue_uplift", "revenue_ci_low", "revenue_ci_high"]]],
                    axis=1).round(4).to_string())
    assert res.pending == 0
    # every assignment measured, in the arm it was drawn in
    for name in UPLIFT:
        arms = assignments[assignments["playbook"] == name]["arm"].value_counts()
        assert table.loc[name, "n_treated"] == arms["treatment"]
        assert table.loc[name, "n_control"] == arms["control"]
        assert min(arms) >= 150
    # a real effect: inside the interval, and the interval excludes zero
    big = table.loc["save_larger"]
    assert true.loc["save_larger", "uplift"] > 0.05
    assert big["ci_low"] <= true.loc["save_larger", "uplift"] <= big["ci_high"]
    assert big["ci_low"] > 0 and big["enough"]
    assert big["verdict"].startswith("Outreach kept more customers")
    assert big["revenue_ci_low"] <= true.loc["save_larger", "revenue_uplift"] <= \
        big["revenue_ci_high"]
    # no effect: the truth is exactly zero and the evidence says it cannot tell
    small = table.loc["save_small"]
    assert true.loc["save_small", "uplift"] == 0
    assert small["ci_low"] <= 0 <= small["ci_high"]
    assert not small["enough"] and small["verdict"].startswith("Not enough evidence")
    overall = table.loc["overall"]
    assert overall["ci_low"] <= true.loc["overall", "uplift"] <= overall["ci_high"]


def test_controls_were_never_listed_and_touched(world):
    _business, store, run, assignments, sim = world
    controls = set(assignments.loc[assignments["arm"] == "control", "customer_id"])
    treated = set(assignments.loc[assignments["arm"] == "treatment", "customer_id"])
    listed = set(open_items(store)["customer_id"]) | set(run.items["customer_id"])
    assert controls and not controls & listed
    assert set(run.items["customer_id"]) == treated
    assert set(sim.touches["customer_id"]) <= treated
    assert run.held_out == len(controls)
    # the draw is about the share asked for, per playbook
    share = assignments.groupby("playbook")["arm"].apply(lambda a: (a == "control").mean())
    assert ((share > 0.4) & (share < 0.6)).all()


def test_logged_touches_close_the_items_they_answer(world):
    business, store, run, _assignments, sim = world
    later = pd.Timestamp(run.as_of) + pd.Timedelta(days=10)
    rerun = build_worklist(store, later, playbooks=run_playbooks(store), seed=7)
    closing = sim.touches[sim.touches["outcome"] != "no-answer"]["customer_id"]
    still = set(rerun.items["customer_id"])
    assert rerun.closed >= len(set(closing))
    assert not set(closing) & still


def run_playbooks(store):
    return Path(store.path).parent / "playbooks.toml"


def test_contact_helps_is_learned_from_the_control_group(world):
    business, store, _run, _assignments, _sim = world
    pbs = load_playbooks(run_playbooks(store))
    before = helps_factors(store, pbs, as_of=business.as_of - pd.Timedelta(days=60))
    assert before == {p.name: p.contact_helps for p in pbs}  # no window has ended yet
    helps = helps_factors(store, pbs, as_of=business.as_of)
    t = measure_impact(store, window_days=90, as_of=business.as_of).table.set_index("playbook")
    k = pbs.settings.prior_strength
    for p in pbs:
        r = t.loc[p.name]
        saved = np.clip(r["uplift"] / (1 - r["retention_control"]), 0, 1)
        n = min(r["n_treated"], r["n_control"])
        assert helps[p.name] == pytest.approx((k * p.contact_helps + n * saved) / (k + n))
    assert helps["save_larger"] > pbs.get("save_larger").contact_helps
    assert helps["save_small"] < pbs.get("save_small").contact_helps


def test_interval_methods_against_hand_computation():
    # Wilson: 81 of 263 (Newcombe 1998, table I example gives 0.2553 to 0.3662)
    lo, hi = wilson(81, 263)
    assert lo == pytest.approx(0.2553, abs=5e-4) and hi == pytest.approx(0.3662, abs=5e-4)
    # Newcombe's method 10 on his example 56/70 vs 48/80: 0.0524 to 0.3339
    d, lo, hi = newcombe(56, 70, 48, 80)
    assert d == pytest.approx(0.2) and lo == pytest.approx(0.0524, abs=5e-4)
    assert hi == pytest.approx(0.3339, abs=5e-4)
    # Welch against scipy's own t-test on two samples
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.normal(10, 3, 40), rng.normal(8, 6, 25)
    d, lo, hi = welch(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b))
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert lo == pytest.approx(ci.low) and hi == pytest.approx(ci.high)


def test_impact_before_any_assignment_says_so(tmp_path):
    b = make_business(n_customers=200, months=6, seed=2, events=False)
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        s.ingest("orders", b.tables["orders"])
        res = measure_impact(s)
        assert res.table.empty and res.notes and res.verdict() == "No outreach measured yet."
        with pytest.raises(DataError, match="window_days"):
            measure_impact(s, window_days=0)


def test_simulation_refuses_windows_past_the_records():
    b = make_business(n_customers=100, months=6, seed=2, events=False)
    a = pd.DataFrame({"customer_id": b.tables["customers"]["id"][:5], "playbook": "p",
                      "arm": "treatment", "assigned_at": b.as_of - pd.Timedelta(days=10)})
    with pytest.raises(DataError, match="after the records"):
        simulate_outreach(b, a, {"p": 0.5})
    with pytest.raises(DataError, match="No uplift"):
        simulate_outreach(b, a.assign(assigned_at=b.as_of - pd.Timedelta(days=100)), {})
