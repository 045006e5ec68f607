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


LABEL = typer.Option(None, "--label", help="A column that says who left (Churn, "
                     "Attrition_Flag...): learn it from the customers table (or --table) "
                     "instead of from orders or subscriptions.")
POSITIVE = typer.Option(None, "--positive", help="The --label value that means the "
                        "customer left, when its two values do not say so.")
TABLE = typer.Option(None, "--table", help="With --label: a customer table file (CSV, "
                     "Parquet, JSON lines, Excel) instead of the store's customers.")
ID_COLUMN = typer.Option(None, "--id-column", help="With --table: the column naming each "
                         "row (default: a column named like an id, else row numbers).")


def score(
    as_of: str = typer.Option(None, "--as-of", help="Score as of this date (default: the "
                              "day after the latest order)."),
    horizon: int = typer.Option(None, help="Days ahead that 'leaving' looks (default: "
                                "suggested from the customers' own order gaps)."),
    mode: str = typer.Option("auto", help="auto, lapse (orders) or contract (subscriptions)."),
    top: int = typer.Option(15, help="How many of the riskiest to print."),
    label: str = LABEL,
    positive: str = POSITIVE,
    table: Path = TABLE,
    id_column: str = ID_COLUMN,
    out_file: Path = typer.Option(None, "--out", help="With --table: write the scores and "
                                  "reasons here (CSV; default loyalist-out/scores.csv)."),
    store: str = STORE,
) -> None:
    """Score every active customer: P(leave), the whispers behind it, and alerts; then
    refresh the overview's figures (loss rates, cohorts, service, NPS, value at risk)."""
    from loyalist.decisions.overview import refresh
    from loyalist.decisions.scoring import score as run_score

    if table is not None:
        return _score_file(table, label, positive, id_column, top, out_file)
    with loyalist.connect(store) as s, _progress() as bar:
        task = bar.add_task("starting")
        run = run_score(s, as_of, mode=mode, horizon=horizon, label=label, positive=positive,
                        progress=lambda m: bar.update(task, description=m))
        # the overview's figures (loss rates, cohorts, service, NPS, value at risk)
        refresh(s, progress=lambda m: bar.update(task, description=m))
    sc = run.scores
    what = (f"model #{run.model_id}, {run.mode}, horizon {run.horizon} days"
            if run.horizon else f"model #{run.model_id}, learnt from {label!r}")
    out.print(f"Scored {len(sc):,} customers as of {run.as_of:%Y-%m-%d} ({what}). Expected "
              f"to leave: {sc['p_leave'].sum():,.0f}; {int((sc['alerts'] > 0).sum()):,} "
              "customers with alerts.", highlight=False)
    for n in run.notes:
        out.print(f"Note: {escape(n)}", highlight=False)
    _top_table(sc, top)
    out.print("Explain one: loyalist explain CUSTOMER_ID")


def _top_table(sc, top: int) -> None:
    t = Table(title=f"The {top} customers most likely to leave")
    alerts = "alerts" in sc.columns
    for col in ("customer", "P(leave)", *(("alerts",) if alerts else ()), "top reason"):
        t.add_column(col)
    for r in sc.head(top).itertuples(index=False):
        reason = r.top_reason if isinstance(r.top_reason, str) else ""
        t.add_row(str(r.customer_id), f"{r.p_leave:.0%}",
                  *((str(r.alerts),) if alerts else ()), escape(reason))
    out.print(t)


def _need_label(label) -> None:
    from loyalist.errors import DataError

    if label is None:
        raise DataError("--table needs --label: the column that says who left.",
                        hint="e.g. loyalist score --table customers.csv --label Churn")


