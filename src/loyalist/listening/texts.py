"""Customers' own words, gathered: requests, feedback comments and the team's notes."""

from __future__ import annotations

import pandas as pd

from loyalist.listening.mentions import find_mentions, propose_names
from loyalist.settings.listening import ListeningSettings

#: where customers' words are: table -> (text columns, time column)
SOURCES = {"requests": (("subject", "text"), "opened_at"),
           "feedback": (("comment",), "answered_at"),
           "touches": (("note",), "at")}
COLUMNS = ["source", "id", "customer_id", "at", "text", "outcome"]


def gather(tables: dict) -> pd.DataFrame:
    """One row per text: ``source`` (requests, feedback, touches), ``id``,
    ``customer_id``, ``at``, ``text`` (a request's subject and text joined) and
    ``outcome`` (of a touch: lost, saved...; else missing). Tables
    missing or empty are skipped; rows without text are left out."""
    parts = []
    for source, (cols, when) in SOURCES.items():
        t = tables.get(source)
        if t is None or len(t) == 0 or not all(c in t for c in (*cols, when, "id",
                                                                  "customer_id")):
            continue
        text = t[cols[-1]].astype(object)
        if len(cols) > 1:  # the subject only where the text does not repeat it
            subject = t[cols[0]].astype(object)
            text = text.where(subject.isna() | text.isna(), subject + ". " + text)
            text = text.where(text.notna(), subject)
        keep = text.notna().to_numpy()
        parts.append(pd.DataFrame({
            "source": source, "id": t["id"].astype(object).to_numpy()[keep],
            "customer_id": t["customer_id"].astype(object).to_numpy()[keep],
            "at": pd.to_datetime(t[when]).to_numpy()[keep],
            "text": text.to_numpy()[keep],
            "outcome": (t["outcome"].astype(object).to_numpy()[keep] if "outcome" in t
                        else None)}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def competitor_mentions(texts: pd.DataFrame, settings: ListeningSettings | None = None
                        ) -> pd.DataFrame:
    """Every mention in gathered ``texts`` (:func:`gather`): ``source``, ``id``,
    ``customer_id``, ``at``, ``competitor``, ``written``, ``topic``, ``evidence``."""
    m = find_mentions(texts["text"], settings)
    rows = texts.iloc[m["row"].to_numpy()].reset_index(drop=True)
    out = pd.concat([rows[["source", "id", "customer_id", "at"]],
                     m.drop(columns="row").reset_index(drop=True)], axis=1)
    return out.sort_values(["at", "source", "id"], ignore_index=True)


def proposed_competitors(texts: pd.DataFrame, settings: ListeningSettings | None = None
                         ) -> pd.DataFrame:
    """Names the competitor list lacks, written near switching words by at least
    ``min_customers`` customers: ``name``, ``customers``, ``texts``, ``evidence``."""
    return propose_names(texts["text"], texts["customer_id"], settings)


__all__ = ["COLUMNS", "SOURCES", "competitor_mentions", "gather", "proposed_competitors"]
