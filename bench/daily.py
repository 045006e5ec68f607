"""``loyalist daily`` against the same day done by hand: the CLI chain a team would run
without it (``ingest`` each file, ``score``, ``worklist``, ``report``), same business,
same run, each on its own fresh store; then ``loyalist daily`` again on the same day
(nothing new: nothing ingested, scored or sent again).

    python bench/daily.py                   # 1,000 and 5,000 customers
    python bench/daily.py --customers 1000

Data: ``make_business(n_customers=N, months=24, seed=7, events=False)``, every table
but touches written as CSV into the inbox. Delivery: a real SMTP server on this machine
(aiosmtpd) and no webhook. Wall and CPU seconds of each whole command, start-up
included, with the load average before each run (the machine is shared: CPU seconds
are the steadier figure).
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loyalist.datasets import make_business

STEPS = ("customers", "staff", "orders", "subscriptions", "requests", "feedback")


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def _cli(*args) -> tuple[float, float]:
    """Wall and CPU seconds of one command (CPU: the steadier figure when shared)."""
    t, c = time.perf_counter(), _cpu()
    r = subprocess.run([sys.executable, "-m", "loyalist.cli.main", *args],
                       capture_output=True, text=True)
    if r.returncode not in (0,):
        raise SystemExit(f"loyalist {args[0]} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return time.perf_counter() - t, _cpu() - c


def _sum(runs) -> tuple[float, float]:
    return sum(w for w, _ in runs), sum(c for _, c in runs)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one(n: int, root: Path, smtp_port: int) -> None:
    b = make_business(n_customers=n, months=24, seed=7, events=False)
    day_store = root / f"daily-{n}"
    hand_store = root / f"hand-{n}"
    for folder in (day_store, hand_store):
        (folder / "inbox").mkdir(parents=True)
        for name in STEPS:
            b.tables[name].to_csv(folder / "inbox" / f"{name}-export.csv", index=False)
    (day_store / "loyalist.toml").write_text(
        f'[daily]\ninbox = "inbox"\nlead = "lead@firm.test"\nsmtp_host = "127.0.0.1"\n'
        f"smtp_port = {smtp_port}\nsmtp_starttls = false\n", encoding="utf-8")
    store = str(day_store / "s.duckdb")
    load = os.getloadavg()[0]
    first = _cli("daily", "--store", store, "--day", "2025-01-01")
    load2 = os.getloadavg()[0]
    again = _cli("daily", "--store", store, "--day", "2025-01-01")
    hs = str(hand_store / "s.duckdb")
    load3 = os.getloadavg()[0]
    hand = _sum([*(_cli("ingest", name, str(hand_store / "inbox" / f"{name}-export.csv"),
                        "--store", hs) for name in STEPS),
                 _cli("score", "--store", hs), _cli("worklist", "--store", hs),
                 _cli("report", "--store", hs, "--out", str(hand_store / "report.html"))])
    print(f"{n:>6,} customers, wall (CPU) seconds: loyalist daily {first[0]:6.1f} "
          f"({first[1]:6.1f}, load {load:.1f}); again on the same day {again[0]:5.1f} "
          f"({again[1]:5.1f}, load {load2:.1f}); by hand (ingest x{len(STEPS)}, score, "
          f"worklist, report) {hand[0]:6.1f} ({hand[1]:6.1f}, load {load3:.1f}); daily / "
          f"by hand: wall {first[0] / hand[0]:.2f}, CPU {first[1] / hand[1]:.2f}",
          flush=True)


def main() -> None:
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            return "250 OK"

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, nargs="*", default=[1000, 5000])
    args = ap.parse_args()
    port = _port()
    c = Controller(Sink(), hostname="127.0.0.1", port=port)
    c.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in args.customers:
                one(n, Path(tmp), port)
    finally:
        c.stop()


if __name__ == "__main__":
    main()
