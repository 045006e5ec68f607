"""Speed and memory of losses by department (``loyalist team --losses``) at scale.

    python bench/losses_scale.py --customers 1000000

Builds a large business quickly with NumPy (not the full generator): customers joining
over three years, each with a Gamma-distributed order rate and a life that ends at an
exponential time whose hazard rises with the failures met (orders never acknowledged or
late, requests never answered); orders carry the whole lifecycle (acknowledged,
promised, fulfilled, followed up, returned), requests their answers, resolution,
call-backs and categories. The tables go into a DuckDB store by the ordinary
``store.ingest``. Then times :func:`loyalist.team.department_losses` with ``write=True``
(what the command runs) and, as the peer measured in the same run, a plain pandas pass
that reads the same orders and requests and counts them per customer and month (the
reading any attribution must do). Prints the wall time, the CPU time of
every thread (on a shared machine the wall time grows with the load), the peak memory
of the process (``ru_maxrss``: DuckDB runs inside it) and the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import loyalist

START = pd.Timestamp("2023-01-01")
DAYS = 3 * 365


def build(n: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """customers, orders and requests of ``n`` customers (about 12 orders and 1.5
    requests each), in seconds."""
    rng = np.random.default_rng(seed)
    created = np.sort(rng.random(n) * DAYS * 0.8)
    rate = rng.gamma(1.4, 0.6 / 1.4, n) / 30.4  # orders per day
    sens = rng.choice([0.5, 1.0, 2.5], n, p=[0.4, 0.45, 0.15])
    # failures met per day while a customer; the hazard of leaving rises with them
    fail_rate = rate * 0.12 + 0.003
    hazard = 0.012 / 30.4 + 0.03 / 30.4 * sens * fail_rate * 30.4
    end = np.minimum(created + rng.exponential(1 / hazard), DAYS)
    k = rng.poisson(rate * (end - created)) + 1
    cust = np.repeat(np.arange(n), k)
    m = len(cust)
    t = created[cust] + rng.random(m) * (end - created)[cust]
    t[np.r_[0, np.cumsum(k)[:-1]]] = created  # the first order opens the relationship
    ordered = START + pd.to_timedelta(t, unit="D")
    late = rng.random(m) < 0.1
    fulfil = t + np.where(late, 5 + rng.gamma(1.5, 2.0, m), rng.random(m) * 3 + 0.2)
    cid = np.char.add("C", np.arange(n).astype(str))
    orders = pd.DataFrame({
        "id": np.char.add("O", np.arange(m).astype(str)), "customer_id": cid[cust],
        "ordered_at": ordered, "amount": np.round(rng.gamma(6.0, 20.0, m), 2),
        "status": np.where(rng.random(m) < 0.02, "returned", "fulfilled"),
        "acknowledged_at": ordered.where(rng.random(m) > 0.03) + pd.Timedelta(hours=2),
        "promised_at": ordered + pd.Timedelta(days=4),
        "fulfilled_at": START + pd.to_timedelta(fulfil, unit="D"),
        "followed_up_at": (START + pd.to_timedelta(fulfil + 2, unit="D")).where(
            rng.random(m) < 0.6)})
    j = rng.poisson(0.06 * (end - created) / 30.4)
    rc = np.repeat(np.arange(n), j)
    q = len(rc)
    rt = created[rc] + rng.random(q) * (end - created)[rc]
    opened = START + pd.to_timedelta(rt, unit="D")
    answered = rng.random(q) > 0.1
    parent = np.where(rng.random(q) < 0.1, np.arange(q) - 1, -1)
    parent = np.where((parent >= 0) & (rc[np.maximum(parent, 0)] == rc), parent, -1)
    rid = np.char.add("R", np.arange(q).astype(str))
    requests = pd.DataFrame({
        "id": rid, "customer_id": cid[rc], "opened_at": opened,
        "category": rng.choice(["billing", "product", "technical", "delivery", "account"],
                               q),
        "team": "support",
        "first_response_at": (opened + pd.to_timedelta(rng.gamma(1.5, 8.0, q), unit="h"))
        .where(answered),
        "resolved_at": (opened + pd.Timedelta(days=3)).where(answered & (rng.random(q) > 0.1)),
        "parent_id": pd.Series(np.where(parent >= 0, rid[np.maximum(parent, 0)], None))})
    customers = pd.DataFrame({"id": cid, "created_at": START + pd.to_timedelta(created,
                                                                               unit="D")})
    return {"customers": customers, "orders": orders, "requests": requests}


def peer(store) -> float:
    """A plain pandas pass: read orders and requests, count per customer and month."""
    t = time.perf_counter()
    o = store.table("orders").select("customer_id", "ordered_at").to_pandas()
    r = store.table("requests").select("customer_id", "opened_at").to_pandas()
    o.groupby(["customer_id", o["ordered_at"].dt.to_period("M")]).size()
    r.groupby(["customer_id", r["opened_at"].dt.to_period("M")]).size()
    return time.perf_counter() - t


def run(path: Path, customers: int) -> None:
    """Time the losses in a process of its own, so its peak memory is theirs."""
    from loyalist.team import department_losses

    store = loyalist.connect(path)
    t = time.perf_counter()
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    dl = department_losses(store, write=True)
    ours = time.perf_counter() - t
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = u1.ru_utime + u1.ru_stime - u0.ru_utime - u0.ru_stime
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    base = peer(store)
    load = os.getloadavg()
    o = dl.overall()
    print(o[["department", "share_of_lost_revenue", "naive_share"]].to_string(index=False))
    print(f"customers {customers:,}, lost {len(dl.customers):,}; load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"losses by department: {ours:6.1f} s  target < 60 s  -> {ours / base:.1f}x a "
          f"pandas read-and-count per customer-month ({base:.1f} s); {cpu:.1f} s of CPU "
          f"(every thread; on a busy machine the wall time is longer); peak memory of "
          f"the process {rss:,.0f} MB")
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        run(args.run, args.customers)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench_losses_"))
    t = time.perf_counter()
    tables = build(args.customers, args.seed)
    built = time.perf_counter() - t
    t = time.perf_counter()
    store = loyalist.connect(tmp / "s.duckdb")
    for name, frame in tables.items():
        store.ingest(name, frame)
    store.close()
    sizes = {k: len(v) for k, v in tables.items()}
    del tables
    print(f"built {sizes} in {built:.0f} s, ingested in {time.perf_counter() - t:.0f} s")
    subprocess.run([sys.executable, __file__, "--run", str(tmp / "s.duckdb"),
                    "--customers", str(args.customers)], check=True)


if __name__ == "__main__":
    main()
