"""Per-customer service signals and alerts at a moment, with their evidence rows.

These feed the early-warning model (as features) and the whispers and worklist
(as alerts that need no model): unanswered requests and their age, call-backs,
experienced response times, misrouted requests, order follow-through failures, and
texts that speak of complaining, cancelling or a competitor.
"""

from __future__ import annotations

from datetime import datetime

import ibis
from ibis import _

from loyalist.features.cues import cue_flags
from loyalist.features.service import (
    DAY,
    HOUR,
    ServicePolicy,
    _seconds,
    _ts,
    link_callbacks,
    order_followthrough,
    request_facts,
)


def _recent(t: ibis.Table, col: str, as_of, days: float) -> ibis.Table:
    return t.filter(_seconds(_ts(as_of), t[col]) <= days * DAY)


#: a moment after every request: links computed "as of" it hold at any earlier date
_END_OF_TIME = datetime(9999, 12, 31)


def enrich_requests(requests: ibis.Table, policy: ServicePolicy = ServicePolicy()
                    ) -> ibis.Table:
    """Every request with what never changes once it is opened: whether it is a
    call-back (``is_callback``) and its cue flags (``cue_complaint``, ...).

    A call-back repeats an earlier contact that was unresolved when it came in;
    that is settled at the moment the request is opened, so the links hold at every
    as-of date after it and can be computed once per run (``.cache()`` the result)
    and filtered by date.
    """
    cb = link_callbacks(requests, _END_OF_TIME, policy=policy).select(
        "id", is_callback=ibis.literal(True))
    r = requests.left_join(cb, "id").drop("id_right")
    text = ibis.coalesce(r.subject, ibis.literal("")).concat(" ", ibis.coalesce(
        r.text, ibis.literal("")))
    return r.mutate(is_callback=r.is_callback.fill_null(False),
                    **{f"cue_{k}": v for k, v in cue_flags(text).items()})


def service_signals(requests: ibis.Table, as_of, *, orders: ibis.Table | None = None,
                    policy: ServicePolicy = ServicePolicy(), window_days: float = 90,
                    tracked: frozenset[str] = frozenset(),
                    enriched: ibis.Table | None = None) -> ibis.Table:
    """One row per customer with service signals as of ``as_of``.

    ``tracked`` names the order lifecycle columns the business actually records
    (a business that never records acknowledgements has no unacknowledged orders).
    ``enriched`` is :func:`enrich_requests` of ``requests`` when the caller already
    has it (built once for many dates).
    """
    if enriched is None:
        enriched = enrich_requests(requests, policy)
    facts = request_facts(enriched, as_of, policy)
    recent = _recent(facts, "opened_at", as_of, window_days)
    agg = recent.group_by("customer_id").aggregate(
        requests_recent=_.count(),
        callbacks_recent=_.is_callback.fill_null(False).sum(),
        complaint_cues=_.cue_complaint.sum(),
        cancel_cues=_.cue_cancel.sum(),
        competitor_cues=_.cue_competitor.sum(),
        median_response_hours=(_.response_s / HOUR).median(),
        max_response_hours=(_.response_s / HOUR).max(),
    )
    if policy.team_for_category:
        expected = recent.category.substitute(policy.team_for_category,
                                              else_=ibis.null("string"))
        mis = recent.mutate(m=(expected.notnull() & (recent.team != expected)).fill_null(False))
        agg = agg.left_join(mis.group_by("customer_id").aggregate(misrouted_recent=_.m.sum()),
                            "customer_id").drop("customer_id_right")
    open_ = facts.filter(facts.unanswered).group_by("customer_id").aggregate(
        unanswered_open=_.count(),
        oldest_unanswered_days=(_.age_s / DAY).max(),
        unanswered_past_target=_.breached.sum())
    out = _outer(agg, open_)
    if orders is not None and tracked:
        problems = _tracked_problems(orders, as_of, policy, tracked)
        problems = problems.filter(
            _seconds(_ts(as_of), problems.ordered_at) <= window_days * DAY)
        per = problems.group_by("customer_id").aggregate(
            **{f"orders_{k}": (problems.problem == k).sum() for k in _PROBLEM_COLUMNS
               if _PROBLEM_COLUMNS[k] <= tracked})
        out = _outer(out, per)
    counts = [c for c in out.columns if c != "customer_id"
              and not c.endswith(("_hours", "_days"))]
    return out.mutate(**{c: out[c].fill_null(0) for c in counts})


