"""The retention report's team section (issue 19, ways in): the scorecard, stay-in-touch
coverage, the agents' shrunk rates, verified saves and the thank-you list, in the report
built the CLI's way (``loyalist report``), with the same figures as ``loyalist team
--json``, in plain words. Synthetic business: ``make_business(n_customers=800,
months=24, seed=5, events=False)``, scored 120 days before its end, a worklist with one
playbook half held out and simulated outreach (true effect 0.6 x caller skill 1.6 / 1.0 /
0.4, seed 3); and the same business with no requests at all."""

from __future__ import annotations

import html as htmllib
import json
import re

import pytest

import loyalist
from loyalist.team import team_report
from loyalist.team.report import report_sections
from test_plain_words import check
from test_team import _cli
from test_team_agents import CALLERS, work_the_list

#: three scored businesses with simulated outreach and a report each: about two minutes,
#: so in make test-slow (CI runs both)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("teamreport")
    b, path, _sim = work_the_list(tmp, n_customers=800)
    bare = tmp / "bare.duckdb"
    with loyalist.connect(bare) as store:
        for name in ("customers", "orders"):
            store.ingest(name, b.tables[name])
    return b, path, bare, tmp


def _section(page: str, name: str) -> str:
    m = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert m, f"no {name} section"
    return m.group(1)


def _visible(fragment: str) -> str:
    """The words a reader sees: charts (SVG markup) and tags removed, entities decoded."""
    text = re.sub(r"<svg.*?</svg>", " ", fragment, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", text))


def _pct(v) -> str:
    return f"{100 * v:.0f}%"


def test_team_section_in_the_cli_report_has_team_figures(shop):
    b, path, _bare, tmp = shop
    day = str(b.as_of.date())
    out = tmp / "report.html"
    r = _cli("report", "--store", str(path), "--as-of", day, "--out", str(out))
    assert r.returncode == 0, r.stderr
    page = out.read_text(encoding="utf-8")
    assert '<a href="#team">Team</a>' in page
    part = _section(page, "team")
    text = _visible(part)
    r = _cli("team", "--store", str(path), "--as-of", day, "--json")
    assert r.returncode == 0, r.stderr
    team = json.loads(r.stdout)
    assert team["agents"] and team["verified_saves"] and team["scorecard"]
    # every practice: its words, department, value and risk ratio with its counts
    for p in team["scorecard"]:
        row = next(x for x in re.findall(r"<tr>(.*?)</tr>", part, re.S)
                   if f">{htmllib.escape(p['practice'])}<" in x)
        cells = [htmllib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        assert cells[1] == p["department"]
        assert cells[2].startswith(_pct(p["value"]))
        if p["risk_ratio"] is not None:
            assert cells[6] == (f"{p['risk_ratio']:.1f} times "
                                f"({p['rr_low']:.1f} to {p['rr_high']:.1f})")
            assert cells[7] == (f"{p['left_with_gap']:,} of {p['with_gap']:,} left, against "
                                f"{p['left_without']:,} of {p['without']:,}")
    # every agent: contacts, shrunk rates with their intervals, call-backs
    for a in team["agents"]:
        who = f"{a['name']} ({a['agent']})" if a.get("name") else a["agent"]
        row = next(x for x in re.findall(r"<tr>(.*?)</tr>", part, re.S)
                   if f">{htmllib.escape(who)}<" in x)
        cells = [htmllib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        assert cells[2] == f"{a['handled']:,}"
        assert cells[3] == (f"{_pct(a['responsiveness'])} ({_pct(a['responsiveness_low'])} "
                            f"to {_pct(a['responsiveness_high'])})")
        assert cells[4] == f"{_pct(a['fcr'])} ({_pct(a['fcr_low'])} to {_pct(a['fcr_high'])})"
        assert cells[5] == f"{a['callbacks_caused']:,}"
        if a["rated"]:
            assert cells[6].startswith(f"{_pct(a['satisfaction'])} (")
            assert cells[6].endswith(f"; {a['rated']:,} answer" + ("" if a["rated"] == 1
                                                                   else "s"))
    # verified saves per caller, with the interval
    for sv in team["verified_saves"]:
        assert sv["agent"] in CALLERS
        who = f"{sv['name']} ({sv['agent']})" if sv.get("name") else sv["agent"]
        assert re.search(rf">{re.escape(htmllib.escape(who))}</td>\s*<td[^>]*>{sv['worked']:,}</td>",
                         part)
        assert f"{sv['saves_low']:.1f}".removesuffix(".0") in text
    thanks = team["thank_you"]
    if thanks:
        assert "Thank you this week:" in text
        for t in thanks:
            assert t["agent"] in text
    st = team["stay_in_touch"]
    assert f"of the {st['active']:,} customers active in the last year" in text
    assert "<svg" in part and "<figcaption>" in part
    check([text])
    assert not re.search(r"\bnan\b|\bNone\b|\bNaN\b", text)


def test_section_data_equals_team_report_and_python_api(shop, tmp_path):
    b, path, _bare, _tmp = shop
    from loyalist.decisions.report.build import build_report, write_report

    with loyalist.connect(path, read_only=True) as s:
        rep = build_report(s, b.as_of, extra_sections=report_sections())
        direct = team_report(s, b.as_of).to_dict()
        written = write_report(s, tmp_path / "r.html", as_of=b.as_of,
                               extra_sections=report_sections())
    part = rep.sections["team"]
    assert part["extra"] and part["data"] == direct
    assert list(rep.sections).index("team") < list(rep.sections).index("worklist")
    titles = part["table_titles"]
    assert set(titles) == {"practices", "agents", "saves"}
    assert len(part["tables"]["agents"]) == len(direct["agents"])
    assert len(part["tables"]["practices"]) == len(direct["scorecard"])
    assert "Team: retention practices" in written.read_text(encoding="utf-8")
    # the headers are words, not column names
    for t in part["tables"].values():
        check(t.columns)


def test_a_store_without_requests_gets_a_short_clear_section(shop, tmp_path):
    b, _path, bare, _tmp = shop
    out = tmp_path / "bare.html"
    r = _cli("report", "--store", str(bare), "--as-of", str(b.as_of.date()), "--out",
             str(out))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    part = _section(out.read_text(encoding="utf-8"), "team")
    text = _visible(part)
    assert "No agents' figures: they need service requests naming the agent" in text
    assert "New orders acknowledged in writing" in text  # the order practices remain
    assert "Verified saves" not in text
    check([text])
