"""No request left unanswered: responsiveness, call-backs, misrouting, order follow-through.

Every function takes Ibis tables (from ``store.table(...)``) and returns an Ibis
expression, so it runs in the engine (DuckDB here, Spark for big stores) and never
loops over customers in Python. Everything is computed *as of* a moment, using only
what was known before it: a request answered after ``as_of`` counts as unanswered.
"""

from __future__ import annotations

from datetime import datetime

import ibis
from ibis import _

from loyalist.errors import DataError
from loyalist.settings.service import ServicePolicy
from loyalist.store.ingest.checks import strip

DAY = 86_400
HOUR = 3_600


def _seconds(later, earlier):
    return later.epoch_seconds() - earlier.epoch_seconds()


def _ts(as_of) -> ibis.Value:
    return ibis.literal(as_of if isinstance(as_of, datetime) else
                        datetime.fromisoformat(str(as_of)), type="timestamp")


def _known_before(col, as_of):
    """The timestamp if it happened before ``as_of``, else NULL (not known yet)."""
    return ibis.ifelse(col < as_of, col, ibis.null("timestamp"))


def request_facts(requests: ibis.Table, as_of, policy: ServicePolicy = ServicePolicy()
                  ) -> ibis.Table:
    """One row per request opened before ``as_of``: response and resolution times,
    target, whether it is still unanswered or unresolved, and target breaches."""
    now = _ts(as_of)
    r = requests.filter(requests.opened_at < now)
    answered = _known_before(r.first_response_at, now)
    resolved = _known_before(r.resolved_at, now)
    target = ibis.literal(float(policy.first_response_hours))
    if policy.category_targets:
        target = ibis.least(target, r.category.substitute(
            {k: float(v) for k, v in policy.category_targets.items()},
            else_=float(policy.first_response_hours)))
    if policy.channel_targets:
        target = ibis.least(target, r.channel.substitute(
            {k: float(v) for k, v in policy.channel_targets.items()},
            else_=float(policy.first_response_hours)))
    r = r.mutate(
        response_s=_seconds(answered, r.opened_at),
        resolution_s=_seconds(resolved, r.opened_at),
        age_s=_seconds(now, r.opened_at),
        unanswered=answered.isnull(),
        unresolved=resolved.isnull(),
        target_s=target * HOUR,
    )
    return r.mutate(
        breached=ibis.ifelse(r.unanswered, r.age_s > r.target_s, r.response_s > r.target_s),
        month=r.opened_at.truncate("M"),
    )


def link_callbacks(requests: ibis.Table, as_of, window_days: float | None = None,
                   policy: ServicePolicy = ServicePolicy()) -> ibis.Table:
    """Link each repeat contact on a matter not yet resolved to the contact it repeats.

    A request is a call-back when the same customer opened an earlier request on the
    same matter (same category, or the same subject where no category is recorded)
    within the window, and that earlier request was still unresolved when the new one
    came in; or when the source system says so (``parent_id``). It is linked to the
    latest such request (``callback_of``) and to the first one (``chain_root``).
    Returns one row per call-back.
    """
    now = _ts(as_of)
    window = float(window_days if window_days is not None else policy.callback_window_days)
    base = requests.filter(requests.opened_at < now)
    base = base.mutate(matter=ibis.coalesce(base.category, strip(base.subject.lower())))
    a = base.select(a_id=_.id, customer_id=_.customer_id, matter=_.matter,
                    a_opened=_.opened_at, a_resolved=_known_before(_.resolved_at, now))
    b = base.select(b_id=_.id, b_customer=_.customer_id, b_matter=_.matter,
                    b_opened=_.opened_at, parent_id=_.parent_id)
    j = b.join(a, [b.b_customer == a.customer_id, b.b_matter == a.matter,
                   a.a_opened < b.b_opened,
                   _seconds(b.b_opened, a.a_opened) <= window * DAY,
                   a.a_resolved.isnull() | (a.a_resolved > b.b_opened)])
    inferred = j.group_by(j.b_id).aggregate(
        callback_of=j.a_id.argmax(j.a_opened), chain_root=j.a_id.argmin(j.a_opened),
        earlier_open=j.a_id.count())
    explicit = b.filter(b.parent_id.notnull()).select(
        id=_.b_id, explicit_of=_.parent_id)
    linked = inferred.rename(id="b_id").outer_join(explicit, "id")
    linked = linked.select(
        id=ibis.coalesce(linked.id, linked.id_right),
        callback_of=ibis.coalesce(linked.explicit_of, linked.callback_of),
        chain_root=ibis.coalesce(linked.chain_root, linked.explicit_of),
        earlier_open=linked.earlier_open.fill_null(1),
        source=ibis.ifelse(linked.explicit_of.notnull(), "recorded", "inferred"))
    return linked


def misrouting(requests: ibis.Table, team_for_category: dict[str, str]) -> ibis.Table:
    """Requests with the team they went to and the team their category belongs to."""
    if not team_for_category:
        raise DataError("No category -> team map to judge routing by.",
                        hint="Set [service] team_for_category in the policy file.")
    r = requests.filter(requests.category.notnull() & requests.team.notnull())
    expected = r.category.substitute(team_for_category, else_=ibis.null("string"))
    r = r.mutate(expected_team=expected)
    return r.mutate(misrouted=r.expected_team.notnull() & (r.team != r.expected_team))


def order_followthrough(orders: ibis.Table, as_of, policy: ServicePolicy = ServicePolicy()
                        ) -> ibis.Table:
    """Orders that need a human: never acknowledged, late against their promise, or not
    followed up after fulfilment. One row per (order, problem) with a plain reason."""
    now = _ts(as_of)
    o = orders.filter(orders.ordered_at < now)
    # a cancelled order owes no delivery and no follow-up
    o = o.filter(o.status.isnull() | ~o.status.lower().isin(["cancelled", "canceled"]))
    ack = _known_before(o.acknowledged_at, now)
    ful = _known_before(o.fulfilled_at, now)
    fol = _known_before(o.followed_up_at, now)
    promised = o.promised_at
    ack_s = policy.acknowledge_within_hours * HOUR
    fol_s = policy.follow_up_within_days * DAY
    checks = {
        "not_acknowledged": (ack.isnull() & (_seconds(now, o.ordered_at) > ack_s),
                             _seconds(now, o.ordered_at)),
        "acknowledged_late": (_seconds(ack, o.ordered_at) > ack_s, _seconds(ack, o.ordered_at)),
        "late_against_promise": (
            promised.notnull() & (promised < now) & (ful.isnull() | (ful > promised)),
            _seconds(ibis.coalesce(ful, now), promised)),
        "not_followed_up": (ful.notnull() & (_seconds(now, ful) > fol_s) & fol.isnull(),
                            _seconds(now, ful)),
    }
    parts = []
    for kind, (cond, seconds) in checks.items():
        parts.append(o.filter(cond.fill_null(False)).select(
            order_id=o.id, customer_id=o.customer_id, ordered_at=o.ordered_at,
            problem=ibis.literal(kind), seconds=seconds.cast("float64")))
    return ibis.union(*parts)


def unanswered(requests: ibis.Table, at) -> ibis.Table:
    """The requests unanswered at ``at`` (a moment, or a timestamp expression such as a
    parameter): opened before it, with no first response by then, whatever their age.
    The one definition of "unanswered now" (:mod:`loyalist.decisions.measures`)."""
    now = at if isinstance(at, ibis.Expr) else _ts(at)
    r = requests.filter(requests.opened_at < now)
    return r.filter(r.first_response_at.isnull() | (r.first_response_at >= now))
