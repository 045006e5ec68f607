"""The relationship's section of the retention report: reliability, want vs deliver,
drivers and the four segments, from :mod:`loyalist.relationship` (when the store holds
survey answers)."""

from __future__ import annotations

import pandas as pd

from loyalist.decisions.report.charts import to_svg
from loyalist.decisions.report.formatting import table
from loyalist.errors import DataError
from loyalist.relationship import plots
from loyalist.relationship.analysis import analyse


def report_section(store, as_of, step, survey=None) -> dict | None:
    """The section's figures, or None when the store holds no survey answers."""
    if not store.table("survey_answers").limit(1).count().execute():
        return None
    step("relationship")
    try:
        res = analyse(store, survey, as_of=None, n_boot=200)
    except DataError:
        return None
    charts, captions = {}, {}
    if len(res.gap):
        charts["gap"] = to_svg(plots.plot_importance_performance(res.gap).figure)
        captions["gap"] = ("Each attribute by how much customers care and how well you "
                           "deliver (95% intervals); dashed lines: the averages.")
    for name in ("trust", "commitment", "nps"):
        if name in res.drivers:
            charts[f"drivers_{name}"] = to_svg(plots.plot_drivers(res.drivers[name]).figure)
            captions[f"drivers_{name}"] = (f"What drives {name}: relative weights with "
                                           "bootstrap intervals.")
    if res.reliability:
        charts["reliability"] = to_svg(plots.plot_reliability(res.reliability).figure)
        captions["reliability"] = "Cronbach's alpha and McDonald's omega, 95% intervals."
    tables, titles = {}, {}
    rel = pd.DataFrame([r.as_dict() for r in res.reliability])
    if len(rel):
        for col in ("alpha", "omega"):
            rel[col] = rel[col].map("{:.2f}".format)
        tables["reliability"] = table(rel, [
            ("construct", "scale", "text"), ("responses", "responses", "int"),
            ("alpha", "alpha", "text"), ("omega", "omega", "text"),
            ("warning", "warning", "text")])
        titles["reliability"] = "Reliability"
    if len(res.gap):
        tables["gap"] = table(res.gap, [
            ("label", "attribute", "text"), ("importance", "want", "num1"),
            ("performance", "get", "num1"), ("gap", "gap", "num1"),
            ("quadrant", "quadrant", "text")])
        titles["gap"] = "Want vs deliver"
    if res.people is not None:
        tables["segments"] = table(res.segments, [
            ("segment", "segment", "text"), ("customers", "customers", "int"),
            ("p_leave", "P(leave)", "pct0"), ("p_promoter", "P(promoter)", "pct0"),
            ("action", "what to do", "text")])
        titles["segments"] = "Segments"
    return {"title": "Relationship: trust, commitment and who will sing your praises",
            "nav": "Relationship",
            "lead": f"{res.responses:,} responses from {res.customers:,} customers to the "
                    f"{res.survey.name} survey.",
            "lines": res.findings(), "charts": charts, "captions": captions,
            "tables": tables, "table_titles": titles, "notes": res.notes}
