"""Load test of the web app on loopback: concurrent users browsing and logging outcomes.

A store of a synthetic business (or ``--store`` of your own) is served by a real
``loyalist serve`` process; ``--users`` simulated users, each with its own HTTP
connection, loop for ``--seconds`` (and at most ``--max-requests`` each): search
customers, open a customer's JSON and HTML page, the overview, and log an outcome.
Printed per phase (``--users 1 50`` runs one user, then fifty, on the same server):
requests per second, p50/p99 latency per kind of request, errors, the load average of
the machine before and after, the CPU time the server spent per request (the figure
that does not depend on what else runs on the machine) and the CPU this client used
(it shares the cores with the server); at the end, whether every outcome the server
accepted is in the store (count in == count stored).

    .venv/bin/python bench/web_load.py --customers 100000 --users 1 50 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

import loyalist

PASSWORD = "load test password"


def build_store(path: Path, customers: int, seed: int) -> None:
    from loyalist.datasets import make_business

    t0 = time.perf_counter()
    business = make_business(n_customers=customers, months=12, seed=seed, events=False)
    with loyalist.connect(path) as store:
        for name in ("customers", "orders", "subscriptions", "requests", "feedback"):
            if len(business.tables.get(name, [])):
                store.ingest(name, business.tables[name], strict=name != "customers")
        stand_in_scores(store, seed)
    print(f"store: {customers:,} customers built and ingested in "
          f"{time.perf_counter() - t0:.1f} s")


def stand_in_scores(store, seed: int, runs: int = 2) -> None:
    """Scores, reasons and ``runs`` score-history runs shaped like ``loyalist score``
    writes them (random, not a model: scoring 100k customers is benchmarked elsewhere;
    here the pages only read them)."""
    import pandas as pd

    ids = store.table("customers").id.to_pandas().to_numpy()
    rng = np.random.default_rng(seed)
    for run in range(runs):
        p = rng.uniform(0.01, 0.95, len(ids))
        scores = pd.DataFrame({"customer_id": ids,
                               "as_of": pd.Timestamp("2024-01-01") + pd.DateOffset(months=run),
                               "p_leave": p, "model_id": run + 1,
                               "top_reason": [f"stand-in reason {i % 7}"
                                              for i in range(len(ids))],
                               "alerts": (p > 0.9).astype(int)})
        store.append_derived("score_history", scores.drop(columns="alerts"))
    store.write_derived("scores", scores)
    store.write_derived("reasons", pd.DataFrame({
        "customer_id": ids, "rank": 1, "family": "purchase",
        "text": scores["top_reason"], "evidence": "orders", "model_id": runs}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(c: httpx.AsyncClient, step: int, cid: str, rng: random.Random, note: str):
    """The ``step``-th kind of request of a user's round: (kind, awaitable)."""
    if step == 0:
        return "search", c.get("/api/customers", params={"q": cid[:-2], "limit": 20})
    if step == 1:
        return "customer json", c.get(f"/api/customers/{cid}")
    if step == 2:
        return "customer page", c.get(f"/customers/{cid}")
    if step == 3:
        return "overview", c.get("/api/overview")
    return "log outcome", c.post("/api/touches", json={
        "customer_id": cid, "outcome": rng.choice(["reached", "no-answer"]), "note": note,
        "no_item": True})


async def user(n: int, base: str, token: str, ids: list[str], deadline: float,
               max_requests: int, tag: str, timings: dict, outcome_ids: list, errors: dict,
               server_cpu=None, cpu_used: dict | None = None):
    rng = random.Random(n)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as c:
        for i in range(max_requests):
            if time.monotonic() > deadline:
                return
            cid = rng.choice(ids)
            kind, call = request(c, i % 5, cid, rng, f"{tag} user {n} step {i}")
            t0, c0 = time.perf_counter(), server_cpu() if server_cpu else None
            try:
                r = await call
            except httpx.HTTPError as e:
                errors[f"{kind}: {type(e).__name__}"] += 1
                continue
            timings[kind].append(time.perf_counter() - t0)
            if c0 is not None:  # one user: the server did nothing else meanwhile
                cpu_used[kind].append(server_cpu() - c0)
            if r.status_code >= 400:
                errors[f"{kind}: {r.status_code}"] += 1
            elif kind == "log outcome":
                outcome_ids.append(r.json()["touch_id"])


