"""The retention report: content on a tiny store, escaping, the CLI, and the page of a
scored synthetic business rendered in real headless Chromium."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest

import loyalist
from loyalist.datasets import make_business
from loyalist.decisions.report.build import build_report, write_report
from loyalist.decisions.scoring import score
from loyalist.errors import DataError
from loyalist.settings import Settings

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
EVIL = "<script>alert('owned')</script>"


@pytest.fixture
def tiny(store):
    store.ingest("customers", pd.DataFrame({
        "id": ["A", "B", "C"], "name": [f"Ann {EVIL}", "Bo & Co", "Cy"],
        "segment": ["small", "small", "large"], "owner": ["X", "Y", "X"]}))
    store.ingest("orders", pd.DataFrame({
        "id": list("123456"), "customer_id": list("AABCCA"),
        "ordered_at": pd.to_datetime(["2023-01-10", "2023-08-01", "2023-02-01", "2023-03-01",
                                      "2023-09-15", "2024-06-20"]),
        "amount": [100.0, 80.0, 200.0, 10.0, 30.0, 50.0]}))
    store.ingest("feedback", pd.DataFrame({
        "id": ["f1", "f2"], "customer_id": ["A", "B"],
        "answered_at": pd.to_datetime(["2024-03-01", "2023-02-15"]),
        "nps": [3, 10], "satisfaction": [5, 1], "trust": [4, 2], "commitment": [2, 5],
        "comment": [f"fine {EVIL}", "<b>bold</b>"]}))
    return store


def test_headline_in_plain_words_and_values_escaped(tiny, tmp_path):
    rep = build_report(tiny, "2024-07-01", target_annual_loss=0.05, horizon=30)
    h = rep.headline
    # a year ago: A and C were customers (B lost 2023-03-03); C lost since -> 50%
    assert (h["at_risk"], h["lost"]) == (2, 1)
    assert h["sentence"] == "You lost 50.0% of customers in the last 12 months; target 5%."
    assert not h["on_target"]
    assert rep.sections["feedback"]["satisfied_not_loyal"] == 1
    assert rep.sections["feedback"]["loyal_not_satisfied"] == 1
    path = write_report(tiny, tmp_path / "r.html", as_of="2024-07-01", horizon=30)
    html = path.read_text(encoding="utf-8")
    assert "You lost 50.0% of customers in the last 12 months; target 5%." in html
    assert EVIL not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in html
    assert "No worklist" in html or "No worklist items yet" in html


def test_target_is_checked_and_read_from_toml(tiny, tmp_path):
    with pytest.raises(DataError, match="between 0 and 1"):
        build_report(tiny, "2024-07-01", target_annual_loss=5, horizon=30)
    (tmp_path / "loyalist.toml").write_text("[report]\ntarget_annual_loss = 0.08\n")
    assert Settings.load(tmp_path / "s.duckdb").report.target_annual_loss == 0.08
    (tmp_path / "loyalist.toml").write_text("[report]\ntarget = 0.08\n")
    with pytest.raises(DataError, match="unknown key 'target'") as e:
        Settings.load(tmp_path / "s.duckdb")
    assert "target_annual_loss" in e.value.hint
    assert Settings.load(tmp_path / "elsewhere" / "s.duckdb").report.target_annual_loss == 0.05


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    b = make_business(n_customers=1500, months=24, seed=4)
    s = loyalist.connect(folder / "s.duckdb")
    for t in ("customers", "orders", "subscriptions", "requests", "feedback"):
        s.ingest(t, b.tables[t])
    score(s, b.as_of, horizon=90, n_train_dates=2)
    yield s, folder
    s.close()


def test_report_of_a_scored_business_in_chromium(scored, tmp_path):
    from playwright.sync_api import sync_playwright

    s, _ = scored
    path = write_report(s, tmp_path / "report.html", target_annual_loss=0.05)
    html = path.read_text(encoding="utf-8")
    # nothing outside the file: no http(s) resource anywhere, not even a namespace URL
    # in src/href/url()/@import
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//|@import", html, re.I)
    assert not re.search(r"https?://(?!www\.w3\.org/)", html)
    n_svg = html.count('<svg class="chart"')
    failed, errors, requests = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        charts = page.locator("svg.chart").count()
        headline = page.locator("p.headline").inner_text()
        tables = page.locator("table").count()
        sections = page.locator("main > section").evaluate_all("els => els.map(e => e.id)")
        visible = page.locator("svg.chart").evaluate_all(
            "els => els.filter(e => e.getBoundingClientRect().width > 100).length")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    print(f"screenshot: {shot}")
    assert not errors and not failed
    assert all(u.startswith("file://") for u in requests)
    # loss over time, by segment, by owner, cohorts, revenue retention, Lorenz, value at
    # risk, 4 service plots, NPS and relationship
    assert charts == n_svg and charts >= 12
    assert visible == charts
    assert re.fullmatch(r"You lost \d+\.\d% of customers in the last 12 months; target 5%\.",
                        headline)
    for sid in ("headline", "loss", "cohorts", "revenue", "value", "service", "feedback",
                "whispers", "worklist"):
        assert sid in sections
    assert tables >= 10
    assert shot.stat().st_size > 50_000


def test_cli_prints_headline_and_where(scored, tmp_path):
    s, folder = scored
    (folder / "loyalist.toml").write_text("[report]\ntarget_annual_loss = 0.1\n")
    out = tmp_path / "cli.html"
    s.close()  # the CLI opens the store in its own process
    try:
        proc = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "report", "--store",
                               str(folder / "s.duckdb"), "--out", str(out)],
                              capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1"})
    finally:
        (folder / "loyalist.toml").unlink()
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert re.search(r"You lost \d+\.\d% of customers in the last 12 months; target 10%\.",
                     proc.stdout)
    assert "Report (" in proc.stdout and str(out) in proc.stdout.replace("\n", "")
    assert out.stat().st_size > 10_000
    bad = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "report", "--store",
                          str(folder / "s.duckdb"), "--target", "2", "--out", str(out)],
                         capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1"})
    assert bad.returncode != 0 and "Traceback" not in bad.stdout + bad.stderr
    assert "between 0 and 1" in bad.stdout + bad.stderr
