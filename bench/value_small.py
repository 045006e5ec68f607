"""Value models where the data carry no drop-out, and `loyalist value` on a small shop.

Two measurements, Loyalist against lifetimes in the same run (issue 14):

1. ``loyalist value`` on a 25-customer shop (about 200 orders in a year), wall time of
   the command as a user runs it (a fresh process: imports, store, holdout check, fit,
   spend model, CLV, the derived table), against the same pipeline written with
   lifetimes (summary, calibration/holdout check of BG/NBD and Pareto/NBD, fit, spend
   model, CLV) in a fresh process. Target: under 5 s.
2. The 16 calibration setups of the issue (4 calibration ends x days/weeks x with and
   without customers whose first purchase is on the calibration end) on a year of
   Poisson buyers who never drop out (the retailer's shape: about 4,300 customers and
   18,500 orders): for BG/NBD, MBG/NBD and Pareto/NBD, does each library give an answer,
   does it say that the optimum is at the no-drop-out boundary, and how well does the
   answer predict the holdout (RMSE per customer, where both answered).

Data come from ``loyalist.models.simulate.simulate_orders`` (settings printed). lifetimes
must be installed (``pip install -e .[dev]``). Run::

    python bench/value_small.py            # both parts
    python bench/value_small.py --skip setups
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import pandas as pd

SRC = str(Path(__file__).resolve().parents[1] / "src")
CAL_ENDS = ["2011-06-30", "2011-08-31", "2011-09-30", "2011-10-31"]
SHOP = dict(n_customers=25, purchases_per_year=8.0, r=3.0)
# Gamma(1) rates with mean 3.3 a year: 82% of 5,600 buy at least once, ~4.3 orders each
RETAILER = dict(n_customers=5600, purchases_per_year=3.3, r=1.0)

PEER_SHOP = textwrap.dedent("""
    import sys, warnings
    warnings.simplefilter("ignore")
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
    from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data
    o = pd.read_csv(sys.argv[1], parse_dates=["ordered_at"])
    lo, hi = o["ordered_at"].min(), o["ordered_at"].max()
    cal = lo + (hi - lo) * 2 / 3
    ch = calibration_and_holdout_data(o, "customer_id", "ordered_at", calibration_period_end=cal,
                                      observation_period_end=hi, freq="W",
                                      monetary_value_col="amount")
    best, errors = None, []
    for cls in (BetaGeoFitter, ParetoNBDFitter):
        try:
            m = cls().fit(ch["frequency_cal"], ch["recency_cal"], ch["T_cal"])
        except Exception as e:
            errors.append(f"{cls.__name__} (calibration): {type(e).__name__}")
            continue
        pred = m.conditional_expected_number_of_purchases_up_to_time(
            ch["duration_holdout"], ch["frequency_cal"], ch["recency_cal"], ch["T_cal"])
        rmse = float(((pred - ch["frequency_holdout"]) ** 2).mean() ** 0.5)
        if best is None or rmse < best[0]:
            best = (rmse, cls)
    if best is None:
        print("FAILED: " + "; ".join(errors))
        sys.exit(0)
    s = summary_data_from_transaction_data(o, "customer_id", "ordered_at",
                                           monetary_value_col="amount", freq="W")
    try:
        m = best[1]().fit(s["frequency"], s["recency"], s["T"])
        rep = s[s["frequency"] > 0]
        gg = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
        clv = gg.customer_lifetime_value(m, s["frequency"], s["recency"], s["T"],
                                         s["monetary_value"], time=12, freq="W",
                                         discount_rate=0.01)
        print(f"ok: {best[1].__name__}, CLV sum {clv.sum():.2f}")
    except Exception as e:
        print(f"FAILED: {best[1].__name__} or Gamma-Gamma (whole history): {type(e).__name__}")
