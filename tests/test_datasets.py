"""The synthetic business: contract conformance, determinism, and a coherent ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loyalist.contract import TABLES
from loyalist.datasets import CATEGORY_TEAM, REASONS, make_business
from loyalist.datasets import _hazard as hazard
from loyalist.errors import DataError

COMPETITOR_WORDS = r"(?i)competitor|other suppliers|switch|cancel|cheaper|too expensive"


@pytest.fixture(scope="module")
def business():
    return make_business(n_customers=4000, months=24, seed=11)


@pytest.fixture(scope="module")
def people(business):
    """Truth per customer with the observed churn date (NaT for those still here)."""
    t = business.truth["customers"].copy()
    t["left_at"] = t["churned_at"].where(t["churned"])
    return t.set_index("customer_id")


def test_same_seed_same_business_and_other_seed_differs():
    a = make_business(n_customers=500, months=12, seed=3)
    b = make_business(n_customers=500, months=12, seed=3)
    c = make_business(n_customers=500, months=12, seed=4)
    for name in TABLES:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    for name in a.truth:
        pd.testing.assert_frame_equal(a.truth[name], b.truth[name])
    assert not a.tables["orders"]["amount"].equals(c.tables["orders"]["amount"])


def test_tables_follow_the_contract(business):
    extra = {"region", "plan", "acquired_via"}
    for name, spec in TABLES.items():
        df = business.tables[name]
        assert tuple(df.columns[: len(spec.names)]) == spec.names, name
        assert set(df.columns[len(spec.names):]) == (extra if name == "customers" else set())
        # survey_answers: make_business(survey=...); order_lines: datasets.exports
        if name not in ("touches", "survey_answers", "order_lines"):
            assert len(df) > 0, name
        for col in spec.columns:
            s = df[col.name]
            if col.type == "string":
                assert pd.api.types.is_string_dtype(s.dtype), (name, col.name, s.dtype)
            elif col.type == "timestamp":
                assert s.dtype == np.dtype("datetime64[us]"), (name, col.name, s.dtype)
            elif col.type == "float":
                assert s.dtype == np.float64, (name, col.name, s.dtype)
            elif col.type == "boolean":
                assert s.dtype == pd.BooleanDtype(), (name, col.name, s.dtype)
            else:
                assert s.dtype == pd.Int64Dtype(), (name, col.name, s.dtype)
            if col.required:
                assert s.notna().all(), (name, col.name)
            if col.min is not None:
                assert (s.dropna() >= col.min).all(), (name, col.name)
            if col.max is not None:
                assert (s.dropna() <= col.max).all(), (name, col.name)
            for other in col.not_before:
                both = s.notna() & df[other].notna()
                assert (s[both] >= df[other][both]).all(), (name, col.name, other)
        if spec.has_id and len(df):
            assert df["id"].is_unique and df["id"].notna().all(), name


def test_records_stop_at_as_of_and_reference_known_customers(business):
    known = set(business.tables["customers"]["id"])
    for name, spec in TABLES.items():
        df = business.tables[name]
        if "customer_id" in spec.names and len(df):
            assert df["customer_id"].isin(known).all(), name
        for col in spec.columns:
            if col.type == "timestamp" and col.name != "promised_at":
                assert (df[col.name].dropna() < business.as_of).all(), (name, col.name)
    orders = business.tables["orders"]
    assert 6 < len(orders) / len(known) < 14  # about ten orders a customer, as at 1M scale


def test_nothing_happens_after_a_customer_left(business, people):
    left = people["left_at"]
    for name, col in (("orders", "ordered_at"), ("requests", "opened_at"),
                      ("feedback", "answered_at"), ("events", "at")):
        df = business.tables[name]
        when = df["customer_id"].map(left)
        assert not (df[col] >= when).any(), name
    subs = business.tables["subscriptions"]
    last = subs.sort_values("started_at").groupby("customer_id").tail(1).set_index("customer_id")
    churned = last.index.map(people["churned"]).to_numpy(dtype=bool)
    assert (last["ended_at"][churned] == last.index[churned].map(left)).all()
    assert last["ended_at"][~churned].isna().all()


def test_customer_truth_is_consistent(business, people):
    t = people
    assert t["churned"].equals(t["churned_at"] < business.as_of)
    horizon = business.as_of + pd.Timedelta(days=business.horizon_days)
    will = (t["churned_at"] >= business.as_of) & (t["churned_at"] <= horizon)
    assert t["will_churn"].equals(will)
    drifting = (t["first_warning_at"] < business.as_of) & (t["churned_at"] >= business.as_of)
    assert t["drifting_at_as_of"].equals(drifting)
    leavers = t["churned_at"].notna()
    assert t.loc[leavers, "reason"].isin(REASONS).all() and t.loc[~leavers, "reason"].isna().all()
    assert (t["first_warning_at"].isna() == (~leavers | t["silent"])).all()
    warned = t["first_warning_at"].notna()
    assert (t.loc[warned, "first_warning_at"] < t.loc[warned, "churned_at"]).all()
    signal = t["first_signal_at"].notna()
    assert (t.loc[signal, "first_signal_at"] >= t.loc[signal, "first_warning_at"]).all()
    # a sensible share leaves, most with warning, some without
    assert 0.1 < t["churned"].mean() < 0.4
    assert 0.1 < t.loc[t["churned"], "silent"].mean() < 0.5
    lead = (t["churned_at"] - t["first_warning_at"]).dt.days.dropna()
    assert 40 < lead.mean() < 100


def test_request_truth_misrouting_and_callbacks(business):
    req = business.tables["requests"]
    truth = business.truth["requests"]
    assert truth["request_id"].equals(req["id"])
    assert truth["true_category"].equals(req["category"])
    differs = req["team"] != req["category"].map(CATEGORY_TEAM)
    assert (truth["is_misrouted"] == differs).all()
    assert 0.08 < truth["is_misrouted"].mean() < 0.16
    # misrouted requests wait longer for an answer
    wait = (req["first_response_at"] - req["opened_at"]).dt.total_seconds()
    assert wait[differs].median() > 2 * wait[~differs].median()
    # call-backs point to an earlier request of the same customer about the same matter
    cb = truth[truth["is_callback"]]
    assert 0.05 < len(cb) / len(truth) < 0.3
    orig = req.set_index("id").loc[cb["callback_of"]]
    mine = req.set_index("id").loc[cb["request_id"]]
    assert (orig["customer_id"].to_numpy() == mine["customer_id"].to_numpy()).all()
    assert (orig["category"].to_numpy() == mine["category"].to_numpy()).all()
    assert (orig["opened_at"].to_numpy() < mine["opened_at"].to_numpy()).all()
    # the source system records the parent on some call-backs only, and never wrongly
    linked = req["parent_id"].notna()
    assert truth.loc[linked, "is_callback"].all()
    assert (req.loc[linked, "parent_id"] == truth.loc[linked, "callback_of"]).all()
    assert 0.2 < linked.sum() / len(cb) < 0.5
    # call-backs often say so
    says = req.loc[truth["is_callback"], "text"].str.contains(r"(?i)\bagain\b|\bstill\b")
    assert says.mean() > 0.5
    assert req.loc[~truth["is_callback"], "text"].str.contains(r"(?i)\bagain\b").mean() < 0.05
    # a new contact on a matter of the same category still open from the last four weeks
    # is mostly a call-back; the rest are new matters (the ambiguity linking must face)
    r = req.assign(cb=truth["is_callback"]).sort_values(["customer_id", "category",
                                                          "opened_at"])
    prev = r.groupby(["customer_id", "category"]).shift(1)
    overlap = ((r["opened_at"] - prev["opened_at"] <= pd.Timedelta(days=28))
               & ~(prev["resolved_at"] <= r["opened_at"]))
    assert r.loc[overlap, "cb"].mean() > 0.6
    assert (~r.loc[overlap, "cb"]).sum() > 10
    # a contact about an order names one of the customer's earlier orders, mostly
    cited = req["text"].str.extract(r"order (O\d{8})", expand=False)
    has = cited.notna()
    orders = business.tables["orders"].set_index("id")
    known = cited[has].isin(orders.index)
    assert known.mean() > 0.9
    citing = req[has][known.to_numpy()]
    cited_rows = orders.loc[cited[has][known].to_numpy()]
    assert (cited_rows["customer_id"].to_numpy() == citing["customer_id"].to_numpy()).all()
    assert (cited_rows["ordered_at"].to_numpy() < citing["opened_at"].to_numpy()).all()
    # truth of the outcome agrees with what the records show
    assert req.loc[truth["never_answered"], "first_response_at"].isna().all()


def test_order_truth_matches_records(business):
    o = business.tables["orders"]
    t = business.truth["orders"]
    assert t["order_id"].equals(o["id"])
    assert o.loc[t["never_acknowledged"], "acknowledged_at"].isna().all()
    late = t["late"] & o["fulfilled_at"].notna()
    assert (o.loc[late, "fulfilled_at"] > o.loc[late, "promised_at"]).all()
    on_time = ~t["late"] & o["fulfilled_at"].notna()
    assert (o.loc[on_time, "fulfilled_at"] <= o.loc[on_time, "promised_at"]
            + pd.Timedelta(days=3)).all()
    assert 0.01 < t["never_acknowledged"].mean() < 0.06


def _rhythm(orders: pd.DataFrame, until: pd.Series) -> pd.DataFrame:
    """Per customer with five gaps or more: growth of the last two gaps over the earlier
    ones, days without an order at ``until`` over the usual gap, and the last two baskets
    over the earlier ones."""
    o = orders.sort_values(["customer_id", "ordered_at"])
    by = o.groupby("customer_id")
    o = o.assign(gap=by["ordered_at"].diff().dt.total_seconds() / 86400,
                 k=by.cumcount(ascending=False))
    n = o.groupby("customer_id")["gap"].count()
    o = o[o["customer_id"].map(n) >= 5]
    recent, older = o[o["k"] < 2].groupby("customer_id"), o[o["k"] >= 2].groupby("customer_id")
    last_order = o.groupby("customer_id")["ordered_at"].max()
    usual = o.groupby("customer_id")["gap"].median()
    silence = (until.reindex(last_order.index) - last_order).dt.total_seconds() / 86400
    return pd.DataFrame({
        "gap_growth": recent["gap"].mean() / older["gap"].mean(),
        "silence": silence / usual,
        "basket": recent["amount"].mean() / older["amount"].mean(),
    })


def test_leavers_whisper_before_they_go_and_stayers_mostly_do_not(business, people):
    warned = people.index[people["churned"] & ~people["silent"]]
    stayers = people.index[people["churned_at"].isna()]
    until = people["left_at"].fillna(business.as_of)
    rhythm = _rhythm(business.tables["orders"], until)
    leaver, stayer = rhythm.reindex(warned).median(), rhythm.reindex(stayers).median()
    assert leaver["gap_growth"] > 1.15 * stayer["gap_growth"]  # gaps lengthen
    assert leaver["silence"] > 2 * stayer["silence"]  # long silence before leaving
    assert leaver["basket"] < 0.93 * stayer["basket"]  # baskets shrink

    req = business.tables["requests"]
    by = req.groupby("customer_id")
    unanswered = by["first_response_at"].apply(lambda s: s.isna().any())
    words = by["text"].apply(lambda s: s.str.contains(COMPETITOR_WORDS).any())
    callbacks = business.truth["requests"].groupby("customer_id")["is_callback"].any()
    for signal in (unanswered, words, callbacks):
        leaver_share = signal.reindex(warned, fill_value=False).mean()
        stayer_share = signal.reindex(stayers, fill_value=False).mean()
        assert leaver_share > 1.5 * stayer_share
    assert words.reindex(stayers, fill_value=False).mean() < 0.25

    fb = business.tables["feedback"].sort_values("answered_at")
    last_nps = fb.dropna(subset=["nps"]).groupby("customer_id")["nps"].last().astype(float)
    assert last_nps.reindex(warned).mean() < last_nps.reindex(stayers).mean() - 1.0
    during = fb["answered_at"] >= fb["customer_id"].map(people["first_warning_at"])
    stayer_nps = fb["nps"][fb["customer_id"].isin(stayers)].mean()
    assert fb.loc[during, "nps"].mean() < stayer_nps - 2.0
    last_trust = fb.dropna(subset=["trust"]).groupby("customer_id")["trust"].last()
    assert last_trust.reindex(warned).astype(float).mean() < \
        last_trust.reindex(stayers).astype(float).mean() - 0.3

    # whispers begin weeks before leaving
    lead = (people.loc[warned, "churned_at"] - people.loc[warned, "first_signal_at"]).dt.days
    assert lead.median() > 14


def test_unanswered_requests_make_customers_leave(business, people):
    """Service failure is a cause: among customers still here after a year, those left
    unanswered in the six months before leave more often in the six months after."""
    half, year, later = (business.start + pd.DateOffset(months=k) for k in (6, 12, 18))
    created = business.tables["customers"].set_index("id")["created_at"]
    present = people[(created < half) & ~(people["churned_at"] < year)]
    req = business.tables["requests"]
    truth = business.truth["requests"]
    window = (req["opened_at"] >= half) & (req["opened_at"] < year) & ~truth["is_whisper"]
    failed = set(req.loc[window & req["first_response_at"].isna(), "customer_id"])
    hit = present.index.isin(failed)
    leaves = present["churned_at"] < later
    assert hit.sum() > 50
    assert leaves[hit].mean() > 1.4 * leaves[~hit].mean()


def test_promoters_in_the_truth_answer_and_behave_like_promoters(business, people):
    fb = business.tables["feedback"]
    nps = fb.groupby("customer_id")["nps"].mean().astype(float)
    promoter = people["promoter"]
    assert nps[promoter.reindex(nps.index)].mean() > nps[~promoter.reindex(nps.index)].mean() + 1
    by_kind = people.groupby("archetype")["promoter"].mean()
    assert by_kind["advocate"] > 2 * by_kind["wanderer"]
    # some promoters never answer a survey: the advocacy model has someone to find
    silent = ~people.index.isin(fb["customer_id"])
    assert (promoter & silent).sum() > 50
    # and fans buy more often
    rate = business.tables["orders"].groupby("customer_id").size() / 24
    assert rate.reindex(people.index[promoter]).mean() > rate.reindex(
        people.index[~promoter]).mean()


def test_the_hazard_is_computed_in_one_place(monkeypatch):
    """Without the service effect nobody leaves for service reasons (the hook for outreach)."""
    base = make_business(n_customers=2000, months=12, seed=5, events=False)
    monkeypatch.setattr(hazard, "SERVICE_EFFECT", 0.0)
    calm = make_business(n_customers=2000, months=12, seed=5, events=False)
    assert (base.truth["customers"]["reason"] == "service").sum() > 0
    assert (calm.truth["customers"]["reason"] == "service").sum() == 0
    assert calm.truth["customers"]["churned"].sum() < base.truth["customers"]["churned"].sum()
    assert len(calm.tables["events"]) == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_one_file_per_table_and_truth_apart(tmp_path, fmt):
    b = make_business(n_customers=300, months=6, seed=1)
    files = b.write(tmp_path, format=fmt)
    expected = {n for n, df in b.tables.items() if len(df)} | {
        f"truth/{n}" for n in b.truth}
    assert set(files) == expected
    for name in ("orders", "requests", "truth/customers"):
        path = files[name]
        assert path.exists()
        back = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
        frame = b.truth[name[6:]] if name.startswith("truth/") else b.tables[name]
        assert len(back) == len(frame) and list(back.columns) == list(frame.columns)
    if fmt == "parquet":
        back = pd.read_parquet(files["orders"])
        pd.testing.assert_series_equal(back["amount"], b.tables["orders"]["amount"])


def test_bad_arguments_say_what_was_expected(tmp_path):
    with pytest.raises(DataError, match="n_customers must be int >= 1; got 0"):
        make_business(n_customers=0)
    b = make_business(n_customers=50, months=3, seed=0)
    with pytest.raises(DataError, match="Unknown format 'xlsx'"):
        b.write(tmp_path, format="xlsx")


def test_staff_are_the_owners_and_agents(business):
    staff = business.tables["staff"]
    assert staff["id"].is_unique and staff["name"].notna().all()
    assert set(business.tables["customers"]["owner"].dropna()) <= set(staff["id"])
    assert set(business.tables["requests"]["agent"].dropna()) <= set(staff["id"])
