"""Time budget of scoring: the 5,000-customer demo under 30 s, ``loyalist score`` on a
25-customer shop under 5 s (whole command: start-up, training, scoring, saving).

    python bench/score_speed.py

The demo is ``make_business(n_customers=5000, months=24, seed=7)`` with every table
(what ``loyalist demo`` builds); the shop is ``make_business(n_customers=25, seed=3)``'s
orders alone. Wall seconds (what a user waits) and CPU seconds (steadier on a shared
machine) are printed with the load average.
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


def main() -> None:
    warnings.filterwarnings("ignore")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo = make_business(n_customers=5000, months=24, seed=7)
        with loyalist.connect(tmp / "demo.duckdb") as s:
            for t in TABLES:
                s.ingest(t, demo.tables[t])
            wall, cpu = time.perf_counter(), time.process_time()
            run = score(s)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"demo, 5,000 customers: scored {len(run.scores):,} in {wall:.1f} s wall, "
              f"{cpu:.1f} s CPU (target < 30 s: {'met' if wall < 30 else 'NOT met'})")
        shop = make_business(n_customers=25, months=24, seed=3, events=False)
        path = tmp / "shop.duckdb"
        with loyalist.connect(path) as s:
            s.ingest("orders", shop.tables["orders"])
        cmd = [sys.executable, "-m", "loyalist.cli.main", "score", "--store", str(path)]
        before, wall = children_cpu(), time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - wall, children_cpu() - before
        first = (p.stdout.strip().splitlines() or [p.stderr.strip()])[0]
        print(f"shop, 25 customers, {len(shop.tables['orders'])} orders: `loyalist score` "
              f"{wall:.1f} s wall, {cpu:.1f} s CPU, exit {p.returncode} ({first[:70]}) "
              f"(target < 5 s: {'met' if wall < 5 else 'NOT met'})")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
