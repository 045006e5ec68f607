"""Ingestion: read, parse, check, then merge into the store in one transaction.

The pipeline runs inside DuckDB (no Python loop over rows):

1. the source is read as raw columns plus its line numbers (:mod:`.readers`);
2. every contract column is parsed and checked, giving a value and a reason (the
   Ibis expressions of :mod:`loyalist.store.ingest.checks`, compiled for DuckDB);
   rows with any reason are rejected;
3. each row gets a key: its ``id``, else a hash of its natural key plus its
   occurrence number, so re-ingesting a file or an overlapping export adds nothing;
4. one transaction inserts new rows, updates changed ones (only the columns the
   source has), stores the rejects with line, column and reason, and logs the
   ingest. A crash at any point leaves the store as it was before.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import ibis

from loyalist.contract.schema import Table, get_table
from loyalist.errors import IngestError, MappingError
from loyalist.store.engine import rollback
from loyalist.store.engine.duckdb import parsing
from loyalist.store.engine.duckdb.parsing import Options
from loyalist.store.engine.duckdb.quarantine import (  # noqa: F401 (write_rejects_file: used by others)
    REJECT_COLUMNS,
    STAGE,
    _reason_col,
    diagnose,
    reject_codes,
    store_rejects,
    write_rejects_file,
)
from loyalist.store.engine.duckdb.readers import Source, read_source
from loyalist.store.engine.duckdb.schema import fit_customer_index, restore_customer_index
from loyalist.store.ingest import checks
from loyalist.store.ingest.mapping import likely_notes, parse_mapping, resolve
from loyalist.store.ingest.rules import IngestResult
from loyalist.store.migrations import ATTRIBUTES, INGEST_COLUMNS, INGESTS
from loyalist.store.sql import lit, q


def run_ingest(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source,
    mapping=None,
    *,
    rejects_dir: Path,
    strict: bool = False,
    header: bool = True,
    names: list[str] | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    date_format: str | list[str] | None = None,
    decimal: str = ".",
    sheet: str | int | None = None,
    format: str | None = None,
    progress: Callable[[str], None] | None = None,
    lines: bool = False,
    return_prefix: str | None = None,
) -> IngestResult:
    """Ingest ``source`` into contract table ``table`` using connection ``con``; with
    ``lines``, one row per order line (see :mod:`loyalist.store.engine.duckdb.lines`)."""
    step = progress or (lambda _msg: None)
    started = time.perf_counter()
    contract = get_table(table)
    if lines and contract.name != "orders":
        raise MappingError(f"--lines reads order lines; {contract.name} has no lines.",
                           hint=f"Run: loyalist ingest orders FILE --lines (or drop --lines "
                           f"for {contract.name}).")
    mapping = parse_mapping(mapping)
    opts = checks.ingest_options(date_format, decimal)
    step("reading")
    src = read_source(con, source, fmt=format, header=header, names=names,
                      delimiter=delimiter, encoding=encoding, sheet=sheet)
    try:
        if lines:
            from loyalist.store.engine.duckdb.lines import ingest_lines

            return ingest_lines(con, src, mapping, opts, return_prefix=return_prefix,
                                rejects_dir=rejects_dir, step=step, started=started)
        return _ingest(con, contract, src, mapping, opts, strict, rejects_dir, step, started)
    finally:
        for tmp in src.cleanup:
            Path(tmp).unlink(missing_ok=True)


def _ingest(con, contract: Table, src: Source, mapping, opts, strict, rejects_dir, step, started):
    chosen, attr_sources, ignored = resolve(contract, src.columns, mapping, src.own_names())
    notes = settle_dates(con, contract, src, chosen, opts)
    notes += likely_notes(contract, chosen, ignored)
    attr_types = _attribute_types(con, contract, src, attr_sources)
    step("checking")
    out_names = [c.name for c in contract.columns if c.name in chosen] + list(attr_sources)
    schema = _stage(con, contract, src, chosen, attr_sources, attr_types, opts, strict)
    _assign_keys(con, contract, chosen, out_names, schema)
    reason_cols = [_reason_col(n) for n in out_names] + [q("_r__key")]
    bad_filter = " OR ".join(f"{r} IS NOT NULL" for r in reason_cols)
    n_rows, n_bad = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {bad_filter}) FROM {STAGE}").fetchall()[0]
    n_struct = len(src.structural_rejects)
    rows_read = n_rows + n_struct
    if rows_read == 0:
        raise IngestError(f"{src.label} has no data rows.",
                          hint="Check that the export wrote any rows (and --no-header if the "
                          "file has no header line).")
    if n_rows - n_bad == 0:
        msg, hint = diagnose(con, src, out_names, reason_cols, rows_read)
        raise IngestError(msg, hint=hint)

    if not strict and "customer_id" in chosen and contract.name != "customers":
        notes.extend(_unknown_customers(con, bad_filter))

    step("writing")
    # line numbers are fixed by now; the target table's row order carries no meaning
    con.execute("SET preserve_insertion_order = false")
    dropped = fit_customer_index(con, contract.name, n_rows - n_bad)
    con.execute("BEGIN TRANSACTION")
    try:
        ingest_id = next_ingest_id(con)
        added = _add_attributes(con, contract, attr_types, ingest_id)
        counts = _merge(con, contract, out_names, ingest_id)
        rejects_file = None
        conflicts = counts.pop("conflicts")
        n_rejected = (store_rejects(con, contract, src, ingest_id, out_names, bad_filter,
                                     conflicts, {**chosen, **attr_sources})
                      if n_bad or conflicts or src.structural_rejects else 0)
        if n_rejected:
            rejects_file = str(rejects_dir / f"ingest-{ingest_id}-{contract.name}.csv")
        log_ingest(con, ingest_id, contract.name, src.label, src.format, started, rows_read,
                   counts, n_rejected, {"mapping": chosen, "attributes": attr_sources,
                                        "date_format": list(opts.date_format),
                                        "delimiter": src.delimiter, "encoding": src.encoding},
                   rejects_file)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        if dropped:
            restore_customer_index(con, contract.name)
        raise
    notes.extend(dropped)
    codes = rejects_written(con, ingest_id, rejects_file)
    return IngestResult(
        ingest_id=ingest_id, table=contract.name, source=src.label, rows_read=rows_read,
        inserted=counts["inserted"], updated=counts["updated"], unchanged=counts["unchanged"],
        rejected=n_rejected, rejects_file=rejects_file, ignored_columns=ignored,
        attributes_added=added, notes=notes, seconds=time.perf_counter() - started,
        reject_codes=codes)


def rejects_written(con, ingest_id: int, rejects_file: str | None) -> dict[str, int]:
    """After the commit: the ingest's rejected rows written to ``rejects_file`` (when
    there were any), and their count per reason code."""
    if not rejects_file:
        return {}
    write_rejects_file(con, ingest_id, Path(rejects_file))
    return reject_codes(con, ingest_id)


def next_ingest_id(con) -> int:
    """The id of a new ingest, from the ingest log's sequence."""
    return con.execute(f"SELECT nextval('{INGESTS}_seq')").fetchall()[0][0]


