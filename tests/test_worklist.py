"""The worklist: ordering, one item per customer and reason, closing, caps, owners,
control groups, append-only outcomes, playbook errors and the CLI.

These tests check the worklist's own rules, so the store gets stand-in scores (P(leave)
from the days since the last order, P(promoter) at random) and the real hard alerts;
the churn model itself is tested in test_early_warning.py, and test_impact.py runs the
whole chain with real scores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.datasets import make_business
from loyalist.decisions.scoring import MUST_DO, hard_alerts
from loyalist.decisions.worklist import (
    build_worklist,
    item_history,
    log_outcome,
    open_items,
    worklist_progress,
)
from loyalist.errors import DataError, LoyalistError, SourceError
from loyalist.settings import Settings
from loyalist.settings.worklist import default_playbooks, load_playbooks

TABLES = ("customers", "orders", "subscriptions", "requests", "feedback")


def stand_in_scores(store, as_of) -> None:
    o = store.table("orders")
    last = o.filter(o.ordered_at < as_of.to_pydatetime()).group_by("customer_id").aggregate(
        last=o.ordered_at.max()).to_pandas()
    days = (as_of - last["last"]).dt.days
    active = days <= 180
    rng = np.random.default_rng(0)
    scores = pd.DataFrame({"customer_id": last.loc[active, "customer_id"], "as_of": as_of,
                           "p_leave": 1 - np.exp(-days[active] / 60.0), "model_id": 0,
                           "top_reason": "No order for " + days[active].astype(str) + " days",
                           "p_promoter": rng.random(int(active.sum()))})
    store.write_derived("scores", scores)
    store.write_derived("alerts", hard_alerts(store, as_of).assign(as_of=as_of))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A scored store file; each test works on its own copy."""
    b = make_business(n_customers=1500, months=18, seed=4, events=False)
    path = tmp_path_factory.mktemp("wl") / "base.duckdb"
    as_of = b.as_of - pd.Timedelta(days=60)
    with loyalist.connect(path) as s:
        for name in TABLES:
            s.ingest(name, b.tables[name])
        stand_in_scores(s, as_of)
    return b, path, as_of


@pytest.fixture
def world(base, tmp_path):
    b, path, as_of = base
    shutil.copy(path, tmp_path / "s.duckdb")
    s = loyalist.connect(tmp_path / "s.duckdb")
    yield b, s, as_of
    s.close()


def test_must_do_first_then_by_expected_value_saved(world):
    _b, s, as_of = world
    run = build_worklist(s, as_of)
    items = run.items
    assert run.opened == len(items) > 50 and run.as_of == as_of
    assert list(items["priority"]) == list(range(1, len(items) + 1))
    must = items["must_do"].to_numpy()
    assert must.any() and (~must).any()
    assert not (np.diff(must.astype(int)) > 0).any()  # no must-do after a discretionary one
    for flag in (True, False):
        ev = items.loc[items["must_do"] == flag, "expected_value_saved"].to_numpy()
        assert (np.diff(ev) <= 1e-9).all()
    # every must-do item comes from a must-do alert, or keeps a customer worth the
    # setting's value informed, and names its evidence
    informed = items["reason_kind"].str.startswith("no_word:")
    assert set(items.loc[must & ~informed, "reason_kind"]) <= set(MUST_DO)
    bar = s.settings.worklist.settings.inform_must_do_value
    assert (items.loc[informed, "must_do"] == (items.loc[informed, "value"] >= bar)).all()
    assert items.loc[must, "evidence"].str.match(r"^(requests|orders|feedback):").all()
    # expected value saved is P(leave) x value x the playbook's contact_helps
    books = {p.name: p for p in default_playbooks()}
    disc = items[~items["must_do"]]
    helps = disc["playbook"].map(lambda n: books[n].contact_helps)
    # (customers who are not scored, e.g. silent ones, count at the average P(leave))
    p = disc["p_leave"].fillna(s.table("scores").p_leave.mean().execute())
    np.testing.assert_allclose(disc["expected_value_saved"], p * disc["value"] * helps)
    assert (items["due_at"] > items["opened_at"]).all()


