"""The relationship analysis: ``[relationship]`` in ``loyalist.toml``.

Which survey the answers follow, how the analysis is run (bootstrap draws, the gap's
split, the horizon of behaviour after answering) and the rules of the four segments
(:func:`loyalist.relationship.assign_segments`). ``loyalist relationship``, the report's
relationship section, the web page and ``loyalist ingest survey_answers`` read them
from the store's settings; a command option overrides one value for one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loyalist.settings._declare import at_least, one_of, positive, setting, share


def _nps(v) -> str | None:
    return None if 0 <= v <= 10 else "an NPS answer between 0 and 10"


@dataclass(frozen=True)
class RelationshipSettings:
    """The ``[relationship]`` settings."""

    survey: str | None = setting(
        None, "The survey definition (TOML) the answers follow, relative to the folder "
        "of loyalist.toml; default: the relationship survey that ships with Loyalist.",
        example='survey = "surveys/relationship.toml"')
    by: str = setting(
        "segment", "Column of customers by which want vs deliver is split (\"\" for "
        "none).")
    boot: int = setting(
        500, "Bootstrap draws of the intervals of omega and of the drivers.",
        check=at_least(20))
    behaviour_horizon_days: int = setting(
        180, "Days after an answer in which staying and buying more are looked for (the "
        "drivers of behaviour).", check=at_least(1), unit="days")
    promoter_at: float = setting(
        9.0, "NPS answer from which a customer says they would recommend you.", check=_nps)
    detractor_below: float = setting(
        7.0, "NPS answers below this make a detractor.", check=_nps)
    leaving_horizon_days: int = setting(
        90, "The horizon of P(leave) behind the segments: leaving within this many days.",
        check=at_least(7), unit="days")
    at_risk: str = setting(
        "lift", "How a promoter counts as behaving like a leaver: \"lift\" (P(leave) at "
        "least at_risk_lift times the average of the customers scored), or \"quantile\" "
        "(P(leave) in the top 1 - at_risk_quantile of them).",
        check=one_of("lift", "quantile"))
    at_risk_lift: float = setting(
        2.0, "With at_risk = \"lift\": how many times the average P(leave) a promoter's "
        "must reach to be at risk.", check=positive, unit="times the average")
    at_risk_quantile: float = setting(
        0.8, "With at_risk = \"quantile\": the quantile of P(leave) from which a promoter "
        "is at risk.", check=share)
    gone_quiet_p: float = setting(
        0.5, "P(gone quiet) from which a customer who still looks active has probably gone "
        "already (no sign of life since their orders stopped): a promoter is then at risk, "
        "and a silent customer no silent promoter.", check=share)
    silent_promoter_p: float = setting(
        0.5, "P(promoter) from behaviour from which a customer who never answered is a "
        "silent promoter.", check=share)

    def survey_path(self, settings_file: str | None = None) -> Path | None:
        """The survey definition's path: relative to the folder of ``settings_file`` (the
        loyalist.toml it came from), else to the working folder; None for the default."""
        if not self.survey:
            return None
        p = Path(self.survey)
        if not p.is_absolute() and settings_file:
            p = Path(settings_file).parent / p
        return p


__all__ = ["RelationshipSettings"]
