"""The lead role (between agent and admin) and the worklist's caps raised from the web.

A lead sees every figure, assigns and snoozes any item and raises the caps; they cannot
manage users, data or settings files. Roles are checked before a request's body is read
(the route matrix in test_web_api.py covers every route for every role)."""

from __future__ import annotations

import subprocess
import sys
from contextlib import closing

import pytest

from test_web_api import OWNER, PASSWORD, _csrf, _sign_in, assert_error, start_site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = start_site(tmp_path_factory.mktemp("lead"), n_customers=400, seed=3)
    yield s
    s.stop()


def _items(c, **params) -> list[dict]:
    return c.get("/api/worklist", params={"limit": 500, **params}).json()["rows"]


def test_a_lead_moves_and_snoozes_anyones_items_where_an_agent_may_not(site):
    import pandas as pd

    staff = set(site.store.table("staff").id.to_pandas().astype(str))
    with site.client(OWNER) as c:
        me = _items(c, mine=True)[0]["owner"]
        theirs = next(r for r in _items(c) if r["owner"] in staff and r["owner"] != me)
        # an agent cannot take another person's item
        assert_error(c.post("/api/worklist/assign", json={"items": [theirs["item_id"]],
                                                          "owner": me}), 403)
    with site.client("lead") as c:
        r = c.post("/api/worklist/assign", json={"items": [theirs["item_id"]], "owner": me,
                                                 "note": "covering"})
        assert r.status_code == 200 and r.json()["assigned"] == [theirs["item_id"]], r.text
        day = (pd.Timestamp.now() + pd.Timedelta(days=3)).strftime("%Y-%m-%d")
        r = c.post("/api/worklist/snooze", json={"items": [theirs["item_id"]], "until": day})
        assert r.status_code == 200, r.text
    log = site.app.state.accounts.audit_log(20)
    moved = log[(log["action"] == "worklist.assign") & (log["user_name"] == "lead")]
    assert len(moved) == 1 and moved["detail"].str.contains("covering").all()


@pytest.mark.parametrize("method, path, kw", [
    ("GET", "/api/users", {}),
    ("POST", "/api/users", {"json": {"name": "sneaky", "password": "x" * 12,
                                     "role": "admin"}}),
    ("GET", "/api/security", {}),
    ("GET", "/api/data", {}),
    ("POST", "/api/backup", {}),
    ("GET", "/api/daily", {}),
])
def test_a_lead_cannot_manage_users_data_or_settings(site, method, path, kw):
    with site.client("lead") as c:
        body = assert_error(c.request(method, path, **kw), 403)
    assert "lead" in body["error"] and "admin" in body["error"]
    assert "sneaky" not in set(site.app.state.accounts.users()["name"])


def test_a_lead_sees_every_figure_page(site):
    with closing(_sign_in(site, "lead")) as c:
        for path in ("/", "/customers", "/service", "/impact", "/worklist"):
            r = c.get(path)
            assert r.status_code == 200, path
        nav = c.get("/").text
    assert 'href="/worklist"' in nav and 'href="/admin"' not in nav and 'href="/data"' not in nav


def test_a_refused_role_never_has_its_body_read(site):
    """An agent posting caps gets 403 from the guard before the (oversized, broken) body is
    read: a body the route would refuse as 413 or 422 never gets that far."""
    with site.client("agent") as c:
        r = c.post("/api/worklist/caps", content=b"{" * 200,
                   headers={"content-type": "application/json"})
    assert r.status_code == 403 and "needs the lead role" in r.json()["error"]


def test_the_customer_page_says_what_waits_in_the_backlog(site):
    from loyalist.decisions.worklist.backlog import read_backlog

    backlog = read_backlog(site.store)
    assert len(backlog), "the test business needs a backlog"
    row = backlog.sort_values(["must_do", "place"], ascending=[False, True]).iloc[0]
    waiting_since = f"{row['waiting_since']:%Y-%m-%d}"
    with site.client("viewer") as c:
        body = c.get(f"/api/customers/{row['customer_id']}").json()
        page = c.get(f"/customers/{row['customer_id']}").text
    mine = backlog[backlog["customer_id"] == row["customer_id"]]
    assert sorted(w["playbook"] for w in body["waiting"]) == sorted(mine["playbook"])
    first = body["waiting"][0]
    assert first["waiting_since"].startswith(waiting_since) and first["place"] >= 1
    assert "Waiting in the backlog" in page
    assert f"waiting beyond today's caps since {waiting_since}" in page
    assert first["playbook"].replace("_", " ") in page.lower()
    if bool(row["must_do"]):
        assert "must do" in page
    # a customer with nothing waiting: no such section
    calm = site.store.table("customers").id.to_pandas()
    calm = calm[~calm.isin(backlog["customer_id"])].iloc[0]
    with site.client("viewer") as c:
        assert c.get(f"/api/customers/{calm}").json()["waiting"] == []
        assert "Waiting in the backlog" not in c.get(f"/customers/{calm}").text