def test_one_open_item_per_customer_and_reason_and_rerun_adds_nothing(world):
    _b, s, as_of = world
    first = build_worklist(s, as_of)
    assert not first.items.duplicated(["customer_id", "playbook"]).any()
    # at most one discretionary playbook per customer
    disc = first.items[~first.items["must_do"]]
    assert not disc["customer_id"].duplicated().any()
    again = build_worklist(s, as_of)
    assert (again.opened, again.closed, again.held_out) == (0, 0, 0)
    assert set(again.items["item_id"]) == set(first.items["item_id"])
    events = item_history(s)
    assert (events["event"] == "opened").sum() == len(first.items)


def test_outcome_closes_the_item_and_keeps_its_history(world):
    _b, s, as_of = world
    run = build_worklist(s, as_of)
    item = run.items.iloc[0]
    n_touches = s.table("touches").count().execute()
    touch = log_outcome(s, item["customer_id"], "reached", note="Sorted the invoice",
                        by="Ann", item_id=item["item_id"], at=as_of + pd.Timedelta(hours=5))
    assert item["item_id"] not in set(open_items(s)["item_id"])
    hist = item_history(s, item["item_id"])
    assert list(hist["event"]) == ["opened", "closed"]
    assert touch.closed == (item["item_id"],)
    assert hist["touch_id"].iloc[1] == touch.touch_id and hist["outcome"].iloc[1] == "reached"
    t = s.table("touches").to_pandas()
    assert len(t) == n_touches + 1
    row = t[t["id"] == touch.touch_id].iloc[0]
    assert (row["item_id"], row["playbook"], row["by"]) == (item["item_id"], item["playbook"],
                                                           "Ann")
    progress = worklist_progress(s).set_index("playbook")
    assert progress.loc[item["playbook"], "reached"] == 1
    assert progress.loc[item["playbook"], "closed"] == 1
    assert progress["open"].sum() == len(run.items) - 1
    # the next run does not reopen it at once (cooling down after an outcome)
    rerun = build_worklist(s, as_of + pd.Timedelta(days=1))
    same = rerun.items[(rerun.items["customer_id"] == item["customer_id"])
                       & (rerun.items["playbook"] == item["playbook"])]
    assert same.empty


def test_no_answer_is_an_attempt_until_the_last_one(world):
    _b, s, as_of = world
    run = build_worklist(s, as_of)
    item = run.items.iloc[3]
    limit = load_playbooks(store=s).settings.max_attempts
    for k in range(limit):
        assert item["item_id"] in set(open_items(s)["item_id"]), k
        log_outcome(s, item["customer_id"], "no_answer", item_id=item["item_id"])
    assert item["item_id"] not in set(open_items(s)["item_id"])
    events = list(item_history(s, item["item_id"])["event"])
    assert events == ["opened"] + ["attempt"] * (limit - 1) + ["closed"]
    assert len(s.table("touches").to_pandas()) == limit  # every call kept


def test_item_closes_when_its_reason_disappears(world):
    b, s, as_of = world
    run = build_worklist(s, as_of)
    unanswered = run.items[run.items["reason_kind"] == "unanswered_request"]
    assert len(unanswered)
    target = unanswered.iloc[0]
    ids = [e.split(":")[1] for e in target["evidence"].split()]
    req = b.tables["requests"]
    fixed = req[req["id"].isin(ids)].copy()
    fixed["first_response_at"] = as_of + pd.Timedelta(hours=2)
    assert s.ingest("requests", fixed).updated == len(ids)
    later = as_of + pd.Timedelta(days=1)
    rerun = build_worklist(s, later)  # alerts are recomputed for a new day
    assert target["item_id"] not in set(rerun.items["item_id"])
    hist = item_history(s, target["item_id"])
    assert hist["event"].iloc[-1] == "closed" and hist["note"].iloc[-1] == "reason gone"
    assert pd.isna(hist["outcome"].iloc[-1])


def test_caps_per_owner_per_day(world, tmp_path):
    _b, s, as_of = world
    (tmp_path / "loyalist.toml").write_text(
        '[worklist]\ncontrol_share = 0\n\n[[worklist.playbook]]\nname = "save_call"\n'
        "min_p_leave = 0.3\ncap_per_owner_per_day = 2\n")
    s.settings = Settings.load(s)  # settings are read once, when the store opens
    pbs = load_playbooks(store=s)
    assert pbs.get("save_call").cap_per_owner_per_day == 2
    run = build_worklist(s, as_of)
    save = run.items[run.items["playbook"] == "save_call"]
    per_owner = save.groupby("owner").size()
    assert len(per_owner) >= 4 and (per_owner == 2).all()
    # the two kept per owner are that owner's most valuable candidates
    again = build_worklist(s, as_of)  # same day: the cap is used up
    assert (again.items["playbook"] == "save_call").sum() == len(save)
    nxt = build_worklist(s, as_of + pd.Timedelta(days=1))
    per_owner = nxt.items[nxt.items["playbook"] == "save_call"].groupby("owner").size()
    assert (per_owner <= 4).all() and (per_owner > 2).any()


