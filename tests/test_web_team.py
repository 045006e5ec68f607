"""The team pages (/team, /team/agent/{name}) and their JSON twins against a real server
(the synthetic business of 300 customers, seed 5): the figures are `team_report`'s (what
`loyalist team --json` prints), an agent sees only their own figures and gets 403 for
another agent's page, admins see all, viewers see the scorecard and the thank-you names;
the roles are checked before the body is read; security headers; and in real Chromium
the pages work under the content security policy with no serious axe findings."""

from __future__ import annotations

import time

import pytest

from loyalist.team import team_report
from test_hardening import _raw_http
from test_web_api import PASSWORD, assert_error, start_site
from test_web_browser import browser, serious_violations, sign_in, watched  # noqa: F401

#: a user linked to the synthetic service agent E16 (Lena Vogel, Customer Care)
LENA, LENA_ID, OTHER_ID = "lena", "E16", "E17"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = start_site(tmp_path_factory.mktemp("team"), n_customers=300, seed=5)
    s.app.state.accounts.add_user(LENA, PASSWORD, role="agent", person=LENA_ID)
    s.tokens[LENA] = s.app.state.accounts.create_token(LENA)
    yield s
    s.stop()


def test_admin_sees_every_agent_and_the_same_figures_as_the_library(site):
    with site.client("admin") as c:
        r = c.get("/api/team")
    assert r.status_code == 200
    body = r.json()
    rep = team_report(site.store)
    assert body["scope"] == "all" and body["as_of"] == str(rep.as_of.date())
    assert [a["agent"] for a in body["agents"]] == list(rep.agents["agent"])
    assert [a["handled"] for a in body["agents"]] == list(rep.agents["handled"])
    assert [p["key"] for p in body["scorecard"]] == [p.key for p in rep.practices]
    first = body["agents"][0]
    assert first["fcr_low"] <= first["fcr"] <= first["fcr_high"]
    # the place among the team's peers, with its interval, and the team's standing
    assert first["within_team_low"] <= first["within_team"] <= first["within_team_high"]
    assert 1 <= first["rank_in_team"] <= first["team_size"]
    assert first["rank_score"] == pytest.approx(first["team_standing"] + first["within_team"])
    for key, value in {"content-security-policy": "default-src 'self'",
                       "x-frame-options": "DENY", "cache-control": "no-store"}.items():
        assert value in r.headers[key]
    with site.client("admin") as c:
        one = c.get(f"/api/team/agent/{OTHER_ID}").json()
        page = c.get(f"/team/agent/{OTHER_ID}")
    assert one["figures"]["agent"] == OTHER_ID and one["figures"]["handled"] > 0
    assert page.status_code == 200 and "First-contact resolution" in page.text
    assert 'id="in-team"' in page.text and f" of {one['figures']['team_size']}" in page.text
    assert "x-content-type-options" in page.headers


def test_an_agent_sees_only_their_own_figures(site):
    with site.client(LENA) as c:
        body = c.get("/api/team").json()
        assert body["scope"] == "own"
        assert [a["agent"] for a in body["agents"]] == [LENA_ID]
        own = c.get(f"/api/team/agent/{LENA_ID}").json()
        assert own["figures"]["agent"] == LENA_ID
        assert own["figures"]["handled"] == body["agents"][0]["handled"]
        err = assert_error(c.get(f"/api/team/agent/{OTHER_ID}"), 403)
        assert "own figures" in err["error"]
        page = c.get(f"/team/agent/{OTHER_ID}")
        assert page.status_code == 403 and "text/html" in page.headers["content-type"]
        html = c.get("/team").text
    agents_table = html.split('id="agents"')[1].split("</table>")[0]
    assert LENA_ID in agents_table and OTHER_ID not in agents_table


def test_a_viewer_sees_the_scorecard_but_no_agent_figures(site):
    with site.client("viewer") as c:
        body = c.get("/api/team").json()
        assert body["scope"] == "none" and body["agents"] == [] and body["scorecard"]
        assert all(set(t) <= {"agent", "name"} for t in body["thank_you"])
        html = c.get("/team").text
        assert 'id="scorecard"' in html and 'id="agents"' not in html
        # the thank-you card names the agents, or says the bar none of them cleared
        # (it once said the list needed agents with 50 contacts beside agents with 300)
        if body["thank_you"]:
            assert 'id="thanks"' in html
        else:
            assert "no agent with at least 50 contacts in the last year stands " \
                   "credibly above the peers of their team" in html
        err = assert_error(c.get(f"/api/team/agent/{LENA_ID}"), 403)
        assert "agent role" in err["error"]


