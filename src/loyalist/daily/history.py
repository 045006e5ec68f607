"""What the daily runs did, for a person: the latest runs step by step, the model's
health checks, the messages of the latest day and the inbox's files (the web app's
Daily page and ``/api/daily``)."""

from __future__ import annotations

import pandas as pd


def _frame(store, name: str) -> pd.DataFrame:
    return store.table(name).to_pandas() if name in store.tables() else pd.DataFrame()


def day_history(store, runs: int = 10) -> dict:
    """The last ``runs`` runs (newest first, each with its steps), the last 30 health
    checks, the messages of the latest day with a digest, and the last 50 inbox files."""
    r = _frame(store, "daily_runs")
    out: dict = {"runs": [], "health": [], "messages": [], "files": [], "day": None}
    if len(r):
        last = sorted(r["run_id"].unique())[-runs:][::-1]
        for run_id in last:
            steps = r[r["run_id"] == run_id].sort_values("started_at")
            out["runs"].append({
                "run_id": int(run_id), "day": steps["day"].iloc[0],
                "started_at": steps["started_at"].iloc[0],
                "failed": bool((steps["status"] == "failed").any()),
                "steps": steps[["step", "status", "summary"]].to_dict("records")})
    h = _frame(store, "model_health")
    if len(h):
        out["health"] = (h.sort_values("day", ascending=False, kind="stable").head(30)
                         .to_dict("records"))
    m = _frame(store, "daily_messages")
    if len(m):
        out["day"] = m["day"].max()
        out["messages"] = (m[m["day"] == out["day"]].sort_values("sent_at")
                           .to_dict("records"))
    f = _frame(store, "daily_files")
    if len(f):
        out["files"] = f.sort_values("seen_at", ascending=False).head(50).to_dict("records")
    return out


__all__ = ["day_history"]
