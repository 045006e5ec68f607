"""Keep them informed: open requests and orders with no word to the customer become
worklist items ("tell them where it stands"); a contact logged against the matter
clears it; the customer's value decides must-do. And the competitor whisper: a
valuable customer naming a competitor becomes a discretionary item with their words.

The stores hold a synthetic business (``make_business(n_customers=1500, months=18,
seed=4, events=False)``, default effects; the competitor test ``n_customers=1500,
seed=5, competition=True`` with ``[listening] valuable_top = 0.5``) with stand-in scores (see test_worklist.py), worked 60
days before the data's end so that later records (deliveries, resolutions) exist and
must be ignored.
"""

from __future__ import annotations

import dataclasses
import shutil

import pandas as pd
import pytest

import loyalist
import test_worklist
from loyalist.datasets import make_business
from loyalist.decisions.worklist import build_worklist, log_outcome, open_items
from loyalist.decisions.worklist.informed import silent_matters
from loyalist.settings.worklist import default_playbooks
from loyalist.store.worklist import assignments, events
from test_plain_words import check
from test_worklist import TABLES, stand_in_scores

#: the scored business of test_worklist.py, each test on its own copy
base, world = test_worklist.base, test_worklist.world
INFORM = ("update_on_request", "update_on_order")


def _books(**settings):
    pbs = default_playbooks()
    return dataclasses.replace(pbs, settings=dataclasses.replace(pbs.settings, **settings))


def _silent_orders_by_hand(b, as_of, after=7.0, max_age=60.0) -> pd.DataFrame:
    """The orders open at ``as_of`` with no word for longer than ``after`` days, from
    the generator's tables in plain pandas (no touches in the synthetic business)."""
    o = b.tables["orders"]
    o = o[(o["ordered_at"] < as_of) & (o["ordered_at"] >= as_of - pd.Timedelta(days=max_age))]
    done = o["status"].str.lower().isin(["fulfilled", "cancelled", "returned"])
    is_open = (o["fulfilled_at"] >= as_of) | (o["fulfilled_at"].isna() & ~done)
    o = o[is_open]
    word = o["acknowledged_at"].where(o["acknowledged_at"] < as_of)
    last = word.fillna(o["ordered_at"])
    return o[(as_of - last) > pd.Timedelta(days=after)]


def test_silent_orders_match_a_hand_count_and_ignore_later_records(world):
    b, s, as_of = world
    got = silent_matters(s, "order", as_of, s.settings.worklist.settings)
    want = _silent_orders_by_hand(b, as_of)
    assert len(want) > 5  # the generator leaves orders undelivered for a while
    assert set(got["customer_id"]) == set(want["customer_id"])
    # one row per customer, the longest-silent order leading
    assert got["customer_id"].is_unique
    for r in got.itertuples():
        mine = want[want["customer_id"] == r.customer_id]
        assert r.matter_id in set(mine["id"]) and r.evidence == f"orders:{r.matter_id}"
        assert f"Order {r.matter_id} placed" in r.why and "not yet delivered" in r.why
    check(got["why"])
    req = silent_matters(s, "request", as_of, s.settings.worklist.settings)
    assert len(req) > 5 and req["why"].str.contains("not resolved").all()
    check(req["why"])
    # a longer allowance picks fewer; none past the oldest open order
    longer = dataclasses.replace(s.settings.worklist.settings, inform_order_after_days=30.0)
    assert set(silent_matters(s, "order", as_of, longer)["customer_id"]) < set(got["customer_id"])


