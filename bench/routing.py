"""Benchmark: RequestRouter training time and routing throughput against a plain peer.

    .venv/bin/python bench/routing.py
    .venv/bin/python bench/routing.py --repeat 3 --data ../shared/data/banking77

Trains on the Banking77 training split (10,003 requests, 77 categories) and routes the
test split. The peer, measured in the same run, is plain TF-IDF word 1-2-grams with
logistic regression (C=10, sublinear tf: the 0.894 baseline of the issue). Times are wall seconds and CPU seconds of this process (on a
shared machine the CPU seconds are the steadier figure); best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from loyalist.models.routing import RequestRouter

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - w, time.process_time() - c


def measure(name, make, route, train, test, repeat):
    fits, routes = [], []
    for _ in range(repeat):
        model, wall, cpu = timed(lambda: make().fit(train["text"], train["category"]))
        fits.append((wall, cpu))
        pred, rwall, rcpu = timed(lambda m=model: route(m, test["text"].tolist()))
        routes.append((rwall, rcpu))
    fit_wall, fit_cpu = min(f[0] for f in fits), min(f[1] for f in fits)
    r_wall, r_cpu = min(r[0] for r in routes), min(r[1] for r in routes)
    acc = float((pd.Series(pred).to_numpy() == test["category"].to_numpy()).mean())
    row = {"model": name, "accuracy": acc, "fit_s": fit_wall, "fit_cpu_s": fit_cpu,
           "requests_per_s": len(test) / r_wall, "requests_per_cpu_s": len(test) / r_cpu}
    print(f"{name:34} accuracy {acc:.4f}  fit {fit_wall:5.1f} s ({fit_cpu:5.1f} CPU s)  "
          f"route {row['requests_per_s']:8,.0f} req/s ({row['requests_per_cpu_s']:8,.0f} "
          f"per CPU s)", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="folder with train.csv, test.csv")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    train = pd.read_csv(args.data / "train.csv")
    test = pd.read_csv(args.data / "test.csv")
    print(f"Banking77: train {len(train):,} requests, test {len(test):,}, "
          f"{train['category'].nunique()} categories")

    ours = measure("RequestRouter (route: +confidence)", RequestRouter,
                   lambda m, x: m.route(x)["category"], train, test, args.repeat)
    peer = measure(
        "peer: TF-IDF 1-2 + LogReg C=10",
        lambda: make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                              LogisticRegression(C=10.0, max_iter=2000)),
        lambda m, x: m.predict(x), train, test, args.repeat)
    router = RequestRouter().fit(train["text"], train["category"])
    routed = router.route(test["text"].tolist())
    right = routed["category"].to_numpy() == test["category"].to_numpy()
    for t in (router.threshold, router.threshold_for(0.97)):
        auto = routed["confidence"].to_numpy() >= t
        print(f"threshold {t:.3f}: {auto.mean():.1%} routed without a human, accuracy "
              f"{right[auto].mean():.4f} on those, {right[~auto].mean():.4f} on the rest")
    print(f"accuracy {ours['accuracy'] - peer['accuracy']:+.4f} against the peer; "
          f"training takes {ours['fit_cpu_s'] / peer['fit_cpu_s']:.2f}x the peer's CPU time, "
          f"routing runs at {ours['requests_per_cpu_s'] / peer['requests_per_cpu_s']:.2f}x "
          "the peer's speed (per CPU second)")
    print("targets: accuracy >= 0.90, fit < 30 s, >= 1,000 requests/s: "
          + ("met" if ours["accuracy"] >= 0.90 and ours["fit_s"] < 30
             and ours["requests_per_s"] >= 1000 else "NOT met"))


if __name__ == "__main__":
    main()
