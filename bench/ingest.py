"""Ingest benchmark: N order rows from CSV and from Parquet into a fresh store.

Prints rows/s and peak memory (RSS of the ingesting process) for Loyalist's
validated ingest, next to a bare DuckDB load of the same file measured in the same
run (no parsing checks, no quarantine, no dedup keys): the ratio is the price of
the checks. Targets on a 2-core machine: >= 1M rows/s from Parquet, >= 300k rows/s
from CSV, peak memory < 3 GB.

    python bench/ingest.py --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import duckdb

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import duckdb
    import loyalist
    mode, db, path = sys.argv[1:4]
    t = time.perf_counter()
    if mode == "loyalist":
        with loyalist.connect(db) as s:
            r = s.ingest("orders", path)
            rows = r.inserted
            again = time.perf_counter()
            r2 = s.ingest("orders", path)
            reingest = time.perf_counter() - again
            assert r2.inserted == 0 and r2.unchanged == rows
    else:
        con = duckdb.connect(db, config={"memory_limit": "3GB"})
        reader = "read_parquet" if path.endswith(".parquet") else "read_csv"
        con.execute(f"CREATE TABLE orders AS SELECT * FROM {reader}('{path}')")
        rows = con.execute("SELECT count(*) FROM orders").fetchall()[0][0]
        con.close()
        reingest = None
    seconds = time.perf_counter() - t - (reingest or 0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak,
                      "reingest_seconds": reingest}))
""")


def make_data(folder: Path, rows: int) -> tuple[Path, Path]:
    csv, parquet = folder / "orders.csv", folder / "orders.parquet"
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE o AS SELECT 'o' || range AS id,
        'c' || (hash(range) % {max(rows // 10, 1)}) AS customer_id,
        TIMESTAMP '2020-01-01' + to_seconds((hash(range * 7) % 94608000)::BIGINT) AS ordered_at,
        round((hash(range * 13) % 20000) / 100.0, 2) AS amount,
        1 + (hash(range * 17) % 5)::BIGINT AS quantity,
        'fulfilled' AS status FROM range({rows})""")
    con.execute(f"COPY o TO '{csv}' (HEADER)")
    con.execute(f"COPY o TO '{parquet}' (FORMAT parquet)")
    return csv, parquet


def run(mode: str, path: Path, folder: Path) -> dict:
    db = folder / f"{mode}-{path.suffix[1:]}.duckdb"
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(db), str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="loyalist-bench-") as tmp:
        folder = Path(tmp)
        csv, parquet = make_data(folder, args.rows)
        print(f"{args.rows:,} order rows (6 columns); CSV {csv.stat().st_size / 1e6:.0f} MB, "
              f"Parquet {parquet.stat().st_size / 1e6:.0f} MB")
        print(f"{'source':8} {'loyalist rows/s':>16} {'peak MB':>8} {'re-ingest s':>12} "
              f"{'bare duckdb rows/s':>19} {'bare/loyalist':>14}")
        for path, target in ((parquet, 1_000_000), (csv, 300_000)):
            ours = run("loyalist", path, folder)
            bare = run("bare", path, folder)
            rate = ours["rows"] / ours["seconds"]
            bare_rate = bare["rows"] / bare["seconds"]
            print(f"{path.suffix[1:]:8} {rate:16,.0f} {ours['peak_mb']:8,.0f} "
                  f"{ours['reingest_seconds']:12.1f} {bare_rate:19,.0f} "
                  f"{ours['seconds'] / bare['seconds']:19.2f}x  "
                  f"(target >= {target:,} rows/s, < 3,000 MB: "
                  f"{'met' if rate >= target and ours['peak_mb'] < 3000 else 'NOT met'})")


if __name__ == "__main__":
    main()