def test_items_appear_and_a_touch_against_the_matter_clears_them(world):
    b, s, as_of = world
    run = build_worklist(s, as_of, playbooks=_books(inform_must_do_value=0.0))
    items = run.items
    mine = items[items["playbook"].isin(INFORM)]
    assert len(mine) >= 5
    assert mine["must_do"].all()  # every customer is worth 0 or more
    assert set(mine.loc[mine["playbook"] == "update_on_order", "matter"]) == {"order"}
    assert set(mine.loc[mine["playbook"] == "update_on_request", "matter"]) == {"request"}
    assert mine["matter_id"].notna().all()
    check(mine["why"])
    # merged: a request already owed a call-back carries the update in its reasons
    merged = items[items["also"].fillna("").str.contains("update_on_request")]
    assert (merged["matter"] == "request").all()
    # one item per customer and matter
    assert not items.duplicated(["customer_id", "matter"]).any()

    order = mine[mine["playbook"] == "update_on_order"].iloc[0]
    cust, oid = order["customer_id"], order["matter_id"]
    later = as_of + pd.Timedelta(days=1)
    logged = log_outcome(s, cust, "reached", item_id=order["item_id"],
                         at=as_of + pd.Timedelta(hours=2), note="Told them: ships Friday")
    assert logged.order_id == oid and logged.request_id is None
    t = s.table("touches").execute()
    assert t.loc[t["id"] == logged.touch_id, "order_id"].tolist() == [oid]
    # the order has had word: it is no longer silent, and no item of it reopens
    assert oid not in set(silent_matters(s, "order", later,
                                         s.settings.worklist.settings)["matter_id"])
    build_worklist(s, later, playbooks=_books(inform_must_do_value=0.0))
    now = open_items(s)
    assert not ((now["customer_id"] == cust) & (now["playbook"] == "update_on_order")).any()


def test_an_ingested_touch_naming_the_order_is_word_but_a_no_answer_is_not(world):
    b, s, as_of = world
    st = s.settings.worklist.settings
    got = silent_matters(s, "order", as_of, st)
    a, c = got.iloc[0], got.iloc[1]
    at = as_of - pd.Timedelta(hours=3)
    # an export of the call centre: its column names mapped by name ("Order ID")
    export = pd.DataFrame({"Customer ID": [a["customer_id"], c["customer_id"]],
                           "At": [at, at], "Kind": ["call", "call"],
                           "Outcome": ["reached", "no-answer"],
                           "Order ID": [a["matter_id"], c["matter_id"]]})
    s.ingest("touches", export)
    after = silent_matters(s, "order", as_of, st)
    assert a["matter_id"] not in set(after["matter_id"])  # word given three hours ago
    assert c["matter_id"] in set(after["matter_id"])  # nobody answered: no word


def _fresh(base, tmp_path, name):
    b, path, as_of = base
    shutil.copy(path, tmp_path / name)
    return loyalist.connect(tmp_path / name)


def test_the_value_setting_decides_must_do(base, tmp_path):
    as_of = base[2]
    with _fresh(base, tmp_path, "a.duckdb") as s:
        items = build_worklist(s, as_of, playbooks=_books(inform_must_do_value=1e12)).items
    mine = items[items["playbook"].isin(INFORM)]
    assert len(mine) and not mine["must_do"].any()  # nobody is worth that much
    bar = float(mine["value"].median())
    with _fresh(base, tmp_path, "b.duckdb") as s:
        items = build_worklist(s, as_of, playbooks=_books(inform_must_do_value=bar)).items
    mine = items[items["playbook"].isin(INFORM)]
    assert mine["must_do"].any() and not mine["must_do"].all()
    assert (mine["must_do"] == (mine["value"] >= bar)).all()


def test_do_not_contact_customers_still_hear_about_their_own_order(world, tmp_path):
    b, s, as_of = world
    got = silent_matters(s, "order", as_of, s.settings.worklist.settings)
    quiet = got["customer_id"].iloc[0]
    c = b.tables["customers"].copy()
    c["do_not_contact"] = c["id"] == quiet
    s.ingest("customers", c)
    items = build_worklist(s, as_of, playbooks=_books(inform_must_do_value=0.0)).items
    theirs = items[items["customer_id"] == quiet]
    assert len(theirs) and set(theirs["matter"]) <= {"order", "request"}


# -- the competitor whisper ----------------------------------------------------------

@pytest.fixture(scope="module")
def rivals(tmp_path_factory):
    from loyalist.datasets._text import COMPETITOR_ALIASES

    b = make_business(n_customers=1500, months=18, seed=5, events=False, competition=True)
    folder = tmp_path_factory.mktemp("rivals")
    names = ", ".join(f'"{k}" = [{", ".join(chr(34) + a + chr(34) for a in v)}]'
                      for k, v in COMPETITOR_ALIASES.items())
    # the top half by value counts as valuable: a small business has few mentions
    (folder / "loyalist.toml").write_text(
        f"[listening]\nvaluable_top = 0.5\ncompetitors = {{ {names} }}\n", encoding="utf-8")
    s = loyalist.connect(folder / "s.duckdb")
    for name in (*TABLES, "touches"):
        if len(b.tables[name]):
            s.ingest(name, b.tables[name])
    as_of = b.as_of - pd.Timedelta(days=60)
    stand_in_scores(s, as_of)
    yield b, s, as_of
    s.close()