""")

SETUP_CHILD = textwrap.dedent("""
    import json, sys, time, warnings
    import numpy as np, pandas as pd
    side, folder = sys.argv[1], sys.argv[2]
    setups = json.loads(open(folder + "/setups.json").read())
    out = []
    if side == "ours":
        from loyalist.models import BGNBD, MBGNBD, ParetoNBD, BoundaryWarning
        classes = {"BG/NBD": BGNBD, "MBG/NBD": MBGNBD, "Pareto/NBD": ParetoNBD}
    else:
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
        classes = {"BG/NBD": BetaGeoFitter, "MBG/NBD": ModifiedBetaGeoFitter,
                   "Pareto/NBD": ParetoNBDFitter}
    for name in setups:
        s = pd.read_parquet(f"{folder}/{name}.parquet")
        for label, cls in classes.items():
            row = {"setup": name, "model": label}
            t0 = time.perf_counter()
            try:
                if side == "ours":
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        m = cls().fit(s["frequency"], s["recency"], s["T"])
                    row["warned"] = any(issubclass(w.category, BoundaryWarning) for w in caught)
                    row["status"] = m.status_
                    pred = m.predict_purchases(s["duration_holdout"], s["frequency"],
                                               s["recency"], s["T"])
                else:
                    m = cls().fit(s["frequency"], s["recency"], s["T"])
                    p = np.asarray(m.params_, dtype=float)
                    row["warned"] = False
                    row["status"] = ("silent limit" if np.any(p < 1e-6) or np.any(p > 1e6)
                                     else "fitted")
                    pred = m.conditional_expected_number_of_purchases_up_to_time(
                        s["duration_holdout"], s["frequency"], s["recency"], s["T"])
                err = np.asarray(pred, dtype=float) - s["frequency_holdout"].to_numpy()
                row["rmse"] = float(np.sqrt(np.mean(err ** 2)))
                row["ok"] = bool(np.all(np.isfinite(err)))
            except Exception as e:
                row.update(ok=False, warned=False, status="error: " + type(e).__name__,
                           rmse=float("nan"))
            row["seconds"] = time.perf_counter() - t0
            out.append(row)
    print(json.dumps(out))
""")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(args, timeout=3600):
    """Run a child process; returns (wall seconds, CPU seconds, result). On a shared
    machine the wall time mostly measures waiting for a core: CPU time is printed too."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=timeout)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, res


def bench_shop(seeds, folder: Path) -> None:
    sys.path.insert(0, SRC)
    import loyalist
    from loyalist.models.simulate import simulate_orders

    print(f"\n1. `loyalist value` on a 25-customer shop; simulate_orders({SHOP}, seed)")
    print(f"{'seed':>4} {'orders':>6} {'loyalist value':>20} {'lifetimes pipeline':>20} "
          f"{'ratio peer/ours':>16}")
    print(f"{'':>11} {'wall s':>9} {'CPU s':>6} {'wall s':>13} {'CPU s':>6} "
          f"{'wall':>8} {'CPU':>6}")
    outcomes = []
    for seed in seeds:
        orders = simulate_orders(random_state=seed, **SHOP)
        store = folder / f"shop{seed}.duckdb"
        with loyalist.connect(store) as s:
            s.ingest("orders", orders)
        csv = folder / f"shop{seed}.csv"
        orders.to_csv(csv, index=False)
        o_wall, o_cpu, ours = _run([sys.executable, "-m", "loyalist.cli.main", "value",
                                    "--store", str(store)])
        p_wall, p_cpu, peer = _run([sys.executable, "-c", PEER_SHOP, str(csv)])
        chosen = [ln for ln in ours.stdout.splitlines() if "(chosen)" in ln]
        outcome = ("exit 0, " + chosen[0].split("│")[1].strip()
                   if ours.returncode == 0 and chosen else f"exit {ours.returncode}")
        peer_out = (peer.stdout.strip().splitlines() or [peer.stderr.strip()[-80:]])[-1]
        print(f"{seed:>4} {len(orders):>6} {o_wall:>9.2f} {o_cpu:>6.2f} {p_wall:>13.2f} "
              f"{p_cpu:>6.2f} {p_wall / o_wall:>7.1f}x {p_cpu / o_cpu:>5.1f}x")
        outcomes.append(f"  seed {seed}: ours {outcome} | lifetimes {peer_out}")
    print("\n".join(outcomes))


