"""Survey answers (NPS, satisfaction, trust, commitment, comments) and portal usage."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loyalist.datasets import _text as tx
from loyalist.datasets._common import day_time, pick
from loyalist.datasets._customers import Customers
from loyalist.datasets._orders import drift_progress

SURVEY_EVERY = 91.0  # days between invitations
COMMENT_P, COMMENT_P_DETRACTOR = 0.3, 0.55
ITEM_MISSING = 0.04
#: spread of an NPS answer around the customer's expected answer
NPS_NOISE = 1.2
LOGIN_WEEKEND_KEEP = 0.2
#: a survey answer this many days or fewer after a request rates it (``request_id``)
RATES_REQUEST_DAYS = 14.0


def _periodic(rng, start: np.ndarray, end: np.ndarray, every: float):
    """Rows (customer, time) every ``every`` days from a random phase in [start, end)."""
    first = start + rng.random(len(start)) * every
    counts = np.where(end > first, np.floor((end - first) / every) + 1, 0).astype(np.int64)
    cust = np.repeat(np.arange(len(start)), counts)
    begin = np.repeat(np.cumsum(counts) - counts, counts)
    j = np.arange(len(cust)) - begin
    return cust, first[cust] + every * j


def _likert(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 1, 5)


def expected_nps(attitude: np.ndarray, strain: np.ndarray, progress: np.ndarray
                 ) -> np.ndarray:
    """The NPS a customer would give, before answer noise: attitude, lowered by recent
    service failures (``strain``, the hazard's service load) and by the drift."""
    return 7.4 + 1.3 * attitude - 1.1 * np.minimum(strain, 4.0) - 4.5 * progress


def feedback(rng: np.random.Generator, c: Customers, load: np.ndarray, edges: np.ndarray,
             decision: np.ndarray, departure: np.ndarray, warned: np.ndarray,
             reason: np.ndarray, as_of: float) -> dict[str, object]:
    """Answers to quarterly surveys, while the customer is a customer."""
    end = np.minimum(np.nan_to_num(departure, nan=np.inf), as_of)
    cust, invited = _periodic(rng, np.maximum(c.created, 0.0), end, SURVEY_EVERY)
    answers = rng.random(len(cust)) < c.survey_response[cust]
    cust, invited = cust[answers], invited[answers]
    t, _ = day_time(rng, invited + rng.exponential(2.0, len(cust)), 0, 1.0)
    keep = t < end[cust]
    cust, t = cust[keep], t[keep]
    order = np.argsort(t)
    cust, t = cust[order], t[order]
    m = len(t)

    month = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, load.shape[1] - 1)
    strain = load[cust, month]
    progress = drift_progress(t, decision[cust], departure[cust], warned[cust])
    latent = expected_nps(c.attitude[cust], strain, progress) + rng.normal(0, NPS_NOISE, m)
    nps = np.clip(np.round(latent), 0, 10)
    sat = _likert(3.3 + 0.45 * (latent - 7) + rng.normal(0, 0.6, m))
    trust = _likert(3.5 + 0.3 * (latent - 7) - 0.45 * strain + rng.normal(0, 0.6, m))
    commit = _likert(3.4 + 0.3 * (latent - 7) - 1.5 * progress + rng.normal(0, 0.6, m))
    items = []
    for x in (nps, sat, trust, commit):
        items.append(np.where(rng.random(m) < ITEM_MISSING, np.nan, x))

    band = np.where(nps >= 9, 0, np.where(nps >= 7, 1, 2))
    says = rng.random(m) < np.where(band == 2, COMMENT_P_DETRACTOR, COMMENT_P)
    flat = [s for b in ("promoter", "passive", "detractor") for s in tx.COMMENTS[b]]
    size = np.array([len(tx.COMMENTS[b]) for b in ("promoter", "passive", "detractor")])
    offset = np.cumsum(size) - size
    general = offset[band] + np.floor(rng.random(m) * size[band]).astype(np.int64)
    drift_flat = [s for r in tx.REASONS for s in tx.DRIFT_COMMENTS[r]]
    dsize = np.array([len(tx.DRIFT_COMMENTS[r]) for r in tx.REASONS])
    doffset = np.cumsum(dsize) - dsize
    rs = np.maximum(reason[cust], 0)
    specific = doffset[rs] + np.floor(rng.random(m) * dsize[rs]).astype(np.int64)
    drifting = (progress > 0.15) & (rng.random(m) < 0.7)
    comment = pc.if_else(pa.array(drifting), pick(drift_flat, specific), pick(flat, general))
    comment = pc.if_else(pa.array(says), comment, pa.scalar(None, pa.string()))
    return {"cust": cust, "t": t, "nps": items[0], "satisfaction": items[1],
            "trust": items[2], "commitment": items[3], "comment": comment}


