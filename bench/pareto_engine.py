"""Pareto/NBD scoring in the engine against the NumPy driver path (issue 17).

P(alive), expected purchases over a year and the 12-month CLV of every customer of a
fitted Pareto/NBD (``loyalist.models.in_engine.value_table``, DuckDB) against
``loyalist.models.value.score_on_driver`` (NumPy, after pulling the RFM summary), on

* CDNOW (2,357 customers, the model fitted on it: the hypergeometric series);
* N customers (default 1,000,000) simulated from that fit (Pareto/NBD: Gamma purchase
  and drop-out rates, T uniform on 30-80 weeks), scored with the same fit (series) and
  with the synthetic business's fit at its boundary (every customer with the same
  drop-out rate: the quadrature).

The engine's result is written to a DuckDB table (so it is computed, not just planned);
the driver path pulls the summary and scores it. Printed: wall and CPU seconds of each,
their ratio (driver / engine: > 1 when the engine is faster), and the largest relative
difference between the two.

    python bench/pareto_engine.py --customers 1000000
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _clock(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def simulate_summary(params, n, seed=0):
    """An RFM summary (weeks) of ``n`` Pareto/NBD customers."""
    r, alpha, s, beta = params
    g = np.random.default_rng(seed)
    lam = g.gamma(r, 1.0 / alpha, n)
    mu = g.gamma(s, 1.0 / beta, n)
    big_t = np.round(g.uniform(30.0, 80.0, n) * 7.0) / 7.0
    life = np.minimum(g.exponential(1.0 / np.maximum(mu, 1e-300)), big_t)
    x = g.poisson(lam * life)
    # the last of x uniform purchase times in (0, life], in whole days as the summary has
    rec = np.where(x > 0, life * g.beta(np.maximum(x, 1), 1.0), 0.0)
    rec = np.floor(rec * 7.0) / 7.0
    spend = np.where(x > 0, g.gamma(6.0, 35.0 / 6.0, n), np.nan)
    return pd.DataFrame({"customer_id": np.arange(n, dtype=np.int64),
                         "frequency": x.astype(np.int64), "recency": rec, "T": big_t,
                         "monetary_value": spend})


def compare(con, result, summary, label):
    from loyalist.models.in_engine import value_table
    from loyalist.models.value import score_on_driver

    def engine():
        con.create_table("_bench_scored", value_table(result, summary), overwrite=True)
        return con.table("_bench_scored").order_by("customer_id").to_pandas()

    def driver():
        r = copy.copy(result)
        r.customers = summary.order_by("customer_id").to_pandas()
        return score_on_driver(r).customers

    got, we, ce = _clock(engine)
    want, wd, cd = _clock(driver)
    worst = max(float(np.nanmax(np.abs(got[c].to_numpy() - want[c].to_numpy())
                                / np.abs(want[c].to_numpy())))
                for c in ("p_alive", "expected_purchases", "clv"))
    print(f"{label}: {len(got):,} customers; engine {we:.2f} s wall ({ce:.2f} s CPU of "
          f"this process), driver {wd:.2f} s wall ({cd:.2f} s CPU); driver/engine "
          f"{wd / we:.2f}x; max rel. diff {worst:.1e}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    args = ap.parse_args()
    import ibis

    from _value_data import cdnow_orders, ibis_table
    from loyalist.models.value import fit_value

    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs", flush=True)
    cdnow = fit_value(ibis_table(cdnow_orders()), model="paretonbd",
                      calibration_end="1997-09-30", score=False)
    tm = cdnow.transaction_model
    assert tm._use_series(tm._theta_)
    con = ibis.duckdb.connect()
    con.create_table("cdnow", cdnow.summary.to_pyarrow())
    compare(con, cdnow, con.table("cdnow"), "CDNOW (series)")
    big = simulate_summary(tm._pred_params(), args.customers)
    con.create_table("big", big)
    compare(con, cdnow, con.table("big"), "simulated, CDNOW's fit (series)")
    # the synthetic business's fit (its boundary: the quadrature), as fit_value finds it
    edge = copy.deepcopy(cdnow)
    edge.transaction_model._theta_ = tm._theta_from_params([1.479, 9.157, 1e8, 3.2595e10])
    assert not edge.transaction_model._use_series(edge.transaction_model._theta_)
    compare(con, edge, con.table("cdnow"), "CDNOW, boundary fit (quadrature)")
    compare(con, edge, con.table("big"), "simulated, boundary fit (quadrature)")
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
