"""Service requests: categories, routing (some misrouted), responses and call-backs.

Organic requests are drawn over each customer's possible life first, with their call-backs,
so that their failures feed the hazard of leaving. Once departures are known, drifting
customers add their own requests (complaints, cancellations, competitor offers), and
everything after departure or after the end of the observed period is cut.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loyalist.datasets import _text as tx
from loyalist.datasets._common import (
    choice,
    choice_rows,
    day_time,
    fill_slot,
    join,
    pick,
    poisson_times,
    working_hours,
)
from loyalist.datasets._customers import Customers

_CAT = {name: i for i, name in enumerate(tx.CATEGORIES)}
_TEAM = {name: i for i, name in enumerate(tx.TEAMS)}
#: index of the right team of each category
RIGHT_TEAM = np.array([_TEAM[tx.CATEGORY_TEAM[c]] for c in tx.CATEGORIES])
CATEGORY_P = np.array([0.18, 0.2, 0.17, 0.1, 0.08, 0.1, 0.1, 0.07])
CHANNEL_P = (0.35, 0.4, 0.12, 0.13)
CHANNEL_HOURS = np.array([0.05, 6.0, 0.3, 10.0])  # median first response by channel
TEAM_UNANSWERED = np.array([0.06, 0.05, 0.04, 0.05, 0.08, 0.03])
TEAM_SLOW = np.array([1.5, 1.0, 1.0, 1.2, 1.3, 0.8])
#: where misrouted requests end up (Sales and Customer Care get most of them)
WRONG_TEAM_W = np.array([0.08, 0.08, 0.3, 0.08, 0.4, 0.06])
MISROUTE_P, MISROUTE_P_CALLBACK = 0.12, 0.06
MISROUTED_UNANSWERED, MISROUTED_SLOW = 0.18, 4.0
UNRESOLVED_P, MISROUTED_UNRESOLVED = 0.07, 0.12
RESOLVE_DAYS = np.array([2.0, 1.5, 0.5, 1.5, 0.5, 1.0, 3.0, 1.0])
#: chance of calling back when the matter is still open: no answer yet / answered only
CALLBACK_P_UNANSWERED, CALLBACK_P_UNRESOLVED = 0.7, 0.4
CALLBACK_LEVELS = 3
PARENT_LINK_P = 0.35  # share of call-backs whose source system records the parent
#: a new contact in the category of a matter the customer raised at most this many days
#: before and that is still open is, with this chance, about that matter (a call-back);
#: otherwise a new matter. Drifting customers always chase the open matter.
REPEAT_DAYS, REPEAT_P = 28.0, 0.7
WEEKEND_KEEP = 0.25
#: how an agent's skill (true quality x effect, in standard deviations) changes the
#: handling: P(no answer), hours to the first answer and P(unresolved) are multiplied by
#: exp(-k x skill); the satisfaction of answers rating the request rises by SKILL_SATISFACTION
#: x skill points (make_business(agent_quality=...))
SKILL_UNANSWERED, SKILL_HOURS, SKILL_UNRESOLVED, SKILL_SATISFACTION = 0.5, 0.6, 0.6, 0.6

_AGENTS = [a for team in tx.TEAMS for a in tx.AGENTS[team]]
_AGENT_OFFSET = np.cumsum([0] + [len(tx.AGENTS[t]) for t in tx.TEAMS])[:-1]
_AGENT_COUNT = np.array([len(tx.AGENTS[t]) for t in tx.TEAMS])

_KIND = {"order": 0, "invoice": 1, "product": 2, "feature": 3, "": 4, "competitor": 5}
#: every template, organic then drift: (category, subject, body, kind of {ref})
_TEMPLATES = [(_CAT[c], s, b, _KIND[tx.REF_KIND[c]])
              for c in tx.CATEGORIES for s, b in tx.TEMPLATES[c]]
_T_OFFSET = np.cumsum([0] + [len(tx.TEMPLATES[c]) for c in tx.CATEGORIES])[:-1]
_T_COUNT = np.array([len(tx.TEMPLATES[c]) for c in tx.CATEGORIES])
_D_OFFSET = len(_TEMPLATES) + np.cumsum(
    [0] + [len(tx.DRIFT_TEMPLATES[r]) for r in tx.REASONS])[:-1]
_D_COUNT = np.array([len(tx.DRIFT_TEMPLATES[r]) for r in tx.REASONS])
_TEMPLATES += [(_CAT[c], s, b, _KIND["competitor"])
               for r in tx.REASONS for c, s, b in tx.DRIFT_TEMPLATES[r]]
_T_KIND = np.array([k for *_, k in _TEMPLATES])
_T_CATEGORY = np.array([c for c, *_ in _TEMPLATES])


@dataclass
class Requests:
    cust: np.ndarray
    t: np.ndarray
    category: np.ndarray
    channel: np.ndarray
    team: np.ndarray
    misrouted: np.ndarray
    responded: np.ndarray  # NaN: never answered
    resolved: np.ndarray  # NaN: never resolved
    agent: np.ndarray  # -1: nobody
    parent: np.ndarray  # row of the contact this one calls back about, -1: none
    root: np.ndarray  # row of the first contact of the chain
    linked: np.ndarray  # the source system records the parent
    whisper: np.ndarray  # request made because the customer is drifting away
    template: np.ndarray  # the matter: index into _TEMPLATES ...
    ref: np.ndarray  # ... and the number of the order, invoice, product... it names
    greeting: np.ndarray
    closing: np.ndarray
    opener: np.ndarray  # call-back opener, -1: first contact
    prefix: np.ndarray  # call-back subject prefix, -1: first contact
    no_subject: np.ndarray

    def __len__(self) -> int:
        return len(self.t)

    def take(self, idx: np.ndarray) -> Requests:
        return Requests(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


def _handle(rng: np.random.Generator, category: np.ndarray, channel: np.ndarray,
            t: np.ndarray, callback: bool, weekday0: int,
            skill: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Routing, first response, resolution and agent of new contacts.

    ``skill`` (per agent, the true quality times the effect; None: every agent alike)
    draws the agent first and makes a better one answer more often and sooner and
    leave fewer matters unresolved (so fewer call-backs)."""
    m = len(t)
    right = RIGHT_TEAM[category]
    misrouted = rng.random(m) < (MISROUTE_P_CALLBACK if callback else MISROUTE_P)
    w = np.broadcast_to(WRONG_TEAM_W, (m, len(tx.TEAMS))).copy()
    w[np.arange(m), right] = 0.0
    team = np.where(misrouted, choice_rows(rng, w), right)
    if skill is not None:
        agent = (_AGENT_OFFSET[team]
                 + np.floor(rng.random(m) * _AGENT_COUNT[team]).astype(np.int64))
        s = skill[agent]
    else:
        s = np.zeros(m)
    p_none = (TEAM_UNANSWERED[team] + MISROUTED_UNANSWERED * misrouted) * np.exp(
        -SKILL_UNANSWERED * s)
    if callback:
        p_none = p_none * 0.6
    answered = rng.random(m) >= p_none
    hours = (rng.lognormal(np.log(CHANNEL_HOURS[channel]), 1.0)
             * TEAM_SLOW[team] * np.where(misrouted, MISROUTED_SLOW, 1.0)
             * np.exp(-SKILL_HOURS * s))
    responded = working_hours(t + hours / 24.0, weekday0, rng)
    responded = np.where(answered, responded, np.nan)
    unresolved = rng.random(m) < (UNRESOLVED_P + MISROUTED_UNRESOLVED * misrouted) * np.exp(
        -SKILL_UNRESOLVED * s)
    days = rng.lognormal(np.log(RESOLVE_DAYS[category]), 1.0)
    resolved = working_hours(responded + days * np.where(misrouted, 2.0, 1.0), weekday0, rng)
    resolved = np.where(answered & ~unresolved, resolved, np.nan)
    if skill is None:
        agent = (_AGENT_OFFSET[team]
                 + np.floor(rng.random(m) * _AGENT_COUNT[team]).astype(np.int64))
    return {"team": team, "misrouted": misrouted, "responded": responded,
            "resolved": resolved, "agent": np.where(answered, agent, -1)}


