"""Order-lines ingest benchmark: ``loyalist ingest orders FILE --lines`` on an export
the size of a year of a mid-size web shop (about 540k lines, 4.3k customers), next to
a bare DuckDB group-by of the same CSV into an orders table measured in the same run
(read, sum of quantity times unit price per invoice, no checks, no quarantine, no
returns, no keys): the ratio is the price of reading an export the careful way.

The export is the synthetic business written by ``loyalist.datasets.exports.
export_lines`` (float customer ids, month-first dates, C documents for returns).

    python bench/ingest_lines.py [--customers 4300] [--lines-per-order 21]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb

import loyalist
from loyalist.datasets import make_business
from loyalist.datasets.exports import MAPPING, export_lines


def bare(path: Path, db: Path) -> tuple[float, int]:
    """The peer: DuckDB reads the CSV and groups the lines into orders."""
    t = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE orders AS SELECT InvoiceNo AS id, any_value(CustomerID) AS customer_id, "
        "min(strptime(InvoiceDate, '%m/%d/%Y %H:%M')) AS ordered_at, "
        "sum(Quantity * UnitPrice) AS amount FROM read_csv(?, types = {'InvoiceNo': 'VARCHAR'}) "
        "WHERE CustomerID IS NOT NULL GROUP BY InvoiceNo", [str(path)])
    n = con.execute("SELECT count(*) FROM orders").fetchall()[0][0]
    con.close()
    return time.perf_counter() - t, n


def careful(path: Path, db: Path) -> tuple[float, object, float]:
    t = time.perf_counter()
    with loyalist.connect(db) as s:
        r = s.ingest("orders", path, MAPPING, lines=True, return_prefix="C")
        first = time.perf_counter() - t
        t2 = time.perf_counter()
        again = s.ingest("orders", path, MAPPING, lines=True, return_prefix="C")
        assert again.inserted == 0 and again.lines["lines_inserted"] == 0
        return first, r, time.perf_counter() - t2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=4300)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--lines-per-order", type=float, default=21.0)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        b = make_business(n_customers=args.customers, months=args.months, seed=1,
                          events=False)
        e = export_lines(b, folder / "export.csv", seed=1, max_lines=200,
                         lines_per_order=args.lines_per_order)
        print(f"export: {e.lines:,} lines, {len(e.orders):,} orders, "
              f"{e.orders['customer'].nunique():,} customers, "
              f"{(folder / 'export.csv').stat().st_size / 2**20:.1f} MB")
        for k in range(args.repeat):  # interleaved, so both see the same machine
            peer, n_peer = bare(e.path, folder / f"bare{k}.duckdb")
            ours, r, again = careful(e.path, folder / f"loyalist{k}.duckdb")
            load = os.getloadavg()[0]
            print(f"run {k + 1}: loyalist --lines {ours:.2f} s ({r.rows_read / ours:,.0f} "
                  f"lines/s; {r.inserted:,} orders, {r.lines['returns']:,} returns, "
                  f"{r.rejected:,} rejected), same file again {again:.2f} s; bare DuckDB "
                  f"group-by {peer:.2f} s ({n_peer:,} orders); ratio {ours / peer:.1f}x; "
                  f"load average {load:.2f}")


if __name__ == "__main__":
    main()