def log_ingest(con, ingest_id: int, table: str, source: str, fmt: str, started: float,
               rows_read: int, counts: dict[str, int], rejected: int, options: dict,
               rejects_file: str | None) -> None:
    """Append an ingest's row to the ingest log, in the caller's transaction: its table,
    source and format, when it started (``started``: its ``time.perf_counter()``) and
    finished, rows read, ``counts`` inserted / updated / unchanged (missing ones are 0),
    rows rejected, the ``options`` it ran with (as JSON) and the rejects file. Every
    value is bound."""
    con.execute(
        f"INSERT INTO {INGESTS} {INGEST_COLUMNS} VALUES (?, ?, ?, ?, now()::TIMESTAMP - "
        "to_microseconds(?), now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?)",
        [ingest_id, table, source, fmt, int((time.perf_counter() - started) * 1e6),
         rows_read, counts.get("inserted", 0), counts.get("updated", 0),
         counts.get("unchanged", 0), rejected, json.dumps(options), rejects_file])


def settle_dates(con, contract: Table, src: Source, chosen, opts) -> list[str]:
    """Settle each text date column's day/month order from its own values (kept in
    ``opts``); the notes saying what was read how."""
    notes = []
    if src.encoding not in (None, "utf-8", "ascii"):
        notes.append(f"read as {src.encoding} text (detected or given); pass --encoding if "
                     "the names look wrong")
    opts.date_order = {}
    for name, s in chosen.items():
        if contract.column(name).type == "timestamp" and src.types[s].upper() == "VARCHAR" \
                and not opts.date_format:
            order = parsing.settle_date_order(con, src.name, s)
            if order:
                opts.date_order[s] = order
                if order != "mixed":
                    notes.append(f"{s}: dates read as {'day' if order == 'dmy' else 'month'}-first "
                                 "(the column has dates that can only be read that way)")
    return notes