def test_a_valuable_customer_naming_a_competitor_gets_a_discretionary_item(rivals):
    from loyalist.decisions.worklist.competitors import WINDOW_DAYS, competitor_items

    b, s, as_of = rivals
    run = build_worklist(s, as_of, caps={"answer_competitor": 1000})
    items = run.items
    rows = items[items["playbook"] == "answer_competitor"]
    assert len(rows) >= 3
    assert not rows["must_do"].any() and (rows["matter"] == "customer").all()
    # each names a listed competitor the customer wrote in the window (the truth)
    truth = b.truth["mentions"]
    truth = truth[truth["listed"]].merge(
        pd.concat([b.tables[t][["id", "customer_id"]].assign(source=t)
                   for t in ("requests", "feedback", "touches") if len(b.tables[t])]),
        on=["source", "id", "customer_id"])
    for r in rows.itertuples():
        theirs = truth[truth["customer_id"] == r.customer_id]
        assert len(theirs), r.customer_id
        assert any(name in r.why for name in theirs["competitor"]), r.why
        assert "\u201c" in r.why  # their own sentence, quoted
        assert r.evidence.split(":")[0] in ("requests", "feedback", "touches")
    check(rows["why"])
    # ranked like other discretionary outreach, and some are held out
    assert (rows["expected_value_saved"] > 0).all()
    picked = competitor_items(s, as_of, _values(s))
    held = assignments(s).execute()
    held = held[(held["playbook"] == "answer_competitor") & (held["arm"] == "control")]
    listed = set(rows["customer_id"]) | set(held["customer_id"])
    merged = items[items["also"].fillna("").str.contains("answer_competitor")]
    assert listed | set(merged["customer_id"]) <= set(picked["customer_id"])
    assert WINDOW_DAYS == 90


def _values(s):
    from loyalist.decisions.service.stay_in_touch import _value

    sc = s.table("scores").execute()
    return _value(s, sc["as_of"].max())


def test_without_a_competitor_list_nobody_is_picked(world):
    from loyalist.decisions.worklist.competitors import competitor_items

    b, s, as_of = world
    assert competitor_items(s, as_of, _values(s)).empty


# -- an older store ------------------------------------------------------------------

def test_a_store_before_migration_12_gains_the_columns_and_keeps_its_touches(tmp_path):
    import duckdb

    from loyalist.store import migrations

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    migrations.migrate(con, str(db), target=10)
    # as a version 10 store was: no request or order on touches, no matter id on items
    con.execute("DROP INDEX touches_by_customer")
    con.execute("ALTER TABLE touches DROP COLUMN request_id")
    con.execute("ALTER TABLE touches DROP COLUMN order_id")
    con.execute("CREATE INDEX touches_by_customer ON touches (customer_id)")
    assert "matter_id" not in {r[0] for r in con.execute("DESCRIBE _loyalist_worklist"
                                                          ).fetchall()}
    con.execute("INSERT INTO touches (id, customer_id, \"at\", kind, _key) "
                "VALUES ('t1', 'c1', '2024-01-01', 'call', 't1')")
    con.close()
    with loyalist.connect(db) as s:
        assert s.schema_version() == migrations.SCHEMA_VERSION >= 12
        t = s.table("touches").execute()
        assert t["id"].tolist() == ["t1"] and {"request_id", "order_id"} <= set(t.columns)
        assert "matter_id" in events(s).columns


