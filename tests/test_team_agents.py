"""Staff recognition: satisfaction credited to the agent who handled the request an answer
names (``feedback.request_id``, migration 11), on records built by hand and on the
synthetic business (1,200 customers, 24 months, seed 4, no events); the generator's true
agent quality (1,500 customers, seed 4, agent_quality 1 and 0.5); verified saves against
the callers' true saves in simulated outreach (1,500 customers, seed 5, one playbook with
min_p_leave 0.05 and half held out, true effect 0.6 x the caller's skill 1.6 / 1.0 / 0.4,
simulate_outreach seed 3)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import loyalist
from _outreach import outreach_world
from loyalist.datasets import make_business
from loyalist.settings import Settings
from loyalist.store import migrations
from loyalist.store.engine.duckdb import schema
from loyalist.team import team_report
from loyalist.team.agents import agent_table, satisfaction_by_agent, verified_saves

AS_OF = pd.Timestamp("2024-07-01")


def _hand_store(path):
    """Two agents: A handled r1 and r3, B handled r2. The customer c1's latest contact
    was with B, yet the answer names r1: A is credited. An answer naming no request is
    credited to nobody; one naming an unanswered request (no agent) neither."""
    day = pd.Timestamp("2024-05-01")
    opened = pd.Series([day, day + pd.Timedelta(days=2), day, day])
    requests = pd.DataFrame({
        "id": ["r1", "r2", "r3", "r4"],
        "customer_id": ["c1", "c1", "c2", "c3"],
        "opened_at": opened,
        "subject": ["invoice", "invoice again", "delivery", "no answer"],
        "team": ["Finance"] * 4,
        "agent": ["A", "B", "A", None],
        "first_response_at": (opened + pd.Timedelta(hours=1)).where(opened.index < 3),
        "resolved_at": (opened + pd.Timedelta(days=1)).where(opened.index < 3),
    })
    feedback = pd.DataFrame({
        "id": ["f1", "f2", "f3", "f4", "f5"],
        "customer_id": ["c1", "c2", "c2", "c3", "c1"],
        "answered_at": [day + pd.Timedelta(days=5), day + pd.Timedelta(days=3),
                        day + pd.Timedelta(days=40), day + pd.Timedelta(days=4),
                        day + pd.Timedelta(days=6)],
        "satisfaction": [5, 2, 5, 1, 4],
        "request_id": ["r1", "r3", None, "r4", "r2"],
    })
    customers = pd.DataFrame({"id": ["c1", "c2", "c3"],
                              "created_at": [pd.Timestamp("2023-01-01")] * 3})
    with loyalist.connect(path) as s:
        s.ingest("customers", customers)
        s.ingest("requests", requests)
        s.ingest("feedback", feedback)


def test_satisfaction_is_credited_to_the_agent_who_handled_the_request(tmp_path):
    db = tmp_path / "s.duckdb"
    _hand_store(db)
    with loyalist.connect(db, read_only=True) as s:
        sat = satisfaction_by_agent(s, AS_OF - pd.Timedelta(days=365), AS_OF)
        a = agent_table(s, AS_OF, Settings()).set_index("agent")
    # A: f1 (5, names r1 though B answered c1 last) and f2 (2); B: f5 (4); f3 and f4: nobody
    assert sat.loc["A", "rated"] == 2 and sat.loc["A", "satisfied"] == 1
    assert sat.loc["B", "rated"] == 1 and sat.loc["B", "satisfied"] == 1
    assert int(sat["rated"].sum()) == 3
    assert a.loc["A", "rated"] == 2 and a.loc["B", "rated"] == 1
    assert a.loc["A", "satisfaction_raw"] == pytest.approx(0.5)
    for who in ("A", "B"):
        r = a.loc[who]
        assert r["satisfaction_low"] <= r["satisfaction"] <= r["satisfaction_high"]
    assert np.isfinite(a["rank_score"]).all()


def test_migration_11_gives_older_stores_the_column(tmp_path):
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    migrations.migrate(con, str(db), target=10)  # a store written by schema v10
    for (index,) in con.execute("SELECT index_name FROM duckdb_indexes() "
                                "WHERE table_name = 'feedback'").fetchall():
        con.execute(f'DROP INDEX "{index}"')
    con.execute("ALTER TABLE feedback DROP COLUMN request_id")  # which lacked the column
    schema._v11(con)  # the step itself adds it (and may run twice)
    assert "request_id" in schema._existing_columns(con)["feedback"]
    con.execute("ALTER TABLE feedback DROP COLUMN request_id")
    empty = duckdb.connect()
    schema._v11(empty)  # a store without the table yet: nothing to do
    empty.close()
    con.execute("INSERT INTO feedback (id, customer_id, answered_at, satisfaction, _key) "
                "VALUES ('f1', 'c1', '2024-01-01', 4, 'f1')")
    con.execute("UPDATE _loyalist_meta SET value = '10' WHERE key = 'schema_version'")
    con.close()
    with loyalist.connect(db) as s:
        assert s.schema_version() == migrations.SCHEMA_VERSION >= 11
        f = s.table("feedback").execute()
        assert f["id"].tolist() == ["f1"] and f["request_id"].isna().all()


def test_ingest_maps_a_source_column_to_request_id(tmp_path):
    db = tmp_path / "s.duckdb"
    _hand_store(db)
    csv = tmp_path / "survey.csv"
    csv.write_text("Answer,Customer,Date,Sat,Ticket\nf9,c2,2024-05-20,5,r3\n")
    with loyalist.connect(db) as s:
        res = s.ingest("feedback", csv, mapping="id=Answer,customer_id=Customer,"
                       "answered_at=Date,satisfaction=Sat,request_id=Ticket")
        assert res.inserted == 1
        row = s.table("feedback").filter(lambda t: t.id == "f9").execute()
        assert row["request_id"].tolist() == ["r3"]
        sat = satisfaction_by_agent(s, AS_OF - pd.Timedelta(days=365), AS_OF)
    assert sat.loc["A", "rated"] == 3


@pytest.fixture(scope="module")
def business():
    return make_business(n_customers=1200, months=24, seed=4, events=False)


def test_generator_names_the_request_an_answer_follows(business):
    f = business.tables["feedback"]
    r = business.tables["requests"].set_index("id")
    linked = f[f["request_id"].notna()]
    assert 0.02 < len(linked) / len(f) < 0.5
    req = r.loc[linked["request_id"]]
    assert (req["customer_id"].to_numpy() == linked["customer_id"].to_numpy()).all()
    gap = (linked["answered_at"].to_numpy() - req["opened_at"].to_numpy()) / pd.Timedelta(
        days=1)
    assert (gap > 0).all() and (gap <= 14).all()
    # and nothing else changes: the answers are the same without agent quality's effects
    assert "agents" not in business.truth


def test_team_report_credits_synthetic_answers(business, tmp_path):
    db = tmp_path / "s.duckdb"
    with loyalist.connect(db) as s:
        for name in ("customers", "orders", "requests", "feedback", "staff"):
            s.ingest(name, business.tables[name])
        rep = team_report(s, business.as_of)
    a = rep.agents
    assert a["rated"].sum() > 20
    f = business.tables["feedback"]
    one_year = f[(f["answered_at"] >= business.as_of - pd.Timedelta(days=365))
                 & f["request_id"].notna() & f["satisfaction"].notna()]
    handled = business.tables["requests"].set_index("id")["agent"]
    expect = one_year["request_id"].map(handled).dropna().value_counts()
    got = a.set_index("agent")["rated"]
    assert got[got > 0].sort_index().to_dict() == expect.sort_index().to_dict()
    assert any("credited to no agent" in n for n in rep.notes)


def test_generator_agent_quality_truth_and_effect_scale():
    """make_business(agent_quality=e): each agent's true quality (standardised over the
    20 agents) and its skill = quality x e; halving e halves every skill; better agents
    leave fewer matters open (first-contact resolution follows quality)."""
    full = make_business(n_customers=1500, months=24, seed=4, events=False,
                         agent_quality=1.0)
    half = make_business(n_customers=1500, months=24, seed=4, events=False,
                         agent_quality=0.5)
    qa, qh = full.truth["agents"], half.truth["agents"]
    assert len(qa) == 20 and qa["quality"].std(ddof=0) == pytest.approx(1.0)
    assert np.allclose(qa["quality"], qh["quality"])
    assert np.allclose(qh["skill"], qa["skill"] / 2)
    r = full.tables["requests"]
    kids = set(r["parent_id"].dropna())
    r = r[r["agent"].notna()]
    fcr = (r["resolved_at"].notna() & ~r["id"].isin(kids)).groupby(r["agent"]).mean()
    rho = stats.spearmanr(fcr.reindex(qa["agent"]), qa["quality"]).statistic
    assert rho > 0.5


#: who works the list and their true skill at saving (a multiplier of the effect)
CALLERS = {"E01": 1.6, "E02": 1.0, "E03": 0.4}


def work_the_list(tmp, n_customers: int = 1500):
    """The worklist 120 days before the records end, half held out; simulated outreach
    (true effect 0.6 of those who would lapse, times the caller's skill) logs who called.
    ``make_business(n_customers, months=24, seed=5, events=False)``; tests/_outreach.py."""
    w = outreach_world(tmp, n_customers=n_customers, seed=5, uplift=0.6, heterogeneity=0.0,
                       agents=CALLERS, tables=("customers", "requests", "feedback", "staff"))
    return w.business, w.path, w.sim


@pytest.fixture(scope="module")
def worked(tmp_path_factory):
    return work_the_list(tmp_path_factory.mktemp("worked"))


def test_simulated_calls_name_the_caller(worked):
    _b, _path, sim = worked
    t = sim.touches
    assert set(t["by"]) == set(CALLERS)
    treated = sim.truth[sim.truth["arm"] == "treatment"]
    assert (t["by"].to_numpy() == treated["agent"].to_numpy()).all()
    assert set(sim.truth["agent"]) == set(CALLERS)  # held-out units too (who would call)


def test_verified_saves_match_the_true_saves_per_caller(worked):
    """Each caller's verified saves (still ordering 90 days after the call, minus what the
    held-out control predicts) against their true saves (treated units kept only because
    of the call): within the 95% interval's width, and ordered by the callers' skill."""
    b, path, sim = worked
    with loyalist.connect(path, read_only=True) as s:
        saves = verified_saves(s, b.as_of, Settings()).set_index("agent")
    tr = sim.truth[sim.truth["arm"] == "treatment"]
    true = (tr["y1"].astype(int) - tr["y0"].astype(int)).groupby(tr["agent"]).sum()
    print(pd.DataFrame({"verified": saves["verified_saves"], "low": saves["saves_low"],
                        "high": saves["saves_high"], "true": true,
                        "worked": saves["worked"]}))
    assert set(saves.index) == set(CALLERS)
    # named as the staff export names them (the web page and the report show the name)
    staff = b.tables["staff"].set_index("id")["name"]
    assert (saves["name"] == staff.reindex(saves.index)).all()
    assert (saves["worked"] == tr.groupby("agent").size().reindex(saves.index)).all()
    for who in CALLERS:
        half = (saves.loc[who, "saves_high"] - saves.loc[who, "saves_low"]) / 2
        assert abs(saves.loc[who, "verified_saves"] - true[who]) <= half
    assert saves.loc["E01", "verified_saves"] > saves.loc["E03", "verified_saves"]
    assert true["E01"] > true["E03"]
