"""Start-up time of the command: ``loyalist --version`` and ``loyalist --help`` against
``python -c pass`` (the interpreter alone) measured in the same run, and against
``python -c "import pandas"`` (what start-up cost when the commands imported it).

    python bench/startup.py [--runs 15]

Target: under 0.3 s wall for --version and --help. Each is run ``--runs`` times in
turn (interleaved, so load hits them alike); the median and the best are printed, with
the load average (2 cores, shared). CPU seconds (user + system of the child) are
steadier than wall seconds on a busy machine and are printed too.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "loyalist --version": [sys.executable, "-m", "loyalist.cli.main", "--version"],
    "loyalist --help": [sys.executable, "-m", "loyalist.cli.main", "--help"],
    "loyalist score --help": [sys.executable, "-m", "loyalist.cli.main", "score", "--help"],
    "python -c 'import pandas'": [sys.executable, "-c", "import pandas"],
}
TARGET = 0.3


def run_once(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "COLUMNS": "80"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args(argv)
    for cmd in CASES.values():  # warm the file cache and write .pyc files
        run_once(cmd)
    load = os.getloadavg()[0]
    times = {name: [] for name in CASES}
    for _ in range(args.runs):
        for name, cmd in CASES.items():
            times[name].append(run_once(cmd))
    base = statistics.median(w for w, _ in times["python -c pass"])
    print(f"start-up, {args.runs} runs each, load average {load:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end (2 cores)")
    print(f"{'command':28} {'median s':>9} {'best s':>7} {'CPU s':>6} {'x pass':>7}  target")
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        best = min(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        verdict = ""
        if name.startswith("loyalist") and name.count(" ") == 1:
            verdict = f"< {TARGET} s: " + ("met" if wall < TARGET else
                                          ("met at best" if best < TARGET else "missed"))
        print(f"{name:28} {wall:9.3f} {best:7.3f} {cpu:6.3f} {wall / base:7.1f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