def _score_file(path: Path, label, positive, id_column, top: int, out_file) -> None:
    from loyalist.decisions.whispers import families, whispers
    from loyalist.models.snapshot import read_table, score_table

    _need_label(label)
    with _progress() as bar:
        bar.add_task(f"learning {label!r} from {path.name}")
        ts = score_table(read_table(path), label, positive=positive, id_column=id_column)
        contrib = ts.model.contributions(ts.X, groups=families(ts.model.feature_names_))
        reasons = whispers(ts.model, ts.X, contributions=contrib,
                           p_leave=ts.scores["p_leave"].to_numpy())
    sc = ts.scores.copy()
    for k in (1, 2, 3):
        sc[f"reason_{k}"] = sc["customer_id"].map(
            reasons[reasons["rank"] == k].set_index("customer_id")["text"])
    sc = sc.rename(columns={"reason_1": "top_reason"}).sort_values(
        "p_leave", ascending=False, ignore_index=True)
    dest = out_file or Path("loyalist-out") / "scores.csv"
    dest.parent.mkdir(parents=True, exist_ok=True)
    sc.to_csv(dest, index=False)
    cv = ts.cv.metrics.loc["mean"]
    out.print(f"Scored {len(sc):,} rows of {path.name} on {ts.table.label!r} "
              f"({ts.table.leaving!r} = left): cross-validated ROC AUC {cv['roc_auc']:.3f}; "
              f"labelled rows are scored out of fold.", highlight=False)
    for n in ts.cv.notes:
        out.print(f"Note: {escape(n)}", highlight=False)
    _top_table(sc[sc["left"] != 1], top)
    out.print(f"Scores and reasons: {dest}", highlight=False)


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
    label: str = LABEL,
    positive: str = POSITIVE,
    table: Path = TABLE,
    id_column: str = ID_COLUMN,
    folds: int = typer.Option(5, help="With --label: folds of the cross-validation."),
    out_dir: Path = typer.Option(Path("loyalist-out/backtest"), "--out",
                                 help="Folder for the metrics and plots."),
    store: str = STORE,
) -> None:
    """How well would the model have worked? Train on the past, test on what followed
    (with --label: cross-validate on a labelled customer table), against baselines."""
    if label is not None or table is not None:
        return _backtest_table(label, positive, table, id_column, folds, out_dir, store)
    from loyalist.models.early_warning import backtest as run

    with loyalist.connect(store) as s, _progress() as bar:
        task = bar.add_task("starting")
        bt = run(s, mode=mode, horizon=horizon, eval_date=eval_date,
                 n_train_dates=train_dates, progress=lambda m: bar.update(task, description=m))
    paths = bt.save(out_dir)
    _metrics_table(bt.metrics, f"Backtest at {bt.eval_date:%Y-%m-%d}, horizon {bt.horizon} "
                   f"days ({len(bt.train_dates)} training dates)")
    _bootstrap_table(bt.bootstrap)
    _reliability(bt.calibration, bt.metrics.loc["model"])
    out.print(bt.verdict(), highlight=False)
    for n in bt.notes:
        out.print(f"Note: {escape(n)}", highlight=False)
    out.print(f"Plots and tables: {out_dir}/ ({len(paths)} files)")


def _metrics_table(metrics, title: str) -> None:
    t = Table(title=title)
    for col in ("model", "ROC AUC", "PR AUC", "Brier", "top 10%", "top 20%", "lift 20%"):
        t.add_column(col)
    for name, r in metrics.iterrows():
        brier = r.get("brier")
        t.add_row(str(name), f"{r.roc_auc:.3f}", f"{r.pr_auc:.3f}",
                  "-" if brier is None or pd.isna(brier) else f"{brier:.3f}",
                  f"{r.recall_top10:.1%}", f"{r.recall_top20:.1%}", f"{r.lift_top20:.2f}")
    out.print(t)
    out.print("top k%: share of the leavers found in the riskiest k% of the list; Brier "
              "only for probabilities.", style="dim")


def _bootstrap_table(boot) -> None:
    if boot is None or not len(boot):
        return
    t = Table(title="ROC AUC of the model minus each baseline (paired bootstrap, 95%)")
    for col in ("baseline", "difference", "interval"):
        t.add_column(col)
    for name, r in boot.iterrows():
        t.add_row(str(name), f"{r.difference:+.3f}", f"{r.low:+.3f} to {r.high:+.3f}")
    out.print(t)


def _reliability(calibration, row) -> None:
    t = Table(title="Reliability: predicted vs observed share leaving, by decile")
    for col in ("decile", "customers", "predicted", "observed", "gap"):
        t.add_column(col, justify="right")
    for k, r in calibration.iterrows():
        t.add_row(str(int(k) + 1), f"{int(r.customers):,}", f"{r.predicted:.1%}",
                  f"{r.observed:.1%}", f"{r.predicted - r.observed:+.1%}")
    out.print(t)
    if "mean_predicted" in row and pd.notna(row.get("mean_predicted")):
        out.print(f"Overall: {row['mean_predicted']:.1%} predicted, {row['base_rate']:.1%} "
                  "observed.", highlight=False)


def _backtest_table(label, positive, table, id_column, folds, out_dir, store) -> None:
    from loyalist.models.snapshot import read_table, snapshot_cv

    if label is None:
        _need_label(label)
    with _progress() as bar:
        bar.add_task(f"cross-validating {label!r}")
        if table is not None:
            res = snapshot_cv(read_table(table), label, folds=folds, positive=positive,
                              id_column=id_column)
        else:
            with loyalist.connect(store, read_only=True) as s:
                res = snapshot_cv(s, label, folds=folds, positive=positive)
    out_dir.mkdir(parents=True, exist_ok=True)
    res.comparison.to_csv(out_dir / "metrics.csv")
    res.calibration.to_csv(out_dir / "calibration.csv")
    _metrics_table(res.comparison, f"{len(res.metrics) - 1}-fold cross-validation of "
                   f"{res.label!r}, same folds for every model")
    cpu = res.comparison["cpu_seconds"]
    out.print("CPU seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()),
              highlight=False)
    _bootstrap_table(res.bootstrap)
    _reliability(res.calibration, res.comparison.loc["model"])
    for n in res.notes:
        out.print(f"Note: {escape(n)}", highlight=False)
    out.print(f"Tables: {out_dir}/", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(score)
    app.command()(explain)
    app.command()(backtest)