_REF_RANGE = np.array([10**7, 900000, len(tx.PRODUCTS), len(tx.FEATURES), 1,
                       len(tx.COMPETITORS)])


def _new(rng, cust, t, template, channel, whisper, weekday0, skill=None) -> Requests:
    """First contacts about a matter: routed, answered (or not) and resolved (or not)."""
    m = len(t)
    category = _T_CATEGORY[template]
    h = _handle(rng, category, channel, t, False, weekday0, skill)
    return Requests(
        cust=cust, t=t, category=category, channel=channel, parent=np.full(m, -1),
        root=np.arange(m), linked=np.zeros(m, bool), whisper=whisper, template=template,
        ref=np.floor(rng.random(m) * _REF_RANGE[_T_KIND[template]]).astype(np.int64),
        greeting=rng.integers(0, len(tx.GREETINGS), m),
        closing=rng.integers(0, len(tx.CLOSINGS), m),
        opener=np.full(m, -1), prefix=np.full(m, -1),
        no_subject=(channel == 0) & (rng.random(m) < 0.4), **h)


def organic(rng: np.random.Generator, c: Customers, t_end: float, weekday0: int,
            skill: np.ndarray | None = None) -> Requests:
    """Everyday requests of every customer from acquisition to ``t_end``."""
    rate = c.request_rate / (5 / 7 + 2 / 7 * WEEKEND_KEEP)
    cust, t = poisson_times(rng, rate, np.maximum(c.created, 0.0), np.full(c.n, t_end))
    t, keep = day_time(rng, t, weekday0, WEEKEND_KEEP)
    cust, t = cust[keep], t[keep]
    m = len(t)
    p = np.broadcast_to(CATEGORY_P, (m, len(CATEGORY_P))).copy()
    p[:, _CAT["technical"]] *= np.where(c.subscriber[cust], 3.0, 1.0)
    category = choice_rows(rng, p)
    template = _T_OFFSET[category] + np.floor(rng.random(m) * _T_COUNT[category]).astype(int)
    channel = choice(rng, CHANNEL_P, m)
    return _new(rng, cust, t, template, channel, np.zeros(m, bool), weekday0, skill)