def bench_setups(seed, folder: Path, skip_peer: bool) -> None:
    sys.path.insert(0, SRC)
    import loyalist
    from loyalist.features import rfm_summary
    from loyalist.models.simulate import simulate_orders

    orders = simulate_orders(random_state=seed, **RETAILER)
    print(f"\n2. 16 setups on Poisson buyers who never drop out: simulate_orders({RETAILER}, "
          f"random_state={seed}): {orders['customer_id'].nunique():,} customers, "
          f"{len(orders):,} orders in 2011")
    names = []
    for cal in CAL_ENDS:
        # six customers whose first purchase is on the calibration end (as in the issue)
        late = pd.DataFrame({"id": [f"L{i}" for i in range(6)],
                             "customer_id": [f"late{i}" for i in range(6)],
                             "ordered_at": pd.Timestamp(cal), "amount": 20.0})
        with loyalist.connect(folder / f"retailer_{cal}.duckdb") as store:
            store.ingest("orders", pd.concat([orders, late], ignore_index=True))
            for freq in ("D", "W"):
                s = rfm_summary(store.table("orders"), calibration_end=cal,
                                observation_end="2011-12-31", freq=freq).to_pandas()
                for t0 in (True, False):
                    name = f"{cal}_{freq}_{'withT0' if t0 else 'noT0'}"
                    (s if t0 else s[s["T"] > 0]).to_parquet(folder / f"{name}.parquet")
                    names.append(name)
    (folder / "setups.json").write_text(json.dumps(names))
    results = {}
    for side in ("ours", "peer"):
        if side == "peer" and skip_peer:
            continue
        secs, cpu, res = _run([sys.executable, "-c", SETUP_CHILD, side, str(folder)])
        if res.returncode != 0:
            print(f"{side} failed to run: {res.stderr.strip()[-300:]}")
            continue
        results[side] = pd.DataFrame(json.loads(res.stdout.strip().splitlines()[-1]))
        print(f"  {side}: {secs:.1f} s wall, {cpu:.1f} s CPU for 48 fits (process included)")
    ours = results.get("ours")
    if ours is None:
        return
    peer = results.get("peer")
    print(f"\n{'model':<11} {'answer (ours)':>14} {'with boundary warning':>22} "
          f"{'answer (lifetimes)':>19} {'silent limit':>13} {'RMSE ours/peer':>15}")
    for label in ("BG/NBD", "MBG/NBD", "Pareto/NBD"):
        o = ours[ours["model"] == label]
        line = (f"{label:<11} {int(o['ok'].sum()):>11}/16 {int(o['warned'].sum()):>19}/16")
        if peer is not None:
            p = peer[peer["model"] == label]
            both = o["ok"].to_numpy() & p["ok"].to_numpy()
            rmse = (f"{o['rmse'].to_numpy()[both].mean():.4f}/"
                    f"{p['rmse'].to_numpy()[both].mean():.4f}" if both.any() else "-")
            line += (f" {int(p['ok'].sum()):>16}/16 "
                     f"{int((p['status'] == 'silent limit').sum()):>10}/16 {rmse:>15}")
        print(line)
    total = int(ours["ok"].sum())
    text = f"\nLoyalist answered {total}/48"
    if peer is not None:
        text += f", lifetimes {int(peer['ok'].sum())}/48"
    print(text + f"; Loyalist fit time per model: median {ours['seconds'].median():.2f} s, "
          f"max {ours['seconds'].max():.2f} s"
          + ("" if peer is None else
             f" (lifetimes: median {peer['seconds'].median():.2f} s, "
             f"max {peer['seconds'].max():.2f} s)"))
    for side, frame in (("Loyalist", ours), ("lifetimes", peer)):
        if frame is None:
            continue
        for label in ("BG/NBD", "MBG/NBD", "Pareto/NBD"):
            f = frame[frame["model"] == label]
            kinds = f["status"].where(f["ok"], f["status"] + " (no usable prediction)")
            counts = ", ".join(f"{n} {k}" for k, n in kinds.value_counts().items())
            print(f"  {side} {label}: {counts}")
    failed = ours[~ours["ok"]]
    for _, row in failed.iterrows():
        print(f"  ours failed: {row['setup']} {row['model']} {row['status']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="small shops to time")
    ap.add_argument("--setup-seed", type=int, default=0)
    ap.add_argument("--skip", default="", help="comma list of: shop, setups, peer")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "shop" not in skip:
            bench_shop(range(args.seeds), folder)
        if "setups" not in skip:
            bench_setups(args.setup_seed, folder, "peer" in skip)
    load = os.getloadavg()
    print(f"\nload average at end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
