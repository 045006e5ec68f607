"""Questions about one customer that every write or page asks, compiled once per store
with the customer's id bound (:mod:`loyalist.store.prepared`) and answered through the
indexes by customer."""

from __future__ import annotations

import ibis

from loyalist.store.prepared import prepare

#: where a customer may be known from: (table, column naming the customer)
KNOWN_IN = (("customers", "id"), ("orders", "customer_id"), ("subscriptions", "customer_id"))


def _found_in(places):
    def build(store):
        customer_id = ibis.param("string")
        found = [store.table(t).filter(store.table(t)[c] == customer_id)
                 .select(found=ibis.literal(1)).limit(1) for t, c in places]
        return ibis.union(*found).limit(1), {"customer_id": customer_id}

    return build


def is_customer(store, customer_id: str) -> bool:
    """Whether ``customers`` holds ``customer_id``."""
    return bool(prepare(store, ("found in", KNOWN_IN[:1]), _found_in(KNOWN_IN[:1])).rows(
        store, customer_id=customer_id))


def knows_customer(store, customer_id: str) -> bool:
    """Whether the store knows ``customer_id`` at all: as a customer, or from their
    orders or subscriptions."""
    return bool(prepare(store, ("found in", KNOWN_IN), _found_in(KNOWN_IN)).rows(
        store, customer_id=customer_id))