def with_callbacks(rng: np.random.Generator, r: Requests, weekday0: int,
                   skill: np.ndarray | None = None) -> Requests:
    """Add the contacts customers make again about matters still open."""
    parts = [r]
    level, offset = r, 0
    for depth in range(CALLBACK_LEVELS):
        m = len(level)
        when, _ = day_time(rng, level.t + 2.0 + rng.gamma(2.0, 2.5, m), weekday0, 1.0)
        unanswered = ~(level.responded <= when)
        unresolved = ~(level.resolved <= when)
        p = np.where(unanswered, CALLBACK_P_UNANSWERED,
                     np.where(unresolved, CALLBACK_P_UNRESOLVED, 0.0)) * (0.8 ** depth)
        go = np.flatnonzero(rng.random(m) < p)
        if len(go) == 0:
            break
        k = len(go)
        when = when[go]
        channel = np.where(rng.random(k) < 0.55, 0, level.channel[go])
        category = level.category[go]
        h = _handle(rng, category, channel, when, True, weekday0, skill)
        nxt = Requests(
            cust=level.cust[go], t=when, category=category, channel=channel,
            parent=go + offset, root=level.root[go], linked=rng.random(k) < PARENT_LINK_P,
            whisper=level.whisper[go], template=level.template[go], ref=level.ref[go],
            greeting=rng.integers(0, len(tx.GREETINGS), k),
            closing=rng.integers(0, len(tx.CLOSINGS), k),
            opener=rng.integers(0, len(tx.CALLBACK_OPENERS), k),
            prefix=rng.integers(0, len(tx.CALLBACK_SUBJECTS), k),
            no_subject=(channel == 0) & (rng.random(k) < 0.4), **h)
        offset += m
        parts.append(nxt)
        level = nxt
    # parents index the concatenation, roots its first part: no shifting needed
    return Requests(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                       for f in fields(Requests)})


