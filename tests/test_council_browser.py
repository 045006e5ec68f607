"""The /council page in real headless Chromium (the system's Chromium through Playwright):
an admin asks for a suggested panel, confirms it, records a meeting with its attendance, a
point raised, a commitment with an owner and a due date, and closes it with "you said, we
did"; the page shows each step. A viewer sees the same page with no write form. Both work
under the content security policy with no serious or critical axe finding (the synthetic
business of 300 customers, seed 5)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from test_web_api import start_site
from test_web_browser import browser, serious_violations, sign_in, watched  # noqa: F401


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = start_site(tmp_path_factory.mktemp("council-browser"), n_customers=300, seed=5)
    yield s
    s.stop()


def _form(pg, action: str):
    return pg.locator(f"form[action='{action}']").last


def test_an_admin_runs_a_council_meeting_in_chromium(browser, site, tmp_path):  # noqa: F811
    context = browser.new_context(base_url=site.url)
    pg, refused = watched(context)
    try:
        sign_in(pg, "admin")
        pg.click("nav >> text=Council")
        pg.wait_for_url("**/council")
        assert pg.inner_text("h1") == "Council"
        assert "No members yet" in pg.inner_text("#members")
        assert serious_violations(pg) == []

        pg.click("#members >> text=Suggest a panel")
        pg.wait_for_selector("#suggested tbody tr")
        picks = [t.strip() for t in pg.locator("#suggested tbody tr td:first-child")
                 .all_inner_texts()]
        assert len(picks) == 12 and all(picks)
        why = pg.locator("#suggested tbody tr td:last-child").all_inner_texts()
        assert all(w.strip() for w in why)  # every pick explained
        assert serious_violations(pg) == []
        pg.click("#suggested button[type=submit]")
        pg.wait_for_url("**/council")
        members = pg.locator("#members tbody tr td:first-child").all_inner_texts()
        assert sorted(m.strip() for m in members) == sorted(picks)

        meeting = _form(pg, "/council/meeting")
        held = meeting.locator("input[name=held_at]").input_value()  # today, by default
        assert held == f"{date.today():%Y-%m-%d}"
        meeting.locator("input[name=title]").fill("Spring council")
        meeting.locator("input[name=attended]").fill(" ".join(picks[:3]))
        meeting.locator("button[type=submit]").click()
        pg.wait_for_url("**/council")
        row = pg.locator("#meetings tbody tr").first.inner_text()
        assert "Spring council" in row and held in row
        mid = pg.locator("#meetings tbody tr td").first.inner_text().strip()
        attended = {r.split("\t")[0].strip(): r.split("\t")[3]
                    for r in pg.locator("#members tbody tr").all_inner_texts()}
        assert attended[picks[0]].startswith("1 of 1")
        assert attended[picks[5]].startswith("0 of 1")

        point = _form(pg, "/council/point")
        point.locator("input[name=meeting_id]").fill(mid)
        point.locator("input[name=customer_id]").fill(picks[0])
        point.locator("input[name=text]").fill("Invoices arrive weeks after the goods")
        point.locator("button[type=submit]").click()
        pg.wait_for_url("**/council")
        assert "Invoices arrive weeks after the goods" in pg.inner_text("#meetings")
        pid = pg.locator("#meetings table").nth(1).locator("tbody tr td").first \
            .inner_text().strip()

        due = f"{date.today() + timedelta(days=30):%Y-%m-%d}"
        commit = _form(pg, "/council/commit")
        commit.locator("input[name=text]").fill("Send the invoice with the goods")
        commit.locator("input[name=owner]").fill("S001")
        commit.locator("input[name=due]").fill(due)
        commit.locator("input[name=point_id]").fill(pid)
        commit.locator("button[type=submit]").click()
        pg.wait_for_url("**/council")
        open_row = pg.locator("#commitments tbody tr").first.inner_text()
        for shown in ("S001", due, picks[0], "Send the invoice with the goods"):
            assert shown in open_row
        kid = pg.locator("#commitments tbody tr td").first.inner_text().strip()

        close = _form(pg, "/council/close")
        close.locator("input[name=commitment_id]").fill(kid)
        close.locator("input[name=we_did]").fill("Invoices now travel with the goods")
        close.locator("button[type=submit]").click()
        pg.wait_for_url("**/council")
        done = pg.inner_text("#you-said-we-did")
        assert "Invoices arrive weeks after the goods" in done
        assert "Invoices now travel with the goods" in done
        assert "No open commitments" in pg.inner_text("#commitments")
        pg.screenshot(path=str(tmp_path / "council.png"), full_page=True)
        assert serious_violations(pg) == []
        pg.click(f"#members a[href$='/{picks[0]}']")
        pg.wait_for_url(f"**/customers/{picks[0]}")
        assert "attended 1 of 1 meetings, missed 0" in pg.inner_text("#council")
        assert serious_violations(pg) == []
    finally:
        context.close()
    assert not refused, refused
    got = site.count("_loyalist_council_commitments")
    assert got == 2  # made, then closed: append-only events


def test_a_viewer_sees_the_council_but_no_write_form(browser, site):  # noqa: F811
    context = browser.new_context(base_url=site.url)
    pg, refused = watched(context)
    try:
        sign_in(pg, "viewer")
        pg.goto("/council?suggest=1")
        pg.wait_for_selector("#commitments")
        assert pg.locator("main form[method=post]").count() == 0
        assert pg.locator("#record").count() == 0
        assert serious_violations(pg) == []
    finally:
        context.close()
    assert not refused, refused
