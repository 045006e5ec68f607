"""The customer council: ``[council]`` in ``loyalist.toml``.

How many members ``loyalist council suggest`` proposes and how the panel mixes
advocates with valuable customers at risk, who counts as a current customer, and when a
member who stops attending or a commitment past its date is a whisper. ``loyalist
council``, the web page /council and :mod:`loyalist.council` read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalist.settings._declare import at_least, setting, share


@dataclass(frozen=True)
class CouncilSettings:
    """The ``[council]`` settings."""

    size: int = setting(12, "Members a suggested panel has (the firm confirms each).",
                        check=at_least(2), unit="members")
    advocates: float = setting(
        0.25, "Share of the panel drawn from advocates (a likely or stated promoter).",
        check=share, unit="share of the panel")
    at_risk: float = setting(
        0.25, "Share of the panel drawn from valuable customers at risk of leaving.",
        check=share, unit="share of the panel")
    valuable_top: float = setting(
        0.3, "A customer among this top share by value (CLV, else spend in the last "
        "year) counts as valuable.", check=share, unit="share of customers")
    at_risk_from: float = setting(
        0.3, "A customer whose chance of leaving is at least this is at risk.",
        check=share, unit="probability")
    active_days: int = setting(
        365, "A current customer ordered within this many days or has a running "
        "subscription; only current customers are proposed and the panel represents them.",
        check=at_least(1), unit="days")
    missed_meetings: int = setting(
        2, "A member who missed this many meetings in a row (the latest ones) is a whisper.",
        check=at_least(1), unit="meetings")
    remind_days: int = setting(
        7, "A commitment becomes a worklist item for its owner this many days before it "
        "is due (and stays one until it is closed).", check=at_least(0), unit="days")


__all__ = ["CouncilSettings"]
