"""Request routing on real data: accuracy, calibration, the human queue, the contract."""

from __future__ import annotations

import io
import pickle
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from conftest import DATA
from loyalist.errors import DataError, NotFittedError, SourceError
from loyalist.models.routing import RequestRouter, router_path, usual_teams

BANKING = DATA / "banking77"
BITEXT = DATA / "bitext_customer_support" / "Bitext_Sample_Customer_Support_Training_Dataset.csv"


@pytest.fixture(scope="module")
def banking():
    train = pd.read_csv(BANKING / "train.csv")
    test = pd.read_csv(BANKING / "test.csv")
    # CPU seconds of this process: the machine is shared, wall time depends on the others
    started = time.process_time()
    router = RequestRouter().fit(train["text"], train["category"])
    seconds = time.process_time() - started
    return router, train, test, seconds


@pytest.fixture(scope="module")
def small():
    """A quick router on six Banking77 categories, mapped to two teams."""
    train = pd.read_csv(BANKING / "train.csv")
    cats = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "top_up_failed",
            "declined_transfer", "pin_blocked"]
    train = train[train["category"].isin(cats)].reset_index(drop=True)
    teams = {c: ("cards" if "card" in c or "pin" in c else "payments") for c in cats}
    return RequestRouter(category_to_team=teams).fit(train), train, teams


@pytest.mark.slow  # trains on Banking77 (its setup 36-40 s in make test): make test-slow
def test_banking77_accuracy_speed_and_calibration(banking):
    router, train, test, seconds = banking
    started = time.process_time()
    routed = router.route(test["text"].tolist())
    per_second = len(test) / (time.process_time() - started)
    right = routed["category"].to_numpy() == test["category"].to_numpy()
    accuracy = right.mean()
    print(f"Banking77: accuracy {accuracy:.4f}, fit {seconds:.1f} CPU s on {len(train):,} rows, "
          f"{per_second:,.0f} requests/s, {(~routed.needs_human).mean():.1%} automatic")
    assert accuracy >= 0.90
    assert seconds < 30
    assert per_second >= 1000
    # calibrated: the mean confidence is close to the accuracy, in every confidence band
    conf = routed["confidence"].to_numpy()
    assert abs(conf.mean() - accuracy) < 0.03
    bands = np.digitize(conf, [0.5, 0.8, 0.95])
    for b in np.unique(bands):
        sel = bands == b
        if sel.sum() >= 100:
            assert abs(right[sel].mean() - conf[sel].mean()) < 0.08, b
    # those routed automatically are more often right than those sent to a human
    auto = ~routed["needs_human"].to_numpy()
    assert right[auto].mean() > accuracy > right[~auto].mean()
    assert router.cv_accuracy_ > 0.85 and 0.8 < router.cv_coverage_ < 1
    # a threshold chosen for 97 % out of fold holds on the test split, give or take
    strict = router.threshold_for(0.97)
    assert router.threshold < strict < 1
    sure = conf >= strict
    assert right[sure].mean() >= 0.95 and 0.5 < sure.mean() < auto.mean()
    assert router.threshold_for(1.01) == 1.0


def test_bitext_11_categories():
    df = pd.read_csv(BITEXT)  # responses hold newlines inside quotes
    assert len(df) == 4514 and df["category"].nunique() == 11
    train, test = train_test_split(df, test_size=0.25, stratify=df["category"], random_state=0)
    router = RequestRouter().fit(train["instruction"], train["category"])
    accuracy = (router.predict(test["instruction"]) == test["category"].to_numpy()).mean()
    print(f"Bitext: accuracy {accuracy:.4f} on {len(test)} held-out requests")
    assert accuracy >= 0.97


def test_low_confidence_goes_to_the_human_queue(small):
    router, train, teams = small
    texts = ["I still have not received my new card", "", "   ", "what is the weather like",
             "my top up did not go through", "why was my transfer declined?", "my card",
             "is the rate good today"]
    routed = router.route(texts)
    assert list(routed.columns) == ["category", "team", "confidence", "needs_human"]
    low = routed["confidence"] < router.threshold
    assert routed["needs_human"].equals(low)
    assert (routed.loc[low, "team"] == "triage").all()
    sure = routed[~low]
    assert (sure["team"] == sure["category"].map(teams)).all()
    # no text: never guessed
    assert routed.loc[[1, 2], "confidence"].eq(0).all() and routed.loc[[1, 2], "needs_human"].all()
    assert routed.loc[0, "category"] == "card_arrival" and routed.loc[0, "team"] == "cards"
    # a stricter threshold sends more requests to people, under the configured queue name
    strict = clone(router).set_params(threshold=0.99, human_queue="people").fit(train)
    more = strict.route(texts)
    assert more["needs_human"].sum() > routed["needs_human"].sum()
    assert set(more.loc[more["needs_human"], "team"]) == {"people"}


