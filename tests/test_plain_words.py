"""Plain words everywhere: every reason template, every alert kind and every timeline
entry, rendered on crafted rows (ones, twos, missing values, blank categories) and on a
scored synthetic business (``make_business``: 600 customers, 24 months, seed 5, default
effects), must read as written for a person: no "nan", "None", "True", no "1 days",
no "(s)", no "798.0", no internal names such as ``call_back_unanswered`` or
``profile:customer_tenure_days``."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.contract.derived import ALERT_KINDS

#: what must never reach a reader, each with why
ARTEFACTS = {
    r"\bnan\b": "a missing value printed", r"\bNone\b": "a missing value printed",
    r"\bNaT\b": "a missing date printed", r"<NA>": "a missing value printed",
    r"\bTrue\b|\bFalse\b": "a flag printed", r"\(s\)": "a lazy plural",
    r"(?<![\d.])1 (days|hours|orders|requests|messages|times|customers|contacts|gaps)\b":
        "a plural after one",
    r"\b\d+\.0\b(?!\d)": "a whole number with '.0'",
    r"\b[a-z]+_[a-z_]+\b": "an internal name", r"profile:": "an internal name",
    r"\{|\}": "a template placeholder left unfilled",
}


#: ratios keep one decimal, whole or not, so a range reads evenly ("1.1 to 2.0")
RATIOS = re.compile(r"\d+\.\d times|\(\d+\.\d to \d+\.\d\)")


def artefacts(text: str) -> list[str]:
    text = str(text)
    return [f"{why}: {m.group(0)!r} in {text!r}" for pattern, why in ARTEFACTS.items()
            for m in [re.search(pattern, RATIOS.sub("", text) if ".0" in pattern else text)]
            if m]


def check(texts) -> None:
    found = [a for t in texts if t is not None for a in artefacts(t)]
    assert not found, "\n".join(found[:20])


def test_the_artefact_check_catches_each_artefact():
    for bad in ("Request R1 unanswered for 1 days", "NPS 7 \"nan\"", "saved None",
                "Customer tenure days: 798.0", "profile:customer_tenure_days",
                "call_back_unanswered", "2 request(s)", "Alert — True", "{days}"):
        assert artefacts(bad), bad
    assert not artefacts("Request R1 unanswered for 1 day; 2 orders; 3.5 days; NPS 7")
    assert not artefacts("left 2.0 times as often (1.1 to 2.0) as others")


def crafted_features() -> pd.DataFrame:
    """Rows that take every branch of every template, with ones, twos and gaps."""
    n = 12
    one_two = np.resize([1.0, 2.0, 3.0, np.nan], n)
    return pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)],
        "recency_days": np.resize([1.0, 40.0, 200.0, np.nan], n),
        "typical_gap_days": np.resize([1.0, 20.0, np.nan, 30.0], n),
        "order_days": np.resize([1.0, 2.0, 3.0, 6.0, np.nan], n),
        "orders_90d": np.resize([0.0, 1.0, 2.0], n),
        "orders_prev_90d": np.resize([2.0, 3.0, 5.0], n),
        "basket_change_90d": np.resize([0.5, 0.99, np.nan], n),
        "unanswered_open": one_two, "oldest_unanswered_days": np.resize([1.0, 2.4, np.nan], n),
        "callbacks_recent": one_two, "median_response_hours": np.resize([1.0, 26.0], n),
        "misrouted_recent": one_two,
        "unhappy_texts": one_two, "cancel_cues": one_two, "competitor_cues": one_two,
        "complaint_cues": one_two,
        "orders_not_acknowledged": one_two, "orders_late_against_promise": one_two,
        "orders_not_followed_up": one_two, "orders_acknowledged_late": one_two,
        "last_nps": np.resize([3.0, 6.0, np.nan], n), "prev_nps": np.resize([8.0, np.nan], n),
        "last_trust": np.resize([2.0, np.nan], n), "prev_trust": np.resize([4.0, 3.0], n),
        "last_commitment": np.resize([1.0, 2.0, np.nan], n),
        "ev_login_ratio": np.resize([0.0, 0.5, np.nan], n),
        "subs_active": np.resize([0.0, 1.0, 1.0], n), "subs_ended": np.resize([1.0, 0.0], n),
        "plan": pd.Series(np.resize(["pro", None, "basic"], n), dtype=object),
        "mrr": np.resize([49.0, np.nan, 1.0], n),
        "p_alive": np.resize([0.2, 0.9, np.nan], n),
        "p_no_purchase": np.resize([0.7, 0.1], n),
        "customer_tenure_days": np.resize([798.0, 1.0, 40.5, np.nan], n),
        "monthly_charges": np.resize([70.35, 20.0, 99.9], n),
        "contract": pd.Series(np.resize(["Month-to-month", None, "Two year"], n),
                              dtype=object),
    })


def test_every_reason_template_reads_as_words():
    from loyalist.decisions.signals import whispers as w

    x = crafted_features()
    texts = []
    for family, make in w.TEMPLATES.items():
        out = make(x)
        assert out.notna().any(), family  # the rows reach every family
        texts += out.dropna().tolist()

    class Model:  # a fitted churn model's comparison tables, as ChurnModel keeps them
        base_rate_ = 0.2
        rates_ = {}

    edges = np.array([100.0, 300.0, 600.0, 900.0])
    for feature in ("customer_tenure_days", "monthly_charges"):
        t = pd.DataFrame({"rate": [0.5] * 6, "rows": [100] * 6}, index=[-1, 0, 1, 2, 3, 4])
        t.attrs["edges"] = edges
        Model.rates_[feature] = t
    Model.rates_["contract"] = pd.DataFrame({"rate": [0.45, 0.1], "rows": [300, 200]},
                                            index=["Month-to-month", "Two year"])
    for feature in ("customer_tenure_days", "monthly_charges", "contract"):
        out = w._profile(x, feature, Model.rates_, Model.base_rate_)
        assert out.notna().any(), feature
        texts += out.dropna().tolist()
    check(texts)


def crafted_alerts() -> pd.DataFrame:
    kinds = [k for k in ALERT_KINDS if k != "stay_in_touch"] + ["unhappy_words"]
    rows = []
    for k in kinds:
        for value, category, at in ((1.0, "billing", "2024-03-01"), (2.4, None, None),
                                    (0.3, float("nan"), "2024-03-02"), (np.nan, "", None)):
            rows.append({"customer_id": "C1", "kind": k, "evidence_table": "requests",
                         "evidence_id": "R1", "at": pd.Timestamp(at) if at else pd.NaT,
                         "value": value, "category": category})
    return pd.DataFrame(rows)


def test_every_alert_kind_reads_as_words():
    from loyalist.decisions.scoring import _alert_text
    from loyalist.decisions.words import kind_words

    texts = _alert_text(crafted_alerts()).tolist()
    texts += [kind_words(k) for k in (*ALERT_KINDS, "unhappy_words", "call_back_unanswered")]
    check(texts)


def test_every_timeline_entry_reads_as_words():
    from loyalist.decisions.signals.story import describe

    at = pd.Timestamp("2024-03-01 10:00")
    events = [
        {"source": "order", "at": at, "id": "O1", "label": None, "text": None,
         "note": None, "number": 12.5, "later": None},
        {"source": "order", "at": at, "id": "O2", "label": None, "text": float("nan"),
         "note": None, "number": float("nan"), "later": None},
        {"source": "request", "at": at, "id": "R1", "label": "email, billing",
         "text": "Invoice wrong", "note": None, "number": None,
         "later": at + pd.Timedelta(hours=1)},
        {"source": "request", "at": at, "id": "R2", "label": None, "text": None,
         "note": None, "number": None, "later": at + pd.Timedelta(days=1)},
        {"source": "feedback", "at": at, "id": "F1", "label": None, "text": float("nan"),
         "note": None, "number": 7.0, "later": None},
        {"source": "feedback", "at": at, "id": "F2", "label": None, "text": "nan",
         "note": None, "number": None, "later": None},
        {"source": "touch", "at": at, "id": "T1", "label": "call", "text": "saved",
         "note": float("nan"), "number": None, "later": None},
        {"source": "touch", "at": at, "id": "T2", "label": None, "text": "no_answer",
         "note": "None", "number": None, "later": None},
    ]
    check([" ".join(describe(e)) for e in events])


def test_every_keep_informed_reason_reads_as_words(tmp_path):
    """Open requests and orders with no word: ones and twos, a blank category, no word
    at all, the business's own word, a contact logged against the matter."""
    from loyalist.decisions.words import kind_words
    from loyalist.decisions.worklist.informed import silent_matters
    from loyalist.settings.worklist import WorklistSettings

    now = pd.Timestamp("2024-06-01")
    day = pd.Timedelta(days=1)
    ids = [f"C{i}" for i in range(6)]
    customers = pd.DataFrame({"id": ids})
    orders = pd.DataFrame({
        "id": ["O1", "O2", "O3", "O4", "O5", "O6", "O7"],
        "customer_id": ["C0", "C1", "C2", "C2", "C3", "C3", "C3"],
        "ordered_at": [now - 8 * day, now - 12.4 * day, now - 20 * day, now - 9 * day,
                       now - 30 * day, now - 11 * day, now - 8.5 * day],
        "status": ["placed", "acknowledged", None, "placed", "placed", "placed", "placed"],
        "acknowledged_at": [None, now - 11 * day, now - 19 * day, None, None, None, None],
        "fulfilled_at": [None] * 6 + [now + day]})  # O7 delivered only later
    requests = pd.DataFrame({
        "id": ["R1", "R2", "R3", "R4"], "customer_id": ["C4", "C4", "C5", "C0"],
        "opened_at": [now - 6 * day, now - 16 * day, now - 7 * day, now - 40 * day],
        "subject": ["Where is my parcel", "Refund", "Help", "Old"],
        "category": ["delivery", " ", None, "billing"],
        "first_response_at": [None, now - 15 * day, now - 6 * day, now - 39 * day],
        "resolved_at": [None, None, None, now - 30 * day]})
    touches = pd.DataFrame({"customer_id": ["C2", "C5"], "at": [now - 8 * day, now - 2 * day],
                            "kind": ["call", "call"], "outcome": ["reached", "reached"],
                            "order_id": ["O3", None], "request_id": [None, "R3"]})
    with loyalist.connect(tmp_path / "w.duckdb") as s:
        for name, frame in (("customers", customers), ("orders", orders),
                            ("requests", requests), ("touches", touches)):
            s.ingest(name, frame)
        texts = []
        for kind in ("order", "request"):
            got = silent_matters(s, kind, now, WorklistSettings(inform_request_after_days=1.0))
            assert len(got) >= 2, kind
            texts += got["why"].tolist()
    assert any("and 1 more open order" in t for t in texts), texts
    assert any("and 2 more open orders" in t for t in texts), texts
    assert any("no word to the customer since" in t for t in texts), texts
    assert any("a contact logged against it" in t for t in texts), texts
    check(texts + [kind_words(k) for k in ("no_word:request", "no_word:order",
                                           "named_competitor")])


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    from loyalist.datasets import make_business
    from loyalist.decisions.scoring import score

    store = loyalist.connect(tmp_path_factory.mktemp("words") / "w.duckdb")
    business = make_business(n_customers=600, months=24, seed=5)
    for name in ("customers", "staff", "orders", "subscriptions", "requests", "feedback",
                 "events", "touches"):
        if len(business.tables.get(name, [])):
            store.ingest(name, business.tables[name], strict=name != "customers")
    score(store)
    yield store
    store.close()


def test_a_scored_business_reads_as_words(scored):
    from loyalist.decisions import overview
    from loyalist.decisions.signals.story import customer_rows, risk_questions, timeline_rows

    store = scored
    reasons = store.table("reasons").text.to_pandas().tolist()
    alerts = store.table("alerts").text.to_pandas().tolist()
    assert reasons and alerts
    o = overview.overview(store)
    texts = reasons + alerts
    texts += [a["kind_words"] for a in o["alerts"]] + [a["weight"] for a in o["alerts"]]
    texts += [w["family_words"] for w in o["whispers"]]
    texts += [r["reason"] for r in o["worth_saving"]["rows"]]
    texts += list(o["windows"].values())
    for cid in store.table("scores").customer_id.to_pandas().head(40):
        got = customer_rows(store, cid)
        texts += [" ".join(str(v) for v in (r["what"], r["detail"]))
                  for r in timeline_rows(got["events"])]
        texts += [q["question"] for q in risk_questions(
            store, got["score"][0] if got["score"] else None,
            got["value"][0] if got["value"] else None)]
    check(texts)