def test_owner_rule(world):
    b, s, as_of = world
    cust = b.tables["customers"].head(400).copy()
    cust["owner"] = None
    s.ingest("customers", cust)
    items = build_worklist(s, as_of).items
    owners = b.tables["customers"].set_index("id")["owner"]
    books = {p.name: p for p in default_playbooks()}
    rule = items["playbook"].map(lambda n: books[n].owner)
    team = items["playbook"].map(lambda n: books[n].team)
    by_team = rule == "team"
    assert by_team.any() and (~by_team).any()
    assert (items.loc[by_team, "owner"] == team[by_team]).all()
    no_owner = items["customer_id"].isin(cust["id"])
    am = ~by_team & ~no_owner
    assert (items.loc[am, "owner"].to_numpy() == owners[items.loc[am, "customer_id"]]
            .to_numpy()).all()
    fallback = ~by_team & no_owner
    assert fallback.any() and (items.loc[fallback, "owner"] == team[fallback]).all()


def test_control_group_is_never_listed_and_stable(world):
    _b, s, as_of = world
    run = build_worklist(s, as_of, control_share=0.3, seed=1)
    a = s.raw.execute("SELECT * FROM _loyalist_assignments").df()
    must = {p.name for p in default_playbooks() if p.must_do}
    assert not set(a["playbook"]) & must  # service is never held out
    control = a[a["arm"] == "control"]
    assert run.held_out == len(control) > 10
    assert 0.15 < len(control) / len(a) < 0.45
    listed = run.items[~run.items["must_do"]]
    assert not set(zip(control["customer_id"], control["playbook"], strict=True)) & set(
        zip(listed["customer_id"], listed["playbook"], strict=True))
    assert not set(control["customer_id"]) & set(listed["customer_id"])
    # later runs with another seed redraw nobody inside the window
    later = build_worklist(s, as_of + pd.Timedelta(days=3), control_share=0.3, seed=99)
    b2 = s.raw.execute("SELECT * FROM _loyalist_assignments").df()
    old = b2[b2["assigned_at"] == as_of]
    pd.testing.assert_frame_equal(old.reset_index(drop=True), a.reset_index(drop=True))
    again = b2[b2["assigned_at"] > as_of]
    assert not set(again["customer_id"]) & set(control["customer_id"])
    assert not set(control["customer_id"]) & set(later.items.loc[~later.items["must_do"],
                                                                 "customer_id"])
    progress = worklist_progress(s).set_index("playbook")
    held = b2[(b2["arm"] == "control") & (b2["playbook"] == "save_call")]
    assert progress.loc["save_call", "held_out"] == held["customer_id"].nunique()


def test_draw_is_deterministic(base, tmp_path):
    _b, path, as_of = base
    arms = []
    for k in range(2):
        shutil.copy(path, tmp_path / f"c{k}.duckdb")
        with loyalist.connect(tmp_path / f"c{k}.duckdb") as s:
            build_worklist(s, as_of, control_share=0.2, seed=5)
            arms.append(s.raw.execute("SELECT customer_id, playbook, arm FROM "
                                      "_loyalist_assignments ORDER BY ALL").df())
    pd.testing.assert_frame_equal(arms[0], arms[1])


@pytest.mark.parametrize("text, match", [
    ('[[worklist.playbook]]\nname = "x"\naction = "a"\ncolour = "red"\n', "unknown key 'colour'"),
    ('[[worklist.playbook]]\nname = "x"\naction = "a"\nalert = "sneeze"\n', "'alert' 'sneeze'"),
    ('[[worklist.playbook]]\nname = "call_back_unanswered"\ncontrol_share = 0.1\n',
     "cannot hold out"),
    ('[[worklist.playbook]]\nname = "x"\naction = "a"\ndue_in_days = "soon"\n',
     "'due_in_days' must be a number"),
    ('[[worklist.playbook]]\nname = "x"\naction = "a"\nmin_p_leave = 1.5\n',
     "'min_p_leave' must be between 0 and 1"),
    ('[[worklist.playbook]]\nname = "x"\n', "missing key 'action'"),
    ('[[worklist.playbook]]\nname = "x"\naction = "a"\nowner = "boss"\n', "'owner' 'boss'"),
    ('[worklist]\nwindow = 30\n', "unknown key 'window' in \\[worklist\\]"),
    ('[worklist\n', "not valid TOML"),
])
def test_playbook_errors_name_the_bad_key(tmp_path, text, match):
    p = tmp_path / "pb.toml"
    p.write_text(text)
    with pytest.raises(DataError, match=match) as e:
        load_playbooks(p)
    assert e.value.hint and str(p) in e.value.message


