"""Speed of ``loyalist team`` and ``loyalist uplift`` on a large synthetic business.

    python bench/team.py --customers 1000000

Builds the business (no events), scores it 120 days before its records end, runs the
worklist with one discretionary playbook half held out, plays the outreach out with
heterogeneous effects, then times ``team_report`` and ``fit_uplift`` (what the two
commands run), printing each figure and, as peers measured in the same run, the time of
a plain pandas pass over the same requests and orders (the reading both must do) and of
scikit-uplift's TwoModels (the same LightGBM base model, default settings: all rows,
all threads) fitted on the same hold-out units and scoring the same customers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

import loyalist
from loyalist.datasets import make_business, simulate_outreach
from loyalist.decisions.scoring import score
from loyalist.decisions.worklist import build_worklist
from loyalist.settings import Settings
from loyalist.team import fit_uplift, team_report

PLAYBOOK = """
[worklist]
use_defaults = false
window_days = 90

[[worklist.playbook]]
name = "save"
min_p_leave = 0.3
action = "Save call"
control_share = 0.5
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_team_"))
    t = time.perf_counter()
    b = make_business(n_customers=args.customers, months=24, seed=args.seed, events=False)
    print(f"business: {b!r} in {time.perf_counter() - t:.0f} s")
    store = loyalist.connect(tmp / "s.duckdb")
    for name in ("customers", "orders", "subscriptions", "requests", "feedback", "staff"):
        store.ingest(name, b.tables[name])
    as_of = b.as_of - pd.Timedelta(days=120)
    t = time.perf_counter()
    score(store, as_of, horizon=90, n_train_dates=1)
    (tmp / "pb.toml").write_text(PLAYBOOK)
    build_worklist(store, as_of, playbooks=tmp / "pb.toml", seed=7)
    a = store.raw.execute("SELECT * FROM _loyalist_assignments").df()
    sim = simulate_outreach(b, a, {"save": 0.6}, window_days=90, seed=3, heterogeneity=0.9)
    store.ingest("orders", sim.orders)
    store.ingest("touches", sim.touches)
    print(f"scored, worklist ({len(a):,} assignments) and outreach in "
          f"{time.perf_counter() - t:.0f} s")
    settings = Settings()
    t = time.perf_counter()
    rep = team_report(store, b.as_of, settings=settings)
    team_s = time.perf_counter() - t
    t = time.perf_counter()
    run = fit_uplift(store, b.as_of, settings=settings)
    uplift_s = time.perf_counter() - t
    t = time.perf_counter()
    r = store.table("requests").to_pandas()
    o = store.table("orders").to_pandas()
    _ = (r.groupby("agent").size(), o.groupby("customer_id")["amount"].sum())
    peer_s = time.perf_counter() - t
    peer_uplift_s = _scikit_uplift(store, b.as_of, settings)
    load = os.getloadavg()[0]
    print(f"customers {args.customers:,}, requests {len(r):,}, orders {len(o):,}, "
          f"load average {load:.1f}")
    print(f"team:   {team_s:6.1f} s ({len(rep.practices)} practices, {len(rep.agents)} "
          f"agents)  target < 60 s  -> {team_s / peer_s:.1f}x a pandas read-and-group")
    for p in run.playbooks:
        print(f"uplift: {p.playbook}: {p.n_treated:,} treated / {p.n_control:,} held out, "
              f"{p.reason}")
    print(f"uplift: {uplift_s:6.1f} s  target < 60 s  -> {uplift_s / peer_s:.1f}x a pandas "
          f"read-and-group ({peer_s:.1f} s); scikit-uplift TwoModels fit and score "
          f"{peer_uplift_s:.1f} s (ours validates, refits and writes as well: "
          f"{uplift_s / peer_uplift_s:.1f}x)")
    store.close()


def _scikit_uplift(store, as_of, settings) -> float:
    """Seconds scikit-uplift's TwoModels takes to fit the same units and score the same
    customers (features read beforehand, not timed)."""
    from lightgbm import LGBMClassifier
    from sklift.models import TwoModels

    from loyalist.team.targeting import _today, matrix, uplift_units
    from loyalist.team.uplift import TREES

    units = uplift_units(store, as_of, settings.worklist.settings.window_days)
    X, levels = matrix(units)
    Xs, _ = matrix(_today(store, as_of), levels)
    t = time.perf_counter()
    peer = TwoModels(estimator_trmnt=LGBMClassifier(**TREES),
                     estimator_ctrl=LGBMClassifier(**TREES), method="vanilla")
    peer.fit(X, units["retained"].to_numpy(), units["treated"].to_numpy())
    peer.predict(Xs)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
