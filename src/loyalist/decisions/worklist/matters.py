"""Matters: what an item is about, so a customer gets one item per matter.

A *matter* is a request thread with its call-backs (``request``), an order
(``order``), the customer council (``council``: promises made to a member, and their
attendance), or a signal about the customer as a whole (``customer``: a detractor's
score, a silence, a risk of leaving, a relationship segment). Every reason to contact a
customer belongs to one matter; the reasons of one customer and matter merge into one
item, owned by one person: the must-do reason leads, else the item already open, else
the first playbook in file order. The others are named in the item's ``also`` and
their words are added to its ``why``.
"""

from __future__ import annotations

import pandas as pd

#: alert kinds whose evidence is the customer's service requests
REQUEST_KINDS = ("unanswered_request", "repeated_contact", "cancel_words",
                 "competitor_words", "complaint_words")
#: alert kinds whose evidence is an order
ORDER_KINDS = ("not_acknowledged", "acknowledged_late", "late_against_promise",
               "not_followed_up")
MATTERS = ("request", "order", "council", "customer")
#: how many merged reasons' words are added to the leading reason's
_WORDS = 2


def matter_of(reason_kind) -> str:
    """The matter of a reason kind (an alert kind, ``whisper:...``, ``no_word:order``,
    ``at_risk``...)."""
    if reason_kind in REQUEST_KINDS or reason_kind == "no_word:request":
        return "request"
    if reason_kind in ORDER_KINDS or reason_kind == "no_word:order":
        return "order"
    if str(reason_kind).startswith("council:"):
        return "council"
    return "customer"


#: the evidence table of each matter with an id of its own
_MATTER_TABLES = {"request": "requests", "order": "orders"}


def matter_ids(matter: pd.Series, evidence: pd.Series) -> pd.Series:
    """The id of the request or order each item is about: the first row of its
    evidence (``requests:R1,R2 orders:O3``) in the matter's table; empty for the
    customer as a whole."""
    out = []
    for m, ev in zip(matter, evidence, strict=True):
        table = _MATTER_TABLES.get(m)
        found = None
        if table and isinstance(ev, str):
            for part in ev.split():
                name, _, ids = part.partition(":")
                if name == table and ids:
                    found = ids.split(",")[0]
                    break
        out.append(found)
    return pd.Series(out, index=matter.index, dtype=object)


def matters(reason_kinds: pd.Series) -> pd.Series:
    """:func:`matter_of` of every reason kind in a column."""
    return reason_kinds.map(matter_of).astype(object)


def lead_first(cand: pd.DataFrame) -> pd.DataFrame:
    """Candidates ordered so that the first row of each (customer, matter) leads: must-do
    first, then an item already open, then the playbook's place in the file."""
    return cand.sort_values(["customer_id", "matter", "must_do", "is_open", "order"],
                            ascending=[True, True, False, False, True], kind="stable")


def merge(cand: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per customer and matter: the leading candidate, with ``also`` (the other
    playbooks of the matter, comma-separated) and their words added to ``why``; and the
    candidates merged into another, each with ``into`` (the leader's key)."""
    if cand.empty:
        return cand.assign(also=pd.Series(dtype=object)), cand.assign(
            into=pd.Series(dtype=object))
    c = lead_first(cand)
    leads = ~c.duplicated(["customer_id", "matter"])
    lead_key = c["key"].where(leads).ffill()
    merged = c[~leads].assign(into=lead_key[~leads])
    by = merged.groupby("into", sort=False)
    also = by["playbook"].agg(lambda s: ",".join(dict.fromkeys(s)))
    words = by["why"].agg(lambda s: list(
        dict.fromkeys(str(w) for w in s.head(_WORDS) if isinstance(w, str) and w)))
    lead = c[leads].copy()
    lead["also"] = lead["key"].map(also).astype(object)
    # the merged playbooks' words, less those the leader already says (two playbooks
    # citing the same comment would otherwise show it twice)
    extra = pd.Series([
        "; ".join(x for x in ws if not (isinstance(w, str) and x in w))
        if isinstance(ws, list) else None
        for w, ws in zip(lead["why"], lead["key"].map(words), strict=True)],
        index=lead.index, dtype=object)
    has = (extra.notna() & (extra != "")).astype(bool)
    if has.any():
        lead["why"] = lead["why"].astype(object)
        lead.loc[has, "why"] = [f"{w if isinstance(w, str) else ''} Also: {x}".strip()
                                for w, x in zip(lead.loc[has, "why"], extra[has], strict=True)]
    return lead, merged