def _unknown_customers(con, bad_filter: str) -> list[str]:
    """A note when rows about to load name customers the customers table does not hold
    (only when it holds some: a shop without a customer list has nothing to check)."""
    if not con.execute("SELECT count(*) FROM (SELECT 1 FROM customers LIMIT 1)"
                       ).fetchall()[0][0]:
        return []
    n, rows, example = con.execute(
        f"SELECT count(DISTINCT s.customer_id), count(*), min(s.customer_id) FROM {STAGE} s "
        f"WHERE NOT ({bad_filter}) AND s.customer_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM customers c WHERE c.id = s.customer_id)").fetchall()[0]
    return unknown_note(n, rows, example)


def unknown_note(n: int, rows: int, example) -> list[str]:
    """The note on ``rows`` rows naming ``n`` customers the customers table does not
    hold (none when ``n`` is 0)."""
    if not n:
        return []
    who = "1 customer" if n == 1 else f"{n:,} customers"
    return [f"{rows:,} row{'s' if rows != 1 else ''} name{'s' if rows == 1 else ''} {who} "
            f"not in the customers table (e.g. {example!r}); loaded all the same. Ingest "
            "the customer list first, or use --strict to reject such rows."]


def _attribute_types(con, contract, src, attr_sources) -> dict[str, str]:
    if not attr_sources:
        return {}
    known = dict(con.execute(f"SELECT name, type FROM {ATTRIBUTES} WHERE table_name = ?",
                             [contract.name]).fetchall())
    return {a: known.get(a) or parsing.infer_attribute_type(con, src.name, s, src.types[s])
            for a, s in attr_sources.items()}


def _stage(con, contract, src, chosen, attr_sources, attr_types, opts, strict):
    """Materialise parsed values and their reasons, one row per source row (the rules
    of :mod:`.checks`, compiled for DuckDB); the stage's schema."""
    sql, schema = stage_sql(contract, src, chosen, attr_sources, attr_types, opts, strict)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {sql}")
    return schema


def stage_sql(contract, src, chosen, attr_sources, attr_types, opts, strict):
    """The stage of source ``src`` compiled for DuckDB, and its schema: compiled once per
    table, source columns and types, mapping and options (a re-ingest, or every
    ``store.append`` of one row, reuses it)."""
    return _compiled_stage(
        contract.name, src.name, tuple(src.columns),
        tuple((c, src.types[c]) for c in src.columns if c in src.types),
        tuple(chosen.items()), tuple(attr_sources.items()), tuple(attr_types.items()),
        tuple(opts.date_format), opts.decimal, tuple(sorted((opts.date_order or {}).items())),
        bool(strict))


@functools.lru_cache(maxsize=64)
def _compiled_stage(table, name, columns, types, chosen, attr_sources, attr_types,
                    date_format, decimal, date_order, strict):
    src = Source(name, name, "", list(columns), dict(types))
    opts = Options(date_format=date_format, decimal=decimal, date_order=dict(date_order))
    expr = staged_expr(get_table(table), src, dict(chosen), dict(attr_sources),
                       dict(attr_types), opts, strict)
    # not pretty: sqlglot's layout would indent a newline inside a quoted column name
    return ibis.to_sql(expr, dialect="duckdb", pretty=False), expr.schema()


def staged_expr(contract, src, chosen, attr_sources, attr_types, opts, strict):
    """The stage of source ``src`` as an Ibis expression (see :func:`checks.staged`)."""
    t = checks.raw_table(src.name, src.columns, src.types)
    known = ibis.table({"id": "string"}, name="customers")
    return checks.staged(t, contract, chosen, src.types, attr_sources, attr_types, opts,
                         strict, known)


def _assign_keys(con, contract: Table, chosen, out_names, schema) -> None:
    """Rows without an id get a content key; earlier rows with a later row's key are rejected.

    The stage already holds ``_key = id`` for good rows; this only rewrites it when some
    good row has no id, and only looks for duplicates when there are some.
    """
    ok = " AND ".join(f"{_reason_col(n)} IS NULL" for n in out_names)
    needs_hash, dup = con.execute(
        f"SELECT count(*) FILTER (WHERE {ok} AND _key IS NULL), "
        f"count(_key) - count(DISTINCT _key) FROM {STAGE}").fetchall()[0]
    if not needs_hash and not dup:
        return
    sql = _keys_sql(contract.name, tuple(chosen.items()), tuple(out_names), schema,
                    bool(needs_hash))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE}_k AS {sql}")
    con.execute(f"DROP TABLE {STAGE}")
    con.execute(f"ALTER TABLE {STAGE}_k RENAME TO {STAGE}")


