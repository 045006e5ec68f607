"""Competitor mentions and proposed names: aliases, misspellings, languages, real text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import DATA
from loyalist.datasets._text import COMPETITOR_ALIASES
from loyalist.errors import DataError
from loyalist.listening import edits_allowed, find_mentions, propose_names
from loyalist.settings.listening import ListeningSettings

#: the shared real data sets: ../shared/data beside the repository (or its worktree folder)
REAL = DATA if DATA.exists() else Path(__file__).resolve().parents[3] / "shared" / "data"
DEMO = ListeningSettings(competitors=COMPETITOR_ALIASES)
ENV = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}


def test_aliases_misspellings_and_languages():
    texts = [
        "We got an offer from Brigthline, much cheaper.",      # transposed letters
        "Wir wechseln zu Kestral-Direkt, der Service ist besser.",  # de, misspelt, glued
        "The VALUMART prices are lower.",                       # alias, upper case
        "On passe chez Valu Mart : leurs prix sont plus bas.",  # fr, two-word alias
        "Nous irons chez OficeNow.",                            # a letter dropped
        "I am in the office now, call me.",                     # a phrase, not the name
        "Kestrel birds nest here",                              # exact name: counted
        "Brightlines",                                          # one letter more: counted
        "Bright",                                               # too far: not counted
        None,
    ]
    m = find_mentions(texts, DEMO)
    got = dict(zip(m["row"], m["competitor"], strict=True))
    assert got == {0: "Brightline Supply", 1: "Kestrel Direct", 2: "ValuMart Pro",
                   3: "ValuMart Pro", 4: "OfficeNow", 6: "Kestrel Direct",
                   7: "Brightline Supply"}
    topic = dict(zip(m["row"], m["topic"], strict=True))
    assert topic[0] == "offer" and topic[1] == "service" and topic[2] == "price"
    assert m.loc[m["row"] == 1, "evidence"].item().startswith("Wir wechseln zu Kestral")


def test_edits_grow_with_the_length_of_the_name_and_acronyms_are_exact():
    assert edits_allowed("Dell", 1) == 0
    assert edits_allowed("Kestrel", 1) == 1
    assert edits_allowed("Brightline", 1) == 2
    assert edits_allowed("BRIGHTLINE", 1) == 0
    s = ListeningSettings(competitors={"BLS Group": ["BLS"]})
    m = find_mentions(["bls is fine", "BLS quoted less", "BLT sandwich"], s)
    assert m["row"].tolist() == [1]


def test_empty_competitor_list_is_a_clear_message():
    with pytest.raises(DataError, match="No competitors are listed") as e:
        find_mentions(["anything"], ListeningSettings())
    assert "[listening]" in e.value.hint


def test_unlisted_names_near_switching_words_are_proposed():
    texts = ["We are switching to Papyrus Direct next month.",
             "Nous allons passer chez Papyrus Direct, moins cher.",
             "Wir wechseln zu Ordrix, das Angebot von Ordrix ist besser.",
             "Vamos a cambiar a Ordrix pronto.",
             "We are switching to Kestrel Direct.",    # listed: never proposed
             "We moved to Berlin last year.",           # one customer only
             "Hello Team, Papyrus Direct is great."]    # no switching word
    p = propose_names(texts, ["a", "b", "c", "d", "e", "f", "g"],
                      DEMO)
    assert set(p["name"]) == {"Papyrus Direct", "Ordrix"}
    assert p.set_index("name").loc["Ordrix", "customers"] == 2


@pytest.mark.parametrize("name", ["bitext", "banking77"])
def test_real_requests_are_not_flagged_with_the_demo_list(name):
    if name == "bitext":
        texts = pd.read_csv(REAL / "bitext_customer_support" /
                            "Bitext_Sample_Customer_Support_Training_Dataset.csv")["instruction"]
    else:
        texts = pd.concat([pd.read_csv(REAL / "banking77" / f) for f in ("train.csv",
                                                                          "test.csv")])["text"]
    flagged = find_mentions(texts, DEMO)["row"].nunique() / len(texts)
    print(f"{name}: {len(texts):,} texts, {flagged:.4%} flagged as naming a competitor")
    assert flagged < 0.01
    if name == "banking77":  # a payment method is found once the firm lists it
        s = ListeningSettings(competitors={"Apple Pay": []})
        assert len(find_mentions(texts, s)) > 20


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A store of a small synthetic business whose leavers speak (competition=True)."""
    import loyalist
    from loyalist.datasets import make_business

    folder = tmp_path_factory.mktemp("listening")
    b = make_business(n_customers=600, months=18, seed=5, competition=True)
    with loyalist.connect(folder / "s.duckdb") as s:
        for name, frame in b.tables.items():
            if len(frame):
                s.ingest(name, frame)
    return folder / "s.duckdb", b


def _run(*args, store):
    p = subprocess.run([sys.executable, "-m", "loyalist.cli.main", *args, "--store",
                        str(store)], capture_output=True, text=True, env=ENV)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def test_cli_competitors_without_a_list_proposes_names_with_a_clear_message(filled):
    store, b = filled
    (store.parent / "loyalist.toml").unlink(missing_ok=True)
    p = _run("competitors", store=store)
    assert p.returncode == 0
    assert "No competitors are listed" in p.stdout and "[listening]" in p.stdout
    data = json.loads(_run("competitors", "--json", store=store).stdout)
    assert data["competitors"] == []
    both = _run("listening", store=store)
    assert both.returncode == 0 and "No competitors are listed" in both.stdout
    assert "Stated reasons for leaving" in both.stdout
    # the listed competitors the customers wrote are proposed too, being unlisted here
    assert {"Kestrel Direct", "Brightline Supply"} & {r["name"] for r in data["proposed"]}


