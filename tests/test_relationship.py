"""The relationship: survey definitions, reliability against reference libraries, key
drivers against exact Shapley regression, the want-vs-deliver gap against a direct
computation, bad answers quarantined, and the ways in (CLI, report, JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.contract.survey import load_survey, survey_from_dict
from loyalist.datasets import make_business
from loyalist.errors import DataError
from loyalist.relationship import (
    check_answers,
    cronbach_alpha,
    importance_performance,
    ingest_answers,
    key_drivers,
    mcdonald_omega,
    relative_weights,
    scale_reliability,
    shapley_r2,
)
from loyalist.relationship.reliability import one_factor

#: a plain environment for the CLI (keeps PYTHONPATH so a worktree runs its own code)
ENV = {"COLUMNS": "80", "PATH": "/usr/bin:/bin", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
ISSUE_ATTRIBUTES = {"order_acknowledgement", "explaining_process", "follow_up",
                    "responsiveness", "knowing_customer", "staying_in_touch", "price"}


# -- survey definitions ----------------------------------------------------------------

def test_default_survey_has_the_scales_the_issue_asks_for():
    s = load_survey()
    assert {"trust", "commitment", "satisfaction"} <= set(s.constructs)
    assert len(s.constructs["trust"].items) >= 4 and len(s.constructs["commitment"].items) >= 4
    assert any(s.items[i].reversed for i in s.constructs["trust"].items)
    assert set(s.attributes) == ISSUE_ATTRIBUTES
    for a in s.attributes.values():
        assert s.items[a.importance].role == "importance"
        assert s.items[a.performance].role == "performance"
    assert s.items[s.nps].low == 0 and s.items[s.nps].high == 10
    assert len(s.checkin) == 4 and any(s.items[c].open for c in s.checkin)
    assert all(c.basis for c in s.constructs.values())
    # the reversed item turns round on its own scale
    assert s.items["trust_doubt"].score(2.0) == 6.0


def _doc(**extra):
    doc = {"name": "mine", "construct": [
        {"name": "trust", "items": [{"code": "t1", "text": "a"}, {"code": "t2", "text": "b"}]},
        {"name": "commitment", "items": [{"code": "c1", "text": "c"},
                                         {"code": "t2", "text": "b again"}]}]}
    doc.update(extra)
    return doc


def test_an_item_in_two_constructs_is_refused_with_a_clear_message():
    with pytest.raises(DataError) as e:
        survey_from_dict(_doc(), "mine.toml")
    assert "item 't2' is in two constructs: trust and commitment" in e.value.message
    assert "each item measures one construct" in e.value.hint


@pytest.mark.parametrize("doc, words", [
    ({"name": "x", "construct": [{"name": "t", "items": [{"code": "a", "text": "a"}],
                                  "colour": "red"}]}, "unknown key 'colour'"),
    ({"name": "x", "scale": [7, 1], "construct": [{"name": "t", "items": [
        {"code": "a", "text": "a"}]}]}, "lowest < highest"),
    ({"name": "x", "construct": [{"name": "t", "items": [{"code": "a"}]}]}, "missing or empty 'text'"),
    ({"name": "x", "construct": [{"name": "t", "items": [
        {"code": "a", "text": "a", "open": True}]}]}, "only check-in questions may be open"),
])
def test_bad_definitions_name_the_problem(doc, words):
    with pytest.raises(DataError) as e:
        survey_from_dict(doc, "bad.toml")
    assert words in e.value.message and e.value.hint


def test_cli_refuses_a_bad_definition_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "mine"\n[[construct]]\nname = "trust"\nitems = [{ code = "t1", '
                   'text = "a" }, { code = "x", text = "b" }]\n[[construct]]\nname = '
                   '"commitment"\nitems = [{ code = "x", text = "c" }]\n', encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "relationship", "--survey",
                        str(bad), "--store", str(tmp_path / "s.duckdb")],
                       capture_output=True, text=True, env=ENV)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "item 'x' is in two constructs" in p.stderr
    assert not (tmp_path / "s.duckdb").exists()  # nothing was touched


# -- reliability against reference libraries --------------------------------------------

def test_alpha_matches_pingouin_to_the_third_decimal():
    pg = pytest.importorskip("pingouin")  # a dev dependency: make test installs it
    data = pg.read_dataset("cronbach_alpha")
    wide = data.pivot(index="Subj", columns="Items", values="Scores")
    ref, ref_ci = pg.cronbach_alpha(data=data, items="Items", scores="Scores", subject="Subj")
    a, ci = cronbach_alpha(wide)
    print(f"alpha {a:.4f} vs pingouin {ref:.4f}; interval {ci} vs {ref_ci}")
    assert round(a, 3) == round(ref, 3) and abs(a - 0.5917) < 1e-4  # pingouin's docs: 0.592
    assert np.allclose(np.round(ci, 3), ref_ci, atol=1e-9)
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.normal(size=(400, 1)) * [1.0, 0.8, 0.6, 0.9, 0.5]
                     + rng.normal(size=(400, 5)))
    ref, ref_ci = pg.cronbach_alpha(data=x)
    a, ci = cronbach_alpha(x)
    assert round(a, 3) == round(ref, 3)
    assert np.allclose(np.round(ci, 3), ref_ci)


def test_omega_matches_scikit_learn_factor_analysis():
    from sklearn.decomposition import FactorAnalysis

    rng = np.random.default_rng(7)
    loadings = np.array([1.0, 0.9, 0.7, 0.6, 0.4])
    x = rng.normal(size=(800, 1)) * loadings + rng.normal(size=(800, 5)) * [0.6, 0.8, 1, 1, 1.2]
    fa = FactorAnalysis(n_components=1, tol=1e-12, max_iter=100_000).fit(x)
    lam, psi = np.abs(fa.components_.ravel()), fa.noise_variance_
    ref = lam.sum() ** 2 / (lam.sum() ** 2 + psi.sum())
    omega, ci = mcdonald_omega(x, n_boot=100)
    print(f"omega {omega:.5f} vs scikit-learn ML factor analysis {ref:.5f}; interval {ci}")
    assert round(omega, 3) == round(ref, 3)
    assert ci[0] < omega < ci[1]
    # ML is scale-free: the loadings scale with the divisor of the covariance matrix
    mine, _ = one_factor(np.cov(x, rowvar=False, ddof=0))
    assert np.allclose(mine, lam, atol=1e-4)


def test_reliability_warns_in_words_about_a_reversed_item_left_unmarked():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(300, 1))
    x = pd.DataFrame(4 + f * [1.0, 0.9, 0.8, -0.8] + rng.normal(size=(300, 4)) * 0.7,
                     columns=["a", "b", "c", "d_reversed"])
    r = scale_reliability(x, "trust", n_boot=50)
    assert r.warning is not None and "Item d_reversed goes against the rest" in r.warning
    assert r.items.set_index("item").loc["d_reversed", "item_rest_r"] < 0
    x["d_reversed"] = 8 - x["d_reversed"]
    good = scale_reliability(x, "trust", n_boot=50)
    assert good.warning is None and good.alpha > r.alpha + 0.2


# -- key drivers ------------------------------------------------------------------------

def test_relative_weights_agree_with_exact_shapley_and_add_up_to_r2():
    rng = np.random.default_rng(2)
    n = 3000
    g = rng.normal(size=n)
    X = pd.DataFrame({f"x{i}": 0.5 * g + rng.normal(size=n) for i in range(5)})
    y = X @ np.array([0.6, 0.3, 0.15, 0.05, 0.0]) + rng.normal(size=n)
    rw, sh = relative_weights(X, y), shapley_r2(X, y)
    r2 = np.corrcoef(X.assign(y=y).to_numpy(), rowvar=False)
    import statsmodels.api as sm

    ols = sm.OLS(y, sm.add_constant(X)).fit()
    assert abs(rw.sum() - ols.rsquared) < 1e-9 and abs(sh.sum() - ols.rsquared) < 1e-9
    assert (rw - sh).abs().max() < 0.01
    assert list(rw.sort_values(ascending=False).index[:3]) == ["x0", "x1", "x2"]
    # uncorrelated drivers: each weight is its squared correlation with the outcome
    Z = rng.normal(size=(n, 3))
    Q = pd.DataFrame(np.linalg.qr(Z - Z.mean(axis=0))[0] * np.sqrt(n), columns=list("abc"))
    yq = Q @ np.array([1.0, 0.5, 0.2]) + rng.normal(size=n)
    assert np.allclose(relative_weights(Q, yq), Q.corrwith(yq) ** 2, atol=1e-6)
    assert r2.shape == (6, 6)


def test_key_drivers_say_when_the_evidence_is_weak():
    rng = np.random.default_rng(4)
    X = pd.DataFrame(rng.normal(size=(400, 4)), columns=list("abcd"))
    res = key_drivers(X, rng.normal(size=400), "noise", n_boot=200)
    assert res.evidence.startswith("Weak evidence") and res.r2_ci[0] < 0.02
    strong = key_drivers(X, 2 * X["a"] + X["b"] + rng.normal(size=400), "signal", n_boot=200)
    assert strong.top(2) == ["a", "b"] and "Clearly ahead" in strong.evidence
    assert (strong.table["low"] <= strong.table["weight"]).all()
    with pytest.raises(DataError, match="same value in every complete row"):
        key_drivers(X.assign(a=1.0), X["b"], "y")


# -- answers in the store ----------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    return make_business(n_customers=700, months=24, seed=11, survey=True)


@pytest.fixture
def filled(small, tmp_path):
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        for name in ("customers", "orders", "subscriptions", "requests", "feedback",
                     "survey_answers", "events"):
            s.ingest(name, small.tables[name])
        yield s


def test_bad_answers_are_quarantined_and_nothing_is_lost(filled, write):
    before = filled.table("survey_answers").count().execute()
    bad = write("answers.csv", "customer_id,answered_at,survey,item,value,text\n"
                "C0000001,2024-05-01,relationship,trust_rely,9,\n"
                "C0000001,2024-05-01,relationship,nps,11,\n"
                "C0000001,2024-05-01,relationship,trust_typo,4,\n"
                "C0000001,2024-05-01,relationship,commit_effort,6,\n"
                "C0000002,2024-05-01,relationship,checkin_business_change,,We merged\n")
    result, check = ingest_answers(filled, bad)
    assert result.inserted == 5 and check.quarantined == 3
    after = filled.table("survey_answers").count().execute()
    assert after == before + 2
    rej = filled.rejects(check.check_id)
    assert len(rej) == 3 and set(rej["line"]) == {2, 3, 4}  # file lines (1: header)
    reasons = " ".join(rej["reason"])
    assert "answer 9 is outside the scale 1-7 of item 'trust_rely'" in reasons
    assert "answer 11 is outside the scale 0-10 of item 'nps'" in reasons
    assert "unknown item 'trust_typo'" in reasons
    raw = [json.loads(r) for r in rej["raw"]]
    assert {r["item"] for r in raw} == {"trust_rely", "nps", "trust_typo"}  # whole rows kept
    assert check_answers(filled).bad == 0
    status = filled.status().set_index("table")
    assert status.loc["survey_answers", "rejected"] == 3


def test_gap_matches_a_direct_computation(filled):
    s = load_survey()
    a = filled.table("survey_answers").to_pandas()
    imp = a[a["item"] == "imp_price"]["value"]
    perf = a[a["item"] == "perf_price"]["value"]
    key = ["customer_id", "answered_at", "respondent"]
    pairs = (a[a["item"] == "imp_price"].merge(a[a["item"] == "perf_price"], on=key,
                                                suffixes=("_i", "_p")))
    gap = importance_performance(filled, s)
    row = gap.set_index("attribute").loc["price"]
    assert abs(row["importance"] - imp.mean()) < 1e-9
    assert abs(row["performance"] - perf.mean()) < 1e-9
    assert abs(row["gap"] - (pairs["value_p"] - pairs["value_i"]).mean()) < 1e-9
    assert row["importance_low"] < row["importance"] < row["importance_high"]
    assert set(gap["quadrant"]) <= {"concentrate here", "keep up the good work",
                                     "low priority", "possible overkill"}
    by = importance_performance(filled, s, by="segment")
    assert set(by["segment"]) == set(filled.table("customers").segment.execute().dropna())
    with pytest.raises(DataError, match="no column 'nothing'"):
        importance_performance(filled, s, by="nothing")


@pytest.mark.slow  # 174 s of make test's 20 minutes (stop 25): the CLI run end to end
def test_cli_relationship_json_text_and_report(filled, tmp_path):
    path = filled.path
    filled.close()
    def run(*args):
        p = subprocess.run([sys.executable, "-m", "loyalist.cli.main", *args, "--store", path],
                           capture_output=True, text=True, env=ENV)
        assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
        return p.stdout

    data = json.loads(run("relationship", "--json", "--boot", "50"))
    assert {"reliability", "gap", "drivers", "behaviour", "segments", "findings"} <= set(data)
    assert {d["construct"] for d in data["reliability"]} == {"trust", "commitment",
                                                              "satisfaction"}
    assert {s["segment"] for s in data["segments"]} >= {"loyal advocate", "detractor"}
    text = run("relationship", "--boot", "50", "--plots", str(tmp_path / "plots"))
    assert max(len(line) for line in text.splitlines()) <= 80
    for words in ("Reliability", "Want vs deliver", "Key drivers", "Segments"):
        assert words in text
    assert (tmp_path / "plots" / "importance_performance.png").exists()
    with loyalist.connect(path, read_only=True) as s:
        seg = s.table("relationship_segments").to_pandas()
    assert {"relationship_segment", "action", "script", "why"} <= set(seg.columns)
    assert seg.loc[seg["relationship_segment"] == "detractor", "action"].str.contains(
        "Manager call").all()
    run("report", "--out", str(tmp_path / "r.html"))
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="relationship"' in html and "Want vs deliver" in html


def test_page_data_is_json_ready(filled):
    from loyalist.relationship import analyse, page_data

    res = analyse(filled, n_boot=20, segments=False)
    data = json.loads(json.dumps(page_data(res), allow_nan=False))
    assert len(data["charts"]["importance_performance"]) == 7
    assert set(data["charts"]["drivers"]) >= {"trust", "commitment", "nps"}
    assert data["segments"] is None and any("Concentrate on" in f for f in data["findings"])


def test_relationship_settings_reach_the_analysis_and_options_override(filled, tmp_path):
    """``[relationship]`` in loyalist.toml next to the store: the survey (relative to
    the file), the gap's split and the segment rules reach ``analyse`` and the command;
    an option overrides one value for one run."""
    from importlib import resources

    from loyalist.relationship import analyse
    from loyalist.relationship.segments import assign_segments
    from loyalist.settings import Settings, SettingsError

    path = filled.path
    filled.close()
    default = resources.files("loyalist.contract").joinpath("relationship_survey.toml")
    (tmp_path / "surveys").mkdir()
    (tmp_path / "surveys" / "ours.toml").write_text(default.read_text("utf-8").replace(
        'title = "How are we doing together?"', 'title = "Our own wording"'), "utf-8")
    (tmp_path / "loyalist.toml").write_text(
        '[relationship]\nsurvey = "surveys/ours.toml"\nby = ""\nboot = 30\n'
        "at_risk_lift = 1.5\npromoter_at = 10\n", encoding="utf-8")
    with loyalist.connect(path) as s:
        cfg = s.settings.relationship
        assert (cfg.by, cfg.boot, cfg.at_risk_lift) == ("", 30, 1.5)
        res = analyse(s, segments=False)
        assert res.survey.title == "Our own wording" and res.gap_by is None
        assert len(res.gap) and "No gap by" not in " ".join(res.notes)
        res = analyse(s, segments=False, by="segment")  # an argument overrides
        assert res.gap_by is not None
    # the rules: twice (here 1.5 times) the average P(leave), promoters from 10
    people = pd.DataFrame({"customer_id": list("abcdef"), "said_nps": [10, 10, 9, 10, 3, None],
                           "p_leave": [0.05, 0.3, 0.4, 0.1, 0.1, 0.1],
                           "p_promoter": [0.5] * 5 + [0.2],
                           "p_gone_quiet": [0.0, 0, 0, 0.7, 0, 0]})
    seg = assign_segments(people, cfg)["relationship_segment"].tolist()
    assert seg == ["loyal advocate", "at-risk promoter", "passive", "at-risk promoter",
                   "detractor", "silent"]
    assert assign_segments(people, Settings().relationship)["relationship_segment"][2] == \
        "at-risk promoter"
    r = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "config", "--json",
                        "--store", str(path)], capture_output=True, text=True, env=ENV)
    body = json.loads(r.stdout)["settings"]["relationship"]
    assert body["by"] == {"value": "", "origin": "file"}
    assert body["gone_quiet_p"]["origin"] == "default"
    for text, words in (('at_risk = "sometimes"', "[relationship] at_risk must be one of"),
                        ("promoter_at = 11", "must be an NPS answer between 0 and 10"),
                        ("at_risk_lif = 2", "did you mean 'at_risk_lift'")):
        (tmp_path / "loyalist.toml").write_text(f"[relationship]\n{text}\n", "utf-8")
        with pytest.raises(SettingsError) as e:
            Settings.load(path)
        assert words in e.value.message + " " + (e.value.hint or "")
