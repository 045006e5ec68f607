"""``loyalist score``, ``loyalist explain`` and ``loyalist backtest``."""

from __future__ import annotations

from pathlib import Path

import typer

from loyalist.cli.options import STORE, date_option, open_store
from loyalist.cli.tables import Col, day, moment, out, plural, progress, show


def _missing(v) -> bool:
    return v is None or v != v  # None, NaN, NaT


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
    as_of: str = date_option("--as-of", "Score as of this date, YYYY-MM-DD (default: the "
                             "day after the latest order)."),
    horizon: int = typer.Option(None, help="Days ahead that 'leaving' looks (default: "
                                "suggested from the customers' own order gaps)."),
    mode: str = typer.Option("auto", help="auto, lapse (orders) or contract (subscriptions)."),
    top: int = typer.Option(15, help="How many of the riskiest to print."),
    train_customers: int = typer.Option(None, "--train-customers", help="Train the churn "
                                        "model on a random sample of this many customers "
                                        "(for millions of customers: docs/scale.md); "
                                        "everyone is still scored."),
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
    with open_store(store) as s, progress() as step:
        run = run_score(s, as_of, mode=mode, horizon=horizon, label=label, positive=positive,
                        progress=step, train_customers=train_customers)
        # the overview's figures (loss rates, cohorts, service, NPS, value at risk)
        refresh(s, progress=step)
    sc = run.scores
    what = (f"model #{run.model_id}, {run.mode}, horizon {run.horizon} days"
            if run.horizon else f"model #{run.model_id}, learnt from {label!r}")
    out.print(f"Scored {plural(len(sc), 'customer')} as of {day(run.as_of)} ({what}). "
              f"Expected to leave: {sc['p_leave'].sum():,.0f}; "
              f"{plural(int((sc['alerts'] > 0).sum()), 'customer')} with alerts.",
              highlight=False, markup=False)
    for n in run.notes:
        out.print(f"Note: {n}", highlight=False, markup=False)
    _top_table(sc, top)
    out.print("Explain one: loyalist explain CUSTOMER_ID", highlight=False)


def _top_table(sc, top: int) -> None:
    alerts = "alerts" in sc.columns
    rows = [(str(r.customer_id), f"{r.p_leave:.0%}", *((str(r.alerts),) if alerts else ()),
             r.top_reason if isinstance(r.top_reason, str) else "")
            for r in sc.head(top).itertuples(index=False)]
    show([Col("customer"), Col("P(leave)", right=True),
          *((Col("alerts", right=True, drop=1),) if alerts else ()),
          Col("top reason", wrap=True, min_width=20)], rows,
         title=f"The {min(top, len(rows))} customers most likely to leave",
         empty="No active customers to list.")


def _need_label(label) -> None:
    from loyalist.errors import DataError

    if label is None:
        raise DataError("--table needs --label: the column that says who left.",
                        hint="e.g. loyalist score --table customers.csv --label Churn")


def _score_file(path: Path, label, positive, id_column, top: int, out_file) -> None:
    from loyalist.decisions.signals.whispers import families, whispers
    from loyalist.models.snapshot import read_table, score_table

    _need_label(label)
    with progress(f"learning {label!r} from {path.name}"):
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
              f"labelled rows are scored out of fold.", highlight=False, markup=False)
    for n in ts.cv.notes:
        out.print(f"Note: {n}", highlight=False, markup=False)
    _top_table(sc[sc["left"] != 1], top)
    out.print(f"Scores and reasons: {dest}", highlight=False, markup=False)