def test_playbook_overrides_merge_by_name(tmp_path):
    p = tmp_path / "pb.toml"
    p.write_text('[worklist]\nseed = 3\n\n[[worklist.playbook]]\nname = "save_call"\n'
                 'min_p_leave = 0.7\n\n[[worklist.playbook]]\nname = "invite_advocate"\n'
                 'enabled = false\n\n[[worklist.playbook]]\nname = "win_back_key"\n'
                 'segment = "key account"\naction = "Visit"\n')
    pbs = load_playbooks(p)
    names = [b.name for b in pbs]
    assert "invite_advocate" not in names and names[-1] == "win_back_key"
    save = pbs.get("save_call")
    assert save.min_p_leave == 0.7 and save.action == default_playbooks().get("save_call").action
    assert pbs.settings.seed == 3 and pbs.get("win_back_key").segment == ("key account",)
    with pytest.raises(SourceError):
        load_playbooks(tmp_path / "missing.toml")


def test_log_refuses_unknown_customer_outcome_and_item(world):
    _b, s, as_of = world
    run = build_worklist(s, as_of)
    cid = run.items["customer_id"].iloc[0]
    with pytest.raises(DataError, match="No customer 'NOPE'"):
        log_outcome(s, "NOPE", "reached")
    with pytest.raises(DataError, match="Unknown outcome 'maybe'"):
        log_outcome(s, cid, "maybe")
    with pytest.raises(DataError, match="does not exist") as e:
        log_outcome(s, cid, "reached", item_id="W9999999")
    theirs = run.items.loc[run.items["customer_id"] == cid, "item_id"]
    assert e.value.hint.startswith(f"Open items of {cid}: {', '.join(sorted(theirs))};")
    assert s.table("touches").count().execute() == 0  # nothing written by a mistake


