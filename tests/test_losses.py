"""Losses by cause and department (issue 19) and stated reasons by department (issue 20).

Fast tests: synthetic business of 1,500 customers, 24 months, seed 3, no events
(``make_business(1500, 24, seed=3, events=False)``), and the settings' department map.
"""

import numpy as np
import pandas as pd
import pytest

from loyalist.datasets import make_business
from loyalist.settings import Settings, SettingsError


@pytest.fixture(scope="module")
def biz():
    return make_business(1500, 24, seed=3, events=False)


def test_generator_records_cause_department_and_revenue(biz):
    c = biz.truth["customers"]
    left = c[c["churned"]]
    assert set(left["cause_department"]) <= {"fulfilment", "service", "none"}
    assert (left["cause_department"] != "none").sum() > 50
    # only failure-caused leavers have a department; the others have another reason
    assert (left.loc[left["cause_department"] != "none", "reason"] == "service").all()
    assert c.loc[~(c["churned"] | c["will_churn"]) & c["churned_at"].isna(),
                 "cause_department"].isna().all()
    assert (left["revenue_lost"] >= 0).all() and left["revenue_lost"].sum() > 0
    assert c.loc[~c["churned"], "revenue_lost"].isna().all()


def test_failure_effect_halves_failure_losses():
    full = make_business(1500, 24, seed=3, events=False).truth["customers"]
    half = make_business(1500, 24, seed=3, events=False,
                         failure_effect=0.5).truth["customers"]
    n_full = (full["churned"] & (full["cause_department"] != "none")).sum()
    n_half = (half["churned"] & (half["cause_department"] != "none")).sum()
    assert n_half < 0.8 * n_full


def test_department_map_defaults_names_and_unassigned():
    d = Settings().departments
    assert d.department("late_against_promise") == "fulfilment"
    assert d.department("unanswered_request") == "service"
    assert d.department("billing") == "billing"
    assert d.department("something_new") == "unassigned"
    assert d.of_reason("competitor") == "sales"
    assert d.of_reason("moved_or_closed") == "none"
    assert d.of_reason("unknown") == "unknown"
    s = Settings().with_values("departments", names={"fulfilment": "Production"},
                               kinds={"billing": "finance"})
    assert s.departments.department("not_acknowledged") == "Production"
    assert s.departments.department("billing") == "finance"
    assert "Production" in s.departments.departments()
    assert np.all([x != "" for x in s.departments.departments()])


