"""Alerts that matter: ``[alerts]`` in ``loyalist.toml``.

Each alert kind is weighed on the firm's own history (:mod:`loyalist.decisions.signals.alert_weights`):
how much more often customers with it left than comparable customers without it. A
kind whose whole interval lies above ``min_ratio`` is an *alarm*; the others are
*housekeeping* (still shown, never as an alarm). The team works ``weekly_capacity``
alarm-level customers a week, the most valuable first; the rest are shown as a count.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalist.settings._declare import at_least, positive, setting, share


def _ratio(v) -> str | None:
    return None if v >= 1 else "a risk ratio of at least 1"


@dataclass(frozen=True)
class AlertSettings:
    """The ``[alerts]`` settings."""

    min_ratio: float = setting(
        1.25, "An alert kind is an alarm when customers with it left at least this many "
        "times as often as comparable customers without it (the lower end of its 95% "
        "interval above 1, the ratio itself at least this).", check=_ratio, unit="ratio")
    min_customers: int = setting(
        20, "Customers with a kind needed in the past to weigh it; fewer: not weighed "
        "(shown as housekeeping, marked so).", check=at_least(5), unit="customers")
    weekly_capacity: int = setting(
        50, "Alarm-level customers the team can work in a week: the most valuable first "
        "lead the overview; the rest are shown as a count.", check=at_least(1),
        unit="customers a week")
    valuable_share: float = setting(
        0.5, "The share of customers by value counted as valuable (the top half by "
        "default): their alarms lead the overview.", check=share, unit="share")
    lookback_days: int | None = setting(
        None, "Days before the scoring date of the past date the weights are measured "
        "at (default: the scoring horizon, so every outcome is known).", check=positive,
        unit="days", example="lookback_days = 180")
