"""The worklist as a team meets it, measured on a store (the 5,000-customer demo):
duplicate items (one customer and matter on two open items), the backlog beyond the
caps, and the worklist page's height in real Chromium (Playwright), with a screenshot.

    python bench/worklist_day.py --store loyalist.duckdb --shot docs/screenshots/x.png

Run it with another Loyalist on PYTHONPATH to measure that one (the "before" of a
change): the figures only read the store and the served page. The store gets a user
``bench-agent`` (role agent, the account manager with the most items) if missing.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb

# the matters of docs/worklist.md, by reason kind (fixed here so that an older Loyalist,
# which wrote no matter, is measured with the same rule)
REQUEST = ("unanswered_request", "repeated_contact", "cancel_words", "competitor_words",
           "complaint_words", "no_word:request")
ORDER = ("not_acknowledged", "acknowledged_late", "late_against_promise", "not_followed_up",
         "no_word:order")
PASSWORD = "bench password 123"


def duplicates(path: str) -> dict:
    con = duckdb.connect(path, read_only=True)
    rows = con.execute("""
        WITH o AS (SELECT item_id, customer_id, reason_kind FROM _loyalist_worklist
                   WHERE event = 'opened' AND item_id NOT IN
                   (SELECT item_id FROM _loyalist_worklist WHERE event = 'closed'))
        SELECT customer_id, CASE WHEN reason_kind IN ? THEN 'request'
                                 WHEN reason_kind IN ? THEN 'order' ELSE 'customer' END,
               count(*) FROM o GROUP BY ALL""", [list(REQUEST), list(ORDER)]).fetchall()
    owner = con.execute("""SELECT owner, count(*) FROM _loyalist_worklist WHERE event =
        'opened' AND owner IN (SELECT id FROM staff) GROUP BY owner ORDER BY 2 DESC
        LIMIT 1""").fetchall()
    backlog = None
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                   "'worklist_backlog'").fetchall()[0][0]:
        backlog = con.execute("SELECT count(*), count(*) FILTER (WHERE must_do) FROM "
                              "worklist_backlog").fetchall()[0]
    con.close()
    return {"open": sum(r[2] for r in rows), "matters_on_two_or_more": sum(
        1 for r in rows if r[2] > 1), "extra_items": sum(r[2] - 1 for r in rows if r[2] > 1),
        "agent_person": owner[0][0] if owner else None, "backlog": backlog}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_height(store: str, person: str | None, shot: str | None, size: int | None) -> dict:
    env = dict(os.environ)
    cli = [sys.executable, "-c", "from loyalist.cli.main import main; main()"]
    for name, role, who in (("bench-admin", "admin", None), ("bench-agent", "agent", person)):
        extra = ["--person", who] if who else []
        subprocess.run([*cli, "user", "add", name, "--role", role, *extra, "--password-stdin",
                        "--store", store], input=f"{PASSWORD}\n", text=True, env=env,
                       capture_output=True)
    port = _port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port), "--store", store], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                  args=["--no-sandbox", "--disable-gpu"])
            pg = b.new_page(viewport={"width": 1280, "height": 900})
            deadline = time.monotonic() + 120
            while True:
                try:
                    pg.goto(f"http://127.0.0.1:{port}/login")
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            pg.fill("input[name=name]", "bench-agent")
            pg.fill("input[name=password]", PASSWORD)
            pg.click("button[type=submit]")
            pg.wait_for_load_state()
            started = time.monotonic()
            pg.goto(f"http://127.0.0.1:{port}/worklist"
                    + (f"?size={size}" if size else ""))
            seconds = time.monotonic() - started
            height = pg.evaluate("document.documentElement.scrollHeight")
            rows = pg.evaluate("document.querySelectorAll('[id^=item-]').length")
            # the whole team's list, the view the "before" page showed
            pg.goto(f"http://127.0.0.1:{port}/worklist?mine=false"
                    + (f"&size={size}" if size else ""))
            team = pg.evaluate("document.documentElement.scrollHeight")
            if shot:
                Path(shot).parent.mkdir(parents=True, exist_ok=True)
                pg.screenshot(path=shot, clip={"x": 0, "y": 0, "width": 1280, "height": 900},
                              type="png")
            b.close()
    finally:
        server.terminate()
        server.wait(30)
    return {"page_height_px": height, "items_on_page": rows, "page_seconds": round(seconds, 2),
            "team_height_px": team}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--shot", default=None, help="Screenshot of the first screen (PNG).")
    ap.add_argument("--size", type=int, default=None, help="Page size asked for (?size=).")
    a = ap.parse_args()
    load = os.getloadavg()[0]
    d = duplicates(a.store)
    print(f"open items {d['open']:,}; customer-matters on two or more items "
          f"{d['matters_on_two_or_more']:,} ({d['extra_items']:,} extra items)")
    if d["backlog"] is not None:
        print(f"backlog: {d['backlog'][0]:,} waiting beyond the caps, {d['backlog'][1]:,} "
              "of them must-do")
    h = page_height(a.store, d["agent_person"], a.shot, a.size)
    print(f"worklist page: {h['page_height_px']:,} px high, {h['items_on_page']} items, "
          f"{h['page_seconds']} s (the whole team's list: {h['team_height_px']:,} px); "
          f"load average {load:.1f}")


if __name__ == "__main__":
    main()
