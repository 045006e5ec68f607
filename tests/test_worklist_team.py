"""The worklist as a team lives in it: one item per customer and matter (reasons
merge), the backlog beyond the caps kept in view, overdue against today, assigning and
snoozing (with their rules and history), sorting, paging and CSV export.

Same business as test_worklist.py (1,500 customers, 18 months, seed 4, no events;
stand-in scores), so the rules are checked on a business with real hard alerts.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from loyalist.decisions.worklist import build_worklist, item_history, log_outcome, open_items
from loyalist.decisions.worklist.backlog import backlog_summary, parse_caps, read_backlog
from loyalist.decisions.worklist.matters import matter_of, merge
from loyalist.decisions.worklist.outcomes import Actor
from loyalist.decisions.worklist.team import assign, snooze
from loyalist.decisions.worklist.view import SORTS, worklist_view
from loyalist.errors import DataError, PermissionDeniedError
from loyalist.settings import Settings
from loyalist.store.worklist import write_events
from test_worklist import base, world  # noqa: F401  (fixtures)


def _matter_counts(items: pd.DataFrame) -> pd.Series:
    return items.groupby(["customer_id", "matter"]).size()


def test_one_item_per_customer_and_matter_reasons_merge(world):  # noqa: F811
    _b, s, as_of = world
    run = build_worklist(s, as_of)
    items = run.items
    assert (_matter_counts(items) == 1).all()
    assert set(items["matter"]) <= {"request", "order", "customer"}
    assert (items["matter"] == items["reason_kind"].map(matter_of)).all()
    # the business has customers with an unanswered request AND repeated contacts: one
    # call-back item names both, owned by one person
    merged = items[items["also"].notna()]
    assert len(merged) > 0
    both = merged[(merged["playbook"] == "call_back_unanswered")
                  & merged["also"].str.contains("resolve_repeated_contact")]
    assert len(both) > 0 and both["why"].str.contains("Also:").all()
    # a must-do reason leads its matter: no discretionary item shares a matter with one
    assert not items[~items["must_do"]].duplicated(["customer_id", "matter"]).any()
    again = build_worklist(s, as_of)
    assert (again.opened, again.closed) == (0, 0)


def test_merged_words_say_only_what_the_leader_does_not():
    """Two playbooks of one matter citing the same comment: the item says it once (the
    demo's list once showed a detractor's words twice, after "Also:"); a different
    reason of the same matter follows "Also:"."""
    said = 'Gave NPS 4 on 26 Nov 2024: "Had to call back several times."'
    cand = pd.DataFrame({
        "key": ["a", "b", "c", "d", "e"], "customer_id": ["C1", "C1", "C2", "C2", "C2"],
        "matter": ["customer"] * 5, "must_do": [False] * 5, "is_open": [False] * 5,
        "order": [0, 1, 0, 1, 2],
        "playbook": ["manager_call", "survey_followup", "manager_call", "survey_followup",
                     "win_back"],
        "why": [said, said, said, said, "Usually orders every 3 weeks, nothing for 9"]})
    lead, merged = merge(cand)
    why = lead.set_index("customer_id")["why"]
    assert why["C1"] == said and why["C2"].count("Had to call back") == 1
    assert why["C2"] == f"{said} Also: Usually orders every 3 weeks, nothing for 9"
    assert lead.set_index("customer_id")["also"].to_dict() == {
        "C1": "survey_followup", "C2": "survey_followup,win_back"}
    assert sorted(merged["into"]) == ["a", "c", "c"]


def test_duplicates_of_an_older_run_merge_into_one(world):  # noqa: F811
    _b, s, as_of = world
    run = build_worklist(s, as_of)
    lead = run.items[run.items["playbook"] == "call_back_unanswered"].iloc[0]
    # an older Loyalist opened a second item for the same request thread (no matter
    # written), owned by someone else
    twin = pd.DataFrame({"event": ["opened"], "at": [as_of], "customer_id": [lead.customer_id],
                         "playbook": ["resolve_repeated_contact"],
                         "reason_kind": ["repeated_contact"], "must_do": [True],
                         "why": ["Contacted us 3 times"], "owner": ["somebody"],
                         "expected_value_saved": [1.0], "due_at": [as_of]})
    write_events(s, pd.DataFrame(), opened=twin)
    assert (_matter_counts(open_items(s)) > 1).sum() == 1
    nxt = build_worklist(s, as_of + pd.Timedelta(days=1))
    assert nxt.merged >= 1
    assert (_matter_counts(nxt.items) == 1).all()
    hist = item_history(s)
    note = hist[(hist["event"] == "closed") & (hist["customer_id"] == lead.customer_id)
                & (hist["playbook"] == "resolve_repeated_contact")]["note"]
    assert note.str.contains(f"merged into {lead.item_id}").any()


def test_an_open_item_absorbs_a_new_reason_of_its_matter(world, tmp_path):  # noqa: F811
    _b, s, as_of = world
    (tmp_path / "loyalist.toml").write_text(
        '[[worklist.playbook]]\nname = "resolve_repeated_contact"\nenabled = false\n')
    s.settings = Settings.load(s)
    first = build_worklist(s, as_of)
    # the call-backs, and the updates owed to valuable customers (must-do: they lead)
    calls = first.items[first.items["playbook"].isin(["call_back_unanswered",
                                                      "update_on_request"])]
    (tmp_path / "loyalist.toml").write_text("")
    s.settings = Settings.load(s)
    nxt = build_worklist(s, as_of)
    items = nxt.items.set_index("item_id")
    grown = items.loc[items.index.intersection(calls["item_id"])]
    grown = grown[grown["also"].fillna("").str.contains("resolve_repeated_contact")]
    assert len(grown) > 0 and grown["why"].str.contains("Also:").all()
    assert (_matter_counts(nxt.items) == 1).all()
    hist = item_history(s)
    assert set(hist.loc[hist["event"] == "reasons", "item_id"]) == set(grown.index)
    again = build_worklist(s, as_of)  # nothing new: nothing written
    assert len(item_history(s)) == len(hist) and (again.opened, again.closed) == (0, 0)


def test_backlog_is_kept_with_count_and_age_and_the_lead_raises_the_cap(world, tmp_path):  # noqa: F811
    _b, s, as_of = world
    (tmp_path / "loyalist.toml").write_text(
        '[[worklist.playbook]]\nname = "call_back_unanswered"\ncap_per_owner_per_day = 3\n')
    s.settings = Settings.load(s)
    run = build_worklist(s, as_of)
    waiting = run.waiting["call_back_unanswered"]
    assert waiting > 0
    summary = backlog_summary(s, today=as_of)
    assert summary["waiting"] == run.backlog and summary["must_do"] >= waiting
    top = summary["playbooks"][0]
    assert top["must_do"] and top["oldest_days"] > 0
    rows = read_backlog(s)
    cb = rows[rows["playbook"] == "call_back_unanswered"]
    assert len(cb) == waiting and list(cb["place"]) == list(range(1, waiting + 1))
    # every customer with an unanswered request is on the list or in the backlog
    a = s.table("alerts").to_pandas()
    owed = set(a.loc[a["kind"] == "unanswered_request", "customer_id"])
    seen = set(run.items.loc[run.items["matter"] == "request", "customer_id"]) | set(
        rows.loc[rows["matter"] == "request", "customer_id"])
    assert owed <= seen
    # age against today, not the data's date: a year later everything is a year older
    later = backlog_summary(s, today=as_of + pd.Timedelta(days=365))
    assert later["oldest_days"] == summary["oldest_days"] + 365
    # the lead raises the cap for one run: the backlog shrinks by what fits
    more = build_worklist(s, as_of + pd.Timedelta(days=1),
                          caps=parse_caps(["call_back_unanswered=100000"]))
    assert more.waiting.get("call_back_unanswered", 0) == 0
    assert len(read_backlog(s).query("playbook == 'call_back_unanswered'")) == 0
    with pytest.raises(DataError, match="No playbook"):
        build_worklist(s, as_of, caps={"nope": 3})
    with pytest.raises(DataError, match="PLAYBOOK=N"):
        parse_caps(["call_back_unanswered"])


def test_cap_scale_setting(world, tmp_path):  # noqa: F811
    _b, s, as_of = world
    (tmp_path / "loyalist.toml").write_text(
        '[worklist]\ncap_scale = 0.1\n')
    s.settings = Settings.load(s)
    small = build_worklist(s, as_of)
    fu = small.items[small.items["playbook"] == "follow_up_order"]
    assert fu.groupby("owner").size().max() <= 2  # 20 x 0.1
    (tmp_path / "loyalist.toml").write_text('[worklist]\ncap_scale = 0\n')
    with pytest.raises(DataError, match="cap_scale"):
        Settings.load(s)


def test_overdue_counts_against_today(world):  # noqa: F811
    _b, s, as_of = world
    build_worklist(s, as_of)
    on_the_day = open_items(s, today=as_of)
    assert (on_the_day["overdue_days"] == 0).all()
    now = open_items(s)  # the real date: the data is older, so all are overdue
    assert (now["overdue_days"] > 0).all()
    later = open_items(s, today=as_of + pd.Timedelta(days=10))
    expect = (as_of + pd.Timedelta(days=10) - later["due_at"].dt.normalize()).dt.days
    assert (later["overdue_days"] == expect.clip(lower=0)).all()


def _people(s) -> list[str]:
    """Account managers who own items (customers.owner; this business has no staff
    table)."""
    c = s.table("customers")
    return sorted(c.owner.to_pandas().dropna().astype(str).unique())


def test_assign_one_or_many_with_rules_and_history(world):  # noqa: F811
    _b, s, as_of = world
    run = build_worklist(s, as_of)
    ann, bob = _people(s)[:2]
    ids = list(run.items["item_id"].head(3))
    done = assign(s, ids, ann, by="lead", note="Ann covers Monday")
    assert set(done.items) <= set(ids)
    now = open_items(s).set_index("item_id")
    assert (now.loc[ids, "owner"] == ann).all()
    hist = item_history(s, ids[0])
    assert hist["event"].iloc[-1] == "assigned" and hist["by_user"].iloc[-1] == "lead"
    # an agent hands their own item over, but cannot take another person's
    me = Actor(ann)
    assign(s, ids[:1], bob, actor=me)
    with pytest.raises(PermissionDeniedError, match="Ask the retention lead"):
        assign(s, ids[:1], ann, actor=me)
    # a team's item may be taken by an agent for themselves
    team = open_items(s)
    team = team[~team["owner"].isin(_people(s))]
    taken = assign(s, team["item_id"].head(1), ann, actor=me)
    assert len(taken) == 1
    with pytest.raises(PermissionDeniedError):
        assign(s, team["item_id"].iloc[1:2], bob, actor=me)
    # all or nothing: an unknown item or owner changes nothing
    before = len(item_history(s))
    with pytest.raises(DataError, match="Not an open item"):
        assign(s, [ids[1], "W9999999"], bob)
    with pytest.raises(DataError, match="can own items"):
        assign(s, ids[1:2], "Nobody at all")
    assert len(item_history(s)) == before
    # the new owner may close it; the old one may not
    item = open_items(s).set_index("item_id").loc[ids[0]]
    with pytest.raises(PermissionDeniedError):
        log_outcome(s, item["customer_id"], "reached", item_id=ids[0], actor=me)
    log_outcome(s, item["customer_id"], "reached", item_id=ids[0], actor=Actor(bob))
    # a rerun keeps the assignment (it does not reopen or give the item back)
    build_worklist(s, as_of)
    assert (open_items(s).set_index("item_id").loc[ids[1:], "owner"] == ann).all()


def test_snooze_hides_until_the_date(world):  # noqa: F811
    _b, s, as_of = world
    run = build_worklist(s, as_of)
    item = run.items.iloc[0]
    day = as_of + pd.Timedelta(days=1)
    snooze(s, [item["item_id"]], as_of + pd.Timedelta(days=7), today=day, note="on holiday")
    awake = open_items(s, snoozed=False, today=day)
    assert item["item_id"] not in set(awake["item_id"])
    back = open_items(s, snoozed=False, today=as_of + pd.Timedelta(days=7))
    assert item["item_id"] in set(back["item_id"])
    v = worklist_view(s, snoozed=True, today=day)
    assert list(v.rows["item_id"]) == [item["item_id"]]
    with pytest.raises(DataError, match="not in the future"):
        snooze(s, [item["item_id"]], as_of, today=day)
    with pytest.raises(DataError, match="more than a year"):
        snooze(s, [item["item_id"]], day + pd.Timedelta(days=400), today=day)
    snooze(s, [item["item_id"]], None)  # wake it now
    assert item["item_id"] in set(open_items(s, snoozed=False, today=day)["item_id"])
    other = Actor("not-the-owner")
    if item["owner"] != "not-the-owner":
        with pytest.raises(PermissionDeniedError):
            snooze(s, [item["item_id"]], day + pd.Timedelta(days=2), actor=other, today=day)


def test_view_sorts_pages_filters_and_exports(world):  # noqa: F811
    _b, s, as_of = world
    build_worklist(s, as_of)
    for sort in SORTS:
        for desc in (False, True):
            v = worklist_view(s, sort=sort, descending=desc, page_size=40, today=as_of)
            col = v.all_rows[{"customer": "name", "owner": "owner_name", "due": "due_at",
                              "overdue": "overdue_days", "saved": "expected_value_saved",
                              "opened": "opened_at"}.get(sort, sort)].dropna()
            assert col.is_monotonic_decreasing if desc else col.is_monotonic_increasing
    v = worklist_view(s, page=2, page_size=10, today=as_of)
    assert v.pages == -(-v.total // 10) and len(v.rows) == 10
    assert list(v.rows["priority"]) == sorted(v.all_rows["priority"])[10:20]
    last = worklist_view(s, page=10**6, page_size=10, today=as_of)
    assert last.page == last.pages
    pb = v.choices["playbook"][0]
    f = worklist_view(s, playbook=pb, matter=None, must_do=True, today=as_of)
    assert (f.all_rows["playbook"] == pb).all() and f.all_rows["must_do"].all()
    csv = pd.read_csv(io.StringIO(f.csv()))
    assert len(csv) == f.total and list(csv["item_id"]) == list(f.all_rows["item_id"])
    assert {"customer_id", "name", "owner", "due_at", "why"} <= set(csv.columns)
    with pytest.raises(DataError, match="sort"):
        worklist_view(s, sort="nonsense")
    with pytest.raises(DataError, match="page"):
        worklist_view(s, page_size=0)


def test_cli_assign_snooze_csv_and_caps(base, tmp_path):  # noqa: F811
    import shutil

    from test_worklist import _cli

    _b, path, as_of = base
    store = str(tmp_path / "s.duckdb")
    shutil.copy(path, store)
    r = _cli("worklist", "--as-of", f"{as_of:%Y-%m-%d}", "--cap", "follow_up_order=1",
             "--top", "3", "--store", store, columns=80)
    assert r.returncode == 0, r.stderr
    assert "Waiting beyond today's caps" in r.stdout and "must-do" in r.stdout
    assert max(len(x) for x in r.stdout.splitlines()) <= 80
    r = _cli("worklist", "--show", "--csv", "-", "--sort", "due", "--store", store)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(io.StringIO(r.stdout))
    assert len(table) > 20 and table["due_at"].is_monotonic_increasing
    first, second = table["item_id"].iloc[:2]
    r = _cli("assign", first, second, "--to", "Retention team", "--by", "lead", "--store",
             store)
    assert r.returncode == 0 and "Assigned 2 items" in r.stdout, r.stdout + r.stderr
    r = _cli("snooze", first, "--until", "2099-01-01", "--store", store)
    assert r.returncode == 1 and "more than a year" in r.stderr + r.stdout
    day = (pd.Timestamp.now() + pd.Timedelta(days=3)).strftime("%Y-%m-%d")
    r = _cli("snooze", first, "--until", day, "--store", store)
    assert r.returncode == 0 and f"until {day}" in r.stdout, r.stdout + r.stderr
    r = _cli("assign", "W9999999", "--to", "Retention team", "--store", store)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    r = _cli("worklist", "--show", "--owner", "Nobody", "--store", store)
    assert r.returncode == 0 and "No open items for owner Nobody" in r.stdout
    r = _cli("worklist", "--show", "--cap", "oops", "--store", store)
    assert r.returncode == 1 and "PLAYBOOK=N" in r.stdout + r.stderr
