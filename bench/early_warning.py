"""Early-warning speed on a synthetic business: features, training, scoring.

Targets on a 2-core machine for 1M customers / ~10M orders with requests and
feedback: features at one as-of date < 60 s, training on 4 as-of dates < 3 min,
scores and reasons for all customers < 30 s, peak memory < 8 GB.

    python bench/early_warning.py --customers 1000000
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
from loyalist.decisions.whispers import whispers
from loyalist.features.builder import feature_frame
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
        print(f"  {key:72} {value:8.1f} s   (peak so far {peak_gb():.2f} GB)", flush=True)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--horizon", type=int, default=90)
    args = ap.parse_args()
    timings = Timings()
    with tempfile.TemporaryDirectory(prefix="loyalist-ew-") as tmp:
        t = time.perf_counter()
        # the business is made in another process: its memory is not Loyalist's
        files = json.loads(subprocess.run(
            [sys.executable, "-c", GENERATE, str(args.customers), str(Path(tmp) / "exports")],
            capture_output=True, text=True, check=True).stdout)
        timings["generate + write parquet (separate process)"] = time.perf_counter() - t
        store = loyalist.connect(Path(tmp) / "s.duckdb")
        t = time.perf_counter()
        rows = 0
        for name in ("customers", "orders", "subscriptions", "requests", "feedback", "events"):
            if name in files:
                rows += store.ingest(name, files[name]).inserted
        timings[f"ingest ({rows:,} rows)"] = time.perf_counter() - t
        n_orders = store.table("orders").count().execute()
        as_of = pd.Timestamp("2024-10-01")
        t = time.perf_counter()
        f = feature_frame(store, [as_of])
        timings[f"features at one date ({len(f):,} customers x {f.shape[1]})"] = (
            time.perf_counter() - t)
        del f
        dates = [as_of - pd.Timedelta(days=args.horizon + 30 * k) for k in range(4)]
        t = time.perf_counter()
        train = design(store, dates, mode="lapse", horizon=args.horizon)
        t_design = time.perf_counter() - t
        model = ChurnModel().fit(train.drop(columns=["left"]), train["left"])
        timings[f"training on 4 dates ({len(train):,} rows; features+labels "
                f"{t_design:.0f} s)"] = time.perf_counter() - t
        del train
        t = time.perf_counter()
        X = design(store, [as_of], mode="lapse", horizon=args.horizon, labelled=False)
        p = model.predict_proba(X)
        w = whispers(model, X)
        timings[f"scores + reasons for {len(p):,} customers ({len(w):,} reasons)"] = (
            time.perf_counter() - t)
    print(f"{args.customers:,} customers, {n_orders:,} orders; peak memory {peak_gb():.2f} GB "
          "(target < 8 GB)", flush=True)


if __name__ == "__main__":
    main()
