"""Value-model benchmark: Loyalist against lifetimes, same data, same machine, same run.

Each measurement runs in its own process (so peak memory is that step's own) on
data written once to a temporary folder:

* fit BG/NBD and Pareto/NBD on N customers simulated from the CDNOW BG/NBD
  parameters (T uniform on 30-80 weeks);
* RFM summary of 10 x N transactions (N customers) from a Parquet file;
* predictions (P(alive), expected purchases in 52 weeks, 12-month CLV) for N customers;
* optionally the end-to-end path at scale: transactions -> summary -> fit -> predictions.

Printed figures are ratios peer/ours (> 1: Loyalist is faster or lighter). The peer
comes with the dev extras (``pip install -e .[dev]``, lifetimes 0.11.3):

    python bench/value_models.py --customers 1000000 --peer-pareto

Without lifetimes installed, only Loyalist's own figures are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}

CHILD = textwrap.dedent("""
    import json, resource, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np, pandas as pd
    task, folder = sys.argv[1], sys.argv[2]
    extra = json.loads(sys.argv[3])
    out = {}

    def load_summary():
        return pd.read_parquet(folder + "/summary.parquet")

    t0 = time.perf_counter()
    if task == "ours_bgnbd" or task == "ours_paretonbd":
        from loyalist.models import BGNBD, ParetoNBD
        d = load_summary()
        t0 = time.perf_counter()
        cls = BGNBD if task == "ours_bgnbd" else ParetoNBD
        m = cls().fit(d["frequency"], d["recency"], d["T"])
        out["params"] = m.params_.round(6).tolist()
        out["log_likelihood"] = m.log_likelihood_
    elif task == "peer_bgnbd" or task == "peer_paretonbd":
        from lifetimes import BetaGeoFitter, ParetoNBDFitter
        d = load_summary()
        t0 = time.perf_counter()
        m = (BetaGeoFitter() if task == "peer_bgnbd" else ParetoNBDFitter())
        m.fit(d["frequency"], d["recency"], d["T"])
        p = m.params_
        names = ["r", "alpha", "a", "b"] if task == "peer_bgnbd" else ["r", "alpha", "s", "beta"]
        out["params"] = [round(float(p[k]), 6) for k in names]
        # the peer's own log-likelihood attribute is scaled differently: evaluate ours at
        # the peer's parameters (outside the timing)
        from loyalist.models import BGNBD, ParetoNBD
        seconds = time.perf_counter() - t0
        ref = BGNBD() if task == "peer_bgnbd" else ParetoNBD()
        data = {"x": d["frequency"].to_numpy(float), "t_x": d["recency"].to_numpy(float),
                "T": d["T"].to_numpy(float)}
        ll, _ = ref._loglik(np.array([float(p[k]) for k in names]), data, grad=False)
        out["log_likelihood"] = float(ll.sum())
        t0 = time.perf_counter() - seconds
    elif task == "ours_summary":
        import ibis
        from loyalist.features import rfm_summary
        # the DuckDB budget a user sets with ibis.duckdb.connect(memory_limit=...) or
        # Store(memory_limit=...); larger work spills to temp_directory
        con = ibis.duckdb.connect(memory_limit=extra["memory_limit"],
                                  temp_directory=folder + "/duckdb_tmp", **extra["threads"])
        t = con.read_parquet(folder + "/transactions.parquet")
        s = rfm_summary(t, observation_end=extra["end"], freq="W").to_pandas()
        out["customers"] = len(s)
        out["check"] = [int(s["frequency"].sum()), round(float(s["T"].sum()), 1),
                        round(float(s["recency"].sum()), 1),
                        round(float(s["monetary_value"].sum()), 2)]
    elif task == "peer_summary":
        from lifetimes.utils import summary_data_from_transaction_data
        tx = pd.read_parquet(folder + "/transactions.parquet")
        s = summary_data_from_transaction_data(
            tx, "customer_id", "ordered_at", monetary_value_col="amount",
            observation_period_end=extra["end"], freq="D")
        out["customers"] = len(s)
        out["check"] = [int(s["frequency"].sum()), round(float(s["T"].sum() / 7), 1),
                        round(float(s["recency"].sum() / 7), 1),
                        round(float(s["monetary_value"].sum()), 2)]
    elif task == "ours_predict":
        from loyalist.models import BGNBD, GammaGamma, customer_lifetime_value
        d = load_summary()
        bg = BGNBD().fit(d["frequency"], d["recency"], d["T"])
        gg = GammaGamma().fit(d["frequency"], d["monetary_value"])
        f, r, T, m = d["frequency"], d["recency"], d["T"], d["monetary_value"]
        t0 = time.perf_counter()
        p = bg.predict_p_alive(f, r, T)
        e = bg.predict_purchases(52, f, r, T)
        # lifetimes' month in weeks is 4.345: 12 such periods, discounted monthly
        clv = customer_lifetime_value(bg, gg, f, r, T, m, time_unit_days=7,
                                      horizon_days=12 * 4.345 * 7, period_days=4.345 * 7,
                                      discount_rate=0.01, margin=1.0)
        out["check"] = [float(p.mean()), float(e.sum()), float(clv.sum())]
    elif task == "peer_predict":
        from lifetimes import BetaGeoFitter, GammaGammaFitter
        d = load_summary()
        bg = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
        rep = d[(d["frequency"] > 0) & (d["monetary_value"] > 0)]
        gg = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
        f, r, T, m = d["frequency"], d["recency"], d["T"], d["monetary_value"]
        t0 = time.perf_counter()
        p = bg.conditional_probability_alive(f, r, T)
        e = bg.conditional_expected_number_of_purchases_up_to_time(52, f, r, T)
        clv = gg.customer_lifetime_value(bg, f, r, T, m, time=12, discount_rate=0.01, freq="W")
        out["check"] = [float(np.mean(p)), float(np.sum(e)), float(np.sum(clv))]
    elif task == "ours_end_to_end":
        import ibis
        from loyalist.features import rfm_summary
        from loyalist.models import BGNBD, GammaGamma, customer_lifetime_value
        con = ibis.duckdb.connect(memory_limit=extra["memory_limit"],
                                  temp_directory=folder + "/duckdb_tmp", **extra["threads"])
        t = con.read_parquet(folder + "/big_transactions.parquet")
        s = rfm_summary(t, observation_end=extra["end"], freq="W").to_pandas()
        s = s[s["T"] > 0]
        t1 = time.perf_counter()
        bg = BGNBD().fit(s["frequency"], s["recency"], s["T"])
        try:
            gg = GammaGamma().fit(s["frequency"], s["monetary_value"])
        except ArithmeticError:  # no spend heterogeneity to model: use the mean, as fit_value
            gg = float(s.loc[s["frequency"] > 0, "monetary_value"].mean())
            out["spend"] = "mean (Gamma-Gamma not identified)"
        t2 = time.perf_counter()
        clv = customer_lifetime_value(bg, gg, s["frequency"], s["recency"], s["T"],
                                      s["monetary_value"], time_unit_days=7)
        out["stages"] = {"summary": t1 - t0, "fit": t2 - t1, "predict": time.perf_counter() - t2}
        out["params"] = [round(float(v), 4) for v in bg.params_] + [round(float(clv.sum()), 2)]
        out["customers"] = len(s)
    else:
        raise SystemExit("unknown task " + task)
    out["seconds"] = time.perf_counter() - t0
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
""")


def make_summary(folder: Path, customers: int, seed: int = 0) -> None:
    from loyalist.models.simulate import simulate_bgnbd, simulate_gammagamma

    rng = np.random.default_rng(seed)
    d = simulate_bgnbd(*TRUTH.values(), rng.uniform(30, 80, customers), random_state=seed + 1)
    spend = simulate_gammagamma(6.25, 3.74, 15.44, d["frequency"], random_state=seed + 2)
    d["monetary_value"] = spend["monetary_value"]
    d.to_parquet(folder / "summary.parquet")


def make_transactions(path: Path, rows: int, customers: int) -> str:
    """``rows`` orders of ``customers`` customers spread uniformly over two years (DuckDB)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"""COPY (SELECT 'c' || (hash(range) % {customers}) AS customer_id,
        TIMESTAMP '2022-01-01' + to_seconds((hash(range * 7) % 63072000)::BIGINT) AS ordered_at,
        round((hash(range * 13) % 20000) / 100.0, 2) AS amount FROM range({rows}))
        TO '{path}' (FORMAT parquet)""")
    return "2023-12-31"


