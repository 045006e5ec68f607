"""The main journeys in real headless Chromium (Playwright, the system's Chromium):
sign in, open a customer, log an outcome and see it on the timeline, upload a file
with bad rows and see them listed. Screenshots go to the test's folder."""

from __future__ import annotations

import pytest

from test_web_api import OWNER, PASSWORD, start_site

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# no skip when Chromium is missing: the browser journeys are part of the suite (make test
# installs Debian's chromium), so a missing browser fails here, loudly


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = start_site(tmp_path_factory.mktemp("browser"), n_customers=300, seed=5)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(base_url=site.url)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def survey_site(tmp_path_factory):
    """A business that answers the relationship survey, analysed once by the library
    (what ``loyalist relationship`` does) so the page has something to show."""
    from loyalist.relationship import analyse, save_analysis

    s = start_site(tmp_path_factory.mktemp("relationship"), n_customers=600, seed=8,
                   survey=True)
    with s.app.state.write_lock:
        s.result = analyse(s.store, n_boot=50)
        save_analysis(s.store, s.result)
    s.app.state.cache.bump()
    yield s
    s.stop()


def watched(context):
    """A new page, and the list that collects what the Content-Security-Policy refused
    and any script error."""
    pg = context.new_page()
    refused = []
    pg.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text
          or "Refused to" in m.text else None)
    pg.on("pageerror", lambda e: refused.append(str(e)))
    return pg, refused


def sign_in(page, name: str) -> None:
    page.goto("/")
    assert "/login" in page.url  # not signed in: sent to the sign-in page
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def test_sign_in_and_see_the_overview(page, tmp_path):
    page.goto("/login")
    page.fill("input[name=name]", "viewer")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "Wrong user name or password" in page.inner_text("[role=alert]")
    sign_in(page, "viewer")
    assert page.inner_text("h1") == "Overview"
    assert "viewer (viewer)" in page.inner_text("header")
    for chart in ("nps", "service", "loss", "cohorts"):  # plotly, served by the app itself
        page.wait_for_selector(f"#chart-{chart} .main-svg")
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    assert (tmp_path / "overview.png").stat().st_size > 10_000


def test_open_a_customer_log_an_outcome_and_see_it_on_the_timeline(page, site, tmp_path):
    sign_in(page, "agent")
    first = site.store.table("customers").order_by("id").limit(1).to_pandas().iloc[0]
    page.fill("header input[name=q]", first["name"])
    page.press("header input[name=q]", "Enter")
    page.wait_for_url("**/customers?q=*")
    page.click(f"a[href='/customers/{first['id']}']")
    page.wait_for_url(f"**/customers/{first['id']}")
    assert "P(leave)" in page.inner_text("#p-leave")
    page.wait_for_selector("#chart-history .main-svg")  # risk over time, drawn by plotly
    assert page.locator("#chart-history .scatterlayer .point").count() == 2
    assert page.locator("#score-history tbody tr").count() == 2
    page.screenshot(path=str(tmp_path / "customer.png"), full_page=True)
    if page.locator("select[name=item_id]").count():  # a contact about no open item
        page.select_option("select[name=item_id]", "none")
    page.select_option("select[name=outcome]", "saved")
    page.fill("input[name=note]", "Agreed a loyalty discount in the browser test")
    page.click("form.outcome button[type=submit]")
    page.wait_for_url("**?logged=0")
    assert "Outcome logged" in page.inner_text("[role=status]")
    row = page.locator("#timeline tbody tr", has_text="loyalty discount")
    assert row.count() == 1 and "saved" in row.inner_text()
    page.screenshot(path=str(tmp_path / "customer-after-outcome.png"), full_page=True)
    t = site.store.table("touches")
    stored = t.filter(t.customer_id == first["id"]).to_pandas()
    assert list(stored["by"]) == ["agent"] and list(stored["outcome"]) == ["saved"]


def test_a_viewer_sees_no_outcome_form(page, site):
    sign_in(page, "viewer")
    cid = site.store.table("customers").order_by("id").limit(1).to_pandas()["id"].iloc[0]
    page.goto(f"/customers/{cid}")
    assert page.locator("form.outcome").count() == 0
    page.goto("/data")
    assert "needs the admin role" in page.inner_text("[role=alert]")


