"""One customer's story: timeline of orders, requests, feedback and touches, with the
latest score, its whispers and the alerts, each naming its evidence."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from loyalist.errors import DataError


@dataclass
class Story:
    customer_id: str
    profile: dict
    timeline: pd.DataFrame  # at, what, id, detail
    score: dict | None
    reasons: pd.DataFrame
    alerts: pd.DataFrame


def _frame(store, table: str, customer_id: str) -> pd.DataFrame:
    t = store.table(table)
    return t.filter(t.customer_id == customer_id).to_pandas()


def story(store, customer_id: str, limit: int = 200) -> Story:
    c = store.table("customers")
    prof = c.filter(c.id == customer_id).to_pandas()
    events = []
    o = _frame(store, "orders", customer_id)
    for r in o.itertuples(index=False):
        detail = f"{r.amount:,.2f}" if pd.notna(r.amount) else ""
        if pd.notna(r.status):
            detail += f" ({r.status})"
        events.append((r.ordered_at, "order", r.id, detail.strip()))
    q = _frame(store, "requests", customer_id)
    for r in q.itertuples(index=False):
        wait = ("unanswered" if pd.isna(r.first_response_at) else
                f"answered after {(r.first_response_at - r.opened_at).total_seconds() / 3600:.1f} h")
        text = str(r.subject if pd.notna(r.subject) else r.text or "")[:60]
        events.append((r.opened_at, f"request ({r.channel or '?'}, {r.category or '?'})", r.id,
                       f"{text} - {wait}"))
    f = _frame(store, "feedback", customer_id)
    for r in f.itertuples(index=False):
        comment = f' "{str(r.comment)[:50]}"' if pd.notna(r.comment) else ""
        events.append((r.answered_at, "feedback", r.id, f"NPS {r.nps}{comment}"))
    t = _frame(store, "touches", customer_id)
    for r in t.itertuples(index=False):
        events.append((r.at, f"touch ({r.kind})", r.id, f"{r.outcome or ''} {r.note or ''}"))
    if prof.empty and not events:
        raise DataError(f"No customer {customer_id!r} in the store.",
                        hint="Check the id (loyalist score lists the riskiest customers).")
    timeline = pd.DataFrame(events, columns=["at", "what", "id", "detail"])
    timeline = timeline.sort_values("at").tail(limit).reset_index(drop=True)
    derived = set(store.tables())
    score = reasons = alerts = None
    if "scores" in derived:
        s = store.table("scores")
        rows = s.filter(s.customer_id == customer_id).to_pandas()
        score = rows.iloc[0].to_dict() if len(rows) else None
    reasons = (_frame(store, "reasons", customer_id) if "reasons" in derived
               else pd.DataFrame())
    alerts = _frame(store, "alerts", customer_id) if "alerts" in derived else pd.DataFrame()
    return Story(customer_id, prof.iloc[0].to_dict() if len(prof) else {}, timeline, score,
                 reasons, alerts)
