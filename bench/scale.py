"""The whole pipeline (load, features, value, churn score, worklist) on DuckDB and on
Spark local[N], on the same orders: time per step and the peak memory of the Python
process (issue 17).

    python bench/scale.py --transactions 1000000 3000000 [--engines duckdb,spark]
    python bench/scale.py --transactions 1000000 10000000 --customers 100000 --engines duckdb

Orders are made with NumPy in chunks of ``--chunk`` rows and written chunk by chunk to
Parquet, so making them takes the same memory at 1M and at 100M orders. Customers start
in the first year of two, stay a lifetime drawn from an exponential distribution (mean a
year, then they leave) and order at random times while they stay; amounts are lognormal;
seed 0. By default there are ``transactions / 10`` customers (10 orders each on average:
customers grow with transactions); ``--customers K`` fixes their number, so a run over
several sizes shows what the driver's memory depends on: customers, not transactions.

Each engine then runs in a process of its own, one step after the other:

- load: DuckDB ``Store.ingest`` of each Parquet file (the contract-checked ingest: types,
  required fields, quarantine of rejected rows with their line); Spark ``SparkStore.load``
  of the Parquet paths (contract-checked: columns and types; the data are read by Spark,
  not by Python; no quarantine on Spark);
- features: :func:`loyalist.features.builder.build_features` at the scoring date, pulled
  to the driver as pandas (what scoring does for each date);
- value: :func:`loyalist.decisions.value.value_customers` (RFM summary in the engine,
  BG/NBD + Gamma-Gamma fitted on the driver, ``customer_value`` written);
- score: :func:`loyalist.decisions.scoring.score` (churn model trained on the training
  dates' features, at most ``--train-customers`` customers when given, everyone scored,
  reasons, alerts, ``scores`` written);
- worklist: :func:`loyalist.decisions.worklist.build_worklist` (the day's items from the
  scores, values and alerts, control groups, bookkeeping).

CPU is the seconds of CPU the Python process's threads used in each step
(``time.process_time``): with DuckDB its threads are counted, Spark's executors (the
JVM) are not; on a shared machine it says what the step cost where wall time says how
long it waited. Peak memory is the Python process's maximum resident set (``VmHWM``), read after
each step (so the step that raised it shows); with DuckDB the engine runs inside the
Python process and is counted (its budget is ``--memory-limit``, beyond which it spills
to disk); in Spark local mode the executors run in the JVM, a separate process, which is
not counted. A step that fails is printed with its error and the run goes on with the
next engine. Printed figures are measured in this run; the load average (1 minute) is
printed with every step.
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

START = "2023-01-01"
SPAN_DAYS = 730


def make_orders(n: int, folder: Path, customers: int | None = None,
                chunk: int = 2_000_000, seed: int = 0) -> dict[str, Path]:
    """``orders.parquet`` and ``customers.parquet`` in ``folder``, written chunk by chunk:
    at most ``chunk`` orders (and customers) are in memory at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    k = customers or max(n // 10, 1)
    rng = np.random.default_rng(seed)
    span = SPAN_DAYS * 86400
    start = np.datetime64(START, "s")
    # per customer: start in the first year, leave after an exponential lifetime
    first = rng.integers(0, span // 2, k)
    last = np.minimum(first + rng.exponential(365 * 86400, k).astype("int64"), span - 1)
    paths = {"orders": folder / "orders.parquet", "customers": folder / "customers.parquet"}

    def ids(prefix: str, lo: int, hi: int) -> pa.Array:
        return pa.array(np.char.add(prefix, np.arange(lo, hi).astype(str)))

    cust_schema = pa.schema([("id", pa.string()), ("created_at", pa.timestamp("us"))])
    with pq.ParquetWriter(paths["customers"], cust_schema) as w:
        for lo in range(0, k, chunk):
            hi = min(lo + chunk, k)
            w.write_table(pa.table({"id": ids("C", lo, hi),
                                    "created_at": (start + first[lo:hi]).astype("M8[us]")},
                                   schema=cust_schema))
    order_schema = pa.schema([("id", pa.string()), ("customer_id", pa.string()),
                              ("ordered_at", pa.timestamp("us")), ("amount", pa.float64())])
    with pq.ParquetWriter(paths["orders"], order_schema) as w:
        for lo in range(0, n, chunk):
            hi = min(lo + chunk, n)
            who = rng.integers(0, k, hi - lo)
            at = first[who] + (rng.random(hi - lo) * (last[who] - first[who])).astype("int64")
            w.write_table(pa.table({
                "id": ids("O", lo, hi),
                "customer_id": pa.array(np.char.add("C", who.astype(str))),
                "ordered_at": (start + at).astype("M8[us]"),
                "amount": np.round(rng.lognormal(3.5, 0.8, hi - lo), 2)}, schema=order_schema))
    return paths


def _peak_mb() -> int:
    """This process's peak resident memory in MB: ``VmHWM`` (reset when a program is
    started, unlike ``ru_maxrss``, which keeps the peak of the parent it was forked from)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_one(engine: str, folder: Path, cores: int, train_customers: int | None,
            memory_limit: str, driver_memory: str) -> None:
    """Run every step, printing one JSON line per step (so a failure late in the run
    keeps the steps before it)."""
    import pandas as pd

    import loyalist
    from loyalist.decisions.scoring import score
    from loyalist.decisions.value import value_customers
    from loyalist.decisions.worklist import build_worklist
    from loyalist.features.builder import build_features

    cpu = [time.process_time()]

    def report(step: str, seconds: float, **extra) -> None:
        # CPU seconds of this process's threads in the step: DuckDB's threads run in
        # it, Spark's executors do not (their JVM is another process)
        now = time.process_time()
        used, cpu[0] = now - cpu[0], now
        print(json.dumps({"step": step, "seconds": round(seconds, 1), "peak_mb": _peak_mb(),
                          "load": round(os.getloadavg()[0], 1), "cpu": round(used, 1),
                          **extra}), flush=True)

    report("start", 0.0)  # the interpreter and the libraries imported
    t = time.perf_counter()
    if engine == "duckdb":
        store = loyalist.connect(folder / "bench.duckdb", threads=cores,
                                 memory_limit=memory_limit)
        for name in ("customers", "orders"):
            store.ingest(name, folder / f"{name}.parquet")
    else:
        from pyspark.sql import SparkSession

        spark = (SparkSession.builder.master(f"local[{cores}]").appName("loyalist-bench")
                 .config("spark.sql.shuffle.partitions", str(2 * cores))
                 .config("spark.driver.memory", driver_memory)
                 .config("spark.local.dir", str(folder / "spark-tmp"))
                 .config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.sql.session.timeZone", "UTC").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        report("session", time.perf_counter() - t)
        t = time.perf_counter()
        store = loyalist.connect(folder / "warehouse", spark=spark)
        store.load({n: str(folder / f"{n}.parquet") for n in ("customers", "orders")})
    report("load", time.perf_counter() - t)
    as_of = pd.Timestamp(START) + pd.Timedelta(days=SPAN_DAYS)
    t = time.perf_counter()
    features = build_features(store, as_of).to_pandas()
    report("features", time.perf_counter() - t, customers=len(features))
    del features
    t = time.perf_counter()
    value = value_customers(store)
    report("value", time.perf_counter() - t, valued=len(value.customers))
    del value
    t = time.perf_counter()
    run = score(store, as_of, train_customers=train_customers)
    models = store.models("churn")
    rows = models.loc[models["id"] == run.model_id, "rows"]
    report("score", time.perf_counter() - t, scored=len(run.scores), horizon=run.horizon,
           train_rows=int(rows.iloc[0]) if len(rows) else None,
           with_reasons=int(run.reasons["customer_id"].nunique()))
    del run
    t = time.perf_counter()
    wl = build_worklist(store, as_of)
    report("worklist", time.perf_counter() - t, opened=wl.opened, held_out=wl.held_out,
           waiting=sum(wl.waiting.values()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transactions", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--customers", type=int, default=None,
                    help="a fixed number of customers at every size (default: "
                         "transactions / 10)")
    ap.add_argument("--engines", default="duckdb,spark",
                    help="comma-separated; empty ('') only makes the orders (with --keep)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--train-customers", type=int, default=None,
                    help="the churn model trains on a random sample of this many "
                         "customers (score(train_customers=...)); everyone is scored")
    ap.add_argument("--chunk", type=int, default=2_000_000, help="orders made at a time")
    ap.add_argument("--memory-limit", default="2GB", help="DuckDB's memory budget")
    ap.add_argument("--driver-memory", default="2g", help="Spark's JVM heap (local mode)")
    ap.add_argument("--folder", default=None,
                    help="work in this folder (default: a temporary one, removed after)")
    ap.add_argument("--keep", action="store_true",
                    help="with --folder: keep the made orders after the run and reuse "
                         "them when the folder already holds the same size (made with the "
                         "same customers, chunk and seed); the engines' stores are "
                         "removed before each run")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        run_one(args.one, Path(args.folder), args.cores, args.train_customers,
                args.memory_limit, args.driver_memory)
        return 0
    print(f"load average at start: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})",
          flush=True)
    for n in args.transactions:
        tmp = Path(args.folder or tempfile.mkdtemp(prefix="loyalist-scale-")) / f"n{n}"
        keep = bool(args.keep and args.folder)
        k = args.customers or max(n // 10, 1)
        made = {"transactions": n, "customers": k, "chunk": args.chunk, "seed": 0}
        marker = tmp / "made.json"
        reuse = keep and marker.exists() and json.loads(marker.read_text()) == made
        if not reuse:
            shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True, exist_ok=True)
        try:
            size = 0.0
            if reuse:
                _clear_stores(tmp)
                size = (tmp / "orders.parquet").stat().st_size / 2**20
                print(f"{n:,} transactions, {k:,} customers: reused from {tmp} "
                      f"({size:.0f} MB of Parquet)", flush=True)
            else:
                t = time.perf_counter()
                make_orders(n, tmp, args.customers, args.chunk)
                marker.write_text(json.dumps(made))
                size = (tmp / "orders.parquet").stat().st_size / 2**20
                print(f"{n:,} transactions, {k:,} customers: made in "
                      f"{time.perf_counter() - t:.0f} s ({size:.0f} MB of Parquet; "
                      f"peak {_peak_mb()} MB)", flush=True)
            for engine in filter(None, args.engines.split(",")):
                _clear_stores(tmp)
                _run_engine(engine, n, tmp, args)
        finally:
            if not args.folder:
                shutil.rmtree(tmp.parent, ignore_errors=True)
            elif keep:
                _clear_stores(tmp)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _clear_stores(folder: Path) -> None:
    """Remove what an engine's run left in ``folder`` (its store, spill files), keeping
    the made orders and customers."""
    for p in folder.iterdir():
        if p.name not in ("orders.parquet", "customers.parquet", "made.json"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def _run_engine(engine: str, n: int, folder: Path, args) -> None:
    cmd = [sys.executable, __file__, "--one", engine, "--folder", str(folder),
           "--cores", str(args.cores), "--memory-limit", args.memory_limit,
           "--driver-memory", args.driver_memory]
    if args.train_customers:
        cmd += ["--train-customers", str(args.train_customers)]
    # the child's stderr goes to a file, not a pipe: a pipe nobody reads while the
    # steps run would block the child once it filled (warnings, logs)
    err_file = tempfile.TemporaryFile(mode="w+t")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, text=True)
    total = total_cpu = 0.0
    for line in proc.stdout:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        total += r["seconds"]
        total_cpu += r.get("cpu", 0.0)
        extra = "  ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                          for k, v in r.items()
                          if k not in ("step", "seconds", "peak_mb", "load", "cpu"))
        print(f"{n:>11,}  {engine:6s}  {r['step']:15s} {r['seconds']:8.1f} s  "
              f"Python CPU {r.get('cpu', 0.0):8.1f} s  "
              f"peak Python {r['peak_mb']:>6,} MB  load average {r['load']:4.1f}  {extra}",
              flush=True)
    code = proc.wait()
    err_file.seek(0)
    err = err_file.read()
    err_file.close()
    if code:
        # the whole error, not its last line: DuckDB's out-of-memory error ends with a
        # link to its docs, after the lines that say what failed and how much memory
        print(f"{n:>11,}  {engine:6s}  failed (exit {code}):\n{_error_tail(err)}",
              flush=True)
    else:
        print(f"{n:>11,}  {engine:6s}  total           {total:8.1f} s  "
              f"Python CPU {total_cpu:8.1f} s", flush=True)


def _error_tail(err: str, lines: int = 40) -> str:
    """The child's error, indented: every exception of the chain with its message (all
    its lines), the frames of Loyalist's own code that led to it and the line that
    raised it, without the libraries' frames between (an error in a rollback must not
    hide the error that caused it); at most the last ``lines``."""
    kept, last_frame = [], None
    for r in err.rstrip().splitlines():
        if r.startswith("Traceback (most recent"):
            last_frame = None
        elif r.startswith("  File "):
            if "loyalist" in r or "scale.py" in r:
                kept.append(r)
            else:
                last_frame = r
        elif r.startswith(" "):
            continue  # a frame's source line or its ^^^^ marks
        else:
            if last_frame:
                kept.append(last_frame)
                last_frame = None
            kept.append(r)
    return "\n".join("    " + r for r in kept[-lines:] if r.strip()) or "    (no error text)"


if __name__ == "__main__":
    sys.exit(main())
