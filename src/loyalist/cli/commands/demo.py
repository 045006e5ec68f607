"""``loyalist demo``: a synthetic business, generated, exported and ingested."""

from __future__ import annotations

from pathlib import Path

import typer

import loyalist
from loyalist.cli.commands.ingest import status
from loyalist.cli.options import STORE
from loyalist.cli.tables import out


def demo(
    customers: int = typer.Option(5_000, "--customers", "-n", help="Number of customers."),
    months: int = typer.Option(24, help="Months of history."),
    seed: int = typer.Option(7, help="Random seed (same seed, same business)."),
    exports: Path = typer.Option(Path("loyalist-demo"), help="Folder for the generated exports."),
    chain: bool = typer.Option(True, help="Then run value, service, score, worklist and report on it."),
    store: str = STORE,
) -> None:
    """Generate a realistic business, ingest it, then value, service, score, worklist, report."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from loyalist.datasets import CATEGORY_TEAM, make_business
    from loyalist.datasets._text import COMPETITOR_ALIASES

    with out.status(f"Generating a business of {customers:,} customers over {months} months"):
        # agents who differ, as a real team's do (alike, the team page could rank none)
        business = make_business(n_customers=customers, months=months, seed=seed,
                                 agent_quality=1.0)
        files = business.write(exports, format="csv")
    out.print(f"Exports written to {exports}/ (ground truth in its truth/ folder).",
              markup=False, highlight=False)
    with loyalist.connect(store) as s, Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=out.real(), transient=True,
    ) as bar:
        order = [t for t in ("customers", "staff", "orders", "subscriptions", "requests", "feedback",
                             "events", "touches") if t in files]
        task = bar.add_task("ingesting", total=len(order))
        results = []
        for table in order:
            bar.update(task, description=f"ingesting {table}")
            results.append(s.ingest(table, files[table], strict=table != "customers"))
            bar.advance(task)
    # the numbers as wide as the largest: one line each at 80 columns
    w = max(len(f"{n:,}") for r in results for n in (r.rows_read, r.inserted, r.unchanged))
    for r in results:
        out.print(f"  {r.table:13} {r.rows_read:>{w},} read, {r.inserted:>{w},} new, "
                  f"{r.unchanged:>{w},} already there, {r.rejected:,} rejected", highlight=False)
    status(store=store)
    policy = Path(store).parent / "loyalist.toml"
    if not policy.exists():
        teams = ", ".join(f'"{k}" = "{v}"' for k, v in CATEGORY_TEAM.items())
        rivals = ", ".join(f'"{k}" = [' + ", ".join(f'"{a}"' for a in v) + "]"
                           for k, v in COMPETITOR_ALIASES.items())
        policy.write_text("# Service targets and routing of the demo business (see README).\n"
                          "[service]\nfirst_response_hours = 24\n"
                          f"team_for_category = {{ {teams} }}\n\n"
                          "[calendar]\ntimezone = \"Europe/Berlin\"\n"
                          "workdays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\n"
                          "hours = [\"08:00\", \"18:00\"]\n\n"
                          "# The demo firm's competitors (docs/listening.md).\n[listening]\n"
                          f"competitors = {{ {rivals} }}\n\n"
                          "# Who owns each kind of failure and loss reason (docs/team.md).\n"
                          "[departments]\nnames = { fulfilment = \"Logistics\", "
                          "service = \"Customer Care\", billing = \"Finance\", "
                          "sales = \"Sales\", product = \"Product\" }\n"
                          "window_days = 180\n",
                          encoding="utf-8")
        out.print(f"Service policy written to {policy}.", markup=False, highlight=False)
    if not chain:
        return
    from loyalist.cli.main import app  # the commands are registered by now

    report = Path(store).parent / "loyalist-out" / "report.html"
    for step in (["value"], ["service"], ["score", "--top", "10"], ["worklist", "--top", "10"],
                 ["report", "--out", str(report)]):
        out.rule(f"loyalist {step[0]}")
        app([*step, "--store", store], standalone_mode=False)
    out.rule()
    out.print(f"The retention report: {report} (open it in any browser).",
              markup=False, highlight=False)
    out.print("Next: loyalist explain CUSTOMER_ID, loyalist log CUSTOMER_ID --outcome reached, "
              f"loyalist backtest (all with --store {store}).", highlight=False)
    out.print("The team's workplace: create the first admin, then start the web app:\n"
              f"  loyalist user add admin --role admin --store {store}\n"
              f"  loyalist serve --store {store}    # http://127.0.0.1:8000", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(demo)
