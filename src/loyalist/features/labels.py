"""What "leaving" means for each kind of business, as labels at an as-of date.

- non-contractual (orders only): a customer active before ``as_of`` *lapses* when
  they place no order in the ``horizon`` days from ``as_of``;
- contractual: a subscription active at ``as_of`` ends within ``horizon`` days;
- snapshot: a labelled table the business already has (a churn column).

Labels look into the future by design; features never do.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from loyalist.errors import DataError
from loyalist.features.service import DAY, _seconds, _ts

NICE_HORIZONS = (30, 45, 60, 90, 120, 180, 270, 365)


#: above this many customers with orders, :func:`suggest_horizon` reads a sample of
#: them (every k-th by a hash of the id): the 0.8 quantile of 50,000 customers' typical
#: gaps is within a few percent of everyone's (tests/test_lapse.py), and one horizon
#: from every customer's median gap took minutes at a million customers
HORIZON_SAMPLE = 50_000


def suggest_horizon(orders: ibis.Table, quantile: float = 0.8, before=None,
                    sample: int | None = HORIZON_SAMPLE) -> int:
    """A lapse horizon from the customers' own rhythm, from orders before ``before``
    only (when given: a horizon chosen for an as-of date must not look past it).

    Takes each repeat customer's median gap between order days, then the given
    quantile of those, doubled (a customer is late once the silence is twice their
    usual gap), rounded up to a familiar number of days. Past ``sample`` customers
    with orders, about that many of them are read (a fixed subset, by a hash of the
    id; ``None``: every customer).
    """
    raw = typical_gap(orders, quantile, before, sample)
    return next((h for h in NICE_HORIZONS if h >= 2 * raw), NICE_HORIZONS[-1])


def customer_sample(orders: ibis.Table, sample: int | None) -> ibis.Table:
    """The rows of about ``sample`` of the customers in ``orders`` (every k-th by a hash
    of the id: the same customers each run on a backend), or all when they are fewer."""
    if sample is None:
        return orders
    n = int(orders.customer_id.nunique().execute() or 0)
    if n <= sample:
        return orders
    k = -(-n // sample)
    return orders.filter(orders.customer_id.hash() % k == 0)


def typical_gap(orders: ibis.Table, quantile: float = 0.8, before=None,
                sample: int | None = HORIZON_SAMPLE) -> float:
    """The ``quantile`` of the repeat customers' median gaps between order days (what
    :func:`suggest_horizon` doubles and rounds), over about ``sample`` customers."""
    if before is not None:
        orders = orders.filter(orders.ordered_at < _ts(before))
    orders = customer_sample(orders, sample)
    o = orders.select("customer_id", day=orders.ordered_at.date()).distinct()
    w = ibis.window(group_by="customer_id", order_by="day")
    gaps = o.mutate(gap=o.day.delta(o.day.lag().over(w), unit="day"))
    per = gaps.group_by("customer_id").aggregate(g=gaps.gap.median(), n=gaps.count())
    typical = per.filter(per.n >= 3).g.execute().dropna()
    if typical.empty:
        when = f" before {pd.Timestamp(before).date()}" if before is not None else ""
        raise DataError(f"Too few repeat customers{when} to suggest a lapse horizon.",
                        hint="Pass --horizon DAYS.")
    return float(np.quantile(typical, quantile))


def lapse_labels(orders: ibis.Table, as_of, horizon: int, active_within: int | None = None
                 ) -> ibis.Table:
    """``customer_id, left`` for customers who ordered in the ``active_within`` days
    before ``as_of`` (default: 2 x horizon): left = no order in the next ``horizon``."""
    now = _ts(as_of)
    active_within = active_within or 2 * horizon
    age = _seconds(now, orders.ordered_at) / DAY
    ahead = _seconds(orders.ordered_at, now) / DAY
    per = orders.group_by("customer_id").aggregate(
        active=((orders.ordered_at < now) & (age <= active_within)).any(),
        came_back=((orders.ordered_at >= now) & (ahead < horizon)).any())
    per = per.filter(per.active)
    return per.select("customer_id", left=(~per.came_back).cast("int8"))


def contract_labels(subscriptions: ibis.Table, as_of, horizon: int) -> ibis.Table:
    """``customer_id, left`` for customers with a subscription active at ``as_of``:
    left = every active subscription ends within ``horizon`` days."""
    now = _ts(as_of)
    s = subscriptions
    active = (s.started_at < now) & (s.ended_at.isnull() | (s.ended_at >= now))
    ends_soon = s.ended_at.notnull() & ((_seconds(s.ended_at, now) / DAY) < horizon)
    per = s.filter(active).group_by("customer_id").aggregate(
        all_end=ends_soon.all())
    return per.select("customer_id", left=per.all_end.cast("int8"))


def latest_timestamp(store, columns: dict[str, tuple[str, ...]]) -> pd.Timestamp | None:
    """The latest value in the given ``{table: columns}`` of the store, or None."""
    latest = []
    for table, cols in columns.items():
        t = store.table(table)
        latest.append(t.aggregate(**{c: t[c].max() for c in cols}).to_pandas().iloc[0].max())
    latest = [x for x in latest if pd.notna(x)]
    return pd.Timestamp(max(latest)) if latest else None


def observed_until(store) -> pd.Timestamp:
    """The last moment the store has orders or subscription changes for."""
    latest = latest_timestamp(store, {"orders": ("ordered_at",),
                                      "subscriptions": ("started_at", "ended_at")})
    if latest is None:
        raise DataError("No orders or subscriptions to learn from.",
                        hint="Ingest orders (or subscriptions) first.")
    return latest


#: how label values that mean "left" and "stayed" are written, as whole words
LEAVING_WORDS = ("yes", "y", "true", "t", "1", "churn", "churned", "churner", "attrited",
                 "attrition", "left", "leaver", "lost", "gone", "exited", "exit", "cancelled",
                 "canceled", "closed", "lapsed", "inactive", "former", "terminated", "quit")
STAYING_WORDS = ("no", "n", "false", "f", "0", "stayed", "stay", "existing", "active",
                 "current", "retained", "kept", "open", "remaining", "loyal", "customer")


def _means(value: str, words) -> bool:
    import re

    tokens = re.findall(r"[a-z0-9]+", value.lower())
    return any(t in words for t in tokens)


def label_values(counts: pd.Series, column: str, positive=None) -> tuple[object, object]:
    """Which of a two-valued label's values means leaving: (leaving, staying).

    ``counts`` maps each value of the label to its number of rows (a
    ``value_counts()``).

    Understood: yes/no, 1/0, true/false and words such as churned, attrited, exited,
    left, cancelled against existing, active, stayed, retained. ``positive`` names the
    leaving value when the words do not tell. Anything else is refused with the values
    found (and how often).
    """
    counts = counts[counts.index.notna()].sort_values(ascending=False)
    found = ", ".join(f"{v!r} ({n:,})" for v, n in counts.head(8).items())
    if len(counts) > 8:
        found += f" and {len(counts) - 8} more"
    if len(counts) != 2:
        raise DataError(
            f"The label {column!r} must have two values (left / stayed); found "
            f"{len(counts)}: {found or 'none'}.",
            hint="Choose a column with one value for leaving and one for staying, or "
                 "recode this one first.")
    a, b = counts.index[0], counts.index[1]
    if positive is not None:
        match = [v for v in (a, b) if str(v).strip().lower() == str(positive).strip().lower()]
        if not match:
            raise DataError(f"--positive {positive!r} is not a value of {column!r}; found "
                            f"{found}.", hint=f"Pass --positive {str(a)!r} or {str(b)!r}.")
        other = b if match[0] == a else a
        return match[0], other
    sa, sb = str(a).strip(), str(b).strip()
    la, lb = _means(sa, LEAVING_WORDS), _means(sb, LEAVING_WORDS)
    # "Existing Customer" holds "customer": staying words decide only where leaving ones
    # do not
    if la != lb:
        return (a, b) if la else (b, a)
    ta, tb = _means(sa, STAYING_WORDS), _means(sb, STAYING_WORDS)
    if ta != tb:
        return (b, a) if ta else (a, b)
    raise DataError(f"Which value of {column!r} means leaving? Found {found}.",
                    hint=f"Pass --positive {sa!r} (or {sb!r}), the value that means the "
                         "customer left.")


def snapshot_labels(customers: ibis.Table, column: str, positive=None) -> ibis.Table:
    """``customer_id, left`` from a two-valued churn column of the customers table
    (yes/no, 1/0, true/false, Attrited/Existing, ...; see :func:`label_values`)."""
    if column not in customers.columns:
        raise DataError(f"The customers table has no column {column!r}.",
                        hint=f"Its columns: {', '.join(customers.columns)}.")
    counts = customers[column].value_counts().execute()
    counts = counts.set_index(column).iloc[:, 0]
    leaving, _ = label_values(counts, column, positive)
    v = customers[column]
    t = customers.filter(v.notnull())
    return t.select(customer_id=t.id, left=(t[column] == leaving).cast("int8"))


__all__ = ["contract_labels", "label_values", "lapse_labels", "latest_timestamp",
           "observed_until", "snapshot_labels", "suggest_horizon", "typical_gap"]
