"""Retention is everyone's job: ``[team]`` in ``loyalist.toml``.

Which department owns each kind of failure (the alerts and the request categories behind
losses by department and the scorecard), the firm's own names for the departments, the
window in which a worked customer must still be active to count as a verified save, how
many hold-out outcomes a playbook needs before its uplift ranking is trusted, and the
outreach budget (contacts a week, cost per contact). ``loyalist team``, ``loyalist
uplift``, the report's team section, the web pages and the worklist read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalist.settings._declare import at_least, positive, setting

#: the departments Loyalist knows, before the firm's own names
DEPARTMENTS = ("billing", "fulfilment", "service", "sales", "product")

#: default owner of each failure: alert kinds, and the service categories of requests
DEFAULT_DEPARTMENT_OF = {
    "unanswered_request": "service", "repeated_contact": "service", "misrouted": "service",
    "not_acknowledged": "fulfilment", "acknowledged_late": "fulfilment",
    "late_against_promise": "fulfilment", "not_followed_up": "fulfilment",
    "returned": "product", "complaint_words": "product", "billing": "billing",
    "detractor": "service", "stay_in_touch": "sales", "competitor_words": "sales",
    "cancel_words": "sales", "price_rise": "billing",
}


def _departments(v) -> str | None:
    return None if all(isinstance(x, str) and x for x in v.values()) else \
        "a table of failure kind = department name"


@dataclass(frozen=True)
class TeamSettings:
    """The ``[team]`` settings."""

    department_of: dict[str, str] = setting(
        DEFAULT_DEPARTMENT_OF, "The department that owns each kind of failure (alert kinds "
        "and misrouted, returned, billing); kinds not listed belong to service. A table "
        "given here is added to the defaults.", check=_departments,
        example='department_of = { late_against_promise = "Warehouse" }')
    department_names: dict[str, str] = setting(
        {}, "The firm's own names of the departments (billing, fulfilment, service, sales, "
        "product), shown everywhere instead of Loyalist's.", check=_departments,
        example='department_names = { fulfilment = "Production", service = "Help desk" }')
    save_window_days: int = setting(
        90, "A customer an agent worked from the worklist counts as saved when still "
        "active this many days later (compared with the held-out control).",
        check=at_least(7), unit="days")
    uplift_min_outcomes: int = setting(
        100, "Hold-out outcomes needed in each arm of a playbook before it ranks by "
        "uplift x value instead of risk x value.", check=at_least(20), unit="customers")
    budget_contacts_per_week: int | None = setting(
        None, "At most this many discretionary contacts a week, those with the most "
        "expected value saved first (default: no limit).", check=at_least(1),
        example="budget_contacts_per_week = 200")
    cost_per_contact: float | None = setting(
        None, "What one contact costs: a discretionary item is opened only when its "
        "expected value saved is above it (default: no cost).", check=positive,
        unit="currency", example="cost_per_contact = 15")
    callback_window_days: int = setting(
        7, "A request from the same customer within this many days of an answered one is "
        "a call-back caused by the first answer.", check=at_least(1), unit="days")

    def department(self, kind: str) -> str:
        """The firm's name of the department that owns a kind of failure."""
        dept = {**DEFAULT_DEPARTMENT_OF, **self.department_of}.get(kind, "service")
        return self.department_names.get(dept, dept)
