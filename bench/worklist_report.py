"""Worklist (and retention report) speed for a 1M-customer business, after scoring.

Target on a 2-core machine: the worklist and the report for 1M customers in under 60 s
once the store is scored, peak memory < 8 GB.

    python bench/worklist_report.py --customers 1000000
    python bench/worklist_report.py --customers 1000000 --exports /work/bench-cache/wl-1m

The scores are STAND-INS: scoring 1M customers is slow (and being sped up elsewhere),
so this bench writes the derived tables itself: ``alerts`` from the real
``hard_alerts`` (timed and printed, it is part of scoring), ``scores`` for the customers
with an order in the last 180 days with a P(leave) and a P(promoter) drawn at random
(Beta(2, 5) and uniform), ``reasons`` with one placeholder whisper each (and no churn model, so the report is
given the lapse horizon scoring would use, ``suggest_horizon``, timed apart). The worklist's
work does not depend on how good the scores are, only on how many there are.

With ``--exports DIR`` the generated parquet exports and the scored store are kept in
DIR and reused by later runs with the same number of customers; each run works on a
copy of the store.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import loyalist
from loyalist.decisions.report.build import write_report
from loyalist.decisions.scoring import hard_alerts
from loyalist.decisions.worklist import (
    build_worklist,
    log_outcome,
    open_items,
    worklist_progress,
)
from loyalist.decisions.worklist.impact import measure_impact
from loyalist.features.labels import suggest_horizon

GENERATE = """
import json, sys
from loyalist.datasets import make_business
b = make_business(n_customers=int(sys.argv[1]), months=24, seed=1, events=False)
files = {k: str(v) for k, v in b.write(sys.argv[2], format="parquet").items()}
print(json.dumps({"files": files, "as_of": str(b.as_of)}))
"""
TABLES = ("customers", "orders", "subscriptions", "requests", "feedback")


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def timed(label: str, fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    dt = time.perf_counter() - t
    print(f"  {label:64} {dt:8.1f} s   (peak so far {peak_gb():.2f} GB)", flush=True)
    return out, dt


def scored_store(customers: int, folder: Path) -> tuple[Path, pd.Timestamp]:
    """A store with the business ingested and stand-in scores; reused when it was made
    for the same number of customers."""
    manifest = folder / "manifest.json"
    path = folder / "scored.duckdb"
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        if saved.get("customers") == customers and path.exists():
            print(f"  reusing the scored store in {folder}", flush=True)
            return path, pd.Timestamp(saved["as_of"])
    folder.mkdir(parents=True, exist_ok=True)
    made, _ = timed("generate + write parquet (separate process)", lambda: json.loads(
        subprocess.run([sys.executable, "-c", GENERATE, str(customers), str(folder)],
                       capture_output=True, text=True, check=True).stdout))
    as_of = pd.Timestamp(made["as_of"])
    path.unlink(missing_ok=True)
    with loyalist.connect(path) as s:
        for name in TABLES:
            if name in made["files"]:
                timed(f"ingest {name}", s.ingest, name, made["files"][name])
        alerts, _ = timed("hard alerts (part of scoring)", hard_alerts, s, as_of)
        s.write_derived("alerts", alerts.assign(as_of=as_of))
        o = s.table("orders")
        last = o.group_by("customer_id").aggregate(last=o.ordered_at.max()).to_pandas()
        active = last[(as_of - last["last"]).dt.days <= 180]
        rng = np.random.default_rng(0)
        n = len(active)
        scores = pd.DataFrame({"customer_id": active["customer_id"].to_numpy(),
                               "as_of": as_of, "p_leave": rng.beta(2, 5, n), "model_id": 0,
                               "top_reason": "stand-in whisper", "alerts": 0,
                               "p_promoter": rng.random(n), "silent": True})
        s.write_derived("scores", scores, note="bench stand-in scores")
        s.write_derived("reasons", pd.DataFrame({
            "customer_id": scores["customer_id"], "rank": 1, "family": "purchase",
            "text": "stand-in whisper", "evidence": None, "model_id": 0}))
    manifest.write_text(json.dumps({"customers": customers, "as_of": str(as_of)}))
    return path, as_of


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--exports", type=Path,
                    help="keep the exports and the scored store here and reuse them")
    args = ap.parse_args()
    print("Scores are stand-ins drawn at random (see the docstring); alerts are real.")
    with tempfile.TemporaryDirectory(prefix="loyalist-wl-") as tmp:
        folder = args.exports or Path(tmp) / "exports"
        base, as_of = scored_store(args.customers, folder)
        path = Path(tmp) / "s.duckdb"
        shutil.copy(base, path)
        with loyalist.connect(path) as s:
            n_scores = s.table("scores").count().execute()
            n_alerts = s.table("alerts").count().execute()
            print(f"  {args.customers:,} customers, {n_scores:,} scored, {n_alerts:,} alerts",
                  flush=True)
            run, t_first = timed("build_worklist, first run", build_worklist, s, as_of)
            print(f"    opened {run.opened:,}, held out {run.held_out:,}, waiting beyond the "
                  f"caps {run.backlog:,} {run.waiting}", flush=True)
            rerun, t_again = timed("build_worklist, same day again (nothing new)",
                                   build_worklist, s, as_of)
            nxt, t_next = timed("build_worklist, next day (alerts recomputed)",
                                build_worklist, s, as_of + pd.Timedelta(days=1))
            print(f"    next day: opened {nxt.opened:,}, closed {nxt.closed:,}", flush=True)
            items, _ = timed("open_items", open_items, s)
            cid = items["customer_id"].iloc[0]
            timed("log_outcome (one)", log_outcome, s, cid, "reached", note="bench")
            timed("worklist_progress", worklist_progress, s)
            timed("measure_impact", measure_impact, s, as_of=as_of + pd.Timedelta(days=1))
            parts: list[tuple[str, float]] = []

            def step(label: str) -> None:
                parts.append((label, time.perf_counter()))

            # scoring records the churn model's lapse horizon and the report reads it;
            # the stand-in scores have no model, so give the report the horizon
            # scoring would have suggested (its cost is scoring's, printed apart)
            horizon, _ = timed("lapse horizon (part of scoring: suggest_horizon)",
                               suggest_horizon, s.table("orders"))
            _, t_report = timed("write_report", write_report, s, Path(tmp) / "r.html",
                                as_of=as_of, horizon=horizon, progress=step)
            parts.append(("end", time.perf_counter()))
            for (label, t0), (_, t1) in zip(parts, parts[1:], strict=False):
                print(f"    {label:62} {t1 - t0:8.1f} s", flush=True)
        total = t_first + t_report
        print(f"worklist first run {t_first:.1f} s, again {t_again:.1f} s, next day "
              f"{t_next:.1f} s; report {t_report:.1f} s; "
              f"worklist + report {total:.1f} s (target < 60 s); peak memory "
              f"{peak_gb():.2f} GB (target < 8 GB); load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