def test_unmapped_category_goes_to_default_team(small):
    router, train, teams = small
    partial = dict(list(teams.items())[:3])
    r = clone(router).set_params(category_to_team=partial, threshold=0.0).fit(train)
    sample = train["text"].iloc[::5].tolist()
    routed = r.route(sample)
    unmapped = ~routed["category"].isin(partial)
    assert unmapped.any() and (routed.loc[unmapped, "team"] == "triage").all()
    r.set_params(default_team="general")
    assert (r.route(sample).loc[unmapped, "team"] == "general").all()
    r.set_params(category_to_team=None)  # no map: each category is its own team
    out = r.route(["I still have not received my new card"])
    assert out.loc[0, "team"] == out.loc[0, "category"]


def test_dataframe_input_subject_channel_index_and_id():
    # the text alone cannot tell the categories apart; subject and channel can
    n = 120
    rng = np.random.default_rng(0)
    channel = rng.choice(["phone", "email"], n)
    subject = rng.choice(["invoice question", "delivery late"], n)
    df = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "text": "please help",
                       "subject": subject, "channel": channel,
                       "category": np.where(subject == "invoice question", "billing", "delivery")})
    by_subject = RequestRouter().fit(df)
    assert (by_subject.predict(df) == df["category"]).all()
    df["category"] = np.where(channel == "phone", "call", "mail")
    df["subject"] = None
    by_channel = RequestRouter().fit(df)
    assert by_channel.uses_channel_
    new = df.iloc[:5].set_index(pd.Index([10, 11, 12, 13, 14]))
    routed = by_channel.route(new)
    assert list(routed.index) == [10, 11, 12, 13, 14]
    assert list(routed["id"]) == list(new["id"])
    assert (routed["category"] == new["category"]).all()
    # a file without channel still routes (channel unknown)
    assert len(by_channel.route(pd.DataFrame({"text": ["please help"]}))) == 1


