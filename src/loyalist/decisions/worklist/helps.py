"""How much contact helps, per playbook: the prior shrunk towards what the control
groups measured."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from loyalist.errors import DataError
from loyalist.settings.worklist import Playbooks
from loyalist.store.worklist import assignments

__all__ = ["helps_factors"]


def helps_factors(store, playbooks: Playbooks, as_of=None) -> dict[str, float]:
    """Per playbook, how much contact helps: the prior ``contact_helps`` shrunk towards
    the saved rate measured against the control group.

    The saved rate is the share of would-be leavers that outreach kept,
    ``uplift / (1 - retention of the control group)``, clipped to [0, 1]; it gets the
    weight ``n / (n + prior_strength)`` with ``n`` the smaller arm.
    """
    prior = {p.name: p.contact_helps for p in playbooks}
    window = playbooks.settings.window_days
    if as_of is not None:
        a = assignments(store)
        ended = a.filter(a.assigned_at + ibis.interval(days=int(window))
                         <= pd.Timestamp(as_of).to_pydatetime()).count().execute()
    else:
        ended = 1
    if not ended:
        return prior
    from loyalist.decisions.worklist.impact import measure_impact

    try:
        t = measure_impact(store, window_days=window, as_of=as_of).table
    except DataError:
        return prior
    k = playbooks.settings.prior_strength
    out = dict(prior)
    for r in t[t["playbook"] != "overall"].itertuples(index=False):
        if r.playbook not in out or min(r.n_treated, r.n_control) == 0:
            continue
        base = r.retained_control / r.n_control
        saved = float(np.clip(r.uplift / max(1 - base, 1e-9), 0, 1))
        n = min(r.n_treated, r.n_control)
        out[r.playbook] = (k * prior[r.playbook] + n * saved) / (k + n)
    return out
