"""``loyalist score``, ``loyalist explain`` and ``loyalist backtest``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

import loyalist
from loyalist.cli.options import STORE

out = Console()


def _progress():
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=out, transient=True)


def score(
    as_of: str = typer.Option(None, "--as-of", help="Score as of this date (default: the "
                              "day after the latest order)."),
    horizon: int = typer.Option(None, help="Days ahead that 'leaving' looks (default: "
                                "suggested from the customers' own order gaps)."),
    mode: str = typer.Option("auto", help="auto, lapse (orders) or contract (subscriptions)."),
    top: int = typer.Option(15, help="How many of the riskiest to print."),
    store: str = STORE,
) -> None:
    """Score every active customer: P(leave), the whispers behind it, and alerts; then
    refresh the overview's figures (loss rates, cohorts, service, NPS, value at risk)."""
    from loyalist.decisions.overview import refresh
    from loyalist.decisions.scoring import score as run_score

    with loyalist.connect(store) as s, _progress() as bar:
        task = bar.add_task("starting")
        run = run_score(s, as_of, mode=mode, horizon=horizon,
                        progress=lambda m: bar.update(task, description=m))
        # the overview's figures (loss rates, cohorts, service, NPS, value at risk)
        refresh(s, progress=lambda m: bar.update(task, description=m))
    sc = run.scores
    out.print(f"Scored {len(sc):,} customers as of {run.as_of:%Y-%m-%d} (model #{run.model_id}, "
              f"{run.mode}, horizon {run.horizon} days). Expected to leave: "
              f"{sc['p_leave'].sum():,.0f}; {int((sc['alerts'] > 0).sum()):,} customers with "
              "alerts.", highlight=False)
    for n in run.notes:
        out.print(f"Note: {n}", highlight=False)
    t = Table(title=f"The {top} customers most likely to leave")
    for col in ("customer", "P(leave)", "alerts", "top reason"):
        t.add_column(col)
    for r in sc.head(top).itertuples(index=False):
        t.add_row(r.customer_id, f"{r.p_leave:.0%}", str(r.alerts), str(r.top_reason or ""))
    out.print(t)
    out.print("Explain one: loyalist explain CUSTOMER_ID")


def explain(customer_id: str = typer.Argument(..., help="The customer's id."),
            store: str = STORE) -> None:
    """A customer's story: timeline, P(leave), whispers and alerts with their evidence."""
    from loyalist.decisions.story import story

    with loyalist.connect(store) as s:
        st = story(s, customer_id)
    head = f"[bold]{customer_id}[/]"
    for k in ("name", "segment", "owner"):
        if st.profile.get(k) is not None and not pd.isna(st.profile.get(k)):
            head += f" · {st.profile[k]}"
    out.print(head, highlight=False)
    if st.score:
        extra = ""
        if "p_promoter" in st.score and pd.notna(st.score["p_promoter"]):
            extra = f", P(promoter) {st.score['p_promoter']:.0%}"
        out.print(f"P(leave) {st.score['p_leave']:.0%} as of {st.score['as_of']:%Y-%m-%d} "
                  f"(model #{st.score['model_id']}){extra}", highlight=False)
    else:
        out.print("Not scored yet (or not active): run loyalist score.")
    if len(st.reasons):
        out.print("[bold]Whispers[/]")
        for r in st.reasons.sort_values("rank").itertuples(index=False):
            ev = f"  [dim]\\[{escape(r.evidence)}][/]" if getattr(r, "evidence", None) else ""
            out.print(f"  {r.rank}. {escape(r.text)}  [dim]({r.family})[/]{ev}",
                      highlight=False)
    if len(st.alerts):
        out.print("[bold]Alerts[/]")
        for r in st.alerts.itertuples(index=False):
            out.print(f"  - {escape(r.text)}  [dim]\\[{r.evidence_table}:{r.evidence_id}][/]",
                      highlight=False)
    t = Table(title="Timeline")
    for col in ("when", "what", "id", "detail"):
        t.add_column(col)
    for r in st.timeline.itertuples(index=False):
        t.add_row(f"{r.at:%Y-%m-%d %H:%M}", r.what, str(r.id), r.detail)
    out.print(t)


def backtest(
    eval_date: str = typer.Option(None, help="Date to evaluate at (default: as late as the "
                                  "data shows the outcome)."),
    horizon: int = typer.Option(None, help="Days ahead that 'leaving' looks."),
    mode: str = typer.Option("auto", help="auto, lapse or contract."),
    train_dates: int = typer.Option(4, help="Number of as-of dates to train on."),
    out_dir: Path = typer.Option(Path("loyalist-out/backtest"), "--out",
                                 help="Folder for the metrics and plots."),
    store: str = STORE,
) -> None:
    """How well would the model have worked? Train on the past, test on what followed."""
    from loyalist.models.early_warning import backtest as run

    with loyalist.connect(store) as s, _progress() as bar:
        task = bar.add_task("starting")
        bt = run(s, mode=mode, horizon=horizon, eval_date=eval_date,
                 n_train_dates=train_dates, progress=lambda m: bar.update(task, description=m))
    paths = bt.save(out_dir)
    t = Table(title=f"Backtest at {bt.eval_date:%Y-%m-%d}, horizon {bt.horizon} days "
              f"({len(bt.train_dates)} training dates)")
    for col in ("model", "ROC AUC", "PR AUC", "Brier", "recall top 10%", "recall top 20%",
                "lift top 20%"):
        t.add_column(col)
    for name, r in bt.metrics.iterrows():
        t.add_row(name, f"{r.roc_auc:.3f}", f"{r.pr_auc:.3f}",
                  "" if pd.isna(r.get("brier")) else f"{r.brier:.3f}",
                  f"{r.recall_top10:.1%}", f"{r.recall_top20:.1%}", f"{r.lift_top20:.2f}")
    out.print(t)
    out.print(bt.verdict(), highlight=False)
    out.print(f"Plots and tables: {out_dir}/ ({len(paths)} files)")


def register(app: typer.Typer) -> None:
    app.command()(score)
    app.command()(explain)
    app.command()(backtest)
