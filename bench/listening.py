"""Competitor mentions: texts per second against plain Python peers, same texts, same run.

    python bench/listening.py                    # 1,000,000 texts
    python bench/listening.py --texts 10000000   # the issue's 10M (about 10 GB of RAM)

The texts are the synthetic business's requests and feedback comments with competitor
mentions (``make_business(competition=True)``: aliases, misspellings, seven languages),
repeated to the size asked. Loyalist's :func:`~loyalist.listening.find_mentions` (whitespace
split and dictionary encoding in Arrow, edit distances on the distinct words in NumPy,
evidence and topic only for the texts naming a competitor) runs on all of them; the
peers on a sample (their rate does not depend on the size):

* ``python regex``: one compiled, case-blind alternation of every alias, ``search`` per
  text: exact names only (no misspellings, no topic, no evidence): a lower bound of work;
* ``python words``: each text split into words, each word looked up in a cache of
  edit-distance answers (the same edits allowed): what a careful loop would do.

The target is at least 50,000 texts/s for Loyalist (issue 20). Times are wall seconds;
the load average is printed, the machine being shared.
"""

from __future__ import annotations

import argparse
import os
import re
import time

import pandas as pd

from loyalist.datasets import make_business
from loyalist.datasets._text import COMPETITOR_ALIASES
from loyalist.listening import edits_allowed, find_mentions
from loyalist.listening.mentions import _lev_within
from loyalist.settings.listening import ListeningSettings


def corpus(n: int) -> list[str]:
    b = make_business(n_customers=3000, seed=1, competition=True)
    base = pd.concat([b.tables["requests"]["text"], b.tables["feedback"]["comment"]]
                     ).dropna().tolist()
    return (base * (n // len(base) + 1))[:n]


def python_regex(texts, settings) -> int:
    names = [a for n, al in settings.competitors.items() for a in [n, *al]]
    rx = re.compile(r"\b(?:" + "|".join(re.escape(a) for a in names) + r")\b", re.I)
    return sum(1 for t in texts if rx.search(t))


def python_words(texts, settings) -> int:
    words = {}
    for name, al in settings.competitors.items():
        for a in [name, *al]:
            w = re.findall(r"[^\W_]+", a)[0]
            words[w.lower()] = edits_allowed(w, settings.max_edits)
    cache: dict[str, bool] = {}
    found = 0
    for t in texts:
        for w in re.findall(r"[^\W_]+", t.lower()):
            hit = cache.get(w)
            if hit is None:
                hit = any(w == a or (k and _lev_within([w], a, k)[0]) for a, k in words.items())
                cache[w] = hit
            if hit:
                found += 1
                break
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=200_000)
    args = ap.parse_args()
    settings = ListeningSettings(competitors=COMPETITOR_ALIASES)
    texts = corpus(args.texts)
    print(f"{len(texts):,} texts, load average {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter()
    m = find_mentions(texts, settings)
    ours = len(texts) / (time.perf_counter() - t0)
    print(f"loyalist find_mentions: {ours:>12,.0f} texts/s  ({m['row'].nunique():,} texts "
          f"naming a competitor)")
    sample = texts[: args.sample]
    for name, peer in (("python regex (exact)", python_regex),
                       ("python words (fuzzy)", python_words)):
        t0 = time.perf_counter()
        n = peer(sample, settings)
        rate = len(sample) / (time.perf_counter() - t0)
        print(f"{name:22}: {rate:>12,.0f} texts/s  ({n:,} of {len(sample):,}); "
              f"loyalist is {ours / rate:.1f}x")
    print(f"target 50,000 texts/s: {'met' if ours >= 50_000 else 'NOT met'} "
          f"(load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
