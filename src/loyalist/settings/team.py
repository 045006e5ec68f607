"""Retention is everyone's job: ``[team]`` in ``loyalist.toml``.

The window in which a worked customer must still be active to count as a verified save, how
many hold-out outcomes a playbook needs before its uplift ranking is trusted, and the
outreach budget (contacts a week, cost per contact). ``loyalist team``, ``loyalist
uplift``, the report's team section, the web pages and the worklist read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalist.settings._declare import at_least, positive, setting


@dataclass(frozen=True)
class TeamSettings:
    """The ``[team]`` settings."""

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