def test_upload_a_file_with_bad_rows_and_see_them_listed(page, site, tmp_path):
    cid = site.store.table("customers").order_by("id").limit(1).to_pandas()["id"].iloc[0]
    export = tmp_path / "orders-june.csv"
    export.write_text("customer_id,ordered_at,amount,Order No\n"
                      f"{cid},2023-06-01,20,W1\n"
                      f"{cid},31/31/2023,21,W2\n"
                      f",2023-06-03,22,W3\n"
                      f"{cid},2023-06-04,23,W4\n")
    before = site.count("orders")
    sign_in(page, "admin")
    page.goto("/data")
    page.select_option("select[name=table]", "orders")
    page.set_input_files("input[name=file]", str(export))
    page.click("#upload button[type=submit]")
    page.wait_for_selector("#ingest-result")
    result = page.inner_text("#ingest-result")
    assert "orders-june.csv" in result and "2 new" in result and "2 rejected" in result
    lines = page.locator("#rejects tbody tr").all_inner_texts()
    assert [ln.split("\t")[0] for ln in lines] == ["3", "4"]
    assert "31/31/2023" in lines[0] and "missing required value" in lines[1]
    # what the ingest said beside its counts reaches the page the form lands on
    assert "'Order No' looks like orders.id" in page.inner_text("#ingest-notes")
    assert "not loaded: Order No." in result
    page.screenshot(path=str(tmp_path / "data-upload.png"), full_page=True)
    assert site.count("orders") == before + 2


def _rows(page) -> list[dict]:
    return page.eval_on_selector_all("table.worklist tbody tr", """rows => rows.map(r => ({
        id: r.id.slice(5), customer: r.dataset.customer, matter: r.dataset.matter,
        priority: parseInt(r.cells[1].innerText.replace('!', '')),
        owner: r.cells[5].innerText.trim()}))""")


def test_an_agents_morning(page, site, tmp_path):
    """Sign in, my list sorted by urgency, filter, reassign one item, log an outcome:
    the item leaves the list, and no customer has two items about the same matter."""
    from test_web_api import OWNER_NAME

    sign_in(page, OWNER)
    page.click("nav a[href='/worklist']")
    # my list first, most urgent first
    assert page.locator(".tabs a[aria-current=page]").inner_text() == "My list"
    mine = _rows(page)
    assert mine and {r["owner"] for r in mine} == {OWNER_NAME}
    assert [r["priority"] for r in mine] == sorted(r["priority"] for r in mine)
    assert page.locator("th[aria-sort=ascending]").inner_text().startswith("#")
    page.screenshot(path=str(tmp_path / "worklist.png"), full_page=True)
    # sort by the due date with the keyboard alone, then back to urgency
    page.focus("th a:text('Due')")
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=due*")
    assert page.locator("th[aria-sort=ascending]").inner_text().startswith("Due")
    page.focus("th a:text('#')")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: "sort=" not in u)
    # filter by the matter of the first item: kept in the URL
    matter = mine[0]["matter"]
    page.select_option("#filters select[name=matter]", matter)
    page.click("#filters button[type=submit]")
    page.wait_for_url(f"**matter={matter}*")
    rows = _rows(page)
    assert rows and {r["matter"] for r in rows} == {matter}
    # reassign the first item to a colleague: it leaves my list
    moved = rows[0]["id"]
    page.check(f"#item-{moved} input[name=item]")
    colleague = page.eval_on_selector(
        "#bulk-owner", f"s => [...s.options].find(o => o.text !== {OWNER_NAME!r}).value")
    page.select_option("#bulk-owner", colleague)
    page.fill("#bulk input[name=note]", "Out on Friday")
    page.click("#bulk button[type=submit]")
    page.wait_for_url(f"**matter={matter}*")
    assert page.locator(f"#item-{moved}").count() == 0
    # log an outcome on the next one: it leaves the list too
    rows = _rows(page)
    if not rows:  # that was my only item of this matter: back to the whole list
        page.goto("/worklist")
        rows = _rows(page)
    done = rows[0]["id"]
    row = page.locator(f"#item-{done}")
    row.locator("select[name=outcome]").select_option("reached")
    row.locator("input[name=note]").fill("Called from the worklist")
    row.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(f"#item-{done}").count() == 0
    # the reassigned item is the colleague's now, with its history audited
    page.goto(f"/worklist?mine=false&owner={colleague}&size=500")
    assert page.locator(f"#item-{moved}").count() == 1
    log = site.app.state.accounts.audit_log(20)
    assert ((log["action"] == "worklist.assign") & log["detail"].str.contains(moved)).any()
    # the whole team's list: one item per customer and matter
    page.goto("/worklist?mine=false&size=500")
    everyone = _rows(page)
    pairs = [(r["customer"], r["matter"]) for r in everyone]
    assert len(pairs) == len(set(pairs)) > 0
    assert done not in {r["id"] for r in everyone}