def rated_request(cust: np.ndarray, t: np.ndarray, req_cust: np.ndarray, req_t: np.ndarray,
                  within: float = RATES_REQUEST_DAYS) -> np.ndarray:
    """Per answer: the row of the customer's latest request opened at most ``within`` days
    before it (the one the answer rates), -1: none."""
    if len(req_t) == 0 or len(t) == 0:
        return np.full(len(t), -1)
    span = float(max(np.max(req_t), np.max(t)) - min(np.min(req_t), np.min(t))) + 2 * within
    key = req_cust * span + req_t
    order = np.argsort(key, kind="stable")
    pos = np.searchsorted(key[order], cust * span + t, side="left") - 1
    row = order[np.maximum(pos, 0)]
    ok = (pos >= 0) & (req_cust[row] == cust) & (req_t[row] < t) & (t - req_t[row] <= within)
    return np.where(ok, row, -1)


def credit_agents(rng: np.random.Generator, satisfaction: np.ndarray, rated: np.ndarray,
                  agent: np.ndarray, skill: np.ndarray) -> np.ndarray:
    """Satisfaction of answers rating a request moved by SKILL_SATISFACTION x the skill of
    the agent who handled it (randomly rounded to whole points, kept on 1-5)."""
    from loyalist.datasets._service import SKILL_SATISFACTION

    who = np.where(rated >= 0, agent[np.maximum(rated, 0)], -1)
    shift = np.where(who >= 0, SKILL_SATISFACTION * skill[np.maximum(who, 0)], 0.0)
    step = np.floor(shift) + (rng.random(len(shift)) < shift - np.floor(shift))
    return np.where(np.isnan(satisfaction), np.nan, np.clip(satisfaction + step, 1, 5))


def events(rng: np.random.Generator, c: Customers, decision: np.ndarray,
           departure: np.ndarray, warned: np.ndarray, as_of: float,
           weekday0: int) -> dict[str, object]:
    """Portal logins (value: minutes) and report exports (value: rows) of subscribers."""
    subs = np.flatnonzero(c.subscriber)
    start = np.maximum(c.created[subs], 0.0)
    end = np.minimum(np.nan_to_num(departure[subs], nan=np.inf), as_of)
    span = np.clip(end - start, 0.0, None)
    out_c, out_t, out_k = [], [], []
    for kind, share in ((0, 1.0), (1, 0.15)):
        rate = c.usage_rate[subs] * share / (5 / 7 + 2 / 7 * LOGIN_WEEKEND_KEEP)
        counts = rng.poisson(rate * span)
        row = np.repeat(np.arange(len(subs)), counts)
        t = start[row] + rng.random(len(row)) * span[row]
        t, keep = day_time(rng, t, weekday0, LOGIN_WEEKEND_KEEP)
        keep &= t < end[row]
        cust = subs[row]
        progress = drift_progress(t, decision[cust], departure[cust], warned[cust])
        keep &= rng.random(len(t)) >= 0.9 * progress
        out_c.append(cust[keep])
        out_t.append(t[keep])
        out_k.append(np.full(keep.sum(), kind))
    cust, t, kind = np.concatenate(out_c), np.concatenate(out_t), np.concatenate(out_k)
    order = np.argsort(t)
    cust, t, kind = cust[order], t[order], kind[order]
    minutes = np.round(rng.lognormal(np.log(12.0), 0.8, len(t)), 1)
    rows = 1.0 + rng.poisson(150.0, len(t))
    return {"cust": cust, "t": t, "type": pick(("login", "report_export"), kind),
            "value": np.where(kind == 0, minutes, rows)}
