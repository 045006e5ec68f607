"""One definition per figure: "unanswered now", the loss rate and "expected to leave"
are the same number on the overview (page and API), the service page, the report and
the command line, each with its window stated beside it.

The business is the synthetic generator's (``make_business``: 500 customers, 24 months,
seed 11, default effects), served as the web tests serve it; its scores come from a
churn model recorded as a lapse model with a 45-day horizon, so "lost" must follow the
scores' rule everywhere (the automatic horizon from the order gaps differs)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from test_web_api import start_site

HORIZON = 45


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = start_site(tmp_path_factory.mktemp("figures"), n_customers=500, seed=11, months=24)
    with s.app.state.write_lock:
        s.store.save_model("churn", None, {"kind": "churn", "mode": "lapse",
                                           "horizon": HORIZON, "as_of": "2024-01-01"})
    s.app.state.cache.bump()
    yield s
    s.stop()


def cli(*args) -> str:
    proc = subprocess.run([sys.executable, "-m", "loyalist.cli.main", *map(str, args)],
                          capture_output=True, text=True, env={
                              "PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1"})
    assert proc.returncode == 0 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return " ".join(proc.stdout.split())


def number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in {text!r}"
    return float(m.group(1).replace(",", ""))


@pytest.mark.slow  # every way in (CLI, API, web, report) on a scored site, 33 s in make test: make test-slow
def test_each_figure_is_the_same_every_way_in(site, tmp_path):
    from loyalist.decisions.report.build import build_report
    from loyalist.features import retention

    with site.client("viewer") as c:
        overview = c.get("/api/overview").json()
        service = c.get("/api/service").json()
        page = c.get("/", follow_redirects=True).text
        service_page = c.get("/service").text
    report = build_report(site.store).headline
    # the server holds the store open: the command line reads a copy, as a second
    # process would read a backup
    import shutil

    copy = tmp_path / "copy.duckdb"
    with site.app.state.write_lock:
        con = site.store.cursor()
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()
        shutil.copy(site.store.path, copy)
    said_service = cli("service", "--store", copy)
    said_report = cli("report", "--store", copy, "--out", tmp_path / "r.html")

    unanswered = overview["work"]["unanswered_now"]
    assert unanswered > 0
    assert overview["service"]["summary"]["unanswered_now"] == unanswered
    assert service["summary"]["unanswered_now"] == unanswered
    assert report["unanswered_now"] == unanswered
    assert number(r"([\d,]+) unanswered now", said_service) == unanswered
    assert number(r"([\d,]+) requests unanswered now", said_report) == unanswered
    # its window is stated beside it, on both pages and in the report
    for text in (page, service_page):
        assert "with no first response by then, whatever their age" in text
    assert "whatever their age" in report["unanswered_window"]

    loss = overview["retention"]["trailing"]["loss_rate"]
    assert report["loss_rate"] == pytest.approx(loss)
    assert number(r"You lost ([\d.]+)%", said_report) == pytest.approx(100 * loss, abs=0.051)
    # by the scores' rule: lost 45 days after the last order
    direct = retention.trailing_loss(site.store, mode="lapse", horizon=HORIZON)
    assert loss == pytest.approx(direct["loss_rate"].iloc[0])
    assert f"lost {HORIZON} days after their last order" in overview["windows"]["loss_rate"]
    assert f"lost {HORIZON} days after their last order" in page

    expected = overview["risk"]["expected_leavers"]
    assert report["expected_leavers"] == pytest.approx(expected)
    assert f"within {HORIZON} days" in overview["windows"]["expected_to_leave"]
