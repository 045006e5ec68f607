"""Competitor mentions and proposed names: aliases, misspellings, languages, real text."""

from __future__ import annotations

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