def test_caps_are_checked_with_clear_400s_and_nothing_runs(site):
    before = site.count("_loyalist_worklist")
    with site.client("lead") as c:
        for caps, words in (({"no_such_playbook": 5}, "No playbook 'no_such_playbook'"),
                            ({"save_call": "many"}, "whole number from 1 to 10,000"),
                            ({"save_call": 0}, "got 0"),
                            ({"save_call": 10**6}, "got 1000000"),
                            ({"save_call": True}, "got True"),
                            ({}, None)):
            r = c.post("/api/worklist/caps", json={"caps": caps})
            assert r.status_code in (400, 422), r.text
            if words:
                body = assert_error(r, 400)
                assert words in body["error"] and body["hint"], body
    assert site.count("_loyalist_worklist") == before
    log = site.app.state.accounts.audit_log(50)
    assert not (log["action"] == "worklist.caps").any()


def test_a_lead_raises_a_cap_from_the_page_and_the_backlog_opens(site):
    """Last in the module: it opens items. The form runs today's list with the cap, what
    ``loyalist worklist --cap PLAYBOOK=N`` runs; the audit log keeps who, what and why."""
    with site.client("lead") as c:
        backlog = c.get("/api/worklist/backlog").json()
    assert backlog["waiting"] > 0, "the test business needs a backlog"
    first = backlog["playbooks"][0]
    open_before = len(_items(site.client("lead")))
    with closing(_sign_in(site, "agent")) as c:
        page = c.get("/worklist").text
        assert 'id="caps"' not in page  # an agent sees no cap form
    with closing(_sign_in(site, "lead")) as c:
        page = c.get("/worklist").text
        assert 'action="/worklist/caps"' in page and first["playbook"] in page
        token = _csrf(page)
        bad = c.post("/worklist/caps", data={"csrf": token, "playbook": first["playbook"],
                                             "cap": "lots"})
        assert bad.status_code == 400 and "whole number" in bad.text
        r = c.post("/worklist/caps", data={"csrf": token, "playbook": first["playbook"],
                                           "cap": "10000", "note": "clear the backlog"})
        assert r.status_code == 303, r.text
    with site.client("lead") as c:
        after = c.get("/api/worklist/backlog").json()
        open_after = len(_items(c))
    still = {p["playbook"]: p["waiting"] for p in after["playbooks"]}
    assert still.get(first["playbook"], 0) < first["waiting"]
    assert open_after > open_before
    log = site.app.state.accounts.audit_log(20)
    caps = log[log["action"] == "worklist.caps"]
    assert len(caps) == 1 and (caps["user_name"] == "lead").all()
    assert caps["detail"].str.contains("clear the backlog").all()
    assert caps["detail"].str.contains(f'"{first["playbook"]}": 10000').all()


def test_the_cli_adds_a_lead(tmp_path):
    db = str(tmp_path / "u.duckdb")

    def run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "loyalist.cli.main", *args, "--store", db],
                              capture_output=True, text=True, input=stdin, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "COLUMNS": "120", "NO_COLOR": "1"})

    added = run("user", "add", "lee", "--role", "lead", "--password-stdin",
                stdin=PASSWORD + "\n")
    assert added.returncode == 0 and "role lead" in added.stdout, added.stderr
    wrong = run("user", "add", "bo", "--role", "boss", "--password-stdin",
                stdin=PASSWORD + "\n")
    assert wrong.returncode == 1 and "viewer, agent, lead, admin" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    listed = run("user", "list")
    assert "lee" in listed.stdout and "lead" in listed.stdout


def test_the_agents_list_leads_with_alarms_and_marks_them(site):
    """Customers carrying an alarm-level alert (a kind at or above [alerts] min_ratio)
    come first in "My list", each part in priority order, and are marked; the team's
    list keeps the priority order."""
    import pandas as pd

    with site.client(OWNER) as c:
        mine = _items(c, mine=True)
    assert len(mine) >= 4, "the owner needs a few items"
    # give an alarm to the customers of the owner's last two items (least urgent)
    picked = [mine[-1]["customer_id"], mine[-2]["customer_id"]]
    alerts = site.store.table("alerts").to_pandas()
    as_of = alerts["as_of"].iloc[0] if len(alerts) else pd.Timestamp("2024-01-01")
    planted = pd.DataFrame({"customer_id": picked, "kind": "complaint_words",
                            "evidence_table": "requests", "evidence_id": ["R-a", "R-b"],
                            "at": as_of, "text": "Complained about the delivery",
                            "must_do": False, "as_of": as_of, "level": "alarm"})
    others = alerts.assign(level="housekeeping")
    site.store.write_derived("alerts", pd.concat([others, planted], ignore_index=True))
    with site.client(OWNER) as c:
        led = _items(c, mine=True)
        team = _items(c, mine=False)
        csv = c.get("/api/worklist/export", params={"mine": True}).text
    with closing(_sign_in(site, OWNER)) as c:
        page = c.get("/worklist").text
    flagged = [r for r in led if r["alarm"]]
    assert {r["customer_id"] for r in flagged} == set(picked) & {r["customer_id"] for r in led}
    assert led[:len(flagged)] == flagged  # alarms first ...
    assert [r["priority"] for r in flagged] == sorted(r["priority"] for r in flagged)
    rest = led[len(flagged):]
    assert [r["priority"] for r in rest] == sorted(r["priority"] for r in rest)  # ... then
    assert flagged[0]["alarm"].startswith("Complained: Complained about the delivery")
    assert [r["priority"] for r in team] == sorted(r["priority"] for r in team)
    assert "alarm" in csv.splitlines()[0].split(",")
    first_row = page.split('<tbody>')[1].split("</tr>")[0]
    assert 'data-alarm="true"' in first_row and "Alarm:" in first_row
    assert "(those come first)" in page
