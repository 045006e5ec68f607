"""loyalist team and loyalist uplift on a small synthetic business (1,500 customers,
24 months, seed 5, no events; tests/_outreach.py's world: uplift 0.6, heterogeneity 0.9,
the default response groups): the scorecard's departments, counts and intervals, the
shrinkage of agents' rates, uplift scores from the worklist's hold-outs and the ranking
the worklist says is in force, the outreach budget, and the two commands' JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import loyalist
from _outreach import outreach_world
from loyalist.datasets import make_business
from loyalist.decisions.worklist import build_worklist
from loyalist.settings import Settings
from loyalist.team import fit_uplift, team_report
from loyalist.team.agents import peer_standing, shrink
from loyalist.team.report import LEVEL_WITH_TEAM, standing_text
from loyalist.team.scorecard import katz


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("team")
    w = outreach_world(tmp, n_customers=1500, seed=5, uplift=0.6, heterogeneity=0.9)
    return w.business, w.path, tmp


def test_scorecard_departments_counts_and_intervals(shop):
    b, path, _tmp = shop
    settings = Settings().with_values("departments", names={"fulfilment": "Production"})
    with loyalist.connect(path, read_only=True) as store:
        rep = team_report(store, b.as_of, settings=settings)
    keys = {p.key: p for p in rep.practices}
    assert {"acknowledged", "followed_up", "answered_in_target", "fixed",
            "callback_share"} <= set(keys)
    assert keys["acknowledged"].department == "Production"
    assert keys["answered_in_target"].department == "service"
    cohort = {p.with_gap + p.without for p in rep.practices}
    assert len(cohort) == 1 and cohort.pop() > 500  # one cohort behind every ratio
    for p in rep.practices:
        assert 0 <= p.value <= 1 and p.count > 0
        if p.with_gap and p.without:
            assert p.rr_low <= p.risk_ratio <= p.rr_high
        else:  # nobody (or everybody) met the gap: no ratio rather than a made-up one
            assert np.isnan(p.risk_ratio)
    # the generator tells a delivery date with every order it makes (the simulated
    # outreach's orders carry none)
    assert 0.9 < keys["timeline_explained"].value < 1
    assert keys["timeline_explained"].department == "Production"
    # the business's unanswered requests drive leaving: a late answer is a real gap
    assert keys["answered_in_target"].risk_ratio > 1
    assert 0 < rep.stay_in_touch["share"] <= 1
    assert len(rep.agents) >= 10 and rep.agents["handled"].sum() > 1000
    one = rep.for_agent(rep.agents["agent"].iloc[0])
    assert len(one.agents) == 1


def test_timeline_explained_counts_orders_without_a_delivery_date(tmp_path):
    """Orders with no promised date are the gap; the share and the count equal a pandas
    count of the same period's orders."""
    b = make_business(n_customers=300, months=12, seed=2, events=False)
    orders = b.tables["orders"].copy()
    rng = np.random.default_rng(0)
    orders.loc[rng.random(len(orders)) < 0.3, "promised_at"] = pd.NaT
    with loyalist.connect(tmp_path / "t.duckdb") as store:
        store.ingest("customers", b.tables["customers"])
        store.ingest("orders", orders)
        rep = team_report(store, b.as_of)
    p = {p.key: p for p in rep.practices}["timeline_explained"]
    t = pd.to_datetime(orders["ordered_at"])
    now = (t >= b.as_of - pd.Timedelta(days=90)) & (t < b.as_of)
    assert p.count == int(now.sum())
    assert p.value == pytest.approx(orders.loc[now, "promised_at"].notna().mean())
    assert p.department == "fulfilment" and 0.6 < p.value < 0.8


def test_katz_interval_by_hand():
    rr, lo, hi = katz(30, 100, 15, 100)
    se = np.sqrt(1 / 30 - 1 / 100 + 1 / 15 - 1 / 100)
    assert rr == pytest.approx(2.0)
    assert lo == pytest.approx(2 * np.exp(-1.959964 * se))
    assert hi == pytest.approx(2 * np.exp(1.959964 * se))


