"""The customer council: a panel that represents the customer base, meeting on a
schedule, whose every point raised and commitment made is recorded and kept.

- :func:`suggest`: a panel of ``[council] size`` current customers representing the
  base (seats per segment by largest remainder, then a balanced mix of regions, tenure
  and size inside each), mixing advocates with valuable customers at risk, each pick
  explained in plain words; the firm confirms members (:func:`confirm`).
- :func:`record_meeting`, :func:`attend`, :func:`raise_point`, :func:`commit` (an owner
  and a due date: the worklist opens an item for the owner), :func:`close` ("you said,
  we did"), :func:`leave`: append-only records in the store.
- :func:`council_state`: members with their attendance, meetings, points, commitments
  and the whispers (a member who stopped attending; a promise overdue).

- :func:`run_action` (:mod:`loyalist.council.actions`): one runner for the
  sub-commands, with the same JSON answer and words for ``loyalist council``, the web
  page /council and its API.

``loyalist council``, the web page /council and docs/council.md are built on these.
"""

from __future__ import annotations

import pandas as pd

from loyalist.council.actions import Outcome, run_action
from loyalist.council.base import customer_base, latest_date
from loyalist.council.panel import BASE_COLUMNS, quotas, suggest_panel
from loyalist.council.records import (
    attend,
    check_customers,
    close,
    commit,
    confirm,
    current_members,
    due_commitments,
    has_council,
    leave,
    raise_point,
    record_meeting,
)
from loyalist.council.state import WHISPER_KINDS, Council, council_state, member_council


def suggest(store, *, size: int | None = None, as_of=None, seed: int = 0) -> pd.DataFrame:
    """A suggested panel (:func:`~loyalist.council.panel.suggest_panel`) over the
    store's current customers, leaving out the members already confirmed (the panel
    fills the seats they leave: ``size`` counts them)."""
    settings = store.settings.council
    size = int(settings.size if size is None else size)
    base = customer_base(store, as_of, settings)
    members = current_members(store) if has_council(store) else set()
    free = max(size - len(members), 0)
    panel = suggest_panel(base[~base["customer_id"].isin(members)], settings, size=free,
                          seed=seed)
    names = base.set_index("customer_id")["name"]
    return panel.assign(name=panel["customer_id"].map(names))


__all__ = ["BASE_COLUMNS", "WHISPER_KINDS", "Council", "Outcome", "attend", "check_customers", "close",
           "commit", "confirm", "council_state", "current_members", "customer_base",
           "due_commitments", "has_council", "latest_date", "leave", "member_council", "quotas",
           "raise_point", "record_meeting", "run_action", "suggest", "suggest_panel"]
