"""Spark local[N] against DuckDB on the same orders: time per step and the peak memory of
the Python process (issue 17).

    python bench/scale.py --transactions 1000000 [--engines duckdb,spark] [--cores 2]

Orders are made with NumPy (``--transactions`` orders by transactions/10 customers over
two years, lognormal amounts, seed 0) and written to Parquet; each engine then runs in a
process of its own:

- load: DuckDB ingests the Parquet file (contract checks, quarantine); Spark loads it
  with :meth:`SparkStore.load` (contract checks; no quarantine);
- features: :func:`loyalist.features.builder.build_features` at ``as_of``, pulled to the
  driver as pandas (what scoring does);
- value: :func:`loyalist.decisions.value.value_customers` (RFM summary in the engine,
  BG/NBD + Gamma-Gamma fitted on the driver, ``customer_value`` written).

Peak memory is the Python process's maximum resident set (``ru_maxrss``); in local mode
Spark's executors run in the JVM, a separate process, which is not counted. Printed
figures are measured in this run; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_orders(n: int, folder: Path) -> dict[str, Path]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    customers = max(n // 10, 1)
    start = pd.Timestamp("2023-01-01")
    span = 730 * 86400
    first = rng.integers(0, span // 2, customers)
    who = rng.integers(0, customers, n)
    at = first[who] + (rng.random(n) * (span - first[who])).astype("int64")
    ids = np.char.add("C", np.arange(customers).astype(str))
    orders = pd.DataFrame({
        "id": np.char.add("O", np.arange(n).astype(str)),
        "customer_id": ids[who],
        "ordered_at": start + pd.to_timedelta(at, unit="s"),
        "amount": np.round(rng.lognormal(3.5, 0.8, n), 2)})
    # every customer's first order at their start: the customers table agrees
    cust = pd.DataFrame({"id": ids, "created_at": start + pd.to_timedelta(first, unit="s")})
    paths = {"orders": folder / "orders.parquet", "customers": folder / "customers.parquet"}
    orders.to_parquet(paths["orders"], index=False)
    cust.to_parquet(paths["customers"], index=False)
    return paths


def run_one(engine: str, folder: Path, cores: int) -> dict:
    import pandas as pd

    import loyalist
    from loyalist.decisions.value import value_customers
    from loyalist.features.builder import build_features

    times = {}
    t = time.perf_counter()
    if engine == "duckdb":
        store = loyalist.connect(folder / "bench.duckdb", threads=cores)
        for name in ("customers", "orders"):
            store.ingest(name, folder / f"{name}.parquet")
    else:
        from pyspark.sql import SparkSession

        spark = (SparkSession.builder.master(f"local[{cores}]").appName("loyalist-bench")
                 .config("spark.sql.shuffle.partitions", str(2 * cores))
                 .config("spark.driver.memory", "2g").config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.sql.session.timeZone", "UTC").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        times["session"] = time.perf_counter() - t
        t = time.perf_counter()
        store = loyalist.connect(folder / "warehouse", spark=spark)
        store.load({n: str(folder / f"{n}.parquet") for n in ("customers", "orders")})
    times["load"] = time.perf_counter() - t
    as_of = pd.Timestamp("2025-01-01")
    t = time.perf_counter()
    features = build_features(store, as_of).to_pandas()
    times["features"] = time.perf_counter() - t
    t = time.perf_counter()
    value = value_customers(store)
    times["value"] = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"engine": engine, "customers": len(features), "valued": len(value.customers),
            "seconds": {k: round(v, 1) for k, v in times.items()},
            "peak_python_mb": round(peak_mb)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transactions", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, Path(args.folder), args.cores)))
        return 0
    print(f"load average at start: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    for n in args.transactions:
        with tempfile.TemporaryDirectory(prefix="loyalist-scale-") as tmp:
            make_orders(n, Path(tmp))
            for engine in args.engines.split(","):
                out = subprocess.run(
                    [sys.executable, __file__, "--one", engine, "--folder", tmp,
                     "--cores", str(args.cores)], capture_output=True, text=True)
                if out.returncode:
                    print(f"{n:>11,} {engine:6s} failed: {out.stderr.strip().splitlines()[-1]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                steps = ", ".join(f"{k} {v}s" for k, v in r["seconds"].items())
                print(f"{n:>11,} transactions  {engine:6s} {r['customers']:>9,} customers  "
                      f"{steps}  peak Python memory {r['peak_python_mb']} MB  "
                      f"(load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