def _cli(*args, columns=250):
    return subprocess.run([sys.executable, "-m", "loyalist.cli.main", *args],
                          capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": str(columns)})


@pytest.mark.slow  # CLI processes at three widths, 36 s in make test: make test-slow
def test_cli(base, tmp_path):
    _b, path, as_of = base
    store = str(tmp_path / "s.duckdb")
    shutil.copy(path, store)
    r = _cli("worklist", "--as-of", f"{as_of:%Y-%m-%d}", "--top", "5", "--store", store)
    assert r.returncode == 0, r.stderr
    assert "opened" in r.stdout and "Open items" in r.stdout
    with loyalist.connect(store) as s:
        items = open_items(s)
        n_touches = s.table("touches").count().execute()
    several = items.groupby("customer_id")["item_id"].transform("size") > 1
    item = items[several].iloc[0]
    theirs = set(items.loc[items["customer_id"] == item["customer_id"], "item_id"])
    # several open items and none named: each is listed, nothing is logged or closed
    r = _cli("log", item["customer_id"], "--outcome", "saved", "--store", store)
    assert r.returncode == 1 and all(i in r.stderr for i in theirs), r.stderr
    assert "--item" in r.stderr and "Traceback" not in r.stderr
    with loyalist.connect(store) as s:
        assert s.table("touches").count().execute() == n_touches
        assert theirs <= set(open_items(s)["item_id"])
    r = _cli("log", item["customer_id"], "--outcome", "saved", "--note", "renewed",
             "--by", "Bo", "--item", item["item_id"], "--store", store)
    assert r.returncode == 0, r.stderr
    assert f"closed {item['item_id']}" in r.stdout
    with loyalist.connect(store) as s:
        assert set(open_items(s)["item_id"]) & theirs == theirs - {item["item_id"]}
    for args, text in ((("log", "NOPE", "--outcome", "reached"), "No customer"),
                       (("log", item["customer_id"], "--outcome", "perhaps"), "Unknown outcome")):
        r = _cli(*args, "--store", store)
        assert r.returncode == LoyalistError.exit_code and text in r.stderr
        assert "Traceback" not in r.stderr + r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[[worklist.playbook]]\nname = "x"\naction = "a"\ncolour = 1\n')
    r = _cli("worklist", "--playbooks", str(bad), "--store", store)
    assert r.returncode == 2 and "colour" in r.stderr and "Traceback" not in r.stderr
    r = _cli("impact", "--store", store)
    assert r.returncode == 0, r.stderr
    r = _cli("playbooks", "--store", store)
    assert r.returncode == 0 and "save_call" in r.stdout
    r = _cli("playbooks", "--store", str(tmp_path / "none.duckdb"))
    assert r.returncode == 0 and not (tmp_path / "none.duckdb").exists()


def test_default_caps_keep_a_backlog_for_later_days_and_must_do_first(world, tmp_path):
    _b, s, as_of = world
    # a tighter cap than the default, so the 1,500-customer business has a backlog
    (tmp_path / "loyalist.toml").write_text(
        '[[worklist.playbook]]\nname = "follow_up_order"\ncap_per_owner_per_day = 1\n')
    s.settings = Settings.load(s)  # settings are read once, when the store opens
    defaults = {p.name: p for p in default_playbooks()}
    for name in ("call_back_unanswered", "resolve_repeated_contact", "follow_up_order"):
        assert defaults[name].must_do and defaults[name].cap_per_owner_per_day
    run = build_worklist(s, as_of)
    fu = run.items[run.items["playbook"] == "follow_up_order"]
    assert (fu.groupby("owner").size() == 1).all()
    assert run.waiting.get("follow_up_order", 0) > 0 and run.backlog >= run.waiting[
        "follow_up_order"]
    must = run.items["must_do"].to_numpy()
    assert must.any() and not (~must[:-1] & must[1:]).any()  # must-do never after the rest
    assert not s.raw.execute("SELECT count(*) FROM _loyalist_assignments WHERE arm = "
                             "'control' AND playbook = 'follow_up_order'").fetchall()[0][0]
    # the backlog is not dropped: the next day opens the next ones, and says what waits
    nxt = build_worklist(s, as_of + pd.Timedelta(days=1))
    fu2 = nxt.items[nxt.items["playbook"] == "follow_up_order"]
    kept = set(fu["item_id"]) & set(fu2["item_id"])  # (a few went stale overnight)
    assert len(fu2) > len(fu) and len(kept) >= len(fu) / 2
    assert nxt.waiting.get("follow_up_order", 0) < run.waiting["follow_up_order"] + 5


def test_stale_follow_up_is_no_longer_a_follow_up(world, tmp_path):
    _b, s, as_of = world
    a = s.table("alerts").to_pandas()
    age = (as_of - a.loc[a["kind"] == "not_followed_up"].groupby("customer_id")["at"].max()
           ).dt.days
    assert (age > 30).any() and (age <= 30).any()
    run = build_worklist(s, as_of)
    got = set(run.items.loc[run.items["playbook"] == "follow_up_order", "customer_id"])
    assert got and got <= set(age[age <= 30].index)
    # without the rule (a large max_age_days) the stale ones come back
    (tmp_path / "loyalist.toml").write_text(
        '[[worklist.playbook]]\nname = "follow_up_order"\nmax_age_days = 10000\n'
        "cap_per_owner_per_day = 100000\n")
    s.settings = Settings.load(s)  # settings are read once, when the store opens
    again = build_worklist(s, as_of + pd.Timedelta(days=1))
    got = set(again.items.loc[again.items["playbook"] == "follow_up_order", "customer_id"])
    assert got & set(age[age > 30].index)
    with pytest.raises(DataError, match="max_age_days"):
        (tmp_path / "bad.toml").write_text(
            '[[worklist.playbook]]\nname = "save_call"\nmax_age_days = 5\n')
        load_playbooks(tmp_path / "bad.toml")


def test_cli_table_fits_80_columns(base, tmp_path):
    _b, path, as_of = base
    store = str(tmp_path / "s.duckdb")
    shutil.copy(path, store)
    r = _cli("worklist", "--as-of", f"{as_of:%Y-%m-%d}", "--top", "8", "--store", store,
             columns=80)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80
    body = [x for x in lines if x.strip()[:1].isdigit() or x.strip().startswith("!")]
    assert len(body) >= 8  # eight items, the why text wrapped onto more lines than that