def _outer(a: ibis.Table, b: ibis.Table, key: str = "customer_id") -> ibis.Table:
    """Full outer join on ``key``, keeping one key column."""
    a, b = a.view(), b.view()
    j = a.outer_join(b, a[key] == b[key], rname="{name}__r")
    rest = [c for c in j.columns if c not in (key, f"{key}__r")]
    return j.select(ibis.coalesce(j[key], j[f"{key}__r"]).name(key), *rest)


#: which lifecycle columns each follow-through problem needs
_PROBLEM_COLUMNS = {
    "not_acknowledged": frozenset({"acknowledged_at"}),
    "acknowledged_late": frozenset({"acknowledged_at"}),
    "late_against_promise": frozenset({"promised_at", "fulfilled_at"}),
    "not_followed_up": frozenset({"fulfilled_at", "followed_up_at"}),
}


def _tracked_problems(orders, as_of, policy, tracked) -> ibis.Table:
    problems = order_followthrough(orders, as_of, policy)
    allowed = [k for k, cols in _PROBLEM_COLUMNS.items() if cols <= tracked]
    return problems.filter(problems.problem.isin(allowed))


def tracked_lifecycle(orders: ibis.Table) -> frozenset[str]:
    """The lifecycle columns this business records at all (any non-null value)."""
    cols = ("acknowledged_at", "promised_at", "fulfilled_at", "followed_up_at")
    counts = orders.aggregate(**{c: orders[c].count() for c in cols}).to_pandas().iloc[0]
    return frozenset(c for c in cols if counts[c] > 0)


def service_alerts(requests: ibis.Table, as_of, *, orders: ibis.Table | None = None,
                   policy: ServicePolicy = ServicePolicy(), window_days: float = 90,
                   tracked: frozenset[str] = frozenset()) -> ibis.Table:
    """Alerts that need no model, one row each, naming the evidence row.

    Columns: customer_id, kind, evidence_table, evidence_id, at, value (hours, days or
    count, depending on the kind), category.
    """
    now = _ts(as_of)
    facts = request_facts(requests, as_of, policy)
    unanswered = facts.filter(facts.unanswered & facts.breached).select(
        customer_id=_.customer_id, kind=ibis.literal("unanswered_request"),
        evidence_table=ibis.literal("requests"), evidence_id=_.id, at=_.opened_at,
        value=(_.age_s / DAY).cast("float64"), category=_.category)
    cb = link_callbacks(requests, as_of, policy=policy)
    # a matter the customer raised two or more times and that is still unresolved
    roots = facts.select(root=_.id, customer_id=_.customer_id, root_at=_.opened_at,
                         unresolved=_.unresolved, category=_.category)
    cb, roots = cb.view(), roots.view()  # both come from requests: a self-join
    chains = cb.join(roots, cb.chain_root == roots.root)
    chains = chains.filter(chains.unresolved).group_by(
        ["customer_id", "chain_root", "root_at", "category"]).aggregate(contacts=_.count() + 1)
    repeated = chains.select(
        customer_id=_.customer_id, kind=ibis.literal("repeated_contact"),
        evidence_table=ibis.literal("requests"), evidence_id=_.chain_root, at=_.root_at,
        value=_.contacts.cast("float64"), category=_.category)
    recent = _recent(facts, "opened_at", as_of, window_days)
    text = ibis.coalesce(recent.subject, ibis.literal("")).concat(" ", ibis.coalesce(
        recent.text, ibis.literal("")))
    flagged = recent.mutate(**{f"cue_{k}": v for k, v in cue_flags(text).items()})
    cue_parts = [flagged.filter(flagged[f"cue_{k}"]).select(
        customer_id=_.customer_id, kind=ibis.literal(f"{k}_words"),
        evidence_table=ibis.literal("requests"), evidence_id=_.id, at=_.opened_at,
        value=ibis.literal(1.0), category=_.category) for k in ("complaint", "cancel",
                                                                  "competitor")]
    parts = [unanswered, repeated, *cue_parts]
    if orders is not None and tracked:
        problems = _tracked_problems(orders, as_of, policy, tracked)
        problems = problems.filter(_seconds(now, problems.ordered_at) <= window_days * DAY)
        parts.append(problems.select(
            customer_id=_.customer_id, kind=_.problem, evidence_table=ibis.literal("orders"),
            evidence_id=_.order_id, at=_.ordered_at, value=(_.seconds / DAY).cast("float64"),
            category=ibis.null("string")))
    return ibis.union(*parts)