def test_shrinkage_ranks_agents_by_their_true_quality():
    """60 agents whose true first-contact resolution spreads 0.70-0.95, each with 20 to
    400 contacts: the shrunk rates rank the agents with 50+ contacts by their truth
    (Spearman >= 0.8), and shrink the small ones more."""
    rng = np.random.default_rng(3)
    true = rng.uniform(0.70, 0.95, 60)
    n = rng.integers(20, 400, 60)
    k = rng.binomial(n, true)
    post, lo, hi, _a, _b = shrink(k, n)
    big = n >= 50
    rho = stats.spearmanr(post[big], true[big]).statistic
    print(f"Spearman {rho:.2f} over {big.sum()} agents")
    assert rho >= 0.8
    assert (lo <= post).all() and (post <= hi).all()
    raw = k / n
    pull = np.abs(post - raw) / np.maximum(np.abs(raw - k.sum() / n.sum()), 1e-9)
    assert np.median(pull[n < 60]) > np.median(pull[n > 300])
    # no real spread: everybody gets (about) the team mean
    k2 = rng.binomial(n, 0.85)
    post2 = shrink(k2, n)[0]
    assert post2.std() < (k2 / n).std() / 3


def test_uplift_from_the_holdouts_and_the_ranking_in_force(shop):
    b, path, tmp = shop
    settings = Settings().with_values("team", uplift_min_outcomes=50)
    with loyalist.connect(path) as store:
        run = fit_uplift(store, b.as_of, settings=settings, n_boot=50)
        (pb,) = run.playbooks
        assert pb.n_treated >= 50 and pb.n_control >= 50 and pb.check is not None
        assert pb.check.qini_low <= pb.check.qini <= pb.check.qini_high
        scores = store.table("uplift_scores").to_pandas()
        assert (len(scores) > 0) == pb.in_force
        # the worklist says which ranking is in force, and the budget holds
        later = store.table("scores").as_of.max().execute()
        team = Settings().team.__class__(budget_contacts_per_week=5)
        wl = build_worklist(store, pd.Timestamp(later) + pd.Timedelta(days=1),
                            playbooks=tmp / "pb.toml", seed=8, team=team)
        word = "uplift x value" if pb.in_force else "risk x value"
        assert any(n.startswith("ranking in force") and word in n for n in wl.notes)
        e = store.raw.execute("SELECT count(*) FROM _loyalist_worklist WHERE event = "
                              "'opened' AND NOT must_do AND run_id = ?", [wl.run_id]).fetchone()
        assert e[0] <= 5


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "loyalist.cli.main", *args],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin",
                                                               "COLUMNS": "100"})


