"""Keep them informed: the open requests and orders with no word to the customer, found
in the engine, against a plain pandas peer on the same records, and what the three new
playbooks add to a worklist run. Same store, same run.

    python bench/keep_informed.py                      # 20,000 customers, 24 months
    python bench/keep_informed.py --customers 100000

* ``loyalist``: :func:`~loyalist.decisions.worklist.informed.silent_matters` for orders
  and requests (Ibis on DuckDB, reading the store; only the silent matters come back);
* ``pandas``: the same rule on the tables already in memory (no reading counted): the
  open matters, the last word, the silence, one row per customer;
* a worklist run with the default playbooks against one with ``update_on_request``,
  ``update_on_order`` and ``answer_competitor`` switched off (stand-in scores: every
  customer with an order in the last 180 days at P(leave) 0.5), each twice on a fresh
  copy of the store, alternating, the faster of the two kept.

The customers found must be the same; times are wall seconds, the load average is
printed (the machine is shared).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

import loyalist
from loyalist.datasets import make_business
from loyalist.decisions.scoring import hard_alerts
from loyalist.decisions.worklist import build_worklist
from loyalist.decisions.worklist.informed import silent_matters
from loyalist.settings.worklist import default_playbooks

NEW = ("update_on_request", "update_on_order", "answer_competitor")


def by_pandas(t: dict, kind: str, as_of, st) -> set:
    """The customers with a silent open matter, in plain pandas."""
    days = pd.Timedelta(days=1)
    if kind == "order":
        x, opened, word = t["orders"], "ordered_at", "acknowledged_at"
        closed = x["status"].str.lower().str.strip().isin(
            [s.lower() for s in st.inform_closed_statuses])
        is_open = (x["fulfilled_at"] >= as_of) | (x["fulfilled_at"].isna() & ~closed)
        after = st.inform_order_after_days
    else:
        x, opened, word = t["requests"], "opened_at", "first_response_at"
        is_open = x["resolved_at"].isna() | (x["resolved_at"] >= as_of)
        after = st.inform_request_after_days
    x = x[is_open & (x[opened] < as_of)
          & (x[opened] >= as_of - st.inform_max_age_days * days)]
    last = x[word].where(x[word] < as_of).fillna(x[opened])
    return set(x.loc[(as_of - last) > after * days, "customer_id"])


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=24)
    a = ap.parse_args()
    b = make_business(n_customers=a.customers, months=a.months, seed=1, events=False)
    as_of = b.as_of - pd.Timedelta(days=30)
    folder = Path(tempfile.mkdtemp(prefix="informed-bench-"))
    try:
        path = folder / "s.duckdb"
        with loyalist.connect(path) as s:
            for name in ("customers", "orders", "requests", "feedback"):
                s.ingest(name, b.tables[name])
            o = b.tables["orders"]
            recent = o[(o["ordered_at"] < as_of)
                       & (o["ordered_at"] >= as_of - pd.Timedelta(days=180))]
            ids = recent["customer_id"].unique()
            s.write_derived("scores", pd.DataFrame({"customer_id": ids, "as_of": as_of,
                                                    "p_leave": 0.5, "model_id": 0}))
            s.write_derived("alerts", hard_alerts(s, as_of).assign(as_of=as_of))
            st = s.settings.worklist.settings
            rows = {}
            for kind in ("order", "request"):
                got, t_l = timed(lambda k=kind: silent_matters(s, k, as_of, st))
                want, t_p = timed(lambda k=kind: by_pandas(b.tables, k, as_of, st))
                assert set(got["customer_id"]) == want, kind
                rows[kind] = (len(got), t_l, t_p)
        pbs = default_playbooks()
        off = dataclasses.replace(pbs, playbooks=tuple(p for p in pbs if p.name not in NEW))
        runs = {"on": [], "off": []}
        for i, (arm, books) in enumerate([("off", off), ("on", pbs)] * 2):
            shutil.copy(path, folder / f"{i}.duckdb")  # each run on a fresh copy
            with loyalist.connect(folder / f"{i}.duckdb") as s:
                runs[arm].append(timed(lambda bk=books: build_worklist(s, as_of,
                                                                       playbooks=bk)))
        (run_on, t_on), (run_off, t_off) = (min(runs[k], key=lambda r: r[1])
                                            for k in ("on", "off"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{a.customers:,} customers, {len(b.tables['orders']):,} orders, "
          f"{len(b.tables['requests']):,} requests; as of {as_of:%Y-%m-%d}; "
          f"load average {os.getloadavg()[0]:.1f}")
    for kind, (n, t_l, t_p) in rows.items():
        print(f"  {kind + 's':8} silent: {n:6,} customers  loyalist {t_l:6.3f} s  "
              f"pandas (in memory) {t_p:6.3f} s  ratio {t_p / t_l:5.2f}x")
    new = sum(1 for p in run_on.items["playbook"] if p in NEW)
    print(f"  worklist run: {t_on:.2f} s with the new playbooks ({new:,} of "
          f"{run_on.opened:,} items), {t_off:.2f} s without ({run_off.opened:,} items): "
          f"{t_on / t_off:.2f}x")


if __name__ == "__main__":
    main()