@functools.lru_cache(maxsize=64)
def _keys_sql(table, chosen, out_names, schema, needs_hash) -> str:
    """The stage with content keys (``needs_hash``) and duplicates marked, compiled once
    per table, mapping and stage schema."""
    stage = ibis.table(schema, name=STAGE)
    if needs_hash:
        stage = checks.content_keys(stage, get_table(table), dict(chosen), list(out_names))
    stage = checks.mark_duplicates(stage, out_names)
    return ibis.to_sql(stage, dialect="duckdb", pretty=False)


def _add_attributes(con, contract, attr_types, ingest_id) -> dict[str, str]:
    if not attr_types:
        return {}
    have = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND NOT internal",
        [contract.name]).fetchall()}
    added = {}
    for name, typ in attr_types.items():
        if name not in have:
            con.execute(f"ALTER TABLE {q(contract.name)} ADD COLUMN {q(name)} {typ}")
            con.execute(f"INSERT OR IGNORE INTO {ATTRIBUTES} VALUES (?, ?, ?, ?)",
                        [contract.name, name, typ, ingest_id])
            added[name] = typ
    return added


def _merge(con, contract: Table, out_names, ingest_id, stage: str = STAGE) -> dict[str, int]:
    """Insert new keys, update changed rows (columns the source has), count the rest."""
    target = q(contract.name)
    good = f"(SELECT * FROM {q(stage)} WHERE _key IS NOT NULL AND {q('_r__key')} IS NULL)"
    changed = " OR ".join(f"t.{q(n)} IS DISTINCT FROM s.{q(n)}" for n in out_names)
    total, empty = con.execute(
        f"SELECT (SELECT count(*) FROM {good}), NOT EXISTS (SELECT 1 FROM {target})"
    ).fetchall()[0]
    cols = ", ".join(q(n) for n in out_names)
    insert = (f"INSERT INTO {target} ({cols}, _key, _ingest_id, _line) SELECT {cols}, _key, "
              f"{ingest_id}, _line FROM {good} s")
    if empty:  # first load: nothing to compare with
        inserted = con.execute(insert).fetchall()[0][0]
        return {"inserted": inserted, "updated": 0, "unchanged": 0, "conflicts": None}
    conflicts, n_conflicts, updated = None, 0, 0
    if contract.append_only:
        conflicts = (f"SELECT s._line FROM {good} s JOIN {target} t USING (_key) "
                     f"WHERE {changed}")
        n_conflicts = con.execute(f"SELECT count(*) FROM ({conflicts})").fetchall()[0][0]
    else:
        keep_replaced(con, contract.name, f"SELECT t.* FROM {target} t JOIN {good} s "
                      f"ON t._key = s._key WHERE {changed}", ingest_id)
        sets = ", ".join(f"{q(n)} = s.{q(n)}" for n in out_names)
        updated = con.execute(
            f"UPDATE {target} AS t SET {sets}, _ingest_id = {ingest_id}, _line = s._line "
            f"FROM {good} s WHERE t._key = s._key AND ({changed})").fetchall()[0][0]
    inserted = con.execute(
        f"{insert} WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t._key = s._key)"
    ).fetchall()[0][0]
    return {"inserted": inserted, "updated": updated,
            "unchanged": total - inserted - updated - n_conflicts,
            "conflicts": conflicts if n_conflicts else None}


def replaced_table(table: str) -> str:
    """The table keeping the versions of ``table``'s rows that ingests replaced."""
    return f"_loyalist_replaced_{table}"


def keep_replaced(con, table: str, rows_sql: str, ingest_id: int) -> None:
    """Copy the rows about to be replaced (``rows_sql`` selects them) into the table of
    replaced versions, so ``loyalist ingest --undo`` can put them back."""
    shadow = q(replaced_table(table))
    con.execute(f"CREATE TABLE IF NOT EXISTS {shadow} AS SELECT *, CAST(NULL AS BIGINT) AS "
                f"_replaced_by FROM {q(table)} LIMIT 0")
    have = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND NOT internal",
        [replaced_table(table)]).fetchall()}
    for name, typ in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? AND "
            "NOT internal", [table]).fetchall():
        if name not in have:  # an attribute column added since
            con.execute(f"ALTER TABLE {shadow} ADD COLUMN {q(name)} {typ}")
    con.execute(f"INSERT INTO {shadow} BY NAME SELECT r.*, {int(ingest_id)} AS _replaced_by "
                f"FROM ({rows_sql}) r")