def cite_orders(r: Requests, order_cust: np.ndarray, order_t: np.ndarray) -> None:
    """Make contacts about an order name the customer's latest order before them.

    Orders are numbered 1, 2, ... in the order of ``order_t``, as their ids are. Contacts
    of customers without an earlier order cite a number the firm never issued; call-backs cite what the
    first contact of their chain cited. ``r`` must be observed (roots are positions).
    """
    if len(order_t) == 0:
        return
    by = np.lexsort((order_t, order_cust))
    scale = float(np.ceil(max(order_t.max(), r.t.max() if len(r) else 0.0) + 1))
    key = order_cust[by] * scale + order_t[by]
    first = r.parent < 0
    about = np.flatnonzero(first & (_T_KIND[r.template] == _KIND["order"]))
    pos = np.searchsorted(key, r.cust[about] * scale + r.t[about], side="left") - 1
    ok = (pos >= 0) & (order_cust[by][np.maximum(pos, 0)] == r.cust[about])
    r.ref[about[ok]] = by[pos[ok]] + 1
    r.ref[about[~ok]] += 50_000_000  # beyond the firm's own numbers: no false matches
    r.ref[~first] = r.ref[r.root[~first]]  # a call-back is about the same order


def render(r: Requests) -> tuple[pa.Array, pa.Array]:
    """Subject and text of each contact, from its matter and its dressing."""
    m = len(r)
    kind = _T_KIND[r.template]
    num = pa.array(r.ref).cast(pa.string())
    empty = pa.array(np.full(m, ""), pa.string())
    ref = pc.choose(
        pa.array(kind.astype(np.int8)),
        join("O", pc.utf8_lpad(num, 8, "0")),
        join("INV-", pa.array(r.ref + 100000).cast(pa.string())),
        pick(tx.PRODUCTS, np.minimum(r.ref, len(tx.PRODUCTS) - 1)),
        pick(tx.FEATURES, np.minimum(r.ref, len(tx.FEATURES) - 1)),
        empty,
        pick(tx.COMPETITORS, np.minimum(r.ref, len(tx.COMPETITORS) - 1)),
    )
    core = fill_slot([b for _, _, b, _ in _TEMPLATES], r.template, ref)
    opener = pick(("",) + tx.CALLBACK_OPENERS, r.opener + 1)
    text = join(pick(tx.GREETINGS, r.greeting), opener, core, pick(tx.CLOSINGS, r.closing))
    subject = join(pick(("",) + tx.CALLBACK_SUBJECTS, r.prefix + 1),
                   fill_slot([s for _, s, _, _ in _TEMPLATES], r.template, ref))
    subject = pc.if_else(pa.array(r.no_subject), pa.scalar(None, pa.string()), subject)
    return subject, text


def failures(r: Requests) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Service failures as (customer, day, weight) for the hazard's service load."""
    never = np.isnan(r.responded)
    slow = ~never & (r.responded - r.t > 2.0)
    open_ = ~never & np.isnan(r.resolved)
    cb = r.parent >= 0
    cust = np.concatenate([r.cust[never], r.cust[slow], r.cust[open_], r.cust[cb]])
    when = np.concatenate([r.t[never] + 3.0, r.responded[slow], r.t[open_] + 10.0, r.t[cb]])
    weight = np.concatenate([np.full(never.sum(), 1.0), np.full(slow.sum(), 0.3),
                             np.full(open_.sum(), 0.5), np.full(cb.sum(), 0.5)])
    return cust, when, weight


