"""Time budget of scoring: the 5,000-customer demo under 30 s, ``loyalist score`` on a
25-customer shop under 5 s (whole command: start-up, training, scoring, saving).

    python bench/score_speed.py
    python bench/score_speed.py --shop   # the 25-customer shop alone

The demo is ``make_business(n_customers=5000, months=24, seed=7)`` with every table
(what ``loyalist demo`` builds); the shop is ``make_business(n_customers=25, seed=3)``'s
orders alone. Wall seconds (what a user waits) and CPU seconds (steadier on a shared
machine) are printed with the load average. The peer, measured in the same run: a bare
``python -c "import pandas, lightgbm"`` (what any scorer built on them pays before it
reads a row), and the shop's time as a ratio of it.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import loyalist
from loyalist.datasets import make_business
from loyalist.decisions.scoring import score

TABLES = ("customers", "orders", "subscriptions", "requests", "feedback", "events")


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU seconds of a child process."""
    before, wall = children_cpu(), time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - wall, children_cpu() - before, p


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shop", action="store_true", help="the 25-customer shop alone")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.shop:
            demo_run(tmp)
        shop_run(tmp)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


def demo_run(tmp: Path) -> None:
    demo = make_business(n_customers=5000, months=24, seed=7)
    with loyalist.connect(tmp / "demo.duckdb") as s:
        for t in TABLES:
            s.ingest(t, demo.tables[t])
        wall, cpu = time.perf_counter(), time.process_time()
        run = score(s)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"demo, 5,000 customers: scored {len(run.scores):,} in {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU (target < 30 s: {'met' if wall < 30 else 'NOT met'})")


def shop_run(tmp: Path) -> None:
    shop = make_business(n_customers=25, months=24, seed=3, events=False)
    path = tmp / "shop.duckdb"
    with loyalist.connect(path) as s:
        s.ingest("orders", shop.tables["orders"])
    cmd = [sys.executable, "-m", "loyalist.cli.main", "score", "--store", str(path)]
    wall, cpu, p = timed(cmd)
    peer_wall, peer_cpu, _ = timed([sys.executable, "-c", "import pandas, lightgbm"])
    first = (p.stdout.strip().splitlines() or [p.stderr.strip()])[0]
    print(f"shop, 25 customers, {len(shop.tables['orders'])} orders: `loyalist score` "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU, exit {p.returncode} ({first[:70]}) "
          f"(target < 5 s: {'met' if wall < 5 else 'NOT met'})")
    model = next((n for n in p.stdout.replace("\n", " ").split("Note: ")
                  if "training rows" in n), "trees and logistic regression blended")
    print(f"  model used: {' '.join(model.split())[:90]}")
    print(f"peer `python -c \"import pandas, lightgbm\"`: {peer_wall:.2f} s wall, "
          f"{peer_cpu:.2f} s CPU; the whole shop's score = {wall / peer_wall:.1f}x its "
          f"wall, {cpu / peer_cpu:.1f}x its CPU")


if __name__ == "__main__":
    main()
