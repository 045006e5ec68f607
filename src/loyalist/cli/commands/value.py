"""``loyalist value``: P(alive), expected purchases and lifetime value per customer."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from loyalist.cli.options import STORE, date_option, open_store
from loyalist.cli.tables import Col, out, show


def value(
    store: str = STORE,
    model: str = typer.Option(
        "auto", "--model", "-m",
        help="auto (BG/NBD or Pareto/NBD, whichever predicts the holdout better), bgnbd, "
        "paretonbd or mbgnbd.",
    ),
    calibration_end: str = date_option(
        "--calibration-end", "End of the calibration period of the holdout check "
        "(YYYY-MM-DD; default: two thirds into the order history).",
    ),
    margin: float = typer.Option(0.3, help="Profit margin on revenue, in (0, 1]."),
    discount_rate: float = typer.Option(0.01, help="Discount rate per 30 days."),
    horizon_days: int = typer.Option(365, help="Horizon of expected purchases and CLV, in days."),
    plots: Path = typer.Option(None, help="Folder to save the plots in (PNG and SVG)."),
) -> None:
    """Fit a buy-till-you-die model on the orders and store each customer's value."""
    from loyalist.decisions.value import value_customers
    from loyalist.errors import ConvergenceError

    with open_store(store) as s:
        with out.status("Fitting the models"):
            try:
                result = value_customers(
                    s, model=model.lower(), calibration_end=calibration_end, margin=margin,
                    discount_rate=discount_rate, horizon_days=horizon_days)
            except ConvergenceError as e:  # the library's hint names Python arguments
                raise ConvergenceError(e.message, hint=_cli_hint(model.lower())) from None
    _print(result)
    if plots is not None:
        paths = result.save_plots(plots, formats=("png", "svg"))
        out.print(f"Plots saved: {', '.join(str(p) for p in paths)}", highlight=False)


def _cli_hint(model: str) -> str:
    others = "--model auto" if model != "auto" else "--model mbgnbd"
    return ("value needs customers who bought more than once: ingest a longer order history "
            f"(loyalist ingest orders FILE), or try {others}.")


_STATUS = {"fitted": "fitted", "boundary": "at a boundary", "failed": "failed"}


def _print(result) -> None:
    if result.selection is not None and len(result.selection) > 0:
        rows = []
        for name, row in result.selection.iterrows():
            mark = " (chosen)" if name == result.model_name else ""
            status = _STATUS.get(row.get("status", "fitted"), row.get("status"))
            rows.append((f"{name}{mark}", status, _num(row.get("predicted_holdout"), ".1f"),
                         _num(row.get("actual_holdout"), ".0f"), _num(row["rmse"], ".4f")))
        show([Col("model"), Col("status"), Col("predicted", right=True),
              Col("actual", right=True), Col("RMSE per customer", right=True)], rows,
             title="Holdout check (models fitted on the calibration period)")
        for name, row in result.selection.iterrows():
            if row.get("detail"):
                out.print(f"  {name} {_STATUS.get(row['status'], row['status'])}: "
                          f"{row['detail']}", highlight=False)
    tm = result.transaction_model
    notes = getattr(tm, "param_notes_", {})
    rows = []
    for name, row in tm.summary_.iterrows():
        if math.isfinite(row["se(coef)"]) and math.isfinite(row["upper 95% bound"]):
            rows.append((name, f"{row['coef']:.4f}", f"{row['se(coef)']:.4f}",
                         f"{row['lower 95% bound']:.3f} - {row['upper 95% bound']:.3f}"))
        else:  # a limit or an unbounded interval: the note below says which
            coef = row["coef"]
            est = ("n/a" if math.isnan(coef) else
                   ("infinite" if math.isinf(coef) else f"{coef:.4g}"))
            rows.append((f"{name} *", est, "-", "see note"))
    show([Col(c, right=True) for c in ("parameter", "estimate", "std. error", "95% interval")],
         rows, title=f"{type(tm).__name__} fit on {tm.n_obs_:,} customers (time unit: "
         f"weeks), log-likelihood {tm.log_likelihood_:.2f}")
    for name, text in notes.items():
        out.print(f"  * {name} {text}", highlight=False)
    if result.status == "boundary":
        out.print(f"Note: {result.detail}.", highlight=False, markup=False)
    c = result.customers
    rows = [("customers", f"{len(c):,}"), ("mean P(alive)", f"{c['p_alive'].mean():.3f}"),
            ("expected purchases", f"{c['expected_purchases'].sum():,.1f}")]
    if result.spend_known:
        rows += [("expected value (CLV)", f"{c['clv'].sum():,.2f}"),
                 ("share of value in the top 20% of customers", f"{result.top_share(0.2):.1%}")]
    else:
        rows.append(("expected value (CLV)", "unknown: no amounts"))
    show([Col("measure", wrap=True), Col("value", right=True)], rows,
         title=f"Value over the next {result.horizon_days:g} days (margin "
         f"{result.margin:g}, discount {result.discount_rate:g} per 30 days)")
    for note in result.notes:
        out.print(note, style="dim", markup=False, highlight=False)
    out.print("Saved per-customer results to the derived table [bold]customer_value[/].")


def _num(value, fmt: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, fmt)


def register(app: typer.Typer) -> None:
    app.command()(value)
