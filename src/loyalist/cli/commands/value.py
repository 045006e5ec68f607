"""``loyalist value``: P(alive), expected purchases and lifetime value per customer."""

from __future__ import annotations

from pathlib import Path

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
    from loyalist.models.value import fit_value

    with loyalist.connect(store) as s:
        with out.status("Fitting the models"):
            result = fit_value(
                s.table("orders"), model=model.lower(), calibration_end=calibration_end,
                margin=margin, discount_rate=discount_rate, horizon_days=horizon_days,
            )
        cols = ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive",
                "expected_purchases", "clv"]
        frame = result.customers[cols].rename(columns={"recency": "recency_weeks",
                                                       "T": "age_weeks"})
        frame.insert(len(cols), "model", result.model_name)
        s.write_derived("customer_value", frame)
    _print(result)
    if plots is not None:
        paths = result.save_plots(plots, formats=("png", "svg"))
        out.print(f"Plots saved: {', '.join(str(p) for p in paths)}", highlight=False)


def _print(result) -> None:
    if result.selection is not None and len(result.selection) > 0:
        t = Table(title="Holdout check (models fitted on the calibration period)")
        for c in ("model", "log-likelihood", "predicted", "actual", "RMSE per customer"):
            t.add_column(c, justify="right" if c != "model" else "left")
        for name, row in result.selection.iterrows():
            mark = " (chosen)" if name == result.model_name else ""
            t.add_row(f"{name}{mark}", f"{row['log_likelihood']:.2f}",
                      f"{row.get('predicted_holdout', float('nan')):.1f}",
                      f"{row.get('actual_holdout', float('nan')):.0f}", f"{row['rmse']:.4f}")
        out.print(t)
    tm = result.transaction_model
    t = Table(title=f"{type(tm).__name__} fit on {tm.n_obs_:,} customers (time unit: weeks), "
              f"log-likelihood {tm.log_likelihood_:.2f}")
    for c in ("parameter", "estimate", "std. error", "95% interval"):
        t.add_column(c, justify="right")
    for name, row in tm.summary_.iterrows():
        t.add_row(name, f"{row['coef']:.4f}", f"{row['se(coef)']:.4f}",
                  f"{row['lower 95% bound']:.3f} - {row['upper 95% bound']:.3f}")
    out.print(t)
    c = result.customers
    share = result.top_share(0.2)
    t = Table(title=f"Value over the next {result.horizon_days:g} days "
              f"(margin {result.margin:g}, discount {result.discount_rate:g} per 30 days)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("customers", f"{len(c):,}")
    t.add_row("mean P(alive)", f"{c['p_alive'].mean():.3f}")
    t.add_row("expected purchases", f"{c['expected_purchases'].sum():,.1f}")
    t.add_row("expected value (CLV)", f"{c['clv'].sum():,.2f}")
    t.add_row("share of value in the top 20% of customers", f"{share:.1%}")
    out.print(t)
    for note in result.notes:
        out.print(f"[dim]{note}[/]", highlight=False)
    out.print("Saved per-customer results to the derived table [bold]customer_value[/].")


def register(app: typer.Typer) -> None:
    app.command()(value)