def test_a_viewer_sees_no_link_that_would_refuse_them(page, site):
    sign_in(page, "viewer")
    seen = set()
    for start in ("/", "/customers", "/service", "/impact", "/relationship"):
        page.goto(start)
        hrefs = page.eval_on_selector_all("a[href^='/']", "a => a.map(x => x.getAttribute('href'))")
        seen |= {h for h in hrefs if not h.startswith("/static/")}
    assert "/worklist" not in seen and "/data" not in seen
    for href in sorted(seen)[:60]:
        r = page.request.get(href)
        assert r.status != 403, href


def test_pages_work_under_the_content_security_policy(browser, site, tmp_path):
    """Every page served with its security headers, drawn with no script blocked: the
    charts come from the app's own files, and no inline script is needed."""
    context = browser.new_context(base_url=site.url)
    pg, refused = watched(context)
    sign_in(pg, "admin")
    cid = site.store.table("scores").order_by("customer_id").limit(1).to_pandas()[
        "customer_id"].iloc[0]
    for path, chart in (("/", "#chart-service .main-svg"), ("/service", "#chart-monthly"),
                        (f"/customers/{cid}", "#chart-history .main-svg"), ("/worklist", None),
                        ("/data", None), ("/admin", None), ("/impact", None),
                        ("/relationship", "#no-analysis"), ("/listening", "#no-competitors")):
        response = pg.goto(path)
        h = response.headers
        assert "frame-ancestors 'none'" in h["content-security-policy"], path
        assert h["x-content-type-options"] == "nosniff" and h["cache-control"] == "no-store"
        assert h["referrer-policy"] == "same-origin"
        if chart:
            pg.wait_for_selector(chart)
    pg.goto("/")
    pg.screenshot(path=str(tmp_path / "overview-under-csp.png"), full_page=True)
    context.close()
    assert not refused, refused