def whispers(rng: np.random.Generator, c: Customers, decision: np.ndarray,
             departure: np.ndarray, warned: np.ndarray, reason: np.ndarray,
             weekday0: int, skill: np.ndarray | None = None) -> Requests:
    """Requests of drifting customers between their decision and their departure."""
    rows = np.flatnonzero(warned)
    cust = np.repeat(rows, rng.poisson(1.6, len(rows)))
    m = len(cust)
    t = decision[cust] + rng.random(m) * (departure[cust] - decision[cust])
    t, _ = day_time(rng, t, weekday0, 1.0)
    t = np.clip(t, decision[cust] + 0.01, departure[cust] - 0.01)
    r = reason[cust]
    template = _D_OFFSET[r] + np.floor(rng.random(m) * _D_COUNT[r]).astype(np.int64)
    channel = choice(rng, CHANNEL_P, m)
    return _new(rng, cust, t, template, channel, np.ones(m, bool), weekday0, skill)


def absorb_repeats(rng: np.random.Generator, r: Requests, whispers_only: bool) -> Requests:
    """Turn first contacts on a still-open matter of the same category into call-backs.

    The contact keeps its time, channel and handling; an everyday one takes the matter's
    words (and a call-back opener), a drifting customer's keeps its own complaint.
    """
    n = len(r)
    by = np.lexsort((r.t, r.category, r.cust))
    x, y = by[1:], by[:-1]  # each contact and the one before it in the same (customer, cat)
    same = (r.cust[x] == r.cust[y]) & (r.category[x] == r.category[y])
    still_open = ~(r.resolved[y] <= r.t[x])
    near = r.t[x] - r.t[y] <= REPEAT_DAYS
    first = r.parent[x] < 0
    eligible = r.whisper[x] if whispers_only else ~r.whisper[x]
    repeat = same & still_open & near & first & eligible
    repeat &= r.whisper[x] | (rng.random(len(x)) < REPEAT_P)
    x, y = x[repeat], y[repeat]
    r.parent[x] = y
    r.linked[x] = rng.random(len(x)) < PARENT_LINK_P
    words = ~r.whisper[x]
    xw, yw = x[words], y[words]
    r.template[xw], r.ref[xw] = r.template[yw], r.ref[yw]
    r.opener[xw] = rng.integers(0, len(tx.CALLBACK_OPENERS), len(xw))
    r.prefix[x] = rng.integers(0, len(tx.CALLBACK_SUBJECTS), len(x))
    # roots follow the parents up to the first contact of each chain
    root = np.where(r.parent >= 0, r.parent, np.arange(n))
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    r.root = root
    return r


def observe(r: Requests, departure: np.ndarray, as_of: float) -> Requests:
    """Contacts made before departure and before ``as_of``, sorted by time."""
    gone = np.nan_to_num(departure, nan=np.inf)[r.cust]
    keep = np.flatnonzero((r.t < gone) & (r.t < as_of))
    keep = keep[np.argsort(r.t[keep])]
    position = np.full(len(r), -1)
    position[keep] = np.arange(len(keep))
    out = r.take(keep)
    out.parent = np.where(out.parent >= 0, position[np.maximum(out.parent, 0)], -1)
    out.root = position[out.root]
    return out


def merge(a: Requests, b: Requests) -> Requests:
    """The contacts of ``a`` then ``b``, their links kept."""
    out = {f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)])
           for f in fields(Requests)}
    for key in ("parent", "root"):
        links = getattr(b, key)
        out[key][len(a):] = np.where(links >= 0, links + len(a), -1)
    return Requests(**out)
