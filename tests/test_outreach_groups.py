"""The simulated outreach's response groups (lost causes, persuadables, sure things,
sleeping dogs) on a small synthetic business (1,200 customers, 24 months, seed 8, no
events; tests/_outreach.py's world: uplift 0.6, heterogeneity 0.9, the default shares
and harm): each group is tied to what the records show, the store agrees with the truth
unit by unit, and with the shares 0 the simulation is the one without groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyalist
from _outreach import outreach_world
from loyalist.datasets import simulate_outreach
from loyalist.datasets.outreach import HARM
from loyalist.errors import DataError
from loyalist.team.targeting import uplift_units


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    # lost causes and sleeping dogs are a few dozen at the default shares; the whole of
    # the eligible here, so every check has units to look at
    return outreach_world(tmp_path_factory.mktemp("groups"), n_customers=1200, seed=8,
                          lost_cause_share=1.0, sleeping_dog_share=1.0)


def test_groups_are_tied_to_what_the_records_show(world):
    b, t = world.business, world.sim.truth
    info = b.truth["customers"].set_index("customer_id").reindex(t["customer_id"])
    ends = (t["assigned_at"] + pd.Timedelta(days=90)).to_numpy()
    print(t["group"].value_counts())
    lost = (t["group"] == "lost cause").to_numpy()
    assert lost.sum() > 10
    assert t.loc[lost, "would_lapse"].all() and not t.loc[lost, "kept"].any()
    assert (t.loc[lost, "p_keep"] == 0).all()
    assert set(info["reason"].to_numpy()[lost]) <= {"competitor", "needs_changed"}
    assert (info["decided_at"].to_numpy()[lost] <= t["assigned_at"].to_numpy()[lost]).all()
    assert (info["churned_at"].to_numpy()[lost] < ends[lost]).all()
    # at share 1 every eligible leaver is a lost cause: the persuadables are the others
    pers = (t["group"] == "persuadable").to_numpy()
    beyond = info["reason"].isin(["competitor", "needs_changed"]).to_numpy()
    decided = (info["decided_at"].to_numpy() <= t["assigned_at"].to_numpy())
    assert not (pers & beyond & decided & (info["churned_at"].to_numpy() < ends)).any()
    dogs = (t["group"] == "sleeping dog").to_numpy()
    assert dogs.sum() > 10 and not t.loc[dogs, "would_lapse"].any()
    r = b.tables["requests"]
    for cid, at in t.loc[dogs, ["customer_id", "assigned_at"]].itertuples(index=False):
        mine = r.loc[r["customer_id"] == cid, "opened_at"]
        assert not ((mine < at) & (mine >= at - pd.Timedelta(days=365))).any()
    created = b.tables["customers"].set_index("id")["created_at"]
    tenure = (t["assigned_at"] - t["customer_id"].map(created)).dt.days
    assert (tenure[dogs] > 365).all()
    assert (t.loc[dogs, "p_harm"] == HARM).all() and (t.loc[~dogs, "p_harm"] == 0).all()
    np.testing.assert_allclose(t["expected_effect"],
                               t["would_lapse"] * t["p_keep"] - t["p_harm"])


def test_the_store_agrees_with_the_truth_unit_by_unit(world):
    """What ``loyalist uplift`` reads (retained: an order in the 90 days) is the truth's
    y1 for a treated unit and y0 for a held-out one: orders added for the kept, orders
    taken away from the sleeping dogs a call woke."""
    sim = world.sim
    with loyalist.connect(world.path, read_only=True) as store:
        units = uplift_units(store, world.business.as_of, 90)
    m = units.merge(sim.truth, on=["customer_id", "playbook", "arm"])
    assert len(m) == len(sim.truth)
    want = np.where(m["arm"] == "treatment", m["y1"], m["y0"]).astype(int)
    assert (m["retained"].to_numpy() == want).all()
    woke = m[(m["arm"] == "treatment") & m["harmed"]]
    assert len(woke) > 0 and len(sim.removed_orders) > 0
    assert not woke["y1"].any() or (woke["y1"] <= woke["y0"]).all()
    o = world.business.tables["orders"]
    gone = o[o["id"].isin(sim.removed_orders)].merge(
        sim.truth[["customer_id", "called_at", "harmed", "arm"]], on="customer_id")
    assert (gone["ordered_at"] >= gone["called_at"]).all()
    assert (gone["harmed"] & (gone["arm"] == "treatment")).all()


def test_shares_zero_is_the_simulation_without_groups(world):
    a = world.assignments
    b = world.business
    off = simulate_outreach(b, a, {"save": 0.6}, window_days=90, seed=3, heterogeneity=0.9,
                            lost_cause_share=0, sleeping_dog_share=0, harm=0)
    on = simulate_outreach(b, a, {"save": 0.6}, window_days=90, seed=3, heterogeneity=0.9,
                           lost_cause_share=1.0, sleeping_dog_share=1.0)
    assert set(off.truth["group"]) <= {"persuadable", "sure thing"}
    assert len(off.removed_orders) == 0 and not off.truth["harmed"].any()
    # the groups draw on their own streams: outside the lost causes the same units are kept
    other = (on.truth["group"] != "lost cause").to_numpy()
    assert (off.truth["kept"][other] == on.truth["kept"][other]).all()
    assert (off.truth["p_keep"][other] == on.truth["p_keep"][other]).all()
    assert off.truth["kept"].sum() > on.truth["kept"].sum()
    # a call harms only sleeping dogs: the true effect is lower with the groups
    assert on.true_effect()["uplift"].iloc[-1] < off.true_effect()["uplift"].iloc[-1]
    assert (off.touches["customer_id"].to_numpy() == on.touches["customer_id"].to_numpy()).all()


def test_bad_shares_are_refused(world):
    a, b = world.assignments, world.business
    for kw in ({"lost_cause_share": 1.5}, {"sleeping_dog_share": -0.1},
               {"harm": float("nan")}):
        with pytest.raises(DataError, match="between 0 and 1"):
            simulate_outreach(b, a, {"save": 0.6}, **kw)