def test_the_relationship_page_draws_its_charts_under_the_policy(browser, survey_site, tmp_path):
    """The quadrant map and the driver bars are drawn by the app's own script from the
    JSON beside them; the JSON twin holds the same analysis."""
    context = browser.new_context(base_url=survey_site.url)
    pg, refused = watched(context)
    sign_in(pg, "viewer")
    pg.click("nav a[href='/relationship']")
    pg.wait_for_url("**/relationship")
    assert pg.inner_text("h1") == "Relationship"
    pg.wait_for_selector("#chart-gap .main-svg")
    res = survey_site.result
    gap = res.gap[res.gap["segment"] == res.gap["segment"].iloc[0]]
    # one point per attribute, the four quadrants named in the corners
    assert pg.locator("#chart-gap .scatterlayer .point").count() == len(gap)
    corners = pg.locator("#chart-gap .annotation-text").all_text_contents()
    assert set(corners) == {"concentrate here", "keep up the good work", "low priority",
                            "possible overkill"}
    for k, name in enumerate(res.drivers, 1):
        pg.wait_for_selector(f"#chart-drivers-{k} .main-svg")
        assert pg.locator(f"#chart-drivers-{k} .bars .point").count() == len(
            res.drivers[name].table)
    rows = pg.locator("#gap tbody tr").all_inner_texts()
    assert [r.split("\t")[0] for r in rows] == list(gap["label"])
    shown = pg.locator("#segments tbody tr").all_inner_texts()
    counts = res.segments.set_index("segment")["customers"]
    assert {r.split("\t")[0]: int(r.split("\t")[1].replace(",", "")) for r in shown} == \
        counts.to_dict()
    pg.screenshot(path=str(tmp_path / "relationship.png"), full_page=True)
    at_risk = pg.locator("#at-risk-promoters tbody tr a")
    if at_risk.count():  # a listed customer opens their own page
        first = at_risk.first.inner_text()
        at_risk.first.click()
        pg.wait_for_url(f"**/customers/{first}")
    context.close()
    assert not refused, refused
    with survey_site.client("viewer") as c:
        body = c.get("/api/relationship").json()
    assert body["ok"] is True and body["survey"] == res.survey.name
    assert body["responses"] == res.responses
    assert [p["label"] for p in body["charts"]["importance_performance"]] == \
        list(res.gap["label"])
    people = res.people[res.people["relationship_segment"] == "at-risk promoter"]
    assert [p["customer_id"] for p in body["people"]["at-risk promoter"]] == list(
        people.sort_values(["p_leave", "customer_id"], ascending=[False, True])
        ["customer_id"][:25])


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it stands (WCAG 2 A and
    AA rules, contrast included), one line each: rule, impact, the first offending
    elements."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page, options={"runOnly": {"type": "tag", "values": [
        "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}).response
    return [f"{v['id']} ({v['impact']}): " + "; ".join(n["target"][0] for n in v["nodes"][:3])
            for v in found["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("path", ["/", "/customers/{first}", "/service", "/worklist"])
def test_pages_have_no_serious_accessibility_violations(page, site, path):
    sign_in(page, "agent")
    first = site.store.table("customers").order_by("id").limit(1).to_pandas().iloc[0]["id"]
    page.goto(path.format(first=first))
    page.wait_for_load_state("networkidle")
    assert serious_violations(page) == []


def test_the_accessibility_check_finds_what_it_should(page):
    """The check itself: grey on white text and an unlabelled field are reported."""
    sign_in(page, "agent")
    page.evaluate("""() => {
        const p = document.createElement('p'); p.textContent = 'faint words';
        p.style.color = '#d0d0d0'; document.querySelector('main').append(p);
        const i = document.createElement('input'); document.querySelector('main').append(i);
    }""")
    found = " ".join(serious_violations(page))
    assert "color-contrast" in found and "label" in found


def test_the_relationship_page_has_no_serious_accessibility_violations(browser, survey_site):
    context = browser.new_context(base_url=survey_site.url)
    pg = context.new_page()
    sign_in(pg, "viewer")
    pg.goto("/relationship")
    pg.wait_for_load_state("networkidle")
    try:
        assert serious_violations(pg) == []
    finally:
        context.close()


def test_a_keyboard_user_skips_to_the_content_and_reaches_every_link(page):
    sign_in(page, "agent")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.locator("a.skip").is_visible()  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is inside the content, not the menu
    assert page.evaluate("!!document.activeElement.closest('main')")


def test_charts_hold_for_one_point_and_same_day_points(page, site):
    """The risk chart of a customer scored twice on one day: two labelled points on a
    category axis (not a vertical line over sub-millisecond ticks), with the text
    alternative saying so."""
    import pandas as pd

    sign_in(page, "agent")
    ids = site.store.table("customers").order_by("id").limit(2).to_pandas()["id"].tolist()
    one, two = ids
    day = pd.Timestamp("2024-02-01")
    with site.app.state.write_lock:
        site.store.append_derived("score_history", pd.DataFrame({
            "customer_id": [two, two], "as_of": [day, day], "p_leave": [0.95, 0.95],
            "model_id": [7, 8], "top_reason": "twice on one day"}))
    site.app.state.cache.bump()
    page.goto(f"/customers/{two}")
    page.wait_for_selector("#chart-history .main-svg")
    text = page.inner_text("#chart-history-text")
    assert "same day" in text and "4 points" in text
    ticks = page.locator("#chart-history .xtick text").all_text_contents()
    assert "2024-02-01 (1)" in ticks and "2024-02-01 (2)" in ticks
    assert not any("00:00:00.000" in t for t in ticks)
    yticks = page.locator("#chart-history .ytick text").all_text_contents()
    assert len(yticks) == len(set(yticks))  # no repeated '95%' labels
