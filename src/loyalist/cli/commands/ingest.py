"""``loyalist ingest``, ``loyalist status`` and ``loyalist rejects``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

import loyalist
from loyalist.cli.options import STORE
from loyalist.contract.schema import TABLES, get_table
from loyalist.errors import SourceError

out = Console()


def ingest(
    table: str = typer.Argument(..., help=f"Contract table: {', '.join(TABLES)}."),
    source: Path = typer.Argument(..., help="CSV, Parquet, JSON lines or Excel file."),
    map: str = typer.Option(None, "--map", "-m",
                            help="target=SourceColumn pairs, comma separated, or a TOML file."),
    strict: bool = typer.Option(False, help="Reject rows whose customer is not in customers."),
    header: bool = typer.Option(True, help="Whether the first line holds column names."),
    names: str = typer.Option(None, help="Column names for a file without header, comma separated."),
    delimiter: str = typer.Option(None, help="CSV delimiter (detected if not given; "
                                  "'tab', 'whitespace')."),
    encoding: str = typer.Option(None, help="Text encoding (detected if not given)."),
    date_format: list[str] = typer.Option(None, "--date-format",
                                          help="strptime format of dates, e.g. %d/%m/%Y "
                                          "(repeatable)."),
    decimal: str = typer.Option(".", help="Decimal mark of numbers: . or ,"),
    sheet: str = typer.Option(None, help="Excel sheet name."),
    format: str = typer.Option(None, help="csv, parquet, json or excel (from the extension "
                               "if not given)."),
    survey: Path = typer.Option(None, "--survey", help="survey_answers only: the survey "
                                "definition (TOML) to check answers against (default: "
                                "[relationship] survey, else the relationship survey)."),
    store: str = STORE,
) -> None:
    """Load an export into the store: validated, all-or-nothing, without duplicates."""
    get_table(table)  # fail on a user mistake before touching the store
    definition = None
    if table == "survey_answers":
        from loyalist.contract.survey import load_survey
        from loyalist.settings import Settings

        settings = Settings.load(store)  # default: the [relationship] survey
        definition = load_survey(survey if survey is not None
                                 else settings.relationship.survey_path(settings.path))
    if not source.exists():
        raise SourceError(f"File not found: {str(source)!r}.",
                          hint=f"Check the path (the current folder is {Path.cwd()}).")
    with loyalist.connect(store) as s, Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=out, transient=True,
    ) as bar:
        task = bar.add_task(f"{source.name}: starting")
        result = s.ingest(
            table, source, map, strict=strict, header=header,
            names=names.split(",") if names else None, delimiter=delimiter,
            encoding=encoding, date_format=date_format or None, decimal=decimal, sheet=sheet,
            format=format,
            progress=lambda stage: bar.update(task, description=f"{source.name}: {stage}"))
        checked = None
        if definition is not None:
            from loyalist.relationship import check_answers

            bar.update(task, description=f"{source.name}: checking against the survey")
            checked = check_answers(s, definition, quarantine=True)
    out.print(
        f"[bold]{result.table}[/] from {result.source}: {result.rows_read:,} rows read, "
        f"[green]{result.inserted:,} new[/], {result.updated:,} updated, "
        f"{result.unchanged:,} already there, "
        + (f"[red]{result.rejected:,} rejected[/]" if result.rejected else "0 rejected")
        + f" ({result.seconds:.1f} s, ingest #{result.ingest_id}).", highlight=False)
    for note in result.notes:
        out.print(f"Note: {note}", highlight=False)
    if result.attributes_added:
        out.print("New attributes: " + ", ".join(f"{k} ({v.lower()})" for k, v in
                                                 result.attributes_added.items()), highlight=False)
    if result.ignored_columns:
        out.print("Columns not in the contract, not loaded: " + ", ".join(result.ignored_columns),
                  highlight=False)
    if result.rejected:
        out.print(f"Rejected rows, with line, column and reason: {result.rejects_file}\n"
                  f"or run: loyalist rejects --ingest {result.ingest_id}", highlight=False)
    if checked is not None and checked.quarantined:
        out.print(f"[red]{checked.message}[/]\nRows, with line and reason: "
                  f"{checked.rejects_file}", highlight=False)


def status(store: str = STORE) -> None:
    """What is in the store: tables, rows, date ranges, rejected rows."""
    with loyalist.connect(store) as s:
        df = s.status()
        version = s.schema_version()
    t = Table(title=f"{store} (schema v{version})")
    for col in ("table", "rows", "from", "to", "ingests", "rejected", "last ingest"):
        t.add_column(col, justify="right" if col in ("rows", "ingests", "rejected") else "left")
    for r in df.itertuples(index=False):
        t.add_row(r.table, f"{r.rows:,}", _day(r[2]), _day(r[3]), str(r.ingests),
                  f"[red]{r.rejected:,}[/]" if r.rejected else "0", _day(r.last_ingest, time=True))
    out.print(t)


def rejects(
    ingest_id: int = typer.Option(None, "--ingest", help="Only this ingest."),
    table: str = typer.Option(None, help="Only this table."),
    limit: int = typer.Option(50, help="Rows to show."),
    store: str = STORE,
) -> None:
    """Rejected rows kept in quarantine, with source, line, column and reason."""
    with loyalist.connect(store) as s:
        df = s.rejects(ingest_id, table)
    if df.empty:
        out.print("No rejected rows.")
        return
    t = Table(title=f"{len(df):,} rejected values")
    for col in ("ingest", "table", "source", "line", "column", "reason"):
        t.add_column(col)
    for r in df.head(limit).itertuples(index=False):
        t.add_row(str(r.ingest_id), r.table_name, r.source or "", str(r.line),
                  r.column if isinstance(r.column, str) else "", r.reason)
    out.print(t)
    if len(df) > limit:
        out.print(f"... {len(df) - limit:,} more (--limit).")


def _day(v, time: bool = False) -> str:
    import pandas as pd

    if v is None or pd.isna(v):
        return ""
    return str(pd.Timestamp(v).strftime("%Y-%m-%d %H:%M" if time else "%Y-%m-%d"))


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command()(status)
    app.command()(rejects)
