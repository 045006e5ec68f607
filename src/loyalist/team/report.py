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
                     "year name the request they rate (the request id in the feedback "
                     "export) and are credited to the agent who handled it; answers naming "
                     "no request are credited to no agent. Each agent is compared with the "
                     "other agents of their team on the same kind of work (channel and "
                     "category), shrunk toward the team's mean, with an interval; the list "
                     "is ordered by that standing plus their team's own standing, which "
                     "cannot tell a team's way of working from its agents' quality.")
    if saves.empty:
        notes.append("No verified saves yet: they need touches naming who made them (by) "
                     f"and the playbook, {settings.team.save_window_days} days old.")
    return TeamReport(as_of=as_of, practices=practices,
                      stay_in_touch=stay_in_touch_coverage(store, as_of), agents=agents,
                      saves=saves, thanks=thank_you(agents), notes=notes)


# --- the retention report's team section ---------------------------------------------

def _pct(v) -> str:
    return "–" if v is None or v != v else f"{100 * float(v):.0f}%"


def _rate(v, low, high) -> str:
    """A share with its interval in whole percents: '72% (65% to 79%)'."""
    if v is None or v != v:
        return "–"
    return f"{_pct(v)} ({_pct(low)} to {_pct(high)})"


def _num(v) -> str:
    """One decimal unless whole ('9.9', '10', '-2.5'): no '10.0' on the page."""
    if v is None or v != v:
        return "–"
    s = f"{float(v):,.1f}"
    return s[:-2] if s.endswith(".0") else s


def _ratio(v) -> str:
    return "–" if v is None or v != v else f"{float(v):.1f} times"


#: an agent whom no measure tells apart from their team's mean
LEVEL_WITH_TEAM = "level with the team"
#: what it means, said once under the table
LEVEL_NOTE = ("Level with the team: on answer speed, first-contact resolution and "
              "satisfaction, no measure tells the team's agents apart beyond chance, so no "
              "place is given.")


def standing_text(r) -> str:
    """An agent's place among the team's peers: '1 of 3, +1.3 (+0.8 to +1.7)' (the
    shrunk standing in units of the real spread between a team's agents, 95%)."""
    rank, size, v = r.get("rank_in_team"), r.get("team_size"), r.get("within_team")
    if v is None or v != v:
        return "–"
    low = r.get("within_team_low")
    if low is None or low != low:
        return "no peers in the team"
    if rank is None or rank != rank:
        return LEVEL_WITH_TEAM
    return (f"{int(rank)} of {int(size)}, {signed(v)} ({signed(low)} to "
            f"{signed(r['within_team_high'])})")


def signed(v) -> str:
    """A standing with its sign and one decimal unless whole: '+1.3', '-2', '0'."""
    if v is None or v != v:
        return "–"
    s = f"{float(v):+.1f}"
    s = s[:-2] if s.endswith(".0") else s
    return "0" if s in ("+0", "-0") else s


def who(r) -> str:
    name = r.get("name")
    agent = str(r.get("agent"))
    return f"{name} ({agent})" if isinstance(name, str) and name and name != agent else agent


def _practice_rows(practices) -> list[list[str]]:
    rows = []
    for p in practices:
        now = _pct(p.value)
        if p.median_hours is not None:
            now += f", median {_num(p.median_hours)} h"
        trend = "–"
        if p.value == p.value and p.previous == p.previous:
            d = round(100 * (p.value - p.previous))
            trend = "no change" if d == 0 else f"{d:+d} points"
        ratio = _ratio(p.risk_ratio)
        if p.rr_low == p.rr_low:
            ratio += f" ({p.rr_low:.1f} to {p.rr_high:.1f})"
        counts = (f"{p.left_with_gap:,} of {p.with_gap:,} left, against {p.left_without:,} "
                  f"of {p.without:,}" if p.with_gap or p.without else "–")
        rows.append([p.practice, p.department, now, _pct(p.previous), trend, f"{p.count:,}",
                     ratio, counts])
    return rows


def practices_chart(practices) -> str | None:
    """SVG: for each practice, how many times as often customers who met its gap left
    as those who did not, with the 95% interval (log scale, 1 = no difference)."""
    from loyalist.decisions.report.charts import ACCENT, figure, to_svg

    ps = [p for p in practices if p.risk_ratio == p.risk_ratio and p.rr_low == p.rr_low]
    if not ps:
        return None
    fig, ax = figure((8.0, 1.2 + 0.45 * len(ps)))
    y = np.arange(len(ps))
    rr = np.array([p.risk_ratio for p in ps])
    lo = np.array([p.rr_low for p in ps])
    hi = np.array([p.rr_high for p in ps])
    ax.errorbar(rr, y, xerr=[rr - lo, hi - rr], fmt="o", color=ACCENT, capsize=3)
    ax.axvline(1.0, color="#6b7280", ls="--", lw=1)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ticks = [t for t in (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10)
             if 0.9 * lo.min() <= t <= 1.1 * hi.max() or t == 1]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}x"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, [p.practice for p in ps])
    ax.invert_yaxis()
    ax.grid(axis="x", color="#e5e7eb", lw=0.8)
    ax.set_title("Left with the gap, times as often as without")
    return to_svg(fig)