def make_bgnbd_transactions(path: Path, customers: int, seed: int = 0) -> tuple[str, int]:
    """A transaction log drawn from BG/NBD (about 100 orders per customer) for the
    end-to-end run: acquisition during 2022, purchases until drop-out or 2023-12-31,
    Gamma-Gamma order values. Written in chunks with pyarrow."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-01-01T00:00:00", "s")
    rows = 0
    with pq.ParquetWriter(path, pa.schema([("customer_id", pa.string()),
                                           ("ordered_at", pa.timestamp("s")),
                                           ("amount", pa.float64())])) as out:
        for lo in range(0, customers, 50_000):
            n = min(50_000, customers - lo)
            first = rng.uniform(0, 365, n)  # days
            lam = rng.gamma(3.0, 1 / 10.0, n)  # purchases per day while active
            p = rng.beta(2.0, 300.0, n)
            nu = rng.gamma(3.74, 1 / 15.44, n)
            life = rng.geometric(p)  # repeat purchases survived before dropping out
            owner = np.repeat(np.arange(n), life)
            gaps = rng.exponential(1.0, owner.size) / lam[owner]
            ends = np.cumsum(life)
            cum = np.cumsum(gaps)
            cum -= np.repeat(np.r_[0.0, cum[ends[:-1] - 1]], life)
            keep = first[owner] + cum < 730.0
            cid = np.r_[np.arange(n), owner[keep]] + lo
            day = np.r_[first, first[owner[keep]] + cum[keep]]
            amount = rng.gamma(6.25, 1.0, cid.size) / nu[cid - lo]
            ids = pc.binary_join_element_wise("c", pc.cast(pa.array(cid), pa.string()), "")
            when = start + (day * 86400).astype("timedelta64[s]")
            out.write_table(pa.table({"customer_id": ids, "ordered_at": when,
                                      "amount": np.round(amount, 2)}))
            rows += cid.size
    return "2023-12-31", rows


def run(task: str, folder: Path, extra: dict | None = None, *, timeout=3600) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, task, str(folder), json.dumps(extra or {})],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _have_peer() -> bool:
    try:
        import lifetimes  # noqa: F401
    except ImportError:
        return False
    return True


def _line(name: str, ours: dict, peer: dict | None) -> None:
    if "error" in ours:
        print(f"{name:28} Loyalist failed: {ours['error']}")
        return
    text = (f"{name:28} [load {os.getloadavg()[0]:4.1f}] Loyalist {ours['seconds']:8.2f} s "
            f"{ours['peak_mb']:7.0f} MB")
    if peer is None:
        print(text)
    elif "error" in peer:
        print(f"{text} | lifetimes failed: {peer['error']}")
    else:
        print(f"{text} | lifetimes {peer['seconds']:8.2f} s {peer['peak_mb']:7.0f} MB | "
              f"time x{peer['seconds'] / ours['seconds']:.1f}, "
              f"memory x{peer['peak_mb'] / ours['peak_mb']:.1f}")


def _same_params(ours: dict, peer: dict | None) -> str:
    if not peer or "params" not in peer or "params" not in ours:
        return ""
    a, b = np.array(ours["params"]), np.array(peer["params"])
    digits = np.floor(-np.log10(np.maximum(np.abs(a - b) / np.abs(b), 1e-16)))
    return (f"    params ours {a.round(4).tolist()} peer {b.round(4).tolist()} "
            f"(agree to {int(digits.min())} significant digits; log-likelihood ours "
            f"{ours['log_likelihood']:.2f}, peer {peer['log_likelihood']:.2f})")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--transactions-per-customer", type=int, default=10)
    ap.add_argument("--peer-pareto", action="store_true",
                    help="also time lifetimes' Pareto/NBD (slow: minutes at 1M customers)")
    ap.add_argument("--end-to-end", type=int, default=0, metavar="ROWS",
                    help="also run transactions -> summary -> fit -> CLV on about ROWS "
                    "transactions drawn from BG/NBD (ROWS / 100 customers)")
    ap.add_argument("--memory-limit", default="800MB",
                    help="DuckDB memory budget of the summary (default 800MB)")
    ap.add_argument("--end-to-end-memory-limit", default="2GB",
                    help="DuckDB memory budget of the end-to-end run (default 2GB, the store's)")
    ap.add_argument("--threads", type=int, default=0,
                    help="DuckDB threads of the summary and end-to-end runs (default: all cores)")
    ap.add_argument("--skip", default="", help="comma-separated: fit,pareto,summary,predict")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    peer = _have_peer()
    n = args.customers
    threads = {"threads": args.threads} if args.threads else {}
    print(f"customers {n:,}; peer (lifetimes) {'installed' if peer else 'NOT installed'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work on the "
          "machine slows both sides)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_summary(folder, n)
        if "fit" not in skip:
            ours = run("ours_bgnbd", folder)
            theirs = run("peer_bgnbd", folder) if peer else None
            _line("BG/NBD fit", ours, theirs)
            print(_same_params(ours, theirs))
        if "pareto" not in skip:
            ours = run("ours_paretonbd", folder)
            theirs = run("peer_paretonbd", folder) if peer and args.peer_pareto else None
            _line("Pareto/NBD fit", ours, theirs)
            print(_same_params(ours, theirs))
        if "predict" not in skip:
            ours = run("ours_predict", folder)
            theirs = run("peer_predict", folder) if peer else None
            _line("predictions (P, E, CLV)", ours, theirs)
            if theirs and "check" in theirs and "check" in ours:
                print(f"    mean P(alive), sum E[52w], sum CLV: ours {np.round(ours['check'], 2)}"
                      f" peer {np.round(theirs['check'], 2)}")
        if "summary" not in skip:
            rows = n * args.transactions_per_customer
            end = make_transactions(folder / "transactions.parquet", rows, n)
            ours = run("ours_summary", folder, {"end": end, "memory_limit": args.memory_limit,
                                                 "threads": threads})
            theirs = run("peer_summary", folder, {"end": end}) if peer else None
            _line(f"summary of {rows:,} tx", ours, theirs)
            if theirs and "check" in theirs and "check" in ours:
                print(f"    customers, sums of frequency, T, recency (weeks), monetary value: ours "
                      f"{[ours['customers'], *ours['check']]} peer "
                      f"{[theirs['customers'], *theirs['check']]}")
        if args.end_to_end:
            end, rows = make_bgnbd_transactions(folder / "big_transactions.parquet",
                                                max(args.end_to_end // 100, 1))
            r = run("ours_end_to_end", folder,
                    {"end": end, "memory_limit": args.end_to_end_memory_limit,
                     "threads": threads}, timeout=7200)
            if "error" in r:
                print(f"end to end failed: {r['error']}")
            else:
                st = r["stages"]
                print(f"end to end, {rows:,} tx / {r['customers']:,} customers: "
                      f"{r['seconds']:.1f} s (summary {st['summary']:.1f}, fit {st['fit']:.1f}, "
                      f"predict {st['predict']:.1f}), peak {r['peak_mb']:.0f} MB "
                      f"[load {os.getloadavg()[0]:.1f}]")
                print(f"    BG/NBD r, alpha, a, b (days/7 units) and total CLV: {r['params']} "
                      "(drawn with r=3, alpha=10/7, a=2, b=300; same-day purchases are merged)")


if __name__ == "__main__":
    main()
