"""The worklist uses the relationship segments: a ``relationship`` trigger opens the
default playbooks for at-risk promoters, silent promoters and detractors of the last
``loyalist relationship`` run, and playbook mistakes are named.

Generator settings: ``make_business(n_customers=2000, months=24, seed=6,
survey=SurveySettings())`` (the relationship survey as shipped). The worklist's own
rules are tested in test_worklist.py, so the store gets its stand-in scores; the
segments come from a real ``analyse`` run.
"""

from __future__ import annotations

import pandas as pd
import pytest

import loyalist
from loyalist.datasets import make_business
from loyalist.datasets._relationship import SurveySettings
from loyalist.decisions.worklist import build_worklist
from loyalist.errors import LoyalistError
from loyalist.relationship import analyse, save_analysis
from loyalist.settings.worklist import default_playbooks, load_playbooks
from loyalist.store.worklist import assignments
from test_worklist import stand_in_scores

TABLES = ("customers", "staff", "orders", "subscriptions", "requests", "feedback",
          "survey_answers", "events")
PLAYBOOKS = {"call_at_risk_promoter": "at-risk promoter", "hear_out_detractor": "detractor",
             "invite_silent_promoter": "silent promoter"}


@pytest.fixture(scope="module")
def worked(tmp_path_factory):
    b = make_business(n_customers=2000, months=24, seed=6, survey=SurveySettings())
    path = tmp_path_factory.mktemp("relwl") / "s.duckdb"
    with loyalist.connect(path) as s:
        for name in TABLES:
            if len(b.tables.get(name, [])):
                s.ingest(name, b.tables[name], strict=name != "customers")
        res = analyse(s, n_boot=20)
        save_analysis(s, res)
        stand_in_scores(s, res.as_of)
        run = build_worklist(s, res.as_of)
        events = assignments(s).to_pandas()
        alerts = s.table("alerts").to_pandas()
        segments = s.table("relationship_segments").to_pandas()
        scored = set(s.table("scores").customer_id.to_pandas())
        dnc = set(s.table("customers").filter(lambda t: t.do_not_contact.fill_null(False))
                  .id.to_pandas())
    return run, segments, events, alerts, scored, dnc


def test_the_worklist_opens_the_relationship_playbooks(worked):
    run, segments, _, _, _, _ = worked
    items = run.items
    seg = segments.set_index("customer_id")
    for name, segment in PLAYBOOKS.items():
        mine = items[items["playbook"] == name]
        print(f"{name}: {len(mine)} items")
        assert len(mine) > 0, name
        # each one a customer of that segment, with the segment's reason and action
        assert (seg.loc[mine["customer_id"], "relationship_segment"] == segment).all()
        # (other reasons of the same customer merge into the item after "Also:")
        lead = mine["why"].str.split(" Also: ").str[0]
        assert list(lead) == list(seg.loc[mine["customer_id"], "why"])
        assert (mine["action"] == default_playbooks().get(name).action).all()
        assert (mine["reason_kind"] == f"relationship:{segment}").all()


def test_every_reachable_at_risk_promoter_is_called_held_out_or_waiting(worked):
    run, segments, assigned, _, scored, dnc = worked
    at_risk = set(segments.loc[segments["relationship_segment"] == "at-risk promoter",
                               "customer_id"])
    reachable = (at_risk & scored) - dnc
    assert len(reachable) >= 10
    name = "call_at_risk_promoter"
    called = set(run.items.loc[run.items["playbook"] == name, "customer_id"])
    held = set(assigned.loc[(assigned["playbook"] == name) & (assigned["arm"] == "control"),
                            "customer_id"])
    # the first discretionary playbook they match: nobody is lost to a later one
    assert called | held <= reachable
    assert len(called) + len(held) + run.waiting.get(name, 0) == len(reachable)
    assert not (called & dnc)


def test_a_detractor_with_a_detractor_alert_gets_the_must_do_item_only(worked):
    run, segments, _, alerts, _, _ = worked
    flagged = set(alerts.loc[alerts["kind"] == "detractor", "customer_id"])
    detractors = set(segments.loc[segments["relationship_segment"] == "detractor",
                                  "customer_id"])
    assert flagged & detractors  # the case exists in this business
    heard = set(run.items.loc[run.items["playbook"] == "hear_out_detractor", "customer_id"])
    assert heard and not (heard & flagged)
    must = set(run.items.loc[run.items["reason_kind"] == "detractor", "customer_id"])
    assert flagged & detractors & must


@pytest.mark.parametrize("text, message, hint", [
    ('relationship = ["at risk promoter"]', "'relationship' 'at risk promoter' is not a "
     "relationship segment", "did you mean 'at-risk promoter'"),
    ("relationship = 3", "'relationship' must be a segment name or a list of them",
     'relationship = ["at-risk promoter"]'),
    ('unless_alert = "detractr"', "'unless_alert' 'detractr' is not an alert kind",
     "did you mean 'detractor'"),
])
def test_relationship_trigger_mistakes_are_named(tmp_path, text, message, hint):
    path = tmp_path / "playbooks.toml"
    path.write_text(f'[[playbook]]\nname = "mine"\naction = "Call"\n{text}\n',
                    encoding="utf-8")
    with pytest.raises(LoyalistError) as e:
        load_playbooks(path)
    assert message in e.value.message and "playbook 'mine'" in e.value.message
    assert hint in e.value.hint


def test_a_relationship_trigger_without_a_relationship_run_opens_nothing(tmp_path):
    b = make_business(n_customers=300, months=12, seed=2, events=False)
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        for name in ("customers", "orders", "requests", "feedback"):
            s.ingest(name, b.tables[name], strict=name != "customers")
        as_of = pd.Timestamp(b.as_of).normalize()
        stand_in_scores(s, as_of)
        run = build_worklist(s, as_of)
    assert len(run.items) > 0
    assert not run.items["playbook"].isin(list(PLAYBOOKS)).any()
