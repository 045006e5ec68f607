"""The retention report: one self-contained HTML page for the owner.

``write_report(store)`` measures retention in the engine
(:mod:`loyalist.features.retention`), the service (:mod:`~loyalist.decisions.service.report`),
feedback, the week's alerts and the worklist, and writes one HTML file with every
chart inline as SVG: it opens without a network. ``build_report`` returns the
figures without writing anything (the CLI prints its headline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from loyalist.decisions.report import charts, sections
from loyalist.decisions.report.formatting import (
    Table,
    fmt_money,
    fmt_pct,
    headline_sentence,
    loss_table,
    table,
)
from loyalist.errors import DataError
from loyalist.features import retention as rt
from loyalist.features.builder import available


@dataclass
class RetentionReport:
    """Everything the page shows: ``headline`` figures, then one dict per section
    (``values``, ``tables`` of :class:`Table`, ``charts`` as SVG text, ``notes``)."""

    as_of: pd.Timestamp
    target: float
    mode: str
    horizon: int | None
    headline: dict
    sections: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def charts(self) -> int:
        return sum(len(s.get("charts", {})) for s in self.sections.values())


def _retention(basis, target, step) -> dict:
    step("loss rates")
    monthly = rt.loss_rates(freq="M", basis=basis)
    rolling = rt.rolling_loss(basis=basis)
    overall = rt.trailing_loss(basis=basis).iloc[0].to_dict()
    by = {d: rt.trailing_loss(by=d, basis=basis) for d in rt.DIMENSIONS}
    out = {"overall": overall, "charts": {}, "tables": {}}
    if len(monthly):
        out["charts"]["loss_over_time"] = charts.loss_over_time(monthly, rolling, target)
    for d, t in by.items():
        t = t[t["at_risk"] > 0]
        if t[d].nunique() > 1:
            out["charts"][f"loss_by_{d}"] = charts.loss_by(t, d, target)
        out["tables"][f"loss_by_{d}"] = loss_table(t, d, target)
    recent = monthly.tail(12).iloc[::-1]
    out["tables"]["monthly"] = table(recent, [
        ("period", "month", "month"), ("at_risk", "customers at start", "int"),
        ("lost", "lost", "int"), ("loss_rate", "lost (share)", "pct"),
        ("annualised_loss_rate", "annualised", "pct"),
        ("revenue_loss_rate", "revenue lost (share)", "pct")])
    return out


def _cohorts(basis, step) -> dict:
    step("cohort curves")
    curves = rt.cohort_retention(freq="Q", basis=basis)
    wide = curves.pivot_table(index="cohort", columns="months", values="retained")
    marks = [m for m in (3, 6, 12, 18) if m in wide.columns]
    rows = curves.groupby("cohort")["customers"].first().to_frame()
    for m in marks:
        rows[f"m{m}"] = wide[m]
    rows = rows.reset_index()
    spec = [("cohort", "cohort", "quarter"), ("customers", "customers", "int")]
    spec += [(f"m{m}", f"after {m} months", "pct") for m in marks]
    return {"charts": {"cohorts": charts.cohort_curves(curves)},
            "tables": {"cohorts": table(rows, spec)}}


def _revenue(store, basis, step) -> dict:
    step("revenue retention")
    annual = rt.revenue_retention(store, months=12, points=1, as_of=basis.as_of,
                                  mode=basis.mode)
    quarterly = rt.revenue_retention(store, months=3, points=7, as_of=basis.as_of,
                                     mode=basis.mode)
    out = {"annual": annual.iloc[-1].to_dict() if len(annual) else None, "charts": {},
           "tables": {}}
    if len(quarterly) > 1:
        out["charts"]["revenue_retention"] = charts.revenue_retention(
            quarterly, "each 3 months against the 3 months before")
    spec = [("window_end", "quarter to", "date"), ("customers", "customers at start", "int"),
            ("revenue_before", "revenue before", "money"),
            ("revenue_after", "same customers after", "money"), ("nrr", "NRR", "pct"),
            ("grr", "GRR", "pct")]
    out["tables"]["quarterly"] = table(quarterly.iloc[::-1], spec)
    return out


def _value(store, basis, step) -> dict:
    step("value concentration and revenue at risk")
    conc = rt.value_concentration(store, basis=basis)
    out = {"concentration": conc, "charts": {"lorenz": charts.lorenz(conc)}, "tables": {}}
    risk = rt.revenue_at_risk(store, basis=basis)
    out["at_risk"] = risk.iloc[0].to_dict() if risk is not None else None
    if risk is not None:
        for d in rt.DIMENSIONS:
            t = rt.revenue_at_risk(store, by=d, basis=basis)
            if d == "segment" and t[d].nunique() > 1:
                out["charts"]["at_risk_by_segment"] = charts.at_risk_by(t, d)
            out["tables"][f"at_risk_by_{d}"] = table(t, [
                (d, d, "text"), ("customers", "customers scored", "int"),
                ("expected_leavers", "expected to leave", "num0"),
                ("value", "value", "money"), ("value_at_risk", "value at risk", "money"),
                ("share_at_risk", "share at risk", "pct")])
    return out


def _service(store, as_of, step) -> dict | None:
    if not available(store)["requests"]:
        return None
    step("service")
    from loyalist.decisions.service import plots as service_plots
    from loyalist.decisions.service.report import service_report

    try:
        rep = service_report(store, as_of, since=as_of - pd.DateOffset(months=12))
    except DataError:
        return None
    out = {"summary": rep.summary, "charts": {}, "tables": {}}
    out["charts"]["response_times"] = charts.service_chart(service_plots.plot_response_times, rep)
    out["charts"]["callback_rate"] = charts.service_chart(service_plots.plot_callback_rate, rep)
    if rep.misrouting_matrix is not None:
        out["charts"]["misrouting"] = charts.service_chart(service_plots.plot_misrouting, rep)
    if rep.open_ageing is not None and rep.open_ageing.size:
        out["charts"]["open_ageing"] = charts.service_chart(service_plots.plot_open_ageing, rep)
    spec = [("team", "team", "text"), ("requests", "requests", "int"),
            ("answered_share", "answered", "pct"),
            ("median_response_h", "median first response (h)", "num1"),
            ("p90_response_h", "90% answered within (h)", "num1"),
            ("breach_share", "past target", "pct"), ("callback_rate", "call-backs", "pct")]
    out["tables"]["by_team"] = table(rep.by["team"].reset_index(), spec)
    return out


def _feedback(store, as_of, basis, step) -> dict | None:
    if not available(store)["feedback"]:
        return None
    step("feedback")
    monthly = sections.feedback_monthly(store, as_of)
    latest = sections.latest_answers(store, as_of).cache()  # read by the next two
    try:
        cross = sections.satisfaction_vs_loyalty(store, as_of, basis.ends, latest=latest)
        odd = sections.disagreeing(store, as_of, latest=latest)
    finally:
        latest.release()
    out = {"charts": {}, "tables": {}}
    if len(monthly) > 1:
        out["charts"]["nps"] = charts.nps_over_time(monthly)
        out["charts"]["relationship"] = charts.relationship_over_time(monthly)
    last = monthly.tail(3)
    rated = last["rated"].sum()
    out["nps_recent"] = (100 * (last["promoters"].sum() - last["detractors"].sum()) / rated
                         if rated else None)
    cross["lost_share"] = cross["lost"] / cross["customers"]
    order = {"satisfied (4-5)": 0, "neutral (3)": 1, "dissatisfied (1-2)": 2}
    cross = cross.sort_values(["satisfied", "loyalty"], key=lambda s: s.map(order).fillna(s)
                              if s.name == "satisfied" else s, ignore_index=True)
    odd_sat = cross[(cross["satisfied"] == "satisfied (4-5)")
                    & (cross["loyalty"] == "detractor (0-6)")]["customers"].sum()
    out["satisfied_not_loyal"] = int(odd_sat)
    out["loyal_not_satisfied"] = int(cross[(cross["satisfied"] == "dissatisfied (1-2)")
                                           & (cross["loyalty"] == "promoter (9-10)")
                                           ]["customers"].sum())
    out["tables"]["cross"] = table(cross, [
        ("satisfied", "satisfaction (latest answer)", "text"), ("loyalty", "NPS group", "text"),
        ("customers", "customers", "int"), ("lost_share", "lost since", "pct")])
    out["tables"]["odd"] = table(odd, [
        ("kind", "", "text"), ("name", "customer", "text"), ("customer_id", "id", "text"),
        ("owner", "owner", "text"), ("answered_at", "answered", "date"),
        ("satisfaction", "satisfaction", "int"), ("nps", "NPS", "int"),
        ("comment", "comment", "text")])
    return out


def _whispers(store, as_of, basis, step) -> dict | None:
    step("whispers of the week")
    week = sections.alerts_of_week(store, as_of)
    values, _ = (rt.customer_values(store, basis=basis) if "scores" in store.tables()
                 else (None, None))
    loud = sections.loudest_whispers(store, values)
    if week is None and loud is None:
        return None
    out = {"tables": {}, "charts": {}}
    if week is not None:
        kinds, top = week
        out["alerts_total"] = int(kinds["alerts"].sum()) if len(kinds) else 0
        out["tables"]["kinds"] = table(kinds.assign(kind=kinds["kind"].str.replace("_", " ")), [
            ("kind", "alert", "text"), ("must_do", "must do", "bool"),
            ("alerts", "alerts", "int"), ("customers", "customers", "int")])
        out["tables"]["alerts"] = table(top, [
            ("at", "when", "datetime"), ("name", "customer", "text"),
            ("customer_id", "id", "text"), ("owner", "owner", "text"), ("text", "what", "text"),
            ("p_leave", "P(leave)", "pct0")])
    if loud is not None:
        out["tables"]["loud"] = table(loud, [
            ("name", "customer", "text"), ("customer_id", "id", "text"),
            ("owner", "owner", "text"), ("p_leave", "P(leave)", "pct0"),
            ("value", "value", "money"), ("at_stake", "value at risk", "money"),
            ("top_reason", "loudest whisper", "text")])
    return out


def _worklist(store, as_of, step) -> dict:
    step("worklist")
    w = sections.worklist_section(store, as_of)
    if not w["present"]:
        return {"present": False, "tables": {}, "charts": {}}
    out = {"present": True, "charts": {}, "tables": {}}
    if w["progress"] is not None and len(w["progress"]):
        out["tables"]["progress"] = Table.from_frame(w["progress"])
    if w["impact"] is not None and len(w["impact"]):
        impact = w["impact"]
        out["verdicts"] = [(str(p), str(v)) for p, v in
                           zip(impact.get("playbook", impact.index), impact["verdict"],
                               strict=False)] if "verdict" in impact else []
        out["tables"]["impact"] = Table.from_frame(impact.drop(columns=["verdict"],
                                                               errors="ignore"))
    return out


def _scoring_settings(store) -> tuple[str, int | None] | None:
    """Mode and horizon of the churn model behind the current scores, so the report
    calls a customer lost the way the scores do."""
    from loyalist.decisions.measures import scoring_rule

    return scoring_rule(store)


def build_report(store, as_of=None, *, target_annual_loss: float | None = None,
                 horizon: int | None = None,
                 progress: Callable[[str], None] | None = None,
                 extra_sections: dict[str, Callable] | None = None) -> RetentionReport:
    """Compute every section of the report (nothing is written). The target and the
    horizon default to the store's ``[report]`` settings; the service section uses its
    ``[service]`` targets and ``[calendar]``.

    ``extra_sections`` maps a section name to ``f(store, as_of, step)`` returning a
    section dict (``title``, ``lead``, ``lines``, ``charts`` of SVG with ``captions``,
    ``tables`` with ``table_titles``) or None, added after the whispers.
    """
    step = progress or (lambda _m: None)
    settings = store.settings.report
    if target_annual_loss is not None:
        settings = store.settings.with_values("report",
                                              target_annual_loss=target_annual_loss).report
    target = settings.target_annual_loss
    horizon = horizon if horizon is not None else settings.horizon
    step("customers' lives")
    from loyalist.decisions.measures import retention_rule

    mode, horizon = retention_rule(store, horizon)
    # every retention section reads the customers' lives: compute them once (an
    # engine-side cache, released when the report is built)
    with rt.retention_basis(store, as_of, mode=mode, horizon=horizon).cached() as basis:
        as_of = basis.as_of
        rep = RetentionReport(as_of=as_of, target=target, mode=basis.mode,
                              horizon=basis.horizon, headline={})
        rep.sections["retention"] = _retention(basis, target, step)
        rep.sections["cohorts"] = _cohorts(basis, step)
        rep.sections["revenue"] = _revenue(store, basis, step)
        rep.sections["value"] = _value(store, basis, step)
        for name, part in (("service", _service(store, as_of, step)),
                           ("feedback", _feedback(store, as_of, basis, step)),
                           ("whispers", _whispers(store, as_of, basis, step))):
            if part is not None:
                rep.sections[name] = part
    from loyalist.decisions.report.relationship import report_section

    relationship = report_section(store, as_of, step)
    if relationship is not None:
        rep.sections["relationship"] = dict(relationship, extra=True)
    from loyalist.decisions.report.listening import report_section as listening_section

    listening = listening_section(store, as_of, step)
    if listening is not None:
        rep.sections["listening"] = dict(listening, extra=True)
    for name, make in (extra_sections or {}).items():
        part = make(store, as_of, step)
        if part is not None:
            rep.sections[name] = dict(part, extra=True)
    rep.sections["worklist"] = _worklist(store, as_of, step)
    rep.headline = _headline(rep)
    if basis.mode == "lapse":
        rep.notes.append(f"A customer counts as lost {basis.horizon} days after their last "
                         "order with no new one.")
    return rep


def _headline(rep: RetentionReport) -> dict:
    o = rep.sections["retention"]["overall"]
    h = {"loss_rate": o["loss_rate"], "revenue_loss_rate": o["revenue_loss_rate"],
         "at_risk": int(o["at_risk"]), "lost": int(o["lost"]), "active_now": int(o["active_now"]),
         "target": rep.target}
    h["sentence"] = headline_sentence(o["loss_rate"], rep.target)
    h["on_target"] = bool(o["loss_rate"] == o["loss_rate"] and o["loss_rate"] <= rep.target)
    rev = rep.sections["revenue"]["annual"]
    h["nrr"] = rev["nrr"] if rev else None
    h["grr"] = rev["grr"] if rev else None
    conc = rep.sections["value"]["concentration"]
    h["top_share"] = conc.top_share
    h["value_source"] = conc.source
    risk = rep.sections["value"]["at_risk"]
    h["value_at_risk"] = risk["value_at_risk"] if risk else None
    h["share_at_risk"] = risk["share_at_risk"] if risk else None
    h["expected_leavers"] = risk["expected_leavers"] if risk else None
    svc = rep.sections.get("service")
    h["unanswered_now"] = int(svc["summary"]["unanswered_now"]) if svc else None
    h["unanswered_window"] = svc["summary"].get("unanswered_window") if svc else None
    lines = [h["sentence"]]
    if o["revenue_loss_rate"] == o["revenue_loss_rate"]:
        lines.append(f"By revenue you lost {fmt_pct(o['revenue_loss_rate'])}.")
    if risk:
        lines.append(f"{fmt_money(risk['value_at_risk'])} of value is at risk "
                     f"({fmt_pct(risk['share_at_risk'])}).")
    h["lines"] = lines
    return h


def render_html(rep: RetentionReport) -> str:
    """The report as one HTML page (jinja2, every value escaped)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=fmt_pct, money=fmt_money)
    from markupsafe import Markup

    svgs = {f"{s}.{k}": Markup(v) for s, part in rep.sections.items()
            for k, v in part.get("charts", {}).items()}
    return env.get_template("template.html.j2").render(r=rep, h=rep.headline, svg=svgs,
                                                              s=rep.sections)


def write_report(store, path="loyalist-out/report.html", *, as_of=None,
                 target_annual_loss: float | None = None, horizon: int | None = None,
                 progress: Callable[[str], None] | None = None,
                 extra_sections: dict[str, Callable] | None = None) -> Path:
    """Write the retention report for the owner as one self-contained HTML file.

    Parameters
    ----------
    store : Store
    path : str or Path
        Where to write (folders are created).
    as_of : date-like, optional
        The report's moment (default: midnight after the last order or subscription
        change).
    target_annual_loss : float, optional
        The loss the business accepts in a year (0.05: under 5% of customers); default
        the store's ``[report] target_annual_loss``.
    horizon : int, optional
        Days without an order after which a customer counts as lost (non-contractual;
        default suggested from the customers' own order gaps).
    extra_sections : dict, optional
        More sections (see :func:`build_report`).
    """
    rep = build_report(store, as_of, target_annual_loss=target_annual_loss, horizon=horizon,
                       progress=progress, extra_sections=extra_sections)
    (progress or (lambda _m: None))("writing the page")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(rep), encoding="utf-8")
    return path


__all__ = ["RetentionReport", "build_report", "render_html", "write_report"]
