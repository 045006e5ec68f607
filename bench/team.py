"""Speed of ``loyalist team`` and ``loyalist uplift`` at 1M customers.

    python bench/team.py --customers 1000000

The store is built quickly with NumPy (the full generator takes hours at this size):
customers (three segments, two years of history), orders at each customer's own rate
until they leave (with acknowledgement, fulfilment and follow-up dates), service requests
(categories, teams, 60 agents, unanswered ones, call-backs naming their parent),
satisfaction answers naming the request they rate, staff; ``scores`` as the worklist saw
them 120 days before the end and today; the worklist's assignments of one playbook
("save", P(leave) 0.1 or more, half held out) written through the store's own
``write_events``; the outreach: treated customers who would lapse order again with
probability 0.3 (0.5 if they had a request in the 90 days before), and the calls are
logged (``touches``, by the agent, the playbook). Everything is loaded through
``store.ingest`` (contract checks as for a user).

Then each command runs as a user runs it, in a fresh process (imports included):
``loyalist team --json`` (scorecard, agents, verified saves: the non-losses parts),
``loyalist uplift --json`` and ``loyalist team --losses --json``; each with its wall
time, its CPU time (user + system of every thread: what the run costs whatever the
machine's load) and the peak memory of its process (GNU time's maximum resident set),
and the load average. Peers measured in the same run: a plain pandas read-and-group of
the same requests and orders (the reading both must do) and scikit-uplift's TwoModels
(the same LightGBM settings, all rows) fitted on the same hold-out units and scoring the
same customers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

END = pd.Timestamp("2025-01-01")
DAY = np.timedelta64(86400, "s")
SEGMENTS = np.array(["small", "mid", "large"], dtype=object)
TEAMS = np.array(["Customer Care", "Finance", "Logistics", "Sales", "Tech Support"],
                 dtype=object)
CATEGORIES = np.array(["account", "billing", "delivery", "sales", "technical"], dtype=object)
LEAD_DAYS = 120


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), 8)).astype(
        object)


def _at(days: np.ndarray) -> np.ndarray:
    """Days before END (float) as timestamps."""
    return (END.to_datetime64() - (days * 86400).astype("timedelta64[s]")).astype(
        "datetime64[us]")


def make_tables(n: int, seed: int = 0, orders_per_month: float = 0.33) -> dict:
    """The tables (module docstring), as contract frames, plus ``scores_then``,
    ``scores_now`` and ``draws`` (the assignments)."""
    rng = np.random.default_rng(seed)
    cid = _ids("C", n)
    seg = rng.choice(len(SEGMENTS), n, p=[0.6, 0.3, 0.1])
    age = rng.uniform(LEAD_DAYS + 60, 1100, n)           # days a customer before END
    rate = rng.gamma(2.0, orders_per_month / 2.0, n) * (1 + seg) / 30.44  # orders a day
    hazard = rng.gamma(2.0, 0.012, n) / 30.44            # leaving per day
    life = rng.exponential(1 / hazard)                   # days from joining to leaving
    left = np.clip(age - life, 0, None)                  # days before END they left (0: no)
    quiet = rng.random(n) < 0.15                         # customers who never ask anything
    customers = pd.DataFrame({"id": cid, "segment": SEGMENTS[seg], "created_at": _at(age)})
    # orders: a Poisson count over each customer's active span, times uniform within it
    span = np.clip(age - left, 0, None)
    k = rng.poisson(rate * np.minimum(span, 730))
    owner = np.repeat(np.arange(n), k)
    days = left[owner] + rng.random(len(owner)) * np.minimum(span, 730)[owner]
    at = _at(days)
    amount = np.round(rng.gamma(3.0, 40.0 * (1 + seg[owner])), 2)
    ack = rng.random(len(owner)) < 0.85
    fup = rng.random(len(owner)) < 0.4
    orders = pd.DataFrame({
        "id": _ids("O", len(owner)), "customer_id": cid[owner], "ordered_at": at,
        "amount": amount, "quantity": np.ones(len(owner), dtype=np.int64),
        "status": "fulfilled",
        "acknowledged_at": np.where(ack, at + (rng.exponential(0.5, len(owner)) * 86400)
                                    .astype("timedelta64[s]"), np.datetime64("NaT")),
        "fulfilled_at": at + (rng.uniform(1, 6, len(owner)) * 86400).astype("timedelta64[s]"),
        "followed_up_at": np.where(fup, at + (rng.uniform(7, 14, len(owner)) * 86400)
                                   .astype("timedelta64[s]"), np.datetime64("NaT"))})
    orders = orders[orders["fulfilled_at"] < END.to_datetime64()]
    # requests: more of them as a customer drifts (the last 120 days before leaving)
    kr = np.where(quiet, 0, rng.poisson(0.2 * np.minimum(span, 730) / 30.44))
    ro = np.repeat(np.arange(n), kr)
    rdays = left[ro] + rng.random(len(ro)) * np.minimum(span, 730)[ro]
    ropened = _at(rdays)
    cat = rng.integers(len(CATEGORIES), size=len(ro))
    agents = _ids("E", 60)
    agent = rng.integers(len(agents), size=len(ro))
    skill = np.random.default_rng([seed, 1]).normal(0, 1, len(agents))
    answered = rng.random(len(ro)) < 0.9 + 0.03 * skill[agent]
    resp = rng.exponential(np.exp(1.5 - 0.3 * skill[agent]))  # hours
    resolved = answered & (rng.random(len(ro)) < 0.85 + 0.04 * skill[agent])
    rid = _ids("R", len(ro))
    order_r = np.lexsort((ropened, ro))
    prev = np.full(len(ro), None, dtype=object)
    same = np.r_[False, ro[order_r][1:] == ro[order_r][:-1]]
    cb = same & (rng.random(len(ro)) < 0.12)
    prev[order_r[cb]] = rid[order_r[np.flatnonzero(cb) - 1]]
    requests = pd.DataFrame({
        "id": rid, "customer_id": cid[ro], "opened_at": ropened,
        "category": CATEGORIES[cat], "team": TEAMS[cat], "agent": agents[agent],
        "first_response_at": np.where(answered, ropened + (resp * 3600).astype(
            "timedelta64[s]"), np.datetime64("NaT")),
        "resolved_at": np.where(resolved, ropened + ((resp + rng.exponential(30, len(ro)))
                                                     * 3600).astype("timedelta64[s]"),
                                np.datetime64("NaT")),
        "parent_id": prev})
    requests = requests[requests["opened_at"] < END.to_datetime64()]
    # satisfaction answers naming the request they rate (a third of the requests)
    fb = rng.random(len(requests)) < 0.33
    fr = requests[fb]
    sat = np.clip(np.round(3.6 + 0.4 * skill[pd.Index(agents).get_indexer(fr["agent"])]
                           + rng.normal(0, 1, len(fr))), 1, 5).astype(np.int64)
    feedback = pd.DataFrame({
        "id": _ids("F", len(fr)), "customer_id": fr["customer_id"].to_numpy(),
        "answered_at": (fr["opened_at"] + pd.Timedelta(days=3)).to_numpy(),
        "satisfaction": sat, "request_id": fr["id"].to_numpy()})
    feedback = feedback[feedback["answered_at"] < END]
    staff = pd.DataFrame({"id": agents, "name": [f"Agent {i}" for i in range(60)],
                          "team": TEAMS[np.arange(60) % len(TEAMS)], "active": True})
    # the worklist 120 days before the end: P(leave in 90 days) as a model would see it
    then = END - pd.Timedelta(days=LEAD_DAYS)
    active_then = (age > LEAD_DAYS) & (left < LEAD_DAYS)
    p90 = 1 - np.exp(-hazard * 90 * np.where(left > 0, 3.0, 1.0))
    p_then = np.clip(p90 * np.exp(rng.normal(0, 0.4, n)), 0.001, 0.999)
    cand = np.flatnonzero(active_then & (p_then >= 0.1))
    arm = np.where(np.random.default_rng([seed, 2]).random(len(cand)) < 0.5, "treatment",
                   "control")
    value = np.round(rate * 365 * 40 * (1 + seg) * 3, 2)
    draws = pd.DataFrame({"customer_id": cid[cand], "playbook": "save", "arm": arm,
                          "assigned_at": then, "recorded_at": then, "run_id": 1,
                          "share": 0.5, "seed": 7, "p_leave": p_then[cand],
                          "value": value[cand]})
    # the outreach: treated would-be leavers order again with probability 0.3 (0.5 with a
    # request in the 90 days before)
    in_window = (orders["ordered_at"] >= then) & (orders["ordered_at"]
                                                   < then + pd.Timedelta(days=90))
    ordered = set(orders.loc[in_window, "customer_id"])
    recent = set(requests.loc[(requests["opened_at"] < then) & (
        requests["opened_at"] >= then - pd.Timedelta(days=90)), "customer_id"])
    tr = draws[draws["arm"] == "treatment"]
    lapse = ~tr["customer_id"].isin(ordered).to_numpy()
    p = np.where(tr["customer_id"].isin(recent).to_numpy(), 0.5, 0.3)
    kept = lapse & (rng.random(len(tr)) < p)
    call = then + pd.to_timedelta(rng.uniform(0, 7, len(tr)), unit="D")
    extra = pd.DataFrame({
        "id": _ids("X", int(kept.sum())), "customer_id": tr["customer_id"].to_numpy()[kept],
        "ordered_at": (call[kept] + pd.to_timedelta(rng.uniform(1, 60, int(kept.sum())),
                                                    unit="D")).to_numpy(),
        "amount": np.round(rng.gamma(3.0, 40.0, int(kept.sum())), 2),
        "quantity": np.ones(int(kept.sum()), dtype=np.int64), "status": "fulfilled"})
    touches = pd.DataFrame({
        "id": _ids("T", len(tr)), "customer_id": tr["customer_id"].to_numpy(),
        "at": call.to_numpy(), "kind": "call",
        "by": agents[rng.integers(len(agents), size=len(tr))],
        "outcome": np.where(kept, "saved", "reached"), "playbook": "save"})
    now_active = left == 0
    p_now = np.clip(p90 * np.exp(rng.normal(0, 0.4, n)), 0.001, 0.999)
    scores = [pd.DataFrame({"customer_id": cid[mask], "as_of": when, "p_leave": p[mask],
                            "model_id": 0})
              for mask, when, p in ((active_then, then, p_then), (now_active, END, p_now))]
    return {"customers": customers, "orders": pd.concat([orders, extra], ignore_index=True),
            "requests": requests, "feedback": feedback, "staff": staff, "touches": touches,
            "scores_then": scores[0], "scores_now": scores[1], "draws": draws}


def build_store(path: Path, t: dict) -> None:
    import loyalist
    from loyalist.store.worklist import write_events

    with loyalist.connect(path) as store:
        for name in ("customers", "staff", "orders", "requests", "feedback", "touches"):
            store.ingest(name, t[name])
        store.write_derived("scores", t["scores_now"], note="bench")
        write_events(store, pd.DataFrame(), draws=t["draws"])


def timed(args: list[str]) -> tuple[float, float, float, str]:
    """Run a loyalist command in a fresh process: wall seconds, CPU seconds (user +
    system), peak memory (MB: the maximum resident set GNU time reports for that
    process; this process's own size does not count, as it would through a fork's
    ``ru_maxrss``) and its output."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as mem:
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", mem.name,
                            sys.executable, "-m", "loyalist.cli.main", *args],
                           capture_output=True, text=True)
        s = time.perf_counter() - t
        if p.returncode:
            raise SystemExit(f"loyalist {' '.join(args)} failed:\n{p.stderr[-3000:]}")
        kb, user, system = mem.read().split()[-3:]
        return s, float(user) + float(system), int(kb) / 1024, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", default=None, help="Reuse a store built before.")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_team_"))
    path = Path(args.store) if args.store else tmp / "s.duckdb"
    if not args.store or not path.exists():
        t = time.perf_counter()
        tables = make_tables(args.customers, args.seed)
        made = time.perf_counter() - t
        t = time.perf_counter()
        build_store(path, tables)
        print(f"tables made in {made:.0f} s, loaded in {time.perf_counter() - t:.0f} s: "
              + ", ".join(f"{k} {len(v):,}" for k, v in tables.items()), flush=True)
        del tables
    import json

    import loyalist

    def load() -> str:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())

    print(f"customers {args.customers:,}; load average (1/5/15 min) {load()}", flush=True)
    team_s, team_cpu, team_mb, team_out = timed(["team", "--store", str(path), "--as-of",
                                       str(END.date()), "--json"])
    team = json.loads(team_out)
    print(f"loyalist team --json:   {team_s:6.1f} s (CPU {team_cpu:.1f} s), peak "
          f"{team_mb:,.0f} MB "
          f"({len(team['scorecard'])} practices, {len(team['agents'])} agents, "
          f"{len(team['verified_saves'])} agents with verified saves)  target < 60 s; load "
          "average "
          f"{load()}", flush=True)
    up_s, up_cpu, up_mb, up_out = timed(["uplift", "--store", str(path), "--as-of", str(END.date()),
                                 "--json"])
    up = json.loads(up_out)
    for p in up["playbooks"]:
        print(f"  uplift {p['playbook']}: {p['n_treated']:,} treated / {p['n_control']:,} "
              f"held out, {p['reason']}")
    print(f"loyalist uplift --json: {up_s:6.1f} s (CPU {up_cpu:.1f} s), peak {up_mb:,.0f} MB"
          "  target < 60 s; "
          f"load average {load()}", flush=True)
    lo_s, lo_cpu, lo_mb, lo_out = timed(["team", "--losses", "--store", str(path),
                                         "--as-of", str(END.date()), "--json"])
    lo = json.loads(lo_out)
    print(f"loyalist team --losses --json: {lo_s:6.1f} s (CPU {lo_cpu:.1f} s), peak "
          f"{lo_mb:,.0f} MB ({len(lo['kinds'])} kinds of failure, {len(lo['by_period'])} "
          f"period-department rows)  target < 60 s; load average {load()}", flush=True)
    t = time.perf_counter()
    with loyalist.connect(path, read_only=True) as store:
        r = store.table("requests").to_pandas()
        o = store.table("orders").to_pandas()
    _ = (r.groupby("agent").size(), o.groupby("customer_id")["amount"].sum())
    peer_s = time.perf_counter() - t
    del r, o
    print(f"peer: a pandas read-and-group of the requests and orders {peer_s:.1f} s "
          f"(team {team_s / peer_s:.1f}x, uplift {up_s / peer_s:.1f}x, losses "
          f"{lo_s / peer_s:.1f}x); load average {load()}", flush=True)
    peer_uplift_s = _scikit_uplift(path)
    print(f"peer: scikit-uplift TwoModels fit and score {peer_uplift_s:.1f} s (the units' "
          "features read beforehand, not timed; ours validates with a bootstrap, refits, "
          f"scores and writes as well); load average {load()}")


def _scikit_uplift(path: Path) -> float:
    """Seconds scikit-uplift's TwoModels takes to fit the same units and score the same
    customers (features read beforehand, not timed)."""
    from lightgbm import LGBMClassifier
    from sklift.models import TwoModels

    import loyalist
    from loyalist.team.targeting import _today, matrix, uplift_units
    from loyalist.team.uplift import TREES

    with loyalist.connect(path, read_only=True) as store:
        units = uplift_units(store, END, 90)
        X, levels = matrix(units)
        Xs, _ = matrix(_today(store, END), levels)
    t = time.perf_counter()
    peer = TwoModels(estimator_trmnt=LGBMClassifier(**TREES),
                     estimator_ctrl=LGBMClassifier(**TREES), method="vanilla")
    peer.fit(X, units["retained"].to_numpy(), units["treated"].to_numpy())
    peer.predict(Xs)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
