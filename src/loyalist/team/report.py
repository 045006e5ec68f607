"""``team_report``: everything ``loyalist team``, the web page and the report show."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.contract.moments import moment
from loyalist.team.agents import agent_table, thank_you, verified_saves
from loyalist.team.scorecard import Practice, scorecard, stay_in_touch_coverage


@dataclass
class TeamReport:
    """The scorecard, stay-in-touch coverage, agents, verified saves and thank-you list."""

    as_of: pd.Timestamp
    practices: list[Practice]
    stay_in_touch: dict | None
    agents: pd.DataFrame
    saves: pd.DataFrame
    thanks: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def for_agent(self, agent: str) -> TeamReport:
        """The same report with only one agent's own figures (what an agent may see)."""
        def only(df):
            return df[df["agent"] == agent] if "agent" in df else df

        return TeamReport(self.as_of, self.practices, self.stay_in_touch, only(self.agents),
                          only(self.saves), only(self.thanks), self.notes)

    def to_dict(self) -> dict:
        def rows(df):
            return [{k: (None if isinstance(v, float) and np.isnan(v) else
                         v.item() if isinstance(v, np.generic) else v)
                     for k, v in r.items()} for r in df.to_dict("records")]

        return {"as_of": str(self.as_of.date()),
                "scorecard": [p.to_dict() for p in self.practices],
                "stay_in_touch": self.stay_in_touch, "agents": rows(self.agents),
                "verified_saves": rows(self.saves), "thank_you": rows(self.thanks),
                "notes": self.notes}


def team_report(store, as_of=None, *, settings=None, period_days: int = 90) -> TeamReport:
    """The retention-practices scorecard, agents and saves as of ``as_of`` (default: the
    day after the last order or subscription change)."""
    from loyalist.decisions.scoring import default_as_of
    from loyalist.settings import Settings

    settings = settings or Settings.load(store)
    as_of = moment(as_of) if as_of is not None else default_as_of(store)
    practices = scorecard(store, as_of, settings, period_days=period_days)
    agents = agent_table(store, as_of, settings)
    saves = verified_saves(store, as_of, settings)
    notes = ["Risk ratios compare customers who met a gap in the year before the last 90 "
             "days with those who did not (left: no order in the last 90 days); they are "
             "not adjusted for how often a customer orders or asks, so a gap of frequent "
             "buyers can look protective."]
    if len(agents):
        notes.append(f"Satisfaction: {int(agents['rated'].sum()):,} survey answers in the last "
                     "year name the request they rate (feedback.request_id) and are credited "
                     "to the agent who handled it; answers naming no request are credited to "
                     "no agent. Agents are ranked by the mean of their standardised shrunk "
                     "rates (rank_score).")
    if saves.empty:
        notes.append("No verified saves yet: they need touches naming who made them (by) "
                     f"and the playbook, {settings.team.save_window_days} days old.")
    return TeamReport(as_of=as_of, practices=practices,
                      stay_in_touch=stay_in_touch_coverage(store, as_of), agents=agents,
                      saves=saves, thanks=thank_you(agents), notes=notes)