def test_department_map_rejects_empty_names(tmp_path):
    p = tmp_path / "loyalist.toml"
    p.write_text('[departments]\nkinds = { billing = "" }\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"\[departments\] kinds"):
        Settings.from_toml(p)


@pytest.fixture(scope="module")
def store(biz, tmp_path_factory):
    import loyalist

    path = tmp_path_factory.mktemp("losses") / "s.duckdb"
    with loyalist.connect(path) as s:
        for name in ("customers", "orders", "subscriptions", "requests", "feedback"):
            s.ingest(name, biz.tables[name])
    return path


def test_department_losses_table_and_derived(store, biz):
    import loyalist
    from loyalist.team import department_losses

    with loyalist.connect(store) as s:
        r = department_losses(s, freq="Y", write=True)
        back = s.table("department_losses").to_pandas()
    assert len(back) == len(r.table) > 0
    # every period's shares add up to one, no department included
    sums = r.table.groupby("period")["share_of_lost_revenue"].sum()
    assert np.allclose(sums, 1.0)
    o = r.overall().set_index("department")
    # billing complaints raise no hazard in the generator: billing is not blamed for them,
    # though the naive reading of the files does blame it
    assert o.loc["billing", "share_of_lost_revenue"] < 0.05
    assert o.loc["billing", "naive_share"] > o.loc["billing", "share_of_lost_revenue"]
    assert o.loc["service", "share_of_lost_revenue"] > 0.1
    k = r.kinds.set_index("kind")
    assert (k["beta"] >= 0).all() and k.loc["unanswered_request", "department"] == "service"
    # a department blamed for failures that come with orders carries the caveat, by name;
    # one blamed only for failures that do not (service's requests) does not
    from loyalist.team.failures import ORDER_KINDS

    blamed = set(k.index[(k["beta"] > 0) & k.index.isin(ORDER_KINDS)])
    caveat = [n for n in r.notes if "come with orders" in n]
    assert blamed and len(caveat) == 1  # this business blames late deliveries
    named = caveat[0].split(":")[0].split(" and ")
    assert sorted(named) == sorted({k.loc[kind, "department"] for kind in blamed})
    assert "service" not in named
    d = r.to_dict()
    assert {"by_period", "overall", "kinds", "target_annual_loss"} <= set(d)
    # the 90% interval holds each share, overall and per period, and is written
    for t in (o, r.table):
        assert (t["share_low"] <= t["share_of_lost_revenue"] + 1e-9).all()
        assert (t["share_of_lost_revenue"] <= t["share_high"] + 1e-9).all()
    assert o.loc["service", "share_high"] - o.loc["service", "share_low"] > 0.01
    assert np.allclose(back["overall_share_low"].groupby(back["department"]).nunique(), 1)
    assert np.isfinite(back["share_low"]).all()


def _cli(*args):
    import os
    import subprocess
    import sys

    # the package under test (PYTHONPATH=src in a checkout), not an installed copy
    path = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
    proc = subprocess.run([sys.executable, "-m", "loyalist.cli.main", *map(str, args)],
                          capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1",
                               **path})
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def test_cli_team_losses_json_and_side_by_side(store):
    import json

    proc = _cli("team", "--losses", "--freq", "Y", "--json", "--store", store)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    deps = {r["department"] for r in d["overall"]}
    assert {"billing", "fulfilment", "service", "no department"} <= deps
    assert all(r["share_low"] <= r["share_high"] for r in d["overall"])
    sides = {r["department"]: r for r in d["side_by_side"]}
    # the stated reasons keep "unknown" with its own share; the failure side has none
    assert sides["unknown"]["failure_share"] is None
    assert 0 < sides["unknown"]["stated_share"] < 1
    proc = _cli("team", "--losses", "--freq", "Q", "--store", store)
    assert proc.returncode == 0 and "Side by side" in proc.stdout
    assert "against the target" in proc.stdout


def test_losses_bad_period_is_a_clear_message(store):
    proc = _cli("team", "--losses", "--freq", "W", "--store", store)
    assert proc.returncode != 0 and "Use M, Q or Y" in proc.stdout + proc.stderr


def test_losses_chart_is_svg(store):
    import loyalist
    from loyalist.team.losses import department_losses, losses_chart

    with loyalist.connect(store, read_only=True) as s:
        svg = losses_chart(department_losses(s, freq="Y"))
    assert svg.startswith("<svg") and "service" in svg


def test_report_section_departments(store):
    import loyalist
    from loyalist.decisions.report.build import build_report, render_html
    from loyalist.team.losses import report_section

    with loyalist.connect(store, read_only=True) as s:
        rep = build_report(s, extra_sections={"departments": report_section})
    part = rep.sections["departments"]
    assert part["extra"] and part["charts"]["departments"].startswith("<svg")
    html = render_html(rep)
    assert "Losses by cause and department" in html and "Side by side" in html
    assert "90% interval" in html


