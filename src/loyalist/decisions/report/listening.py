"""The listening section of the retention report: the competition in customers' own
words and why lost customers left, from :mod:`loyalist.listening` (the team's exit
notes first, then what customers wrote, "unknown" kept with its own share)."""

from __future__ import annotations

from loyalist.decisions.report.formatting import table
from loyalist.errors import DataError
from loyalist.listening import listen, loss_reasons_of
from loyalist.listening.reasons import reasons_overall


def report_section(store, as_of, step, settings=None) -> dict | None:
    """The section's figures, or None when no customer was lost and nobody named a
    competitor. ``settings``: the ``[listening]`` settings (default: the store's)."""
    step("listening")
    settings = settings or store.settings.listening
    try:
        reasons, _by = loss_reasons_of(store, settings, as_of=as_of, by=None)
    except DataError:
        return None
    heard = listen(store, settings, as_of=as_of, by=None) if settings.competitors else None
    if reasons.empty and (heard is None or heard.mentions.empty):
        return None
    lines, tables, titles = [], {}, {}
    if len(reasons):
        overall = reasons_overall(reasons)
        known = overall[overall["reason"] != "unknown"]
        unknown = float(overall.loc[overall["reason"] == "unknown", "share"].sum())
        logged = float((reasons["source"] == "logged").mean())
        if len(known):
            top = known.iloc[0]
            lines.append(f"{len(reasons):,} customers were lost; the commonest known reason "
                         f"is {str(top['reason']).replace('_', ' ')} "
                         f"({top['share']:.0%} of them).")
        lines.append(f"Reason unknown for {unknown:.0%}; the team logged an exit reason for "
                     f"{logged:.0%}, the rest are suggested from what customers wrote.")
        overall = overall.assign(reason=overall["reason"].str.replace("_", " "))
        tables["reasons"] = table(overall, [
            ("reason", "reason", "text"), ("customers", "lost customers", "int"),
            ("share", "share", "pct"), ("revenue", "yearly revenue lost", "money")])
        titles["reasons"] = "Why customers left"
    if heard is not None and not heard.mentions.empty:
        summary = heard.summary()
        top = summary.iloc[0]
        lines.append(f"{top['competitor']} is named most: {int(top['mentions']):,} times by "
                     f"{int(top['customers']):,} customers; the topic named most: "
                     f"{top['topic']} ({top['topic_share']:.0%} of its mentions).")
        tables["competitors"] = table(summary, [
            ("competitor", "competitor", "text"), ("mentions", "mentions", "int"),
            ("customers", "customers", "int"), ("topic", "topic named most", "text"),
            ("topic_share", "of its mentions", "pct"),
            ("share_of_lost", "share of lost customers who named it", "pct"),
            ("share_of_lost_revenue", "share of lost revenue", "pct")])
        titles["competitors"] = "The competition in customers' words"
    elif heard is None:
        lines.append("No competitors are listed in [listening] competitors: "
                     "`loyalist competitors --propose` suggests names to confirm.")
    return {"title": "Listening: the competition and why customers left",
            "nav": "Listening",
            "lead": "What customers wrote and what the team logged when they left; stated "
                    "reasons are a separate source from the failure-based attribution of "
                    "losses to departments.",
            "lines": lines, "charts": {}, "captions": {}, "tables": tables,
            "table_titles": titles, "notes": []}
