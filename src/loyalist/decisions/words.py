"""Plain words for people: counts with their unit in the right number, durations,
and the names of alert kinds, reason families and playbooks as a person says them.

>>> count(1, "day"), count(12, "day"), count(1.0, "request"), count(3, "reply", "replies")
('1 day', '12 days', '1 request', '3 replies')
>>> duration(0.4), duration(1), duration(2.5), duration(40.2)
('10 hours', '1 day', '2.5 days', '40 days')
>>> kind_words("call_back_unanswered"), family_words("profile:customer_tenure_days")
('call-back unanswered', 'how long they have been a customer')
"""

from __future__ import annotations

import math
import re

#: alert kinds in words
KINDS = {
    "unanswered_request": "request unanswered past its target",
    "repeated_contact": "contacted us again, still unresolved",
    "cancel_words": "wrote of cancelling",
    "competitor_words": "mentioned a competitor",
    "complaint_words": "complained",
    "unhappy_words": "wrote like an unhappy customer",
    "not_acknowledged": "order never acknowledged",
    "acknowledged_late": "order acknowledged late",
    "late_against_promise": "order late against its promise",
    "not_followed_up": "order not followed up",
    "detractor": "gave a low score",
    "stay_in_touch": "no contact for too long",
    "call_back_unanswered": "call-back unanswered",
    "no_word:request": "no word on an open request",
    "no_word:order": "no word on an open order",
    "named_competitor": "named a competitor",
}
#: reason families in words
FAMILIES = {
    "purchase": "purchase rhythm", "service": "service", "words": "what they wrote",
    "follow_through": "follow-through on orders", "feedback": "survey answers",
    "usage": "use of the product", "subscription": "subscription", "value": "value model",
    "overall": "overall risk", "profile": "who they are",
}
#: the customer's own attributes with a name of their own
PROFILE = {"customer_tenure_days": "how long they have been a customer"}


def _number(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.1f}"


def count(n, unit: str, plural: str | None = None) -> str:
    """``n`` with ``unit`` in the right number ('1 day', '2 days'); '?' when unknown."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return f"? {plural or unit + 's'}"
    n = round(float(n), 1)
    return f"{_number(n)} {unit if n == 1 else (plural or unit + 's')}"


def duration(days) -> str:
    """A span given in days, as a person says it: hours under a day, one decimal
    under ten days (when not whole), whole days above."""
    if days is None or (isinstance(days, float) and math.isnan(days)):
        return "an unknown time"
    days = float(days)
    if days < 1:
        return count(max(1, round(days * 24)), "hour")
    if days < 10:
        return count(round(days, 1), "day")
    return count(round(days), "day")


def name_words(name: str) -> str:
    """An internal name in words: ``customer_tenure_days`` -> 'customer tenure days'."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return re.sub(r"[_\s]+", " ", text).strip().lower()


def kind_words(kind: str | None) -> str:
    """An alert kind (or a worklist reason kind) in words."""
    if not kind:
        return ""
    return KINDS.get(kind) or name_words(kind)


def family_words(family: str | None) -> str:
    """A reason family in words (``profile:<column>`` names the column)."""
    if not family:
        return ""
    if family.startswith("profile:"):
        col = family.split(":", 1)[1]
        return PROFILE.get(col) or name_words(col)
    return FAMILIES.get(family) or name_words(family)


def article(word: str) -> str:
    """'a' or 'an' before ``word`` ('an agent', 'a viewer')."""
    return "an" if str(word)[:1].lower() in "aeiou" else "a"


__all__ = ["article", "count", "duration", "family_words", "kind_words", "name_words"]
