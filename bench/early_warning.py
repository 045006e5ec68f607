"""Early-warning speed on a synthetic business: features, training, scoring.

Targets on a 2-core machine for 1M customers / ~10M orders with requests and
feedback: features at one as-of date < 60 s, training on 4 as-of dates < 3 min,
scores and reasons for all customers < 30 s (on the features of the previous step),
peak memory < 8 GB. Training comes first, so the scoring date's features are not
held in memory while the model learns.

    python bench/early_warning.py --customers 1000000
    python bench/early_warning.py --customers 1000000 --exports /work/bench-cache/ew-1m

With ``--exports DIR`` the generated parquet exports are kept in DIR and reused by
later runs with the same number of customers (generating takes about a minute at 1M).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import loyalist
from loyalist.decisions.signals.whispers import families, whispers
from loyalist.models.churn import ChurnModel
from loyalist.models.early_warning import design

GENERATE = """
import json, sys
from loyalist.datasets import make_business
b = make_business(n_customers=int(sys.argv[1]), months=24, seed=1)
print(json.dumps({k: str(v) for k, v in b.write(sys.argv[2], format="parquet").items()}))
"""


class Timings(dict):
    """Prints each figure as soon as it is measured."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        print(f"  {key:80} {value:8.1f} s   (peak so far {peak_gb():.2f} GB, CPU so far "
              f"{cpu_seconds():.0f} s)", flush=True)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def cpu_seconds() -> float:
    """CPU time of this process (all its threads): a figure other work on the
    machine does not inflate, unlike the wall-clock ones."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def exports(customers: int, folder: Path, timings: Timings) -> dict[str, str]:
    """The business's parquet exports in ``folder``: reused when they were made for the
    same number of customers, otherwise generated (in another process: its memory is
    not Loyalist's)."""
    manifest = folder / "manifest.json"
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        if saved.get("customers") == customers and all(
                Path(f).exists() for f in saved["files"].values()):
            print(f"  reusing the exports in {folder}", flush=True)
            return saved["files"]
    t = time.perf_counter()
    files = json.loads(subprocess.run(
        [sys.executable, "-c", GENERATE, str(customers), str(folder)],
        capture_output=True, text=True, check=True).stdout)
    timings["generate + write parquet (separate process)"] = time.perf_counter() - t
    manifest.write_text(json.dumps({"customers": customers, "files": files}))
    return files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--horizon", type=int, default=90)
    ap.add_argument("--exports", type=Path,
                    help="keep the generated parquet exports here and reuse them next time")
    args = ap.parse_args()
    timings = Timings()
    with tempfile.TemporaryDirectory(prefix="loyalist-ew-") as tmp:
        files = exports(args.customers, args.exports or Path(tmp) / "exports", timings)
        store = loyalist.connect(Path(tmp) / "s.duckdb")
        t = time.perf_counter()
        rows = 0
        for name in ("customers", "orders", "subscriptions", "requests", "feedback", "events"):
            if name in files:
                rows += store.ingest(name, files[name]).inserted
        timings[f"ingest ({rows:,} rows)"] = time.perf_counter() - t
        n_orders = store.table("orders").count().execute()
        as_of = pd.Timestamp("2024-10-01")
        dates = [as_of - pd.Timedelta(days=args.horizon + 30 * k) for k in range(4)]
        t, c = time.perf_counter(), cpu_seconds()
        train = design(store, dates, mode="lapse", horizon=args.horizon)
        t_design, c_design = time.perf_counter() - t, cpu_seconds() - c
        model = ChurnModel().fit(train.drop(columns=["left"]), train["left"])
        timings[f"training on 4 dates ({len(train):,} rows; features+labels "
                f"{t_design:.0f} s / {c_design:.0f} s CPU, fit "
                f"{time.perf_counter() - t - t_design:.0f} s / "
                f"{cpu_seconds() - c - c_design:.0f} s CPU)"] = time.perf_counter() - t
        del train
        t = time.perf_counter()
        X = design(store, [as_of], mode="lapse", horizon=args.horizon, labelled=False)
        timings[f"features at one date, BG/NBD included ({len(X):,} customers x "
                f"{X.shape[1]})"] = time.perf_counter() - t
        t = time.perf_counter()
        # one pass gives both: the contributions add up to each customer's log-odds
        contrib = model.contributions(X, groups=families(model.feature_names_))
        p = model.probability(contrib.sum(axis=1))
        w = whispers(model, X, contributions=contrib)
        timings[f"scores + reasons for {len(p):,} customers ({len(w):,} reasons)"] = (
            time.perf_counter() - t)
    print(f"{args.customers:,} customers, {n_orders:,} orders; peak memory {peak_gb():.2f} GB "
          f"(target < 8 GB); process CPU {cpu_seconds():.0f} s", flush=True)


if __name__ == "__main__":
    main()
