"""The worklist plan's pieces that a full run reaches only in rare states."""

from __future__ import annotations

import pandas as pd

from loyalist.decisions.worklist.plan import absorbed_reasons


def _lead(rows):
    return pd.DataFrame(rows, columns=["key", "customer_id", "playbook", "is_open", "also",
                                       "why"])


ITEMS = pd.DataFrame({"item_id": ["W1", "W2"], "customer_id": ["c1", "c2"],
                      "playbook": ["win_back", "win_back"], "also": ["", "late"]})


def test_open_items_that_grew_absorb_reasons():
    lead = _lead([["c1\x1fwin_back", "c1", "win_back", True, "late,billing", "w"],
                  ["c2\x1fwin_back", "c2", "win_back", True, "late", "w"],
                  ["c3\x1fwin_back", "c3", "win_back", False, "late", "w"]])
    got = absorbed_reasons(lead, ITEMS)
    assert got["item_id"].tolist() == ["W1"]
    assert got["customer_id"].tolist() == ["c1"]


def test_no_open_item_among_the_candidates_keeps_the_columns():
    """Open items whose reasons are all gone: nothing absorbed, and the frame keeps its
    columns (an empty list as a selector once gave a frame with none, and the run failed
    with KeyError 'customer_id')."""
    lead = _lead([["c3\x1fwin_back", "c3", "win_back", False, "late", "w"]])
    got = absorbed_reasons(lead, ITEMS)
    assert got.empty
    assert {"customer_id", "playbook", "why", "also", "item_id"} <= set(got.columns)
    assert absorbed_reasons(lead, ITEMS[:0]).columns.tolist()[-1] == "item_id"