def append_rows(con: duckdb.DuckDBPyConnection, table: str, frame, *,
                source: str = "data frame") -> IngestResult:
    """Append rows made by code (a DataFrame with the contract's column names and an
    ``id`` per row) to contract table ``table``, in one transaction, read by the same
    rules as :func:`run_ingest`. Meant for a few rows at a time (an outcome logged
    from the app): no quarantine, so a row that breaks a rule, or whose id is already
    stored, is an error and nothing is written. Logged in the ingest log as ``source``.
    """
    started = time.perf_counter()
    contract = check_appended(table, frame)
    src, values, rows = _bound_rows(frame)
    chosen = {c.name: c.name for c in contract.columns if c.name in src.columns}
    out_names = [c.name for c in contract.columns if c.name in chosen]
    stage, _ = stage_sql(contract, src, chosen, {}, {}, Options(), strict=False)
    staged = f"WITH {rows} SELECT * FROM ({stage})"
    target, cols = q(contract.name), ", ".join(q(n) for n in out_names)
    con.execute("BEGIN TRANSACTION")
    try:
        ingest_id = next_ingest_id(con)
        inserted = con.execute(
            f"INSERT INTO {target} ({cols}, _key, _ingest_id, _line) SELECT {cols}, _key, "
            f"{int(ingest_id)}, _line FROM ({staged}) s WHERE s._key IS NOT NULL AND NOT "
            f"EXISTS (SELECT 1 FROM {target} t WHERE t._key = s._key)", values
        ).fetchall()[0][0]
        if inserted != len(frame):
            raise IngestError(_refused(con, staged, values, out_names, table),
                              hint="Nothing was written; check the row.")
        log_ingest(con, ingest_id, contract.name, source, "rows", started, len(frame),
                   {"inserted": inserted}, 0, {"appended": True}, None)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    return IngestResult(ingest_id=ingest_id, table=contract.name, source=source,
                        rows_read=len(frame), inserted=inserted, updated=0, unchanged=0,
                        rejected=0, seconds=time.perf_counter() - started)


def check_appended(table: str, frame) -> Table:
    """Contract table ``table``, or an IngestError when rows appended to it (``frame``)
    lack an id each, all different, or carry a column it does not have."""
    contract = get_table(table)
    if not contract.has_id or "id" not in frame.columns or frame["id"].isna().any() \
            or not frame["id"].is_unique:
        raise IngestError(f"Rows appended to {table} need an id each, all different.",
                          hint="Give every row its own id, or ingest the rows instead.")
    extra = [c for c in frame.columns if c not in contract.names]
    if extra:
        raise IngestError(f"{table} has no column {', '.join(map(repr, extra))}.",
                          hint=f"{table} has: {', '.join(contract.names)}.")
    return contract


def _bound_rows(frame) -> tuple[Source, list, str]:
    """A few rows as a source whose values are bound parameters (``$1``, ``$2``...), each
    cast to the type of its column: no Arrow table, view or DESCRIBE on the way. Returns
    the source, the values and the SQL naming the rows (a common table expression)."""
    import pandas as pd

    types, columns = {}, [str(c) for c in frame.columns]
    for c in columns:
        kind = frame[c].dtype.kind
        types[c] = {"M": "TIMESTAMP", "i": "BIGINT", "u": "BIGINT", "f": "DOUBLE",
                    "b": "BOOLEAN"}.get(kind, "VARCHAR")
    values, rows = [], []
    for line, row in enumerate(frame.itertuples(index=False, name=None), start=1):
        cells = [str(line)]
        for c, v in zip(columns, row, strict=True):
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                v = None
            elif types[c] == "TIMESTAMP":
                v = pd.Timestamp(v).to_pydatetime()
            elif types[c] == "VARCHAR":
                v = str(v)
            elif hasattr(v, "item"):
                v = v.item()
            values.append(v)
            cells.append(f"CAST(${len(values)} AS {types[c]})")
        rows.append(f"({', '.join(cells)})")
    name = "_loyalist_append"
    cte = (f"{name}(_line, {', '.join(q(c) for c in columns)}) AS (VALUES "
           f"{', '.join(rows)})")
    return Source(name, "rows", "rows", columns, types), values, cte


def _refused(con, staged: str, values: list, out_names, table: str) -> str:
    """Why a row could not be appended: the first rule it breaks, or its id taken."""
    reasons = " UNION ALL ".join(
        f"SELECT _line, {lit(n)} AS col, {_reason_col(n)} AS reason FROM ({staged}) s "
        f"WHERE {_reason_col(n)} IS NOT NULL" for n in out_names)
    first = con.execute(f"SELECT _line, col, reason FROM ({reasons}) ORDER BY _line LIMIT 1",
                        values).fetchall()
    if first:
        line, col, reason = first[0]
        return f"Row {line} cannot be added to {table}: {col}: {reason.split('|', 1)[-1]}."
    return f"A row's id is already in {table}."