def team_section(rep: TeamReport) -> dict:
    """The report section built from a :class:`TeamReport` (what :func:`report_section`
    returns; ``data`` keeps the figures as ``rep.to_dict()``)."""
    from loyalist.decisions.report.formatting import Table

    data = rep.to_dict()
    lines: list[str] = []
    st = rep.stay_in_touch
    if st and st.get("active"):
        lines.append(f"Stay in touch: {_pct(st['share'])} of the {st['active']:,} customers "
                     f"active in the last year were contacted within their interval; "
                     f"{st['overdue']:,} are overdue.")
    if len(rep.thanks):
        lines.append("Thank you this week: "
                     + ", ".join(who(r) for r in data["thank_you"]) + ".")
    elif len(rep.agents):
        lines.append("No thank-you list this week: no agent with at least 50 contacts "
                     "stands credibly above the peers of their team.")
    if any(standing_text(r) == LEVEL_WITH_TEAM for r in data.get("agents", [])):
        lines.append(LEVEL_NOTE)
    if len(rep.saves):
        s = rep.saves
        lines.append(f"Verified saves: {_num(s['verified_saves'].sum())} customers still "
                     f"ordering beyond what the held-out control predicts, from "
                     f"{int(s['worked'].sum()):,} worked from the worklist.")
    tables, titles = {}, {}
    if rep.practices:
        tables["practices"] = Table(
            columns=["practice", "department", "now", "before", "trend", "counted",
                     "left with the gap vs without (95% interval)", "customers"],
            rows=_practice_rows(rep.practices),
            numeric=[False, False, True, True, True, True, True, False])
        titles["practices"] = "Retention-practices scorecard"
    if len(rep.agents):
        rows = []
        for r in data["agents"]:
            n = r.get("rated") or 0
            sat = (f"{_rate(r['satisfaction'], r['satisfaction_low'], r['satisfaction_high'])}"
                   f"; {n:,} answer{'' if n == 1 else 's'}" if n else "no answers")
            rows.append([who(r), str(r.get("team") or "–"), f"{r['handled']:,}",
                         _rate(r["responsiveness"], r["responsiveness_low"],
                               r["responsiveness_high"]),
                         _rate(r["fcr"], r["fcr_low"], r["fcr_high"]),
                         f"{r['callbacks_caused']:,}", sat, standing_text(r)])
        tables["agents"] = Table(
            columns=["agent", "team", "contacts", "answered within target",
                     "first-contact resolution", "call-backs caused", "satisfied (answers)",
                     "in the team (95% interval)"],
            rows=rows, numeric=[False, False, True, True, True, True, True, False])
        titles["agents"] = "Agents, last 12 months (rates shrunk toward the team mean)"
    if len(rep.saves):
        rows = [[who(r), f"{r['worked']:,}", f"{r['still_active']:,}",
                 _num(r["expected"]), _num(r["verified_saves"]),
                 f"{_num(r['saves_low'])} to {_num(r['saves_high'])}"]
                for r in data["verified_saves"]]
        tables["saves"] = Table(
            columns=["who called", "customers worked", "still ordering", "expected from "
                     "the control", "verified saves", "95% interval"],
            rows=rows, numeric=[False, True, True, True, True, True])
        titles["saves"] = "Verified saves"
    notes = [rep.notes[0]]  # the risk ratios' caveat; the others name columns
    if len(rep.agents):
        notes.append(f"Satisfaction: {int(rep.agents['rated'].sum()):,} survey answers in the "
                     "last year name the request they rate and are credited to the agent who "
                     "handled it; answers naming no request are credited to no agent. Agents "
                     "are compared with the peers of their team doing the same work (the "
                     "standing in the team, shrunk toward the team mean) and listed by that "
                     "plus their team's standing.")
    else:
        notes.append("No agents' figures: they need service requests naming the agent who "
                     "handled them in the last year.")
    if not len(rep.saves):
        notes.append("No verified saves yet: they need worklist calls logged with who made "
                     "them and the playbook, and a save window that has ended.")
    charts, captions = {}, {}
    svg = practices_chart(rep.practices)
    if svg is not None:
        charts["practices"] = svg
        captions["practices"] = ("Each dot: how many times as often customers who met the "
                                 "gap left as those who did not; the line is its 95% "
                                 "interval, the dashed line no difference.")
    return {"title": "Team: retention practices, agents and saves", "nav": "Team",
            "lead": "How the firm keeps its retention practices, who keeps customers and "
                    "whom the worklist's calls really kept: the same figures as loyalist "
                    "team and the Team page.",
            "lines": lines, "charts": charts, "captions": captions, "tables": tables,
            "table_titles": titles, "notes": notes, "data": data}


def report_section(store, as_of, step) -> dict | None:
    """The report's team section (``build_report(extra_sections={"team":
    report_section})``): the scorecard with its chart, stay-in-touch coverage, the
    agents' shrunk rates, verified saves and the thank-you list; None when the store has
    neither orders nor requests to measure."""
    step("team: practices, agents and saves")
    rep = team_report(store, as_of)
    if not rep.practices and not len(rep.agents) and not len(rep.saves):
        return None
    return team_section(rep)


def report_sections() -> dict:
    """Every section the team layer adds to the retention report, for
    ``build_report``/``write_report(extra_sections=report_sections())``: the team
    (scorecard, agents, saves) and the losses by cause and department."""
    from loyalist.team import losses

    return {"team": report_section, "departments": losses.report_section}
