"""Orders as purchases: what the value models count, net of returns.

A return is a record with status ``returned`` (data contract): an order whose own
status says it was returned or refunded, or the lines of ``order_lines`` returned
against it (``loyalist ingest orders FILE --lines``). An order refunded in full is no
purchase; a partial return reduces its spend only (the purchase still happened).
"""

from __future__ import annotations

import ibis

from loyalist.features.rfm import money_sum

#: order statuses that mean the whole order came back
RETURNED = ("returned", "refunded")


def purchases(store) -> ibis.Table:
    """The store's orders as purchases: orders returned in full left out, each
    amount less the refunds of its returned lines (never below zero). The columns are
    those of ``orders``."""
    orders = store.table("orders")
    kept = orders.filter(~orders.status.lower().isin(RETURNED).fill_null(False))
    lines = store.table("order_lines")
    returned = lines.filter(lines.status == "returned")
    if not returned.count().execute():
        return kept
    refunds = returned.group_by(rid=returned.order_id).aggregate(refunded=money_sum(returned.amount))
    j = kept.left_join(refunds, kept.id == refunds.rid)
    net = j.amount - j.refunded.fill_null(0.0)
    j = j.filter(j.refunded.isnull() | j.amount.isnull() | (net > 0.005))
    return j.mutate(amount=ibis.greatest(net, 0.0)).select(*orders.columns)
