"""``loyalist value``: P(alive), expected purchases and lifetime value per customer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

import loyalist
from loyalist.cli.options import STORE

out = Console()


def value(
    store: str = STORE,
    model: str = typer.Option(
        "auto", "--model", "-m",
        help="auto (BG/NBD or Pareto/NBD, whichever predicts the holdout better), bgnbd, "
        "paretonbd or mbgnbd.",
    ),
    calibration_end: str = typer.Option(
        None, "--calibration-end", help="End of the calibration period of the holdout check "
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

    with loyalist.connect(store) as s:
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
        t = Table(title="Holdout check (models fitted on the calibration period)")
        for c in ("model", "status", "predicted", "actual", "RMSE per customer"):
            t.add_column(c, justify="right" if c not in ("model", "status") else "left")
        for name, row in result.selection.iterrows():
            mark = " (chosen)" if name == result.model_name else ""
            status = _STATUS.get(row.get("status", "fitted"), row.get("status"))
            t.add_row(f"{name}{mark}", status, _num(row.get("predicted_holdout"), ".1f"),
                      _num(row.get("actual_holdout"), ".0f"), _num(row["rmse"], ".4f"))
        out.print(t)
        for name, row in result.selection.iterrows():
            if row.get("detail"):
                out.print(f"  {name} {_STATUS.get(row['status'], row['status'])}: "
                          f"{row['detail']}", highlight=False)
    tm = result.transaction_model
    t = Table(title=f"{type(tm).__name__} fit on {tm.n_obs_:,} customers (time unit: weeks), "
              f"log-likelihood {tm.log_likelihood_:.2f}")
    for c in ("parameter", "estimate", "std. error", "95% interval"):
        t.add_column(c, justify="right")
    notes = getattr(tm, "param_notes_", {})
    for name, row in tm.summary_.iterrows():
        if np.isfinite(row["se(coef)"]) and np.isfinite(row["upper 95% bound"]):
            t.add_row(name, f"{row['coef']:.4f}", f"{row['se(coef)']:.4f}",
                      f"{row['lower 95% bound']:.3f} - {row['upper 95% bound']:.3f}")
        else:  # a limit or an unbounded interval: the note below says which
            coef = row["coef"]
            est = "n/a" if np.isnan(coef) else ("infinite" if np.isinf(coef) else f"{coef:.4g}")
            t.add_row(f"{name} *", est, "-", "see note")
    out.print(t)
    for name, text in notes.items():
        out.print(f"  * {name} {text}", highlight=False)
    if result.status == "boundary":
        out.print(f"[yellow]Note:[/] {result.detail}.", highlight=False)
    c = result.customers
    t = Table(title=f"Value over the next {result.horizon_days:g} days "
              f"(margin {result.margin:g}, discount {result.discount_rate:g} per 30 days)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("customers", f"{len(c):,}")
    t.add_row("mean P(alive)", f"{c['p_alive'].mean():.3f}")
    t.add_row("expected purchases", f"{c['expected_purchases'].sum():,.1f}")
    if result.spend_known:
        t.add_row("expected value (CLV)", f"{c['clv'].sum():,.2f}")
        t.add_row("share of value in the top 20% of customers", f"{result.top_share(0.2):.1%}")
    else:
        t.add_row("expected value (CLV)", "unknown: no amounts")
    out.print(t)
    for note in result.notes:
        out.print(f"[dim]{note}[/]", highlight=False)
    out.print("Saved per-customer results to the derived table [bold]customer_value[/].")


def _num(value, fmt: str) -> str:
    return "-" if value is None or not np.isfinite(value) else format(value, fmt)


def register(app: typer.Typer) -> None:
    app.command()(value)