def test_losses_by_department_are_shown_once_measured(site):
    """The page says how to measure losses until ``loyalist team --losses`` has kept them;
    then it shows the kept table's departments, the same as the library's sum."""
    from loyalist.team.losses import department_losses, stored_losses

    site.app.state.cache.bump()
    with site.client("admin") as c:
        before = c.get("/team").text
    assert "Not measured yet" in before
    dl = department_losses(site.store, freq="Y", write=True)
    site.app.state.cache.bump()
    with site.client("viewer") as c:
        body = c.get("/api/team").json()
        page = c.get("/team").text
    kept = stored_losses(site.store)
    assert [r["department"] for r in body["losses"]] == [r["department"] for r in kept]
    total = dl.table["attributed_revenue"].sum()
    assert abs(sum(r["attributed_revenue"] for r in body["losses"]) - total) < 1e-6 * max(1, total)
    assert "Not measured yet" not in page and 'id="losses"' in page
    assert "attributed_revenue" not in page  # plain words, not column names
    # each department's share with its 90% interval, as kept
    assert "90% interval" in page
    assert all(r["share_low"] <= r["share"] + 1e-9 <= r["share_high"] + 2e-9
               for r in body["losses"] if r["share"] is not None)


def test_the_losses_page_by_segment(site):
    """/team/losses: the firm's losses by department, or one segment's (picked in a
    form), the same figures as the library's; a segment nobody is in is a clear 400."""
    from loyalist.team.losses import department_losses, segments

    seg = segments(site.store)[0]
    with site.client("viewer") as c:
        firm = c.get("/team/losses", params={"freq": "Y"})
        one = c.get("/team/losses", params={"freq": "Y", "segment": seg})
        bad = c.get("/team/losses", params={"segment": "<b>nobody</b>"})
    assert firm.status_code == one.status_code == 200
    assert "content-security-policy" in one.headers
    ours = department_losses(site.store, freq="Y", segment=seg).overall()
    lost = int(ours["lost_customers"].iloc[0])
    rows = one.text.split('id="losses-overall"')[1].split("</table>")[0]
    assert f"{lost:,}" in rows and f"Segment {seg}" in one.text
    assert f"<option selected>{seg}</option>" in one.text
    assert 'data-chart="bars"' in one.text and 'id="losses-stated"' in one.text
    assert bad.status_code == 400 and "<b>nobody</b>" not in bad.text  # escaped


def test_unknown_agent_is_not_found_for_an_admin(site):
    with site.client("admin") as c:
        assert_error(c.get("/api/team/agent/nobody-at-all"), 404)


def test_roles_are_checked_before_the_body_is_read(site):
    """A viewer announcing a body to an agent's page and never sending it is refused at
    once: the server answers 403 without waiting for a byte of it."""
    port = int(site.url.rsplit(":", 1)[1])
    head = (f"GET /api/team/agent/{LENA_ID} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
            f"{site.tokens['viewer']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: 1000000\r\n\r\n").encode()
    started = time.monotonic()
    raw = _raw_http(port, head, timeout=10)
    assert raw.startswith(b"HTTP/1.1 403"), raw[:200]
    assert time.monotonic() - started < 5


def test_team_pages_in_chromium(browser, site, tmp_path):  # noqa: F811
    context = browser.new_context(base_url=site.url)
    pg, refused = watched(context)
    try:
        sign_in(pg, LENA)
        pg.click("nav >> text=Team")
        pg.wait_for_url("**/team")
        assert pg.inner_text("h1") == "Team"
        assert pg.locator("#scorecard tbody tr").count() >= 5
        assert pg.locator("#agents tbody tr").count() == 1
        pg.click("#agents a")
        pg.wait_for_url(f"**/team/agent/{LENA_ID}")
        assert "First-contact resolution" in pg.inner_text("#figures")
        pg.screenshot(path=str(tmp_path / "agent.png"), full_page=True)
        assert serious_violations(pg) == []
        response = pg.goto(f"/team/agent/{OTHER_ID}")
        assert response.status == 403
        pg.goto("/team")
        pg.wait_for_load_state("networkidle")
        assert serious_violations(pg) == []
        pg.goto("/team/losses")
        pg.select_option("#losses-filter select[name=segment]", index=1)
        pg.click("#losses-filter button")
        pg.wait_for_url("**/team/losses?segment=*")
        pg.wait_for_selector("#chart-departments .main-svg")
        assert "Segment " in pg.inner_text("main")
        pg.screenshot(path=str(tmp_path / "losses.png"), full_page=True)
        assert serious_violations(pg) == []
    finally:
        context.close()
    assert not refused, refused
