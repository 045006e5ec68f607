"""``loyalist ingest``, ``loyalist status`` and ``loyalist rejects``."""

from __future__ import annotations

from pathlib import Path

import typer

import loyalist
from loyalist.cli.options import STORE, open_store
from loyalist.cli.tables import Col, out, plural, progress, show
from loyalist.contract.schema import TABLES, get_table
from loyalist.errors import DataError, SourceError


def ingest(
    table: str = typer.Argument(None, help=f"Contract table: {', '.join(TABLES)}."),
    source: Path = typer.Argument(None, help="CSV, Parquet, JSON lines or Excel file."),
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
    lines: bool = typer.Option(False, "--lines", help="orders only: one row per order line "
                               "(grouped into orders, kept in order_lines; negative "
                               "quantities are returns). --map amount=Quantity*UnitPrice "
                               "computes amounts."),
    return_prefix: str = typer.Option(None, "--return-prefix", help="With --lines: document "
                                      "ids starting with this are returns (default: "
                                      "[ingest] return_prefix), e.g. C."),
    undo: int = typer.Option(None, "--undo", metavar="BATCH",
                             help="Remove exactly the rows of ingest BATCH (its number in "
                             "loyalist status / the ingest log) and put back what it "
                             "replaced."),
    store: str = STORE,
) -> None:
    """Load an export into the store: validated, all-or-nothing, without duplicates.
    With --undo BATCH, take one earlier ingest back out."""
    from rich.markup import escape

    if undo is not None:
        if table or source:
            raise DataError("--undo takes no table or file.",
                            hint=f"Run: loyalist ingest --undo {undo}")
        _undo(undo, store)
        return
    if not table or not source:
        raise DataError("Give the table and the file to load.",
                        hint="e.g. loyalist ingest orders exports/orders.csv "
                        "(or --undo BATCH to take an ingest back out).")
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
    with loyalist.connect(store) as s, progress(f"{source.name}: starting") as step:
        result = s.ingest(
            table, source, map, strict=strict, header=header,
            names=names.split(",") if names else None, delimiter=delimiter,
            encoding=encoding, date_format=date_format or None, decimal=decimal, sheet=sheet,
            format=format, lines=lines, return_prefix=return_prefix,
            progress=lambda stage: step(f"{source.name}: {stage}"))
        checked = None
        if definition is not None:
            from loyalist.relationship import check_answers

            step(f"{source.name}: checking against the survey")
            checked = check_answers(s, definition, quarantine=True)
    what = "lines" if result.lines else "rows"
    orders = " orders" if result.lines else ""
    lines = " lines" if result.lines else ""
    out.print(
        f"[bold]{result.table}[/] from {escape(result.source)}: {result.rows_read:,} {what} "
        f"read, [green]{result.inserted:,} new{orders}[/], {result.updated:,} updated, "
        f"{result.unchanged:,} already there, "
        + (f"[red]{result.rejected:,}{lines} rejected[/]" if result.rejected
           else f"0{lines} rejected")
        + f" ({result.seconds:.1f} s, ingest #{result.ingest_id}).", highlight=False)
    for note in result.notes:
        out.print(f"Note: {note}", highlight=False, markup=False)
    if result.attributes_added:
        out.print("New attributes: " + ", ".join(f"{k} ({v.lower()})" for k, v in
                                                 result.attributes_added.items()), highlight=False)
    if result.ignored_columns:
        out.print("Columns not in the contract, not loaded: " + ", ".join(result.ignored_columns),
                  highlight=False)
    if result.rejected:
        out.print("Rejected by reason: " + ", ".join(f"{code} {n:,}" for code, n in
                                                     result.reject_codes.items()),
                  highlight=False, markup=False)
        out.print(f"Rejected rows, with line, column, reason code and value: "
                  f"{result.rejects_file}\n"
                  f"or run: loyalist rejects --ingest {result.ingest_id}", highlight=False,
                  markup=False)
    if checked is not None and checked.quarantined:
        out.print(f"{checked.message}\nRows, with line and reason: "
                  f"{checked.rejects_file}", highlight=False, markup=False)


def _undo(batch: int, store: str) -> None:
    from loyalist.store.batches import stale_tables

    with open_store(store) as s:
        done = s.undo_ingest(batch, by="cli")
        stale = stale_tables(s)
    out.print(f"Ingest #{batch} undone: {done['deleted']:,} {done['table']} rows removed, "
              f"{done['restored']:,} put back as they were before it.", highlight=False)
    if stale:
        out.print(f"Derived tables now stale: {', '.join(stale)}; run loyalist score (and "
                  "loyalist value) again.", highlight=False)


