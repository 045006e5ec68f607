"""The /council page and /api/council: every signed-in role reads, only admins write
(refused before the body is read: the route matrix in test_web_api covers anonymous and
lower roles), each write audited, nothing written on a refusal, an Idempotency-Key
replays the first answer."""

from __future__ import annotations

import pandas as pd
import pytest

from test_web_api import start_site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = start_site(tmp_path_factory.mktemp("council-web"), n_customers=300)
    yield s
    s.stop()


def test_council_over_the_api_and_the_page(site):
    with site.client("viewer") as c:
        panel = c.get("/api/council/suggest", params={"size": 5}).json()["panel"]
        assert len(panel) == 5 and all(p["why"] for p in panel)
        assert c.get("/api/council").json()["summary"]["members"] == 0
        page = c.get("/council")
        assert page.status_code == 200 and "No members yet" in page.text
        assert 'action="/council/commit"' not in page.text  # no write forms for a viewer
        assert "content-security-policy" in {k.lower() for k in page.headers}
    ids = [p["customer_id"] for p in panel]
    with site.client("admin") as c:
        before = site.count("_loyalist_council_members")
        bad = c.post("/api/council/confirm", json={"customers": [ids[0], "NOT-ONE"]})
        assert bad.status_code == 400 and "Not a customer: NOT-ONE" in bad.json()["error"]
        assert site.count("_loyalist_council_members") == before
        key = {"Idempotency-Key": "council-1"}
        first = c.post("/api/council/confirm", json={"customers": ids}, headers=key).json()
        again = c.post("/api/council/confirm", json={"customers": ids}, headers=key)
        assert first["confirmed"] == ids and again.headers["Idempotent-Replayed"] == "true"
        mid = c.post("/api/council/meeting", json={"held_at": "2024-05-01",
                                                   "attended": ids[:3]}).json()["meeting_id"]
        pid = c.post("/api/council/point", json={"meeting_id": mid, "text": "Late invoices",
                                                  "customer_id": ids[0]}).json()["point_id"]
        no_owner = c.post("/api/council/commit", json={"text": "Fix", "due": "2024-06-01",
                                                        "point_id": pid})
        assert no_owner.status_code == 400 and "needs an owner" in no_owner.json()["error"]
        kid = c.post("/api/council/commit", json={"text": "Invoice on delivery",
                                                   "owner": "S001", "due": "2024-06-01",
                                                   "point_id": pid}).json()["commitment_id"]
        unknown = c.post("/api/council/attend", json={"meeting_id": "MT404",
                                                      "customers": ids[:1]})
        assert unknown.status_code == 400 and "No council meeting" in unknown.json()["error"]
        page = c.get("/council")
        assert kid in page.text and 'action="/council/close"' in page.text
        done = c.post("/api/council/close", json={"commitment_id": kid,
                                                  "we_did": "Invoices go with the goods"})
        assert done.json()["you_said"] == "Late invoices"
        audit = c.get("/api/security").json()
    assert "council.close" in str(audit) or site.count("_loyalist_audit") > 0
    with site.client("viewer") as c:
        got = c.get("/api/council").json()
        assert got["summary"]["commitments_done"] == 1 and got["summary"]["members"] == 5
        assert "Invoices go with the goods" in c.get("/council").text


def test_a_members_customer_page_shows_the_council(site):
    """A member's page says they are on the council, the meetings they attended and
    missed (the last ones in a row), and the open commitments made to them with owner
    and due date; a closed one is gone from it; a customer never on it shows nothing."""
    from loyalist.council import member_council

    today = pd.Timestamp.now("UTC").tz_localize(None).normalize()
    due = f"{today + pd.Timedelta(days=20):%Y-%m-%d}"
    with site.client("admin") as c:
        ids = [p["customer_id"] for p in c.get("/api/council/suggest",
                                                params={"size": 40}).json()["panel"]][:2]
        member, other = ids
        c.post("/api/council/confirm", json={"customers": [member]})
        day = f"{today:%Y-%m-%d}"
        m1 = c.post("/api/council/meeting", json={"held_at": day, "title": "One",
                                                  "attended": [member]}).json()["meeting_id"]
        c.post("/api/council/meeting", json={"held_at": day, "title": "Two"})
        c.post("/api/council/meeting", json={"held_at": day, "title": "Three"})
        keep = c.post("/api/council/commit", json={
            "text": "Call back about the delivery slots", "owner": "S002", "due": due,
            "meeting_id": m1, "customer_id": member}).json()["commitment_id"]
        gone = c.post("/api/council/commit", json={
            "text": "A price list in French", "owner": "S003", "due": due,
            "meeting_id": m1, "customer_id": member}).json()["commitment_id"]
        c.post("/api/council/close", json={"commitment_id": gone, "we_did": "Sent it",
                                           "you_said": "French price list"})
    got = member_council(site.store, member)
    assert got["meetings_held"] == 3 and got["attended"] == 1 and got["missed"] == 2
    assert got["missed_in_row"] == 2 and got["left_at"] is None
    assert [k["commitment_id"] for k in got["commitments"]] == [keep]
    assert member_council(site.store, other) is None
    with site.client("viewer") as c:
        body = c.get(f"/api/customers/{member}").json()["council"]
        page = c.get(f"/customers/{member}").text
        assert c.get(f"/api/customers/{other}").json()["council"] is None
        assert 'id="council"' not in c.get(f"/customers/{other}").text
    assert body["attended"] == 1 and body["meetings_held"] == 3
    promise = body["commitments"][0]
    assert promise["owner"] == "S002" and promise["due_at"].startswith(due)
    assert promise["status"] == "open" and promise["owner_name"]
    section = page.split('id="council"')[1].split("</section>")[0]
    assert "On the <a href=\"/council\">customer council</a> since" in section
    assert "attended 1 of 3 meetings, missed 2 (the last 2 in a row)" in section
    assert "Call back about the delivery slots" in section and promise["owner_name"] in section
    assert "A price list in French" not in section
