"""The overview's data build and the customer page on a scored store: the customers
worth saving read from what ``loyalist score`` kept (``worth_saving``, read by
``stored_lead``) against ranking them on the visit (``lead``, what the page did before),
measured in the same run, interleaved; and a customer page with its backlog line.

    python bench/overview_page.py STORE [--runs 7]

STORE: a scored store (``loyalist demo`` makes the 5,000-customer demo; the overview's
tables are refreshed first if they are stale, on a copy). Prints medians in seconds,
the ratio, and the load average (2 cores, shared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()

    import loyalist
    from loyalist.decisions import overview
    from loyalist.decisions.worth_saving import lead, stored_lead
    from loyalist.web.views.customers import customer_detail

    folder = Path(tempfile.mkdtemp(prefix="loyalist-bench-"))
    copy = folder / "store.duckdb"
    shutil.copy(args.store, copy)
    toml = Path(args.store).parent / "loyalist.toml"
    if toml.exists():  # the same settings, or the kept figures would be stale
        shutil.copy(toml, folder / "loyalist.toml")
    try:
        with loyalist.connect(copy) as store:
            if overview.stale(store):
                took = timed(lambda: overview.refresh(store))
                print(f"refreshed the overview's tables first ({took:.2f} s)")
            waiting = store.table("worklist_backlog").customer_id.to_pandas().head(args.runs)
            customer_detail(store, waiting.iloc[0])  # compile the page's queries once
            got = {"ranked on the visit (lead, before)": [],
                   "read from worth_saving (stored_lead)": [],
                   "whole overview data build (figures)": [],
                   "customer page data (with its backlog)": []}
            for i in range(args.runs):
                got["ranked on the visit (lead, before)"].append(timed(lambda: lead(store)))
                got["read from worth_saving (stored_lead)"].append(
                    timed(lambda: stored_lead(store)))
                got["whole overview data build (figures)"].append(
                    timed(lambda: overview.figures(store)))
                cid = waiting.iloc[i % len(waiting)]
                got["customer page data (with its backlog)"].append(
                    timed(lambda cid=cid: customer_detail(store, cid)))
        med = {k: statistics.median(v) for k, v in got.items()}
        for k, v in med.items():
            print(f"{k:42} median {v:.3f} s  best {min(got[k]):.3f} s")
        before = med["ranked on the visit (lead, before)"]
        after = med["read from worth_saving (stored_lead)"]
        print(f"worth saving: kept / ranked on the visit = {after / before:.2f} "
              f"({before / after:.1f} times faster)")
        print(f"load average: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