def explain(customer_id: str = typer.Argument(..., help="The customer's id."),
            store: str = STORE) -> None:
    """A customer's story: timeline, P(leave), whispers and alerts with their evidence."""
    from rich.markup import escape

    from loyalist.decisions.signals.story import story

    with open_store(store) as s, progress(f"gathering {customer_id}'s story"):
        st = story(s, customer_id)
    head = f"[bold]{escape(customer_id)}[/]"
    for k in ("name", "segment", "owner"):
        if not _missing(st.profile.get(k)):
            head += f" · {escape(str(st.profile[k]))}"
    out.print(head, highlight=False)
    if st.score:
        extra = ""
        if "p_promoter" in st.score and not _missing(st.score["p_promoter"]):
            extra = f", P(promoter) {st.score['p_promoter']:.0%}"
        out.print(f"P(leave) {st.score['p_leave']:.0%} as of {day(st.score['as_of'])} "
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
    # "what" wraps too ("request (phone, cancellation)"), leaving the detail more room
    show([Col("when"), Col("what", wrap=True, min_width=12), Col("id", drop=1),
          Col("detail", wrap=True)],
         [(moment(r.at), r.what, str(r.id), r.detail)
          for r in st.timeline.itertuples(index=False)], title="Timeline",
         empty="Timeline: nothing on record.")


def backtest(
    eval_date: str = date_option("--eval-date", "Date to evaluate at, YYYY-MM-DD (default: "
                                 "as late as the data shows the outcome)."),
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

    with open_store(store) as s, progress() as step:
        bt = run(s, mode=mode, horizon=horizon, eval_date=eval_date,
                 n_train_dates=train_dates, progress=step)
    paths = bt.save(out_dir)
    _metrics_table(bt.metrics, f"Backtest at {day(bt.eval_date)}, horizon {bt.horizon} "
                   f"days ({len(bt.train_dates)} training dates)")
    _bootstrap_table(bt.bootstrap)
    _reliability(bt.calibration, bt.metrics.loc["model"])
    out.print(bt.verdict(), highlight=False)
    for n in bt.notes:
        out.print(f"Note: {n}", highlight=False, markup=False)
    out.print(f"Plots and tables: {out_dir}/ ({plural(len(paths), 'file')})", highlight=False)


def _metrics_table(metrics, title: str) -> None:
    rows = []
    for name, r in metrics.iterrows():
        brier = r.get("brier")
        rows.append((str(name), f"{r.roc_auc:.3f}", f"{r.pr_auc:.3f}",
                     "-" if _missing(brier) else f"{brier:.3f}",
                     f"{r.recall_top10:.1%}", f"{r.recall_top20:.1%}", f"{r.lift_top20:.2f}"))
    show([Col("model", wrap=True, min_width=14),
          *(Col(c, right=True) for c in ("ROC AUC", "PR AUC", "Brier", "top 10%", "top 20%",
                                         "lift 20%"))], rows, title=title)
    out.print("top k%: share of the leavers found in the riskiest k% of the list; Brier "
              "only for probabilities.", style="dim")


def _bootstrap_table(boot) -> None:
    if boot is None or not len(boot):
        return
    show([Col("baseline", wrap=True), Col("difference", right=True), Col("interval")],
         [(str(name), f"{r.difference:+.3f}", f"{r.low:+.3f} to {r.high:+.3f}")
          for name, r in boot.iterrows()],
         title="ROC AUC of the model minus each baseline (paired bootstrap, 95%)")


def _reliability(calibration, row) -> None:
    show([Col(c, right=True) for c in ("decile", "customers", "predicted", "observed", "gap")],
         [(str(int(k) + 1), f"{int(r.customers):,}", f"{r.predicted:.1%}",
           f"{r.observed:.1%}", f"{r.predicted - r.observed:+.1%}")
          for k, r in calibration.iterrows()],
         title="Reliability: predicted vs observed share leaving, by decile")
    if "mean_predicted" in row and not _missing(row.get("mean_predicted")):
        out.print(f"Overall: {row['mean_predicted']:.1%} predicted, {row['base_rate']:.1%} "
                  "observed.", highlight=False)


def _backtest_table(label, positive, table, id_column, folds, out_dir, store) -> None:
    from loyalist.models.snapshot import read_table, snapshot_cv

    if label is None:
        _need_label(label)
    with progress(f"cross-validating {label!r}"):
        if table is not None:
            res = snapshot_cv(read_table(table), label, folds=folds, positive=positive,
                              id_column=id_column)
        else:
            with open_store(store, read_only=True) as s:
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
        out.print(f"Note: {n}", highlight=False, markup=False)
    out.print(f"Tables: {out_dir}/", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(score)
    app.command()(explain)
    app.command()(backtest)