def test_cli_competitors_and_reasons_with_the_demo_list(filled):
    store, b = filled
    names = ", ".join(f'"{k}" = [{", ".join(repr(a).replace(chr(39), chr(34)) for a in v)}]'
                      for k, v in COMPETITOR_ALIASES.items())
    (store.parent / "loyalist.toml").write_text(
        f"[listening]\ncompetitors = {{ {names} }}\n", encoding="utf-8")
    data = json.loads(_run("competitors", "--json", store=store).stdout)
    truth = b.truth["mentions"]
    listed = truth[truth["listed"]]
    found = {(m["source"], m["id"]) for m in data["mentions"]}
    assert found == set(zip(listed["source"], listed["id"], strict=True))
    assert {r["competitor"] for r in data["summary"]} <= set(COMPETITOR_ALIASES)
    for m in data["mentions"]:
        assert m["topic"] in {"price", "offer", "product", "service", "other"}
        assert m["evidence"]
    assert {"competitor", "period", "segment", "mentions", "customers"} <= set(
        data["trends"][0])
    text = _run("competitors", store=store).stdout
    assert "Competitors named" in text
    reasons = json.loads(_run("reasons", "--json", store=store).stdout)
    shares = {r["reason"]: r["share"] for r in reasons["reasons"]}
    assert "unknown" in shares and abs(sum(shares.values()) - 1) < 1e-9
    assert set(shares) - {"unknown"} <= set(DEMO.loss_reasons)
    logged = [c for c in reasons["customers"] if c["source"] == "logged"]
    assert logged and all(c["evidence_id"].startswith("touches:") for c in logged)
    assert "Stated reasons for leaving" in _run("reasons", store=store).stdout
    by_region = json.loads(_run("reasons", "--by", "region", "--json", store=store).stdout)
    assert {"period", "region", "reason", "customers", "share"} <= set(
        by_region["by_period"][0])
    wrong = _run("reasons", "--by", "nope", store=store)
    assert wrong.returncode == 1 and "no column 'nope'" in wrong.stderr
    # `loyalist listening`, named as its folder, page and doc: both parts, the same
    # figures as the two commands and the library's listening()
    both = json.loads(_run("listening", "--json", "--limit", "1000", store=store).stdout)
    assert both["summary"] == data["summary"] and both["reasons"] == reasons["reasons"]
    assert both["lost"] == len(reasons["customers"]) and len(both["losses"]) == both["lost"]
    text = _run("listening", store=store).stdout
    assert "Competitors named" in text and "Stated reasons for leaving" in text


def test_a_competitor_list_that_is_not_a_table_is_refused_with_the_key(write):
    from loyalist.settings import Settings, SettingsError

    bad = write("loyalist.toml", '[listening]\ncompetitors = ["Kestrel"]\n')
    with pytest.raises(SettingsError, match=r"\[listening\] competitors") as e:
        Settings.from_toml(bad)
    assert "Brightline" in e.value.hint
    good = write("good.toml", '[listening]\ncompetitors = { "Kestrel Direct" = ["Kestrel"] }\n'
                 "max_edits = 2\n")
    s = Settings.from_toml(good)
    assert s.listening.competitors == {"Kestrel Direct": ["Kestrel"]}
    assert s.origins["listening.max_edits"] == "file"


def test_report_has_a_listening_section_with_reasons_and_competitors(filled):
    """The report's listening section: why lost customers left (unknown kept with its
    share, the shares summing to one) and, with the demo's list, the competitors named
    with the lost customers' share; without a list it says how to get one."""
    import loyalist
    from loyalist.decisions.report.build import build_report, render_html
    from loyalist.decisions.report.listening import report_section
    from loyalist.listening import listen, loss_reasons_of

    path, _b = filled
    with loyalist.connect(path) as s:
        part = report_section(s, None, lambda _: None, settings=DEMO)
        reasons, _ = loss_reasons_of(s, DEMO)
        heard = listen(s, DEMO)
        rep = build_report(s)
        page = render_html(rep)
    assert part is not None and set(part["tables"]) == {"reasons", "competitors"}
    shares = [float(r[2].rstrip("%")) for r in part["tables"]["reasons"].rows]
    assert abs(sum(shares) - 100) < 0.5 * len(shares)
    assert sum(int(r[1].replace(",", "")) for r in part["tables"]["reasons"].rows) == len(reasons)
    named = [r[0] for r in part["tables"]["competitors"].rows]
    summary = heard.summary()
    assert named == summary["competitor"].tolist() and len(named) >= 2
    # the topic named most, not "other" (what most mentions are: no topic word) while a
    # mention names one; its share counted from the mentions themselves
    for r in summary.itertuples():
        said = heard.mentions[heard.mentions["competitor"] == r.competitor]["topic"]
        named_ones = said[said != "other"].value_counts()
        assert r.topic == (named_ones.index[0] if len(named_ones) else "other")
        assert r.topic_share == pytest.approx((said == r.topic).mean())
    assert "listening" in rep.sections and "Why customers left" in page
    if s.settings.listening.competitors:  # an earlier test may have written the demo list
        assert "The competition in customers&#39; words" in page or \
            "The competition in customers' words" in page
    else:
        assert "No competitors are listed" in page
    assert "loss_reasons" not in page and "nan" not in page.lower().split()