def test_commands_json(shop):
    b, path, _tmp = shop
    r = _cli("team", "--store", str(path), "--as-of", str(b.as_of.date()), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["scorecard"] and data["agents"]
    # the table a person reads names each agent as the staff export does, with the id
    # that --agent takes
    named = {a["agent"]: a["name"] for a in data["agents"] if a.get("name")}
    assert named
    r = _cli("team", "--store", str(path), "--as-of", str(b.as_of.date()))
    assert r.returncode == 0, r.stderr
    assert any(f"{name} ({agent})" in r.stdout for agent, name in named.items()), r.stdout
    r = _cli("uplift", "--store", str(path), "--as-of", str(b.as_of.date()), "--no-save",
             "--min-outcomes", "50", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["playbooks"][0]["playbook"] == "save"
    # the table a person reads, in the house style: within the terminal's 100 columns
    r = _cli("uplift", "--store", str(path), "--as-of", str(b.as_of.date()), "--no-save",
             "--min-outcomes", "50")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.lstrip().startswith("save ") for line in lines), r.stdout
    assert "Uplift per playbook (x-learner)" in r.stdout and max(map(len, lines)) <= 100
    r = _cli("uplift", "--store", str(path), "--method", "forest")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "x-learner" in r.stderr


def _contacts(rng, agent_effect, team_slow, n=400):
    """Contacts of agents in two teams (Finance owns billing, Logistics delivery; three
    agents each, two channels), every measure moved by the agent's true effect; the
    team's process slows every answer of the team by ``team_slow[team]``."""
    rows = []
    for agent, (team, effect) in agent_effect.items():
        own = "billing" if team == "Finance" else "delivery"
        channel = rng.choice(["phone", "email"], n)
        base = np.where(channel == "phone", 2.0, -1.5)
        rows.append(pd.DataFrame({
            "agent": agent, "team": team, "channel": channel, "category": own,
            "speed": base + effect - team_slow[team] + rng.normal(0, 1.0, n),
            "fcr": (rng.random(n) < 0.8 + 0.05 * effect).astype(float),
            "score": np.clip(np.round(3.5 + 0.5 * effect + rng.normal(0, 1, n)), 1, 5)}))
    return pd.concat(rows, ignore_index=True)


def _cells(c):
    g = c.groupby(["agent", "team", "channel", "category"])
    out = {}
    for m in ("speed", "fcr", "score"):
        out[f"{m}_n"] = g[m].size().astype(float)
        out[f"{m}_s"] = g[m].sum()
        out[f"{m}_q"] = g[m].apply(lambda x: float((x * x).sum()))
    return pd.DataFrame(out).reset_index()


def test_peer_standing_compares_agents_within_their_team():
    """Agents are ranked within the team by their true effect; a team's process (every
    answer slower) moves the team's standing but not one agent's standing in the team;
    with no differences between agents, everybody stands at the team mean (0)."""
    rng = np.random.default_rng(11)
    truth = {"A1": ("Finance", 0.6), "A2": ("Finance", 0.0), "A3": ("Finance", -0.6),
             "B1": ("Logistics", 0.3), "B2": ("Logistics", -0.1), "B3": ("Logistics", -0.5)}
    home = pd.Series({a: t for a, (t, _e) in truth.items()})
    contacts = _contacts(rng, truth, {"Finance": 0.0, "Logistics": 0.0})
    p = peer_standing(_cells(contacts), home)
    for agents in (["A1", "A2", "A3"], ["B1", "B2", "B3"]):
        assert list(p.loc[agents, "rank_in_team"]) == [1.0, 2.0, 3.0], p
        assert (p.loc[agents, "team_size"] == 3).all()
    assert (p["within_team_low"] < p["within_team"]).all()
    assert (p["within_team"] < p["within_team_high"]).all()
    # the same contacts, Logistics answering everything 1.5 log-hours slower
    slow = contacts.copy()
    slow.loc[slow["team"] == "Logistics", "speed"] -= 1.5
    q = peer_standing(_cells(slow), home)
    assert np.allclose(q["within_team"], p["within_team"])
    assert q.loc["B1", "team_standing"] < p.loc["B1", "team_standing"]
    # nobody differs: no unit to rank in, every agent at the team mean
    alike = {a: (t, 0.0) for a, (t, _e) in truth.items()}
    z = peer_standing(_cells(_contacts(np.random.default_rng(2), alike,
                                       {"Finance": 0.0, "Logistics": 0.0})), home)
    assert (z["within_team"] == 0).all() and (z["team_standing"] == 0).all()
    # ... and no place: "1 of 3" for everyone (a tie of all) once read as a ranking
    assert z["rank_in_team"].isna().all()
    assert {standing_text(r) for r in z.to_dict("records")} == {LEVEL_WITH_TEAM}
    assert standing_text(p.loc["A1"].to_dict()).startswith("1 of 3, +")
    # an agent alone in a team has no peers: no interval is claimed
    solo = peer_standing(_cells(contacts), pd.concat([home, pd.Series({"C1": "Sales"})]))
    assert solo.loc["C1", "team_size"] == 1 and np.isnan(solo.loc["C1", "within_team_low"])


def test_shrinkage_toward_each_agents_team():
    """With teams, the prior is centred on each team's pooled rate: an agent with few
    contacts lands near their own team's rate, not the firm's."""
    k = np.array([90, 180, 3, 50, 100, 2])
    n = np.array([100, 200, 4, 100, 200, 4])
    team = np.array(["A", "A", "A", "B", "B", "B"])
    post, lo, hi, _a, _b = shrink(k, n, team)
    assert abs(post[2] - 273 / 304) < abs(post[2] - 0.75)
    assert abs(post[5] - 152 / 304) < abs(post[5] - 0.75)
    assert (lo <= post).all() and (post <= hi).all()


def test_unit_features_of_one_date_equal_the_joined_ones(shop):
    """Today's customers (one date) take a group-by per table; units of several dates a
    join per unit: the same figures either way."""
    from loyalist.team.targeting import unit_features

    b, path, _tmp = shop
    with loyalist.connect(path, read_only=True) as store:
        ids = store.table("customers").select("id").to_pandas()["id"]
        one = pd.DataFrame({"customer_id": ids, "at": b.as_of - pd.Timedelta(days=30)})
        other = pd.DataFrame({"customer_id": ids.iloc[:1], "at": [b.as_of]})
        a = unit_features(store, one)
        both = unit_features(store, pd.concat([one, other], ignore_index=True))
    assert a["orders_365d"].sum() > 0 and a["requests_365d"].sum() > 0
    pd.testing.assert_frame_equal(a, both.iloc[:-1], check_dtype=False)
