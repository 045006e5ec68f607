"""All point-in-time features of every customer at one or more as-of dates.

``build_features(store, as_of)`` is one Ibis expression joining every family the
business has data for; ``feature_frame(store, dates)`` runs it for several dates and
stacks the results (one engine query per date, never a loop over customers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import pandas as pd

from loyalist.features.behaviour import (
    customer_features,
    event_features,
    feedback_features,
    purchase_features,
    subscription_features,
)
from loyalist.features.service import ServicePolicy, _ts
from loyalist.features.service_signals import (
    enrich_requests,
    service_signals,
    tracked_lifecycle,
)

#: prefix or exact column name -> family, used to group reasons
FAMILY_RULES = [
    ("purchase", ("orders", "spend", "mean_order_value", "recency_days", "tenure_days",
                  "returns", "order_days", "typical_gap_days", "last_gap_days", "gap_ratio",
                  "order_trend", "basket")),
    ("service", ("requests_recent", "callbacks_recent", "median_response_hours",
                 "max_response_hours", "misrouted_recent", "unanswered_open",
                 "oldest_unanswered_days", "unanswered_past_target")),
    ("words", ("complaint_cues", "cancel_cues", "competitor_cues", "unhappy_")),
    ("follow_through", ("orders_not_acknowledged", "orders_acknowledged_late",
                        "orders_late_against_promise", "orders_not_followed_up")),
    ("feedback", ("answers", "days_since_answer", "last_", "prev_", "nps_change",
                  "satisfaction_change", "trust_change", "commitment_change", "detractor",
                  "promoter")),
    ("usage", ("ev_",)),
    ("subscription", ("subs_", "mrr", "sub_tenure_days", "plan")),
    ("value", ("p_alive", "expected_purchases", "p_no_purchase", "clv")),
]


def family_of(column: str) -> str:
    """The family a feature belongs to (purchase, service, feedback, ... or profile)."""
    for family, prefixes in FAMILY_RULES:
        for p in prefixes:
            if column == p or column.startswith(p if p.endswith("_") else p):
                # 'orders_not_...' is follow-through, not purchase
                if family == "purchase" and column.startswith("orders_") and any(
                        column.startswith(x) for x in FAMILY_RULES[3][1]):
                    continue
                return family
    return "profile"


@dataclass
class FeatureSpec:
    """What to build: windows (days), service policy, columns never to use."""

    windows: tuple[int, ...] = (90,)
    event_windows: tuple[int, ...] = (30, 90)
    max_event_types: int = 8
    policy: ServicePolicy = field(default_factory=ServicePolicy)
    exclude: tuple[str, ...] = ()


def _has_rows(t: ibis.Table) -> bool:
    return bool(t.limit(1).count().execute())


def _join(base: ibis.Table, part: ibis.Table) -> ibis.Table:
    part = part.view()
    joined = base.left_join(part, base.customer_id == part.customer_id)
    return joined.drop("customer_id_right")


def default_spec(store) -> FeatureSpec:
    """The feature spec of a store: its service policy from the settings in force."""
    settings = getattr(store, "settings", None)
    return FeatureSpec(policy=settings.service) if settings is not None else FeatureSpec()


def available(store) -> dict[str, bool]:
    """Which contract tables hold any rows (one engine query for all of them)."""
    names = ("customers", "orders", "subscriptions", "requests", "feedback", "events",
             "order_lines")
    version = getattr(store, "data_version", None)  # known while the store is unchanged
    known = getattr(store, "_available", None)
    if version is not None and known is not None and known[0] == version:
        return dict(known[1])
    parts = [store.table(t).limit(1).select(table=ibis.literal(t)) for t in names]
    found = set(ibis.union(*parts).execute()["table"])
    out = {t: t in found for t in names}
    if version is not None:
        store._available = (version, out)
    return dict(out)


@dataclass
class Prepared:
    """What every as-of date of one run shares, worked out once: which tables have
    rows, the order lifecycle columns recorded, the commonest event types, and the
    requests with their call-back links and cue flags (kept in the engine)."""

    have: dict[str, bool]
    tracked: frozenset[str] = frozenset()
    event_types: list[str] = field(default_factory=list)
    requests: ibis.Table | None = None


def prepare(store, spec: FeatureSpec | None = None, *, have: dict[str, bool] | None = None,
            cache: bool = True) -> Prepared:
    """The shared part of the features of many dates (``cache``: keep the enriched
    requests as an engine temp table, so each date reads them instead of re-linking)."""
    spec = spec or default_spec(store)
    have = have or available(store)
    out = Prepared(have=have)
    if have["orders"] and have["requests"]:
        out.tracked = tracked_lifecycle(store.table("orders"))
    if have["events"]:
        ev = store.table("events")
        out.event_types = (ev.type.value_counts().order_by(ibis.desc("type_count"))
                           .limit(spec.max_event_types).execute()["type"].tolist())
    if have["requests"]:
        enriched = enrich_requests(store.table("requests"), spec.policy)
        out.requests = enriched.cache() if cache else enriched
    return out


def build_features(store, as_of, spec: FeatureSpec | None = None, *,
                   have: dict[str, bool] | None = None,
                   prepared: Prepared | None = None) -> ibis.Table:
    """Every feature of every customer known before ``as_of``, one row per customer."""
    spec = spec or default_spec(store)
    prepared = prepared or prepare(store, spec, have=have, cache=False)
    have = prepared.have
    now = _ts(as_of)
    ids = []
    if have["customers"]:
        c = store.table("customers")
        ids.append(c.filter(c.created_at.isnull() | (c.created_at < now)).select(
            customer_id=c.id))
    for table, col in (("orders", "ordered_at"), ("subscriptions", "started_at"),
                       ("requests", "opened_at")):
        if have[table]:
            t = store.table(table)
            ids.append(t.filter(t[col] < now).select("customer_id"))
    if not ids:
        from loyalist.errors import DataError

        raise DataError("The store holds no customers, orders, subscriptions or requests.",
                        hint="Ingest an export first, or run loyalist demo.")
    # one row per customer, also when a single table names them (once per order)
    base = ibis.union(*ids, distinct=True) if len(ids) > 1 else ids[0].distinct()
    if have["orders"]:
        lines = store.table("order_lines") if have.get("order_lines") else None
        base = _join(base, purchase_features(store.table("orders"), as_of, spec.windows,
                                             lines=lines))
    if have["requests"]:
        orders = store.table("orders") if have["orders"] else None
        base = _join(base, service_signals(store.table("requests"), as_of, orders=orders,
                                           policy=spec.policy, tracked=prepared.tracked,
                                           enriched=prepared.requests))
    if have["feedback"]:
        base = _join(base, feedback_features(store.table("feedback"), as_of))
    if have["events"]:
        base = _join(base, event_features(store.table("events"), as_of,
                                          prepared.event_types, spec.event_windows))
    if have["subscriptions"]:
        base = _join(base, subscription_features(store.table("subscriptions"), as_of))
    if have["customers"]:
        base = _join(base, customer_features(store.table("customers"), as_of, spec.exclude))
    schema = base.schema()
    # counts become floats: a customer absent from a family has NULL, not 0 of an int
    casts = {c: base[c].cast("float64") for c, t in schema.items()
             if (t.is_integer() or t.is_boolean()) and c != "customer_id"}
    return base.mutate(as_of=now, **casts)


def feature_frame(store, dates, spec: FeatureSpec | None = None, *,
                  have: dict[str, bool] | None = None,
                  prepared: Prepared | None = None) -> pd.DataFrame:
    """Features at each date in ``dates``, stacked (``as_of`` column tells them apart)."""
    dates = list(dates)  # counted, then walked: an iterator would be spent by the count
    prepared = prepared or prepare(store, spec, have=have, cache=len(dates) > 1)
    frames = [build_features(store, d, spec, prepared=prepared).to_pandas() for d in dates]
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["as_of", "customer_id"], ignore_index=True)
