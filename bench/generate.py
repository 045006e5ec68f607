"""Benchmark: generate the synthetic business and print seconds, rows/s and peak memory.

    .venv/bin/python bench/generate.py                 # 1M customers, 24 months
    .venv/bin/python bench/generate.py --customers 100000 --write /tmp/biz --format parquet
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from loyalist.datasets import make_business


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-events", action="store_true", help="skip usage events")
    ap.add_argument("--write", type=Path, help="also write the files to this folder")
    ap.add_argument("--format", default="parquet", choices=("csv", "parquet"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    b = make_business(n_customers=args.customers, months=args.months, seed=args.seed,
                      events=not args.no_events)
    seconds = time.perf_counter() - t0
    rows = {name: len(df) for name, df in b.tables.items()}
    total = sum(rows.values())
    print(f"make_business(n_customers={args.customers:,}, months={args.months}): "
          f"{seconds:.1f} s, peak memory {peak_gb():.2f} GB")
    for name, n in rows.items():
        print(f"  {name:14} {n:>12,} rows")
    print(f"  {'all tables':14} {total:>12,} rows  {total / seconds:>12,.0f} rows/s")
    print(f"  orders {rows['orders'] / seconds:,.0f} rows/s")
    truth = b.truth["customers"]
    print(f"  truth: {truth['churned'].mean():.1%} left during the period, "
          f"{truth['will_churn'].mean():.1%} leave within {b.horizon_days} days after it, "
          f"{truth.loc[truth['churned'], 'silent'].mean():.1%} of leavers without warning")
    if args.write:
        t1 = time.perf_counter()
        b.write(args.write, format=args.format)
        w = time.perf_counter() - t1
        print(f"write {args.format} to {args.write}: {w:.1f} s, {total / w:,.0f} rows/s, "
              f"peak memory {peak_gb():.2f} GB")


if __name__ == "__main__":
    main()
