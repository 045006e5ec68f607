"""Service targets and rules: ``[service]`` in ``loyalist.toml``."""

from __future__ import annotations

from dataclasses import dataclass

from loyalist.settings._declare import each, positive, setting


@dataclass(frozen=True)
class ServicePolicy:
    """Targets and rules of a business's service.

    ``first_response_hours`` is the default target; ``category_targets`` and
    ``channel_targets`` (hours) override it, the stricter one winning.
    ``team_for_category`` says which team should handle each category; requests routed
    elsewhere are misrouted, and the router sends each category there.
    """

    first_response_hours: float = setting(
        24.0, "Target for the first answer to a request.", check=positive, unit="hours")
    category_targets: dict[str, float] = setting(
        {}, "Stricter (or looser) first-answer targets per request category.",
        check=each(positive), unit="hours", example='category_targets = { invoice = 4 }')
    channel_targets: dict[str, float] = setting(
        {}, "First-answer targets per channel (phone, email, chat...); the stricter of the "
        "category's and the channel's applies.", check=each(positive), unit="hours",
        example='channel_targets = { chat = 1 }')
    callback_window_days: float = setting(
        30.0, "A contact on the same matter within this many days of an unresolved one is "
        "a call-back.", check=positive, unit="days")
    team_for_category: dict[str, str] = setting(
        {}, "The team that should handle each request category: requests routed elsewhere "
        "are misrouted, and the router sends the category there.",
        example='team_for_category = { invoice = "Billing" }')
    acknowledge_within_hours: float = setting(
        24.0, "An order should be acknowledged within this long.", check=positive,
        unit="hours")
    follow_up_within_days: float = setting(
        7.0, "Someone should check back with the customer this long after fulfilment.",
        check=positive, unit="days")
