"""The customer council (issue 20): a suggested panel that represents the customer base
and mixes advocates with valuable customers at risk; members, meetings, attendance,
points and commitments kept append-only; "you said, we did"; whispers for a member who
stopped attending or whose promises are overdue; bad input refused with nothing written.

Generator settings: ``make_business(n_customers=2000, months=24, seed=s,
competition=effect, events=False)``; here seed 1, effect 1 (the multi-seed, halved-effect
runs are in ``test_council_slow.py``). Scores: a stand-in ``scores`` table whose P(leave)
is the generator's true chance of leaving (``truth["customers"].will_churn`` smoothed),
so that the at-risk picks can be checked without fitting a model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist import council
from loyalist.council.panel import quotas, suggest_panel
from loyalist.datasets import make_business
from loyalist.errors import CouncilError, DataError
from loyalist.settings.council import CouncilSettings
from loyalist.store import council as db
from test_plain_words import check


def business_store(seed: int = 1, effect: float = 1.0, scores: bool = True,
                   n: int = 2000, survey: float | None = None):
    """A store of ``make_business(n, months=24, seed, competition=effect,
    events=False)`` (with ``survey``: ``survey=SurveySettings(effect=survey)``, the
    relationship effects that drive behaviour and leaving) and stand-in scores."""
    from loyalist.datasets._relationship import SurveySettings

    b = make_business(n_customers=n, months=24, seed=seed, competition=effect,
                      events=False,
                      survey=None if survey is None else SurveySettings(effect=survey))
    s = loyalist.connect(":memory:")
    for name in ("customers", "staff", "orders", "subscriptions", "feedback"):
        s.ingest(name, b.tables[name])
    if scores:
        t = b.truth["customers"]
        rng = np.random.default_rng(seed)
        p = np.clip(0.15 + 0.6 * t["will_churn"].astype(float) + rng.normal(0, 0.1, len(t)),
                    0.01, 0.99)
        s.write_derived("scores", pd.DataFrame({
            "customer_id": t["customer_id"], "as_of": b.as_of, "p_leave": p,
            "model_id": 0}))
    return b, s


@pytest.fixture(scope="module")
def biz():
    b, s = business_store()
    yield b, s
    s.close()


def shares(panel: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    got = panel["segment"].value_counts(normalize=True)
    want = base["segment"].fillna("no segment").value_counts(normalize=True)
    return pd.DataFrame({"panel": got, "base": want}).fillna(0.0)


def test_quotas_largest_remainder_and_a_seat_for_each_group_that_rounds_to_one():
    assert quotas(pd.Series({"a": 63, "b": 27, "c": 10}), 12).to_dict() == {
        "a": 8, "b": 3, "c": 1}
    # 6% of 12 seats is 0.72: it rounds to a seat, so it gets one, even though the
    # remainders of the big groups are larger
    q = quotas(pd.Series({"a": 470, "b": 470, "c": 60}), 12)
    assert q["c"] == 1 and q.sum() == 12
    q = quotas(pd.Series({"a": 98, "b": 1, "c": 1}), 12)  # 0.12 of a seat: none
    assert q.to_dict() == {"a": 12, "b": 0, "c": 0}
    assert quotas(pd.Series({"a": 5}), 0).sum() == 0


def test_panel_represents_segments_and_mixes_advocates_with_valuable_at_risk(biz):
    b, s = biz
    base = council.customer_base(s, b.as_of)
    assert 0 < len(base) < 2000  # current customers only
    for size in (12, 50):
        panel = council.suggest(s, size=size, as_of=b.as_of)
        assert len(panel) == size and panel["customer_id"].is_unique
        assert panel["customer_id"].isin(base["customer_id"]).all()
        sh = shares(panel, base)
        print(size, sh.round(3).to_dict())
        if size == 50:
            assert (sh["panel"] - sh["base"]).abs().max() <= 0.05
        big = sh.index[sh["base"] > 0.05]
        assert (sh.loc[big, "panel"] > 0).all()
        roles = panel["role"].value_counts()
        assert roles.get("advocate", 0) >= 1 and roles.get("valuable at risk", 0) >= 1
    settings = s.settings.council
    risky = panel[panel["role"] == "valuable at risk"].merge(base, on="customer_id")
    top = base["value"].quantile(1 - settings.valuable_top)
    assert (risky["p_leave_y"] >= settings.at_risk_from).all()
    assert (risky["value_y"] >= top - 1e-9).all()
    adv = panel[panel["role"] == "advocate"]
    assert adv["why"].str.contains("scored us (?:9|10) out of 10").all()
    # every pick says why, in words with the member's own numbers
    assert panel["why"].str.contains("Speaks for").all()
    check(panel["why"])
    # regions are mixed, not all from one
    assert panel["region"].nunique() >= 4


def test_panel_of_a_base_without_scores_or_feedback_still_represents():
    rng = np.random.default_rng(0)
    n = 900
    base = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],
        "segment": rng.choice(["a", "b", "c", None], n, p=[0.5, 0.3, 0.14, 0.06]),
        "region": rng.choice(["N", "S"], n), "tenure_days": rng.integers(1, 3000, n),
        "value": rng.gamma(2, 300, n), "p_leave": np.nan, "advocate": None})
    panel = suggest_panel(base, CouncilSettings(size=12))
    assert len(panel) == 12 and (panel["role"] == "representative").all()
    assert set(panel["segment"]) == {"a", "b", "c", "no segment"}
    assert panel["why"].str.contains("customers without a segment").sum() == 1


def test_members_meetings_points_commitments_and_you_said_we_did(biz):
    b, s = biz
    panel = council.suggest(s, size=6, as_of=b.as_of)
    ids = list(panel["customer_id"])
    assert council.confirm(s, ids, at="2024-06-01", why="suggested panel") == ids
    assert council.confirm(s, ids[:2]) == []  # a member is not confirmed twice
    assert council.current_members(s) == set(ids)
    m1 = council.record_meeting(s, "2024-07-01", title="Summer", attended=ids)
    m2 = council.record_meeting(s, "2024-09-01", attended=ids[:4])
    m3 = council.record_meeting(s, "2024-11-01")
    assert council.attend(s, m3, ids[:3]) == ids[:3]
    assert council.attend(s, m3, ids[:3]) == []
    p = council.raise_point(s, m1, "Invoices arrive a week after delivery",
                            customer_id=ids[0])
    k = council.commit(s, "Send invoices with the delivery note", owner="S001",
                       due="2024-08-15", point_id=p)
    k2 = council.commit(s, "Call about the new range", owner="S002", due="2025-03-01",
                        customer_id=ids[1], meeting_id=m2)
    st = council.council_state(s, "2024-12-01")
    assert st.summary()["members"] == 6 and st.summary()["meetings"] == 3
    c = st.commitments.set_index("commitment_id")
    assert c.loc[k, "status"] == "overdue" and c.loc[k, "days_overdue"] == 108
    assert c.loc[k, "customer_id"] == ids[0] and c.loc[k, "meeting_id"] == m1
    assert c.loc[k2, "status"] == "open"
    mem = st.members.set_index("customer_id")
    assert mem.loc[ids[5], "missed_in_row"] == 2 and mem.loc[ids[0], "missed_in_row"] == 0
    assert mem.loc[ids[3], "missed_in_row"] == 1 and mem.loc[ids[3], "attended"] == 2
    w = st.whispers
    check(w["text"])  # plain words (tests/test_plain_words.py's check)
    assert set(w.loc[w["kind"] == "stopped_attending", "customer_id"]) == {ids[4], ids[5]}
    late = w[w["kind"] == "promise_overdue"]
    assert list(late["customer_id"]) == [ids[0]]
    assert "108 days overdue" in late["text"].iloc[0] and "S001" in late["text"].iloc[0]
    # due within remind_days or overdue: what the worklist opens items for
    due = council.due_commitments(s, "2024-12-01", 7)
    assert list(due["commitment_id"]) == [k]
    closed = council.close(s, k, we_did="Invoices now go out with the delivery note",
                           at="2024-12-02")
    assert closed["you_said"] == "Invoices arrive a week after delivery"
    st = council.council_state(s, "2024-12-05")
    done = st.commitments.set_index("commitment_id").loc[k]
    assert done["status"] == "done" and done["we_did"].startswith("Invoices now")
    assert "promise_overdue" not in set(st.whispers["kind"])
    assert council.due_commitments(s, "2024-12-05", 7).empty
    # the records are append-only: the closing is a second event, the first is kept
    ev = db.frame(s, "commitments")
    assert list(ev.loc[ev["commitment_id"] == k, "event"]) == ["made", "closed"]
    council.leave(s, ids[5], at="2024-12-03")
    assert ids[5] not in council.current_members(s)
    assert len(db.frame(s, "members")) == 7


def _counts(s) -> dict:
    return {n: len(db.frame(s, n)) for n in db.TABLES}


def test_bad_input_is_refused_with_a_next_step_and_nothing_written(biz):
    b, s = biz
    assert council.suggest(s, size=3, as_of=b.as_of).empty  # the seats are taken
    base = council.customer_base(s, b.as_of)
    ids = list(base.loc[~base["customer_id"].isin(council.current_members(s)),
                        "customer_id"][:3])
    council.confirm(s, ids[:2])
    mid = council.record_meeting(s, "2024-10-01", attended=ids[:2])
    before = _counts(s)
    cases = [
        (lambda: council.confirm(s, [ids[2], "NOT-A-CUSTOMER"]), "Not a customer: "
         "NOT-A-CUSTOMER"),
        (lambda: council.record_meeting(s, "2024-10-02", attended=[ids[0], "X9"]),
         "Not a customer"),
        (lambda: council.record_meeting(s, "2024-10-02", attended=[ids[2]]),
         "Not a council member"),
        (lambda: council.attend(s, "MT99999", ids[:1]), "No council meeting 'MT99999'"),
        (lambda: council.raise_point(s, "nope", "text"), "No council meeting"),
        (lambda: council.raise_point(s, mid, "  ", customer_id=ids[0]), "needs its words"),
        (lambda: council.commit(s, "Fix it", owner=None, due="2025-01-01",
                                customer_id=ids[0]), "needs an owner"),
        (lambda: council.commit(s, "Fix it", owner="  ", due="2025-01-01",
                                customer_id=ids[0]), "needs an owner"),
        (lambda: council.commit(s, "Fix it", owner="S001", due=None, customer_id=ids[0]),
         "needs a due date"),
        (lambda: council.commit(s, "Fix it", owner="S001", due="01/02/2025",
                                customer_id=ids[0]), "Cannot read the due date"),
        (lambda: council.commit(s, "Fix it", owner="S001", due="2025-01-01",
                                meeting_id="MT0"), "No council meeting"),
        (lambda: council.commit(s, "Fix it", owner="S001", due="2025-01-01"),
         "made to a member"),
        (lambda: council.commit(s, "Fix it", owner="S001", due="2025-01-01",
                                point_id="PT1"), "No point 'PT1'"),
        (lambda: council.close(s, "CM404", we_did="x"), "No commitment 'CM404'"),
        (lambda: council.leave(s, ids[2]), "Not a council member"),
    ]
    for call, words in cases:
        with pytest.raises(DataError, match=words) as e:  # a CouncilError, or a date
            call()
        assert e.value.hint and "Nothing was written" in e.value.hint or "YYYY" in (
            e.value.hint or "")
    k = council.commit(s, "Fix it", owner="S001", due="2025-01-01", customer_id=ids[0])
    with pytest.raises(CouncilError, match="needs what the firm did"):
        council.close(s, k, we_did="")
    council.close(s, k, we_did="Fixed")
    with pytest.raises(CouncilError, match="already closed"):
        council.close(s, k, we_did="Again")
    after = _counts(s)
    assert after == {**before, "commitments": before["commitments"] + 2}


def test_erasure_and_access_cover_the_council(tmp_path):
    s = loyalist.connect(tmp_path / "s.duckdb")
    s.ingest("customers", pd.DataFrame({"id": ["a", "b"], "segment": ["x", "y"]}))
    council.confirm(s, ["a", "b"])
    m = council.record_meeting(s, "2024-01-01", attended=["a"])
    council.raise_point(s, m, "More sizes", customer_id="a")
    council.commit(s, "Add sizes", owner="Ann", due="2024-03-01", customer_id="a")
    data = s.customer_data("a")
    assert data["council"]["points"][0]["text"] == "More sizes"
    removed = s.erase_customer("a")
    assert removed["_loyalist_council_members"] == 1
    assert removed["_loyalist_council_commitments"] == 1
    assert council.current_members(s) == {"b"}
    s.close()


class _Ran:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _cli(*args, cwd, capsys):
    """Run ``loyalist council ...`` in this process (as the entry point does: user
    mistakes become a message, never a traceback)."""
    from loyalist.cli.main import main

    capsys.readouterr()
    code = main(["council", *map(str, args)])
    got = capsys.readouterr()
    assert "Traceback" not in got.out + got.err
    return _Ran(code, got.out, " ".join(got.err.split()))


def test_cli_suggest_confirm_meet_commit_close_show(tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "s.duckdb"
    with loyalist.connect(path) as s:
        s.ingest("customers", pd.DataFrame({
            "id": [f"c{i}" for i in range(40)], "segment": ["a"] * 30 + ["b"] * 10,
            "created_at": "2023-01-01"}))
    got = json.loads(_cli("suggest", "--size", 4, "--json", "--store", path,
                          cwd=tmp_path, capsys=capsys).stdout)
    assert [r["segment"] for r in got["panel"]].count("a") == 3 and got["notes"]
    ids = [r["customer_id"] for r in got["panel"]]
    bad = _cli("confirm", ids[0], "zz", "--store", path, cwd=tmp_path, capsys=capsys)
    assert bad.returncode == 2 and "Not a customer: zz" in bad.stderr
    assert "Nothing was written" in bad.stderr
    assert "Confirmed 4 members" in _cli("confirm", *ids, "--at", "2024-01-01",
                                         "--store", path, cwd=tmp_path, capsys=capsys).stdout
    out = _cli("meeting", "2024-02-01", "-a", ids[0], "--store", path, cwd=tmp_path, capsys=capsys).stdout
    mid = out.split()[2]
    unknown = _cli("point", "MT404", "x", "--store", path, cwd=tmp_path, capsys=capsys)
    assert unknown.returncode == 2 and "No council meeting 'MT404'" in unknown.stderr
    pid = _cli("point", mid, "Faster answers please", "-c", ids[0], "--store", path,
               cwd=tmp_path, capsys=capsys).stdout.split()[2].rstrip(".")
    no_owner = _cli("commit", "Answer within a day", "--due", "2024-03-01", "--point", pid,
                    "--store", path, cwd=tmp_path, capsys=capsys)
    assert no_owner.returncode == 2 and "needs an owner" in no_owner.stderr
    kid = _cli("commit", "Answer within a day", "--owner", "Ann", "--due", "2024-03-01",
               "--point", pid, "--store", path, cwd=tmp_path, capsys=capsys).stdout.split()[2].rstrip(":")
    shown = _cli("show", "--as-of", "2024-04-01", "--store", path, cwd=tmp_path, capsys=capsys).stdout
    assert "overdue" in shown and "missed" in shown and kid in shown
    done = _cli("done", kid, "--we-did", "Answers now within a day", "--store", path,
                cwd=tmp_path, capsys=capsys)
    assert "You said: Faster answers please We did: Answers now" in done.stdout
    got = json.loads(_cli("show", "--json", "--store", path, cwd=tmp_path, capsys=capsys).stdout)
    assert got["summary"]["commitments_done"] == 1
    assert got["commitments"][0]["we_did"] == "Answers now within a day"


def test_promises_and_members_who_stopped_coming_become_worklist_items():
    from loyalist.decisions.worklist import build_worklist, open_items

    b, s = business_store(seed=2, n=600)
    base = council.customer_base(s, b.as_of)
    ids = list(base["customer_id"][:4])
    council.confirm(s, ids, at="2024-01-01")
    for day in ("2024-06-01", "2024-08-01", "2024-10-01"):
        council.record_meeting(s, day, attended=ids[:2])
    mid = council.record_meeting(s, "2024-12-01", attended=ids[:3])
    soon = council.commit(s, "Send the new price list", owner="S-ANNA", due="2025-01-05",
                          meeting_id=mid, customer_id=ids[0])
    council.commit(s, "Visit the warehouse", owner="S-BEN", due="2025-06-01",
                   meeting_id=mid, customer_id=ids[1])
    build_worklist(s, as_of=b.as_of)
    items = open_items(s)
    kept = items[items["playbook"] == "keep_council_promise"]
    # due within remind_days (7) of the run: one item, for the promise's owner, due
    # on its date, must-do; the promise due in June waits
    assert list(kept["customer_id"]) == [ids[0]]
    row = kept.iloc[0]
    assert row["owner"] == "S-ANNA" and bool(row["must_do"])
    assert pd.Timestamp(row["due_at"]) == pd.Timestamp("2025-01-05")
    assert "Send the new price list" in row["why"] and soon in row["evidence"]
    check(items.loc[items["playbook"].str.startswith(("keep_council", "council_")), "why"])
    # ids[3] never came (4 meetings) and ids[2] missed three before coming: only ids[3]
    drifting = items[items["playbook"] == "council_member_drifting"]
    assert set(drifting["customer_id"]) <= {ids[3]}
    assert set(drifting["customer_id"]) | set(
        council.council_state(s, b.as_of).whispers.query("kind == 'stopped_attending'")[
            "customer_id"]) == {ids[3]}
    # kept: closed with you said, we did; the next run closes the item (reason gone)
    council.close(s, soon, we_did="Sent it on 3 January", at="2025-01-03")
    build_worklist(s, as_of=b.as_of)
    items = open_items(s)
    assert (items["playbook"] == "keep_council_promise").sum() == 0
    s.close()
