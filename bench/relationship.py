"""Reliability, want vs deliver and key drivers on about a million survey answers.

    python bench/relationship.py [--answers 1000000] [--boot 200]

Generates answers to the default relationship survey (31 items per response) for
enough responses to reach ``--answers`` rows, ingests them, and times the three steps
of ``loyalist relationship`` that read every answer: the per-response table
(engine pivot), reliability (alpha and omega with bootstrap), the importance-performance
gap (engine aggregation) and key drivers (relative weights with bootstrap). The peer,
in the same run, is pingouin's ``cronbach_alpha`` (alpha and its interval only) on the
same responses. The target is under 30 s for the three steps together.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

import loyalist
from loyalist.contract.survey import load_survey
from loyalist.relationship.answers import construct_scores, responses, scored
from loyalist.relationship.drivers import key_drivers
from loyalist.relationship.gap import importance_performance
from loyalist.relationship.reliability import scale_reliability


def make_answers(n_answers: int, seed: int = 0) -> pd.DataFrame:
    """Long-form answers: a latent trust and commitment per response drive the items."""
    s = load_survey()
    rng = np.random.default_rng(seed)
    numeric = [i for i in s.items.values() if not i.open and i.role != "checkin"]
    n = n_answers // len(numeric) + 1
    f = rng.normal(size=(n, 2))
    perf = rng.normal(size=(n, len(s.attributes)))
    cols = {}
    for item in numeric:
        if item.role == "construct":
            x = f[:, 0] if item.group == "trust" else f[:, 1]
            mu = 4.5 + x
        elif item.role == "performance":
            mu = 4.5 + perf[:, list(s.attributes).index(item.group)]
        elif item.role == "nps":
            mu = 7 + 1.2 * f[:, 0] + 0.5 * perf[:, -1]
        else:
            mu = np.full(n, 5.5)
        v = np.clip(np.round(mu + rng.normal(0, 0.9, n)), item.low, item.high)
        cols[item.code] = item.low + item.high - v if item.reversed else v
    wide = pd.DataFrame(cols)
    wide["customer_id"] = np.char.add("C", np.arange(n).astype(str))
    wide["answered_at"] = pd.Timestamp("2024-06-01") + pd.to_timedelta(
        rng.integers(0, 180, n), unit="D")
    long = wide.melt(id_vars=["customer_id", "answered_at"], var_name="item",
                     value_name="value")
    long["survey"] = s.name
    return long.head(n_answers)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", type=int, default=1_000_000)
    ap.add_argument("--boot", type=int, default=200)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores)")
    answers = make_answers(args.answers)
    s = load_survey()
    with loyalist.connect(":memory:") as store:
        t = time.perf_counter()
        store.ingest("survey_answers", answers)
        print(f"ingest {len(answers):,} answers: {time.perf_counter() - t:.1f} s")
        timings = {}
        t = time.perf_counter()
        r = responses(store, s)
        timings["responses (engine pivot)"] = time.perf_counter() - t
        t = time.perf_counter()
        sc = scored(r, s)
        rel = [scale_reliability(sc[list(c.items)], name, n_boot=args.boot)
               for name, c in s.constructs.items()]
        timings["reliability (3 scales, omega bootstrap)"] = time.perf_counter() - t
        t = time.perf_counter()
        gap = importance_performance(store, s)
        timings["want vs deliver (engine)"] = time.perf_counter() - t
        t = time.perf_counter()
        perf = r[[a.performance for a in s.attributes.values()]]
        perf.columns = list(s.attributes)
        scores = construct_scores(r, s)
        drivers = [key_drivers(perf, y, name, n_boot=args.boot)
                   for name, y in (("trust", scores["trust"]),
                                   ("commitment", scores["commitment"]), ("nps", r["nps"]))]
        timings["key drivers (3 outcomes, bootstrap)"] = time.perf_counter() - t
    total = sum(timings.values())
    print(f"{len(r):,} responses, {len(gap)} attributes, {len(drivers)} driver analyses")
    for k, v in timings.items():
        print(f"  {k:42s} {v:6.2f} s")
    print(f"  {'total':42s} {total:6.2f} s (target: under 30 s)")
    try:
        import pingouin as pg
    except ImportError:
        print("pingouin not installed: no peer timing")
        return
    t = time.perf_counter()
    for c in s.constructs.values():
        pg.cronbach_alpha(data=sc[list(c.items)], nan_policy="listwise")
    peer = time.perf_counter() - t
    ours = time.perf_counter()
    for name, c in s.constructs.items():
        scale_reliability(sc[list(c.items)], name, n_boot=0)
    ours = time.perf_counter() - ours
    print(f"alpha of 3 scales: pingouin {peer:.3f} s; Loyalist (alpha, omega, item-rest, "
          f"no bootstrap) {ours:.3f} s; ratio {peer / ours:.2f}x")
    print("alpha agrees with pingouin:", all(
        abs(pg.cronbach_alpha(data=sc[list(c.items)], nan_policy="listwise")[0] - x.alpha)
        < 1e-9 for (name, c), x in zip(s.constructs.items(), rel, strict=True)))


if __name__ == "__main__":
    main()