def test_engine_counts_match_a_count_by_hand(store):
    """The engine's windows (failures per customer in the 6 months up to the month before
    leaving, counted through Ibis) agree with a count over the failure list by hand, for
    every lost customer and department."""
    import loyalist
    from loyalist.settings import Settings
    from loyalist.team.losses import LAG_MONTHS, department_losses, failure_events

    with loyalist.connect(store, read_only=True) as s:
        settings = Settings.load(s)
        r = department_losses(s, settings=settings, freq="Y")
        ev = failure_events(s, r.as_of, settings)
    dep = settings.departments
    w = round(dep.window_days / (365.25 / 12))
    ev["month"] = ev["at"].dt.year * 12 + ev["at"].dt.month
    ev["department"] = ev["kind"].map(dep.department)
    c = r.customers
    month = c["left_at"].dt.year * 12 + c["left_at"].dt.month
    checked = 0
    for d in ("service", "fulfilment", "billing", "product"):
        e = ev[ev["department"] == d]
        hit = e.merge(pd.DataFrame({"customer_id": c["customer_id"], "m": month}),
                      on="customer_id")
        hit = hit[(hit["month"] <= hit["m"] - LAG_MONTHS)
                  & (hit["month"] > hit["m"] - LAG_MONTHS - w)]
        by_hand = c["customer_id"].isin(hit["customer_id"])
        assert (by_hand == c[f"met:{d}"].astype(bool)).all(), d
        checked += int(by_hand.sum())
    assert checked > 100


def test_losses_within_a_segment_add_up_to_the_firms(store, biz):
    """Per segment, the same customers' losses weighed by the firm's model: the
    segments' lost customers and attributed revenue add up to the firm's, each lost
    customer is one of the segment's, and the stayers' rate is the segment's own."""
    import loyalist
    from loyalist.errors import DataError
    from loyalist.team import department_losses
    from loyalist.team.losses import stated_reasons

    seg_of = biz.tables["customers"].set_index("id")["segment"]
    segments = sorted(seg_of.dropna().unique())
    assert len(segments) >= 2
    with loyalist.connect(store, read_only=True) as s:
        firm = department_losses(s, freq="Y", reps=0)
        parts = {g: department_losses(s, freq="Y", reps=0, segment=g) for g in segments}
        with pytest.raises(DataError, match="No customer is in segment 'nobody'") as e:
            department_losses(s, segment="nobody")
        assert segments[0] in e.value.hint
        with pytest.raises(DataError, match="whole firm"):
            department_losses(s, segment=segments[0], write=True)
        # the stated reasons beside them are the segment's too
        stated = {g: stated_reasons(s, s.settings, g)["customers"].sum() for g in segments}
        assert sum(stated.values()) == stated_reasons(s, s.settings)["customers"].sum()
        assert all(v > 0 for v in stated.values())
    for g, r in parts.items():
        assert set(seg_of[r.customers["customer_id"]]) == {g}
        assert any(f"Segment {g}" in n for n in r.notes)
    total = pd.concat([r.overall() for r in parts.values()]).groupby("department")[
        ["attributed_revenue", "lost_customers"]].sum()
    o = firm.overall().set_index("department")
    assert np.allclose(total.loc[o.index, "attributed_revenue"], o["attributed_revenue"])
    assert (total.loc[o.index, "lost_customers"] == o["lost_customers"]).all()
    # the stayers' rate of failures differs between segments (it is each one's own)
    rates = {g: r.table.set_index("department")["met_stayers_share"].iloc[0]
             for g, r in parts.items()}
    assert len({round(v, 9) for v in rates.values()}) > 1


def test_cli_team_losses_of_one_segment(store):
    import json

    import loyalist

    with loyalist.connect(store, read_only=True) as s:
        written = s.derived_log().get("department_losses")
    proc = _cli("team", "--losses", "--segment", "medium", "--freq", "Y", "--json",
                "--store", store)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert any("Segment medium" in n for n in d["notes"])
    with loyalist.connect(store, read_only=True) as s:  # a segment's losses are not written
        assert s.derived_log().get("department_losses") == written
    proc = _cli("team", "--segment", "medium", "--store", store)
    assert proc.returncode != 0 and "--segment goes with --losses" in proc.stderr
    proc = _cli("team", "--losses", "--segment", "nobody", "--store", store)
    assert proc.returncode != 0 and "key account" in proc.stdout + proc.stderr
