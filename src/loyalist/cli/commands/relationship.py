"""``loyalist relationship``: trust and commitment, want vs deliver, key drivers, segments."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from loyalist.cli.options import STORE, date_option, open_store
from loyalist.cli.tables import Col, day, out, show


def _num(v, fmt="{:.2f}") -> str:
    return "" if v is None or v != v else fmt.format(v)


def relationship(
    survey: Path = typer.Option(None, "--survey", help="Survey definition (TOML); default: "
                                "[relationship] survey, else the relationship survey that "
                                "ships with Loyalist."),
    by: str = typer.Option(None, "--by", help="Column of customers for the gap by segment "
                           "('' for none); default: [relationship] by."),
    as_of: str = date_option("--as-of", "Date of the segments, YYYY-MM-DD (default: the "
                             "day after the last order or subscription change)."),
    boot: int = typer.Option(None, "--boot", help="Bootstrap draws for the intervals; "
                             "default: [relationship] boot."),
    horizon: int = typer.Option(None, "--horizon", help="Days after an answer in which to "
                                "look for staying and buying more; default: [relationship] "
                                "behaviour_horizon_days."),
    quarantine: bool = typer.Option(False, "--quarantine", help="Move answers that break the "
                                    "survey definition to the quarantine first."),
    save: bool = typer.Option(True, "--save/--no-save", help="Keep the segments in the "
                              "derived table relationship_segments (for the worklist) and "
                              "the analysis for the web page."),
    plots: Path = typer.Option(None, "--plots", help="Folder for the charts (PNG)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole analysis as JSON."),
    store: str = STORE,
) -> None:
    """Measure the relationship: reliability of each scale, what customers want against
    what they get, what drives trust, commitment, NPS and behaviour, and four segments
    (loyal advocates, at-risk promoters, silent promoters, detractors) with actions.
    The [relationship] settings apply; options override them for this run."""
    from loyalist.contract.survey import load_survey
    from loyalist.relationship import analyse, check_answers, save_analysis
    from loyalist.settings import Settings

    settings = Settings.load(store).with_values(
        "relationship", by=by, boot=boot, behaviour_horizon_days=horizon,
        survey=None if survey is None else str(survey.resolve()))
    cfg = settings.relationship
    # a bad definition fails before the store opens
    definition = load_survey(cfg.survey_path(settings.path))
    with open_store(store, settings=settings) as s:
        if quarantine:
            c = check_answers(s, definition, quarantine=True)
            if c.quarantined:
                out.print(c.message, highlight=False)
        if as_json:
            res = analyse(s, definition, as_of=as_of)
        else:
            with out.status("Analysing the relationship") as status:
                res = analyse(s, definition, as_of=as_of,
                              progress=lambda m: status.update(f"Relationship: {m}"))
        saved = save_analysis(s, res) if save else 0
    if as_json:
        typer.echo(json.dumps(res.to_dict(), indent=1, default=str))
        return
    _print(res)
    if saved:
        out.print(f"Saved {saved:,} customers' segments to the derived table "
                  "[bold]relationship_segments[/] (the worklist's relationship playbooks and "
                  "the web page read them).")
    if plots is not None:
        for path in _save_plots(res, plots):
            out.print(f"Chart: {path}", highlight=False, markup=False)


def _print(res) -> None:
    from rich.markup import escape

    out.print(f"[bold]Survey {escape(res.survey.name)}[/]: {res.responses:,} responses from "
              f"{res.customers:,} customers.", highlight=False)
    show([Col("scale"), *(Col(c, right=True) for c in ("n", "alpha", "95% interval",
                                                        "omega", "95% interval"))],
         [(r.construct, f"{r.n:,}", _num(r.alpha), f"{_num(r.alpha_ci[0])}-"
           f"{_num(r.alpha_ci[1])}", _num(r.omega),
           f"{_num(r.omega_ci[0])}-{_num(r.omega_ci[1])}") for r in res.reliability],
         title="Reliability (0.70 or more is the usual bar)")
    for r in res.reliability:
        if r.warning:
            out.print(r.warning, style="yellow", markup=False, highlight=False)
    if len(res.gap):
        show([Col("attribute", wrap=True, min_width=14), Col("want", right=True),
              Col("get", right=True), Col("gap", right=True), Col("quadrant", wrap=True)],
             [(r.label, _num(r.importance, "{:.1f}"), _num(r.performance, "{:.1f}"),
               _num(r.gap, "{:+.1f}"), r.quadrant) for r in res.gap.itertuples(index=False)],
             title="Want vs deliver (means, 1-7)")
    rows = []
    for name, d in {**res.drivers, **res.behaviour}.items():
        top = d.table.head(3)
        cells = [f"{row.label} {row.share:.0%}" for row in top.itertuples(index=False)]
        rows.append((name, _num(d.r2), *(cells + [""] * (3 - len(cells)))))
    show([Col("outcome"), Col("R²", right=True), Col("first", wrap=True, min_width=10),
          Col("second", wrap=True, min_width=10), Col("third", wrap=True, min_width=10)],
         rows, title="Key drivers (share of what the attributes explain)")
    for d in {**res.drivers, **res.behaviour}.values():
        if d.evidence.startswith("Weak"):
            out.print(d.evidence, style="yellow", markup=False, highlight=False)
    if res.people is not None:
        show([Col("segment"), Col("customers", right=True), Col("P(leave)", right=True),
              Col("P(promoter)", right=True), Col("action", wrap=True)],
             [(r.segment, f"{r.customers:,}", _num(r.p_leave, "{:.0%}"),
               _num(r.p_promoter, "{:.0%}"), r.action)
              for r in res.segments.itertuples(index=False)],
             title=f"Segments as of {day(res.as_of)}")
        a = res.advocacy.summary_
        out.print(f"Advocacy from behaviour: out-of-fold ROC AUC {a['oof_roc_auc']:.2f} on "
                  f"{int(a['answerers']):,} answerers; predicted promoter share of the "
                  f"{int(a['silent']):,} silent customers "
                  f"{a['predicted_promoter_share_silent']:.0%} (answerers "
                  f"{a['promoter_share_answerers']:.0%}).", highlight=False)
    for note in res.notes:
        out.print(note, style="dim", markup=False, highlight=False)


def _save_plots(res, folder: Path) -> list[Path]:
    from loyalist.relationship import plots

    folder.mkdir(parents=True, exist_ok=True)
    made = []

    def save(ax, name):
        path = folder / f"{name}.png"
        ax.figure.savefig(path, dpi=110)
        made.append(path)

    if len(res.gap):
        save(plots.plot_importance_performance(res.gap), "importance_performance")
    if res.reliability:
        save(plots.plot_reliability(res.reliability), "reliability")
    for name, d in res.drivers.items():
        save(plots.plot_drivers(d), f"drivers_{name}")
    return made


def register(app: typer.Typer) -> None:
    app.command()(relationship)
