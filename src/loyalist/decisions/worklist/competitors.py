"""A valuable customer naming a competitor: the listening whisper on the worklist.

The firm's competitors (``[listening] competitors``, with aliases) are looked for in
the customers' requests, survey comments and the team's notes of the last
``WINDOW_DAYS`` (:mod:`loyalist.listening`); a customer among the top ``[listening]
valuable_top`` by value who named one picks the playbook with ``named_competitor =
true``, with the sentence they wrote as the evidence. Only the window's texts are read
(filtered in the engine). Without a competitor list nobody is picked.
"""

from __future__ import annotations

import pandas as pd

from loyalist.listening import competitor_mentions, competitor_whispers, gather
from loyalist.listening.texts import SOURCES

#: how far back a mention still calls for a conversation
WINDOW_DAYS = 90
COLUMNS = ["customer_id", "why", "evidence", "since"]


def competitor_items(store, as_of, values: pd.DataFrame) -> pd.DataFrame:
    """One row per valuable customer who named a competitor in the window: ``why``
    (the competitor, the topic, the day and their sentence), ``evidence`` (the row:
    ``requests:ID``, ``feedback:ID`` or ``touches:ID``) and ``since`` (the day)."""
    settings = store.settings.listening
    if not settings.competitors:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    now = pd.Timestamp(as_of)
    start = (now - pd.Timedelta(days=WINDOW_DAYS)).to_pydatetime()
    tables = {}
    for name, (cols, when) in SOURCES.items():
        t = store.table(name)
        t = t.filter((t[when] >= start) & (t[when] < now.to_pydatetime()))
        keep = ["id", "customer_id", when, *cols] + (["outcome"] if name == "touches" else [])
        tables[name] = t.select(*keep).to_pandas()
    texts = gather(tables)
    mentions = competitor_mentions(texts, settings)
    w = competitor_whispers(mentions, values[["customer_id", "value"]], now, settings,
                            days=WINDOW_DAYS)
    return pd.DataFrame({"customer_id": w["customer_id"].astype(object),
                         "why": w["text"].astype(object),
                         "evidence": (w["source"].astype(str) + ":" + w["id"].astype(str)
                                      ).astype(object),
                         "since": pd.to_datetime(w["at"])})


__all__ = ["COLUMNS", "WINDOW_DAYS", "competitor_items"]