def test_cli_log_records_the_order_and_refuses_another_customers(base, tmp_path):
    b, path, as_of = base
    store = str(tmp_path / "s.duckdb")
    shutil.copy(path, store)
    o = b.tables["orders"]
    mine, other = o.iloc[0], o[o["customer_id"] != o.iloc[0]["customer_id"]].iloc[0]
    r = test_worklist._cli("log", mine["customer_id"], "--outcome", "reached", "--no-item",
                           "--order", mine["id"], "--at", f"{as_of:%Y-%m-%d}", "--store", store)
    assert r.returncode == 0, r.stderr
    assert f"about order {mine['id']}" in r.stdout
    r = test_worklist._cli("log", mine["customer_id"], "--outcome", "reached", "--no-item",
                           "--order", other["id"], "--store", store)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert f"has no order '{other['id']}'" in r.stdout + r.stderr
    with loyalist.connect(store) as s:
        t = s.table("touches").execute()
    assert t["order_id"].tolist() == [mine["id"]]  # the refused one wrote nothing


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("effect", [1.0, 0.5])
def test_across_seeds_and_halved_effects(tmp_path, seed, effect):
    """``make_business(n_customers=1500, months=18, seed=1..3, events=False,
    competition=1.0 or 0.5)``, worked 60 days before the end: the silent orders are
    exactly the hand count, and every competitor item is a customer who named a listed
    competitor (the generator's truth) with that name in the item."""
    from loyalist.datasets._text import COMPETITOR_ALIASES

    b = make_business(n_customers=1500, months=18, seed=seed, events=False,
                      competition=effect)
    names = ", ".join(f'"{k}" = [{", ".join(chr(34) + a + chr(34) for a in v)}]'
                      for k, v in COMPETITOR_ALIASES.items())
    (tmp_path / "loyalist.toml").write_text(
        f"[listening]\nvaluable_top = 0.5\ncompetitors = {{ {names} }}\n", encoding="utf-8")
    as_of = b.as_of - pd.Timedelta(days=60)
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        for name in (*TABLES, "touches"):
            if len(b.tables[name]):
                s.ingest(name, b.tables[name])
        stand_in_scores(s, as_of)
        got = silent_matters(s, "order", as_of, s.settings.worklist.settings)
        assert set(got["customer_id"]) == set(_silent_orders_by_hand(b, as_of)["customer_id"])
        items = build_worklist(s, as_of, caps={"answer_competitor": 1000}).items
    rows = items[items["playbook"] == "answer_competitor"]
    truth = b.truth["mentions"]
    truth = truth[truth["listed"]]
    assert len(rows) >= 1
    for r in rows.itertuples():
        named = truth.loc[truth["customer_id"] == r.customer_id, "competitor"]
        assert any(n in r.why for n in named), r.why
    mine = items[items["playbook"].isin(INFORM)]
    assert len(mine) >= 5
    bar = s.settings.worklist.settings.inform_must_do_value
    assert (mine["must_do"] == (mine["value"] >= bar)).all()


def test_customers_never_scored_are_kept_informed_too(world):
    """A customer with no score and no alert (new, or never scored) whose order sits
    silent still gets an update item: their value is unknown, so the order's own amount
    stands for it: must-do from ``inform_must_do_value`` on, discretionary below."""
    b, s, as_of = world
    got = silent_matters(s, "order", as_of, s.settings.worklist.settings)
    gone = got.iloc[:12]
    assert gone["amount"].notna().all()
    scores = s.table("scores").to_pandas()
    alerts = s.table("alerts").to_pandas()
    s.write_derived("scores", scores[~scores["customer_id"].isin(gone["customer_id"])])
    s.write_derived("alerts", alerts[~alerts["customer_id"].isin(gone["customer_id"])])
    bar = float(gone["amount"].median())
    items = build_worklist(s, as_of, playbooks=_books(inform_must_do_value=bar)).items
    mine = items[(items["playbook"] == "update_on_order")
                 & items["customer_id"].isin(gone["customer_id"])]
    must = gone[gone["amount"] >= bar]
    assert len(must) >= 6
    assert set(must["customer_id"]) <= set(mine["customer_id"])
    by_id = gone.set_index("customer_id")
    for r in mine.itertuples():
        assert r.matter_id == by_id.loc[r.customer_id, "matter_id"]
        assert r.value == pytest.approx(by_id.loc[r.customer_id, "amount"])
        assert r.must_do == (r.value >= bar)
    assert (~mine["must_do"]).sum() + len(must) == len(mine)
