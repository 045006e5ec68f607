"""Alerts that matter: each alert kind weighed on the firm's own past outcomes.

The ratio's arithmetic is checked against SciPy (one group: the Katz interval) and on
counts built so an alert only rides on silence (its ratio among comparable customers
is 1 though the crude ratio is not); the stored weights are recounted from the alerts
and labels at the past date on a scored synthetic business (``make_business``, 800
customers over 24 months, seed 7, the generator's default effects)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.decisions.signals.alert_weights import _mantel_haenszel, level_of, weigh_alerts

ORDER = ("customers", "staff", "orders", "subscriptions", "requests", "feedback", "events",
         "touches")


def test_one_group_gives_the_crude_ratio_and_katz_interval_of_scipy():
    from scipy.stats.contingency import relative_risk

    a, n1, b, n0 = 30, 120, 45, 400
    rr, lo, hi = _mantel_haenszel(pd.DataFrame({"a": [a], "n1": [n1], "b": [b], "n0": [n0]}))
    ref = relative_risk(a, n1, b, n0)
    ci = ref.confidence_interval(0.95)
    assert rr == pytest.approx(ref.relative_risk)
    assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-6)


def test_an_alert_that_only_rides_on_silence_weighs_nothing_among_comparable_customers():
    # two groups: the silent leave at 50%, the others at 10%, with or without the alert;
    # the alert is common among the silent, so crudely it looks like a 2.6x signal
    c = pd.DataFrame({"n1": [400, 50], "a": [200, 5], "n0": [100, 450], "b": [50, 45]})
    crude = (c.a.sum() / c.n1.sum()) / (c.b.sum() / c.n0.sum())
    rr, lo, hi = _mantel_haenszel(c)
    assert crude > 2.5
    assert rr == pytest.approx(1.0) and lo < 1 < hi
    row = {"customers_with": 450, "risk_ratio": rr, "ratio_low": lo}
    assert level_of(row, 1.25, 20) == "housekeeping"
    assert level_of({**row, "risk_ratio": 2.0, "ratio_low": 1.4}, 1.25, 20) == "alarm"
    assert level_of({**row, "customers_with": 5, "risk_ratio": 3.0, "ratio_low": 2.0},
                    1.25, 20) == "not weighed"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    from loyalist.datasets import make_business
    from loyalist.decisions.scoring import score

    store = loyalist.connect(tmp_path_factory.mktemp("weights") / "w.duckdb")
    business = make_business(n_customers=800, months=24, seed=7)
    for name in ORDER:
        if len(business.tables.get(name, [])):
            store.ingest(name, business.tables[name], strict=name != "customers")
    run = score(store)
    yield store, run
    store.close()


def test_the_stored_weights_recount_from_the_alerts_and_outcomes_of_the_past_date(scored):
    from loyalist.decisions.scoring import hard_alerts
    from loyalist.models.early_warning import complaint_texts, labels_at

    store, run = scored
    w = store.table("alert_weights").to_pandas()
    assert len(w) and set(w["level"]) <= {"alarm", "housekeeping", "not weighed"}
    at = pd.Timestamp(w["measured_at"].iloc[0])
    assert at == run.as_of - pd.Timedelta(days=run.horizon)
    labels = labels_at(store, at, run.mode, run.horizon).set_index("customer_id")["left"]
    texts, _note = complaint_texts(store)
    past = hard_alerts(store, at, texts=texts)
    for r in w.itertuples():
        who = set(past.loc[past["kind"] == r.kind, "customer_id"]) & set(labels.index)
        assert r.customers_with == len(who)
        assert r.left_with == int(labels[list(who)].sum())
        assert r.customers_without == len(labels) - len(who)
        if r.level == "alarm":
            assert r.ratio_low > 1 and r.risk_ratio >= store.settings.alerts.min_ratio
    # every alert of the run carries its kind's level
    a = store.table("alerts").to_pandas()
    level = dict(zip(w["kind"], w["level"], strict=True))
    assert (a["level"] == a["kind"].map(level).fillna("not weighed")).all()


def test_fewer_customers_carry_an_alarm_than_any_alert(scored):
    from loyalist.decisions.worth_saving import alarm_summary

    store, _run = scored
    s = alarm_summary(store)
    assert s["weighed"] and s["scored"] > 0
    assert 0 < s["with_alarm"] < s["with_any"]
    assert s["this_week"] == min(s["with_alarm"], store.settings.alerts.weekly_capacity)
    assert s["this_week"] + s["rest"] == s["with_alarm"]


def test_a_stricter_ratio_never_adds_alarms(scored):
    store, run = scored
    loose = weigh_alerts(store, run.as_of, mode=run.mode, horizon=run.horizon)
    strict = weigh_alerts(store, run.as_of, mode=run.mode, horizon=run.horizon,
                          settings=store.settings.with_values("alerts", min_ratio=3.0))
    assert set(strict.loc[strict["level"] == "alarm", "kind"]) <= set(
        loose.loc[loose["level"] == "alarm", "kind"])
    assert np.allclose(strict["risk_ratio"], loose["risk_ratio"], equal_nan=True)


def test_worth_saving_lists_no_customer_already_gone(scored):
    from loyalist.decisions.worth_saving import worth_saving
    from loyalist.features import retention

    store, run = scored
    got = worth_saving(store, limit=25)
    assert got["rows"]
    ids = [r["customer_id"] for r in got["rows"]]
    lost = set()
    for mode in ("lapse", "contract"):
        b = retention.retention_basis(store, run.as_of, mode=mode)
        e = b.ends.to_pandas()
        lost |= set(e.loc[e["lost_at"].notna(), "customer_id"])
    assert not set(ids) & lost
    risk = [r["value_at_risk"] for r in got["rows"]]
    assert risk == sorted(risk, reverse=True)
    assert all(r["name"] for r in got["rows"])


def test_the_alerts_command_shows_each_kind_at_80_columns(scored, tmp_path):
    import shutil
    import subprocess
    import sys

    store, _run = scored
    con = store.cursor()
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    copy = tmp_path / "copy.duckdb"
    shutil.copy(store.path, copy)
    proc = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "alerts", "--store",
                           str(copy)], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "80", "NO_COLOR": "1"})
    assert proc.returncode == 0 and "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    w = store.table("alert_weights").to_pandas()
    text = " ".join(proc.stdout.split())
    for level in set(w["level"]):
        assert level in text
    assert "carry an alarm" in text and "…" not in proc.stdout