async def load(base, token, ids, users, seconds, max_requests, tag, server_cpu=None):
    timings, outcome_ids, errors = defaultdict(list), [], defaultdict(int)
    cpu_used = defaultdict(list)
    deadline = time.monotonic() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(*[user(n, base, token, ids, deadline, max_requests, tag, timings,
                                outcome_ids, errors, server_cpu, cpu_used)
                           for n in range(users)])
    return timings, cpu_used, outcome_ids, errors, time.perf_counter() - t0


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, all threads) process ``pid`` has used so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase(base, token, ids, users, seconds, max_requests, tag, server_pid) -> list[str]:
    """One load phase of ``users`` users; prints its figures, returns the accepted
    outcomes' ids."""
    load_before = os.getloadavg()[0]
    server_before, client_before = cpu_seconds(server_pid), time.process_time()
    alone = users == 1 and server_before is not None
    timings, cpu_used, outcome_ids, errors, wall = asyncio.run(
        load(base, token, ids, users, seconds, max_requests, tag,
             (lambda: cpu_seconds(server_pid)) if alone else None))
    client = time.process_time() - client_before
    server_after = cpu_seconds(server_pid)
    total = sum(len(v) for v in timings.values())
    print(f"\n{users} user{'s' * (users > 1)}, {wall:.1f} s, {len(ids):,} customers: "
          f"{total:,} requests answered ({total / wall:,.1f} per second), "
          f"{sum(errors.values())} errors {dict(errors) if errors else ''}")
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"this client used {client:.1f} s of CPU ({client / wall:.0%} of one core)")
    if server_before is not None and server_after is not None and total:
        used = server_after - server_before
        print(f"server CPU: {used:.1f} s, {used / total * 1000:.1f} ms per request "
              f"({used / wall:.0%} of one core; 2 cores at 100% would answer "
              f"{2 * total / used if used else float('inf'):,.0f} requests/s)")
    # one user: the server's CPU per kind of request (sampled by the kernel in ticks of
    # 10 ms, so only the mean over many requests means something)
    print(f"{'request':15} {'count':>7} {'p50 ms':>8} {'p99 ms':>8}"
          + (f" {'CPU ms':>8}" if cpu_used else ""))
    for kind, values in timings.items():
        v = np.array(values) * 1000
        cpu = f" {np.mean(cpu_used[kind]) * 1000:>8.1f}" if cpu_used.get(kind) else ""
        print(f"{kind:15} {len(v):>7,} {np.percentile(v, 50):>8.1f} "
              f"{np.percentile(v, 99):>8.1f}{cpu}")
    return outcome_ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--users", type=int, nargs="+", default=[1, 50],
                    help="users of each phase, run one after the other (default: 1 50)")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--max-requests", type=int, default=400, help="per user")
    ap.add_argument("--store", help="serve this store instead of building one (a copy "
                    "is not made: outcomes are written to it)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="also copy the built store here (before the run), to "
                    "serve it again with --store")
    args = ap.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="loyalist-load-"))
    path = Path(args.store) if args.store else folder / "load.duckdb"
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          "(other work on the machine slows every figure)")
    if not args.store:
        build_store(path, args.customers, args.seed)
        if args.keep:
            shutil.copy(path, args.keep)
    from loyalist.store.accounts import Accounts

    name = f"load{uuid.uuid4().hex[:6]}"
    with loyalist.connect(path) as store:
        acc = Accounts(store)
        acc.add_user(name, PASSWORD, role="admin")
        token = acc.create_token(name, "load test")
        ids = store.table("customers").id.to_pandas().tolist()
        before = store.table("touches").count().execute()
    port = free_port()
    env = {**os.environ, "LOYALIST_STORE": str(path)}
    log = open(folder / "server.log", "w")  # a pipe nobody reads would block the server
    server = subprocess.Popen([sys.executable, "-m", "loyalist.cli.main", "serve", "--port",
                               str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("server did not start:\n"
                                 + (folder / "server.log").read_text())
            time.sleep(0.2)
        # the server prepares the overview when it starts: wait for it, so that work is
        # not counted in the first phase
        httpx.get(f"{base}/api/overview", headers={"Authorization": f"Bearer {token}"},
                  timeout=600).raise_for_status()
        tag = f"run-{uuid.uuid4().hex[:8]}"
        outcome_ids = []
        for users in args.users:
            outcome_ids += phase(base, token, ids, users, args.seconds, args.max_requests,
                                 tag, server.pid)
    finally:
        t0 = time.perf_counter()
        server.terminate()
        try:
            server.wait(timeout=180)  # requests still queued are answered first
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            print("server did not stop within 180 s of SIGTERM: killed")
        log.close()
        print(f"server stopped {time.perf_counter() - t0:.1f} s after SIGTERM")
    with loyalist.connect(path, read_only=True) as store:
        t = store.table("touches")
        stored = t.filter(t.note.startswith(tag)).count().execute()
        after = t.count().execute()
    shutil.rmtree(folder, ignore_errors=True)  # the built store (if any), the server log
    ok = stored == len(outcome_ids) == after - before
    print(f"outcomes: {len(outcome_ids):,} accepted, {stored:,} stored with this run's tag, "
          f"{after - before:,} new touches -> {'none lost' if ok else 'MISMATCH'}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