def status(store: str = STORE) -> None:
    """What is in the store: tables, rows, date ranges, rejected rows."""
    from rich.text import Text

    from loyalist.store.batches import stale_tables

    with open_store(store) as s:
        df = s.status()
        version = s.schema_version()
        stale = stale_tables(s)
        where = s.path  # (a Spark store: its warehouse)
        database = getattr(s, "database", None)  # a Spark store's catalog database
        in_catalog = s.catalog_tables() if database else []
    show([Col("table"), Col("rows", right=True), Col("from"), Col("to"),
          Col("ingests", right=True, drop=1), Col("rejected", right=True),
          Col("last ingest", drop=2)],
         [(r.table, f"{r.rows:,}", _day(r[2]), _day(r[3]), str(r.ingests),
           Text(f"{r.rejected:,}", style="red") if r.rejected else "0",
           _day(r.last_ingest, time=True)) for r in df.itertuples(index=False)],
         title=f"{where} (schema v{version})")
    if database:
        out.print(f"Catalog database {database}: {len(in_catalog)} tables (Spark jobs read "
                  f"them by name, e.g. {database}.orders).", highlight=False)
    if not int(df["rows"].sum()):
        out.print("The store is empty: load an export with loyalist ingest TABLE FILE "
                  "(loyalist ingest --help lists the tables).", highlight=False)
    if stale:
        out.print(f"Stale (data undone since they were made): {', '.join(stale)}; run "
                  "loyalist score (and loyalist value) again.", highlight=False)


def backup(to: Path = typer.Argument(..., help="The new file to write (never overwritten)."),
           store: str = STORE) -> None:
    """Copy the whole store into a new file. While loyalist serve runs, use its API
    instead (POST /api/backup), which copies from inside the running app."""
    with open_store(store) as s:
        path = s.backup(to)  # a DuckDB file; a folder for a Spark warehouse
    size = (sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir()
            else path.stat().st_size)
    out.print(f"Backup written: {path} ({size / 2**20:,.1f} MB).",
              highlight=False, markup=False)


def restore(backup_file: Path = typer.Argument(..., help="A file made by loyalist backup."),
            store: str = STORE) -> None:
    """Put a backup in place of the store (stop loyalist serve first); the store it
    replaces is kept beside it."""
    from loyalist.store.batches import restore as put_back
    from loyalist.store.engine import location

    _, where = location(store)  # a Spark store: its warehouse folder
    kept = put_back(backup_file, where)
    with loyalist.connect(store) as s:  # opens and, if older, migrates it
        rows = int(s.status()["rows"].sum())
    out.print(f"Restored {backup_file} into {where} ({rows:,} rows)."
              + (f" The previous store is kept as {kept}." if kept else ""), highlight=False, markup=False)


def rejects(
    ingest_id: int = typer.Option(None, "--ingest", help="Only this ingest."),
    table: str = typer.Option(None, help="Only this table."),
    limit: int = typer.Option(50, help="Rows to show."),
    store: str = STORE,
) -> None:
    """Rejected rows kept in quarantine, with source, line, column, reason code, the
    value and the reason in words."""
    with open_store(store) as s:
        df = s.rejects(ingest_id, table)
    if df.empty:
        which = " ".join(x for x in (f"of ingest #{ingest_id}" if ingest_id is not None
                                     else "", f"in {table}" if table else "") if x)
        out.print(f"No rejected rows{' ' + which if which else ''}.", highlight=False)
        return
    show([Col("ingest", right=True), Col("table"), Col("source", wrap=True, drop=1,
                                                       min_width=12),
          Col("line", right=True), Col("column"), Col("code"),
          Col("value", wrap=True, drop=2, min_width=10),
          Col("reason", wrap=True, min_width=24)],
         [(str(r.ingest_id), r.table_name, r.source or "", str(r.line),
           r.column if isinstance(r.column, str) else "",
           r.code if isinstance(r.code, str) else "",
           r.value if isinstance(r.value, str) else "", r.reason)
          for r in df.head(limit).itertuples(index=False)],
         title=plural(len(df), "rejected value"))
    if len(df) > limit:
        out.print(f"... {len(df) - limit:,} more (--limit).", highlight=False)


def _day(v, time: bool = False) -> str:
    import pandas as pd

    from loyalist.cli.tables import day, moment

    if v is None or pd.isna(v):
        return ""
    return moment(pd.Timestamp(v)) if time else day(pd.Timestamp(v))


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command()(status)
    app.command()(rejects)
    app.command()(backup)
    app.command()(restore)