def test_estimator_contract(small):
    _, train, teams = small
    params = dict(category_to_team=teams, threshold=0.7, human_queue="q", C=1.0,
                  word_ngrams=(1, 1), char_ngrams=(2, 4), calibration_folds=4)
    r = RequestRouter(**params)
    assert {k: r.get_params()[k] for k in params} == params
    assert not [a for a in vars(r) if a.endswith("_")]
    for call in (lambda: r.predict(["x"]), lambda: r.predict_proba(["x"]),
                 lambda: r.route(["x"]), lambda: r.save("x.pkl"), r.print_summary):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()
    before = train.copy()
    assert r.fit(train) is r
    pd.testing.assert_frame_equal(train, before)  # input not mutated
    fitted = {a for a in vars(r) if a.endswith("_")}
    assert {"classes_", "temperature_", "summary_", "model_", "features_"} <= fitted
    proba = r.predict_proba(train["text"])
    assert proba.shape == (len(train), 6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(r.summary_.index) == list(r.classes_)
    assert r.summary_["n_train"].sum() == len(train)
    assert set(r.summary_["team"]) == {"cards", "payments"}
    assert r.score(train["text"], train["category"]) > 0.95
    assert repr(clone(r)).startswith("RequestRouter(")
    buf = io.StringIO()
    r.print_summary(file=buf)
    assert "out-of-fold accuracy" in buf.getvalue() and "card_arrival" in buf.getvalue()
    r.set_params(threshold=1.0)  # the summary follows the threshold now in force
    buf = io.StringIO()
    r.print_summary(file=buf)
    assert "at threshold 1: 0.0% routed automatically" in buf.getvalue()


def test_plot_calibration(small):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    router, _, _ = small
    ax = router.plot_calibration()
    assert ax.get_xlabel() == "confidence" and len(ax.lines) == 3
    x, y = ax.lines[1].get_data()
    assert len(x) >= 2 and np.all((0 <= y) & (y <= 1))
    fig, own = plt.subplots()
    assert router.plot_calibration(ax=own) is own
    plt.close("all")


@pytest.mark.parametrize("params, message", [
    ({"threshold": 1.5}, "'threshold' parameter of RequestRouter must be a float in the range"),
    ({"C": 0}, "'C' parameter"),
    ({"word_ngrams": (2, 1)}, "'word_ngrams' parameter"),
    ({"calibration_folds": 1}, "'calibration_folds' parameter"),
    ({"category_to_team": ["a"]}, "'category_to_team' parameter"),
])
def test_bad_parameters_name_the_culprit(params, message):
    with pytest.raises(DataError, match=message):
        RequestRouter(**params).fit(["a b", "c d", "a", "c"], ["x", "y", "x", "y"])


def test_bad_training_data():
    with pytest.raises(DataError, match="1 of 4 categories are missing"):
        RequestRouter().fit(["a", "b", "c", "d"], ["x", None, "y", "x"])
    with pytest.raises(DataError, match="at least two categories"):
        RequestRouter().fit(["a", "b"], ["x", "x"])
    with pytest.raises(DataError, match="2 requests but 3 categories"):
        RequestRouter().fit(["a", "b"], ["x", "y", "x"])
    with pytest.raises(DataError, match="'text'"):
        RequestRouter().fit(pd.DataFrame({"body": ["a"], "category": ["x"]}))
    # rows without text are ignored, and counted
    r = RequestRouter().fit(["card lost", "", "fee charged", "card lost", "fee charged"],
                            ["card", "card", "fee", "card", "fee"])
    assert r.n_ignored_ == 1 and r.n_train_ == 4


def test_save_load_round_trip(small, tmp_path):
    router, train, _ = small
    path = router.save(tmp_path / "router.pkl")
    loaded = RequestRouter.load(path)
    texts = train["text"].tolist() + ["", "something else entirely"]
    np.testing.assert_array_equal(loaded.predict_proba(texts), router.predict_proba(texts))
    pd.testing.assert_frame_equal(loaded.route(texts), router.route(texts))
    assert loaded.get_params() == router.get_params()


def test_load_checks_what_it_reads(small, tmp_path):
    router, _, _ = small
    with pytest.raises(SourceError, match="No saved router"):
        RequestRouter.load(tmp_path / "missing.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="not a readable saved router"):
        RequestRouter.load(tmp_path / "junk.pkl")
    (tmp_path / "other.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(DataError, match="not a saved RequestRouter"):
        RequestRouter.load(tmp_path / "other.pkl")
    path = router.save(tmp_path / "r.pkl")
    payload = pickle.loads(path.read_bytes())
    payload["format_version"] = 999
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(DataError, match="format 999"):
        RequestRouter.load(path)


def test_usual_teams_and_router_path():
    df = pd.DataFrame({"category": ["a", "a", "a", "b", "b", None],
                       "team": ["t1", "t2", "t1", "t3", None, "t9"]})
    assert usual_teams(df) == {"a": "t1", "b": "t3"}
    assert router_path("/x/shop.duckdb").as_posix() == "/x/shop-router.pkl"


def test_cli_trains_on_the_store_and_routes(tmp_path, capsys):
    import loyalist
    from loyalist.cli.main import main

    train = pd.read_csv(BANKING / "train.csv")
    cats = ["card_arrival", "exchange_rate", "top_up_failed", "pin_blocked"]
    past = train[train["category"].isin(cats)].reset_index(drop=True)
    past["customer_id"] = [f"c{i}" for i in range(len(past))]
    past["opened_at"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(past)), "h")
    past["team"] = np.where(past["category"].isin(["card_arrival", "pin_blocked"]),
                            "cards", "payments")
    past.loc[::10, "team"] = "sales"  # some misrouted; the usual team still wins
    past.to_csv(tmp_path / "past.csv", index=False)
    db = tmp_path / "shop.duckdb"
    with loyalist.connect(db) as s:
        s.ingest("requests", tmp_path / "past.csv")

    assert main(["route", "my card has not arrived", "--store", str(db)]) == 1
    err = capsys.readouterr().err
    assert "No request router has been trained" in err and "loyalist route --train" in err

    assert main(["route", "--train", "--store", str(db)]) == 0
    assert "Kept in the store as model" in capsys.readouterr().out
    assert not (tmp_path / "shop-router.pkl").exists()  # in the registry, not beside it
    with loyalist.connect(db, read_only=True) as s:
        kept = s.models("router")
    assert len(kept) == 1 and kept["rows"].iloc[0] == len(past)
    assert 0 < kept["metrics"].iloc[0]["cv_accuracy"] <= 1

    assert main(["route", "my card has not arrived", "--store", str(db)]) == 0
    shown = capsys.readouterr().out
    assert "card_arrival" in shown and "cards" in shown

    new = pd.DataFrame({"message": ["what exchange rate do you use", "top up failed again", ""]})
    new.to_csv(tmp_path / "new.csv", index=False)
    assert main(["route", "--file", str(tmp_path / "new.csv"), "--text-column", "message",
                 "--out", str(tmp_path / "routed.csv"), "--store", str(db)]) == 0
    routed = pd.read_csv(tmp_path / "routed.csv")
    assert list(routed.columns) == ["text", "category", "team", "confidence", "needs_human"]
    assert list(routed["team"]) == ["payments", "payments", "triage"]

    assert main(["route", "--store", str(db)]) == 1
    assert "Nothing to route" in capsys.readouterr().err

    # a configured category -> team map, and a broken one
    (tmp_path / "teams.toml").write_text('[teams]\ncard_arrival = "logistics"\n')
    assert main(["route", "--train", "--teams", str(tmp_path / "teams.toml"),
                 "my card has not arrived", "--store", str(db)]) == 0
    assert "logistics" in capsys.readouterr().out
    with loyalist.connect(db, read_only=True) as s:
        assert len(s.models("router")) == 2  # the newest is the one in force
    assert main(["route", "my card has not arrived", "--store", str(db)]) == 0
    assert "logistics" in capsys.readouterr().out
    # a router file still works both ways: written on request, read with --model
    assert main(["route", "--train", "--model", str(tmp_path / "r.pkl"), "--store",
                 str(db)]) == 0
    assert main(["route", "my card has not arrived", "--model", str(tmp_path / "r.pkl"),
                 "--store", str(db)]) == 0
    assert "cards" in capsys.readouterr().out
    (tmp_path / "bad.toml").write_text("[teams\n")
    assert main(["route", "--train", "--teams", str(tmp_path / "bad.toml"),
                 "--store", str(db)]) == 1
    assert "is not valid TOML" in capsys.readouterr().err


def test_route_in_chunks_equals_route_at_once(small, monkeypatch):
    import loyalist.models.routing as routing

    router, train, _ = small
    texts = pd.Series(train["text"].to_numpy()[:250], index=np.arange(1000, 1250))
    whole = router.route(texts)
    assert list(whole.index) == list(texts.index)  # a Series keeps its index
    monkeypatch.setattr(routing, "_CHUNK", 16)
    pd.testing.assert_frame_equal(router.route(texts), whole)


def test_synthetic_business_teams_and_misrouting(tmp_path):
    """Trained on the business's own (partly misrouted) history, the router recovers the
    category -> team map, and comparing its team with the recorded one finds the
    generator's misrouted requests."""
    import loyalist
    from loyalist.datasets import CATEGORY_TEAM, make_business
    from loyalist.models.routing import train_router_from_store

    business = make_business(n_customers=1500, seed=2, events=False)
    requests = business.tables["requests"]
    with loyalist.connect(tmp_path / "biz.duckdb") as s:
        s.ingest("requests", requests)
        router = train_router_from_store(s)
    assert router.category_to_team == dict(CATEGORY_TEAM)
    routed = router.route(requests)
    truth = business.truth["requests"].set_index("request_id").loc[requests["id"]]
    auto = ~routed["needs_human"].to_numpy()
    assert auto.mean() > 0.95
    assert (routed["team"].to_numpy()[auto] == truth["expected_team"].to_numpy()[auto]).mean() \
        > 0.99
    flagged = requests["team"].to_numpy() != routed["team"].to_numpy()
    assert abs(flagged[auto].mean() - truth["is_misrouted"].mean()) < 0.01
    assert truth["is_misrouted"].mean() > 0.05  # there was misrouting to find


@pytest.mark.slow  # the Banking77 router above: make test-slow
def test_strangers_go_to_a_person(banking, tmp_path):
    """Keyboard mash, greetings and requests in languages the router never saw (held out
    from the router's own made-up strangers) go to a person; requests of the known kind
    keep their accuracy, counting those sent to a person as errors."""
    import loyalist
    from _strangers import GREETINGS, OTHER_LANGUAGES, gibberish
    from loyalist.datasets import make_business
    from loyalist.models.routing import train_router_from_store

    router, train, test, _ = banking
    strangers = {"gibberish": gibberish(), "greetings": list(GREETINGS),
                 "other languages": list(OTHER_LANGUAGES)}
    for name, texts in strangers.items():
        share = router.route(texts)["needs_human"].mean()
        print(f"Banking77 router: {share:.1%} of {name} to a person")
        assert share >= 0.95, name
    routed = router.route(test["text"].tolist())
    right = routed["category"].to_numpy() == test["category"].to_numpy()
    # 0.897 with the novelty check off (bench/routing.py prints both): within a point
    assert (right & ~routed["needs_human"].to_numpy()).mean() >= 0.887
    assert 0.9 < router.cv_strangers_to_human_ <= 1.0
    # the demo business's router (few categories, confident): the failures
    business = make_business(n_customers=1000, seed=7, events=False)
    with loyalist.connect(tmp_path / "demo.duckdb") as s:
        s.ingest("requests", business.tables["requests"])
        demo = train_router_from_store(s)
    odd = demo.route(["asdf", "hello", "Ich habe eine Frage zu meiner Rechnung"])
    assert odd["needs_human"].all() and (odd["confidence"] < 0.1).all()
    for name, texts in strangers.items():
        assert demo.route(texts)["needs_human"].mean() >= 0.95, name
    own = demo.route(business.tables["requests"].head(500))
    assert (~own["needs_human"]).mean() > 0.97
