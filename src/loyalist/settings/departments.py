"""Who owns what: ``[departments]`` in ``loyalist.toml``, the one department map.

Every kind of failure or signal Loyalist finds (the alerts, the order follow-through
problems, the request categories that are complaints in themselves) and every loss
reason of ``[listening] loss_reasons`` belongs to a department: billing, fulfilment,
service, sales or product by default, under the firm's own names where it gives them.
Losses by department (``loyalist team --losses``), the retention-practices scorecard and
the stated loss reasons by department all read this one map, so the failure-based and
the stated account speak of the same departments.

A kind or reason the map does not name belongs to **unassigned**, shown as such (never
silently given to a department); ``none`` marks what no department owns (a customer
who moved or closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalist.settings._declare import at_least, setting

#: the departments Loyalist knows, before the firm's own names
DEPARTMENTS = ("billing", "fulfilment", "service", "sales", "product")
#: what a kind or reason the map does not name belongs to
UNASSIGNED = "unassigned"
#: what no department owns (moved or closed, needs ended)
NO_DEPARTMENT = "none"

#: the default owner of each kind of failure or signal the code produces: the alert
#: kinds, the order follow-through problems, unresolved and misrouted requests, returned
#: orders, and the request categories that are complaints in themselves
DEFAULT_KINDS = {
    "unanswered_request": "service", "repeated_contact": "service",
    "unresolved_request": "service", "misrouted": "service", "detractor": "service",
    "complaint_words": "service",
    "not_acknowledged": "fulfilment", "acknowledged_late": "fulfilment",
    "late_against_promise": "fulfilment", "not_followed_up": "fulfilment",
    "no_delivery_date": "fulfilment",
    "billing": "billing",
    "product": "product", "technical": "product", "returned": "product",
    "stay_in_touch": "sales", "competitor_words": "sales", "cancel_words": "sales",
}
#: the default owner of each loss reason (``[listening] loss_reasons``)
DEFAULT_REASONS = {
    "price": "billing", "service": "service", "product": "product", "competitor": "sales",
    "moved_or_closed": NO_DEPARTMENT, "no_longer_needs": NO_DEPARTMENT,
}


def _table(v) -> str | None:
    return None if all(isinstance(x, str) and x.strip() for x in v.values()) else \
        "a table of kind = department name (none text empty)"


@dataclass(frozen=True)
class DepartmentSettings:
    """The ``[departments]`` settings."""

    kinds: dict[str, str] = setting(
        DEFAULT_KINDS, "The department that owns each kind of failure or signal: alert "
        "kinds (unanswered_request, repeated_contact, not_acknowledged, "
        "late_against_promise, not_followed_up, ...), unresolved_request, misrouted, "
        "returned, and request categories that are complaints in themselves (billing, "
        "product, technical). A table given here is added to the defaults; a kind it "
        "does not name is shown as unassigned.", check=_table,
        example='kinds = { late_against_promise = "warehouse", billing = "finance" }')
    reasons: dict[str, str] = setting(
        DEFAULT_REASONS, "The department each loss reason ([listening] loss_reasons) "
        "speaks of; none: no department (moved or closed, needs ended). Added to the "
        "defaults; a reason not named is unassigned.", check=_table,
        example='reasons = { price = "sales" }')
    names: dict[str, str] = setting(
        {}, "The firm's own names of the departments (billing, fulfilment, service, "
        "sales, product), shown everywhere instead of Loyalist's.", check=_table,
        example='names = { fulfilment = "Production", service = "Help desk" }')
    window_days: int = setting(
        180, "Losses by department: the failures a lost customer met in this many days "
        "up to their last order (or the end of their subscription) count.",
        check=at_least(14), unit="days")

    def department(self, kind: str) -> str:
        """The firm's name of the department that owns a kind of failure (unassigned
        when the map does not name it)."""
        dept = {**DEFAULT_KINDS, **self.kinds}.get(kind, UNASSIGNED)
        return self.names.get(dept, dept)

    def of_reason(self, reason: str) -> str:
        """The firm's name of the department a loss reason speaks of (``unknown`` stays
        unknown; a reason the map does not name is unassigned)."""
        if reason == "unknown":
            return "unknown"
        dept = {**DEFAULT_REASONS, **self.reasons}.get(reason, UNASSIGNED)
        return self.names.get(dept, dept)

    def departments(self) -> list[str]:
        """Every department in the map, under the firm's names, Loyalist's order first."""
        seen = [*DEPARTMENTS, *{**DEFAULT_KINDS, **self.kinds}.values(),
                *{**DEFAULT_REASONS, **self.reasons}.values()]
        out = [self.names.get(d, d) for d in seen if d not in (NO_DEPARTMENT, UNASSIGNED)]
        return list(dict.fromkeys(out))


__all__ = ["DEFAULT_KINDS", "DEFAULT_REASONS", "DEPARTMENTS", "NO_DEPARTMENT", "UNASSIGNED",
           "DepartmentSettings"]
