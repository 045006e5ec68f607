"""The quarantine: rejected rows kept with line, column, reason code, reason words, the
offending value and the whole raw row; written to a CSV file next to the store, counted
by code, and summed up in one message when no row of a file could be accepted."""

from __future__ import annotations

import json
from pathlib import Path

from loyalist.store.engine.duckdb.parsing import why
from loyalist.store.engine.duckdb.readers import Source
from loyalist.store.migrations import REJECTS
from loyalist.store.sql import lit, q

STAGE = "_loyalist_stage"


def _reason_col(name: str) -> str:
    return q(f"_r_{name}")


def _raw_struct(src: Source) -> str:
    return "to_json(struct_pack(" + ", ".join(
        f"{q(c)} := CAST(r.{q(c)} AS VARCHAR)" for c in src.columns) + "))"


REJECT_COLUMNS = '(ingest_id, table_name, source, line, "column", code, reason, value, raw)'


def store_rejects(con, contract, src, ingest_id, out_names, bad_filter, conflicts,
                   sources) -> int:
    """Quarantine the bad rows: one row per bad value, with its line, column, reason
    code, reason words, the value itself and the whole raw row. ``sources`` names the
    source column of each contract column or attribute."""
    unpivot = " UNION ALL ".join(
        f"SELECT _line, {lit(n)} AS col, {_reason_col(n)} AS reason FROM _loyalist_bad "
        f"WHERE {_reason_col(n)} IS NOT NULL" for n in out_names)
    unpivot += (f" UNION ALL SELECT _line, 'id' AS col, {q('_r__key')} FROM _loyalist_bad "
                f"WHERE {q('_r__key')} IS NOT NULL")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _loyalist_bad AS SELECT * FROM {STAGE} "
                f"WHERE {bad_filter}")
    if conflicts:
        reason = why("append_only", "touches are append-only: this id is already recorded "
                     "with other content")
        unpivot += f" UNION ALL SELECT _line, 'id', {reason} FROM ({conflicts})"
    value = ("CASE b.col " + " ".join(f"WHEN {lit(n)} THEN CAST(r.{q(s)} AS VARCHAR)"
                                     for n, s in sources.items()) + " END"
             if sources else "NULL")
    con.execute(
        f"INSERT INTO {REJECTS} {REJECT_COLUMNS} SELECT {ingest_id}, {lit(contract.name)}, "
        f"{lit(src.label)}, b._line, b.col, split_part(b.reason, '|', 1), "
        f"substr(b.reason, strpos(b.reason, '|') + 1), {value}, {_raw_struct(src)} "
        f"FROM ({unpivot}) b JOIN {src.name} r ON r._line = b._line")
    for line, reason, raw in src.structural_rejects:
        con.execute(f"INSERT INTO {REJECTS} {REJECT_COLUMNS} VALUES (?, ?, ?, ?, NULL, "
                    "'malformed_line', ?, NULL, ?)",
                    [ingest_id, contract.name, src.label, line, reason, json.dumps(raw)])
    return con.execute(f"SELECT count(DISTINCT line) FROM {REJECTS} WHERE ingest_id = ?",
                       [ingest_id]).fetchall()[0][0]


def write_rejects_file(con, ingest_id: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY (SELECT source, line, \"column\", code, reason, value, raw FROM {REJECTS} "
                f"WHERE ingest_id = {int(ingest_id)} ORDER BY line, \"column\") TO "
                f"{lit(str(path))} (HEADER, DELIMITER ',')")


def reject_codes(con, ingest_id: int) -> dict[str, int]:
    """Rejected rows of one ingest by reason code, the most frequent first."""
    return dict(con.execute(
        f"SELECT coalesce(code, 'other'), count(DISTINCT line) n FROM {REJECTS} WHERE "
        "ingest_id = ? GROUP BY ALL ORDER BY n DESC, 1", [int(ingest_id)]).fetchall())


def diagnose(con, src: Source, out_names, reason_cols, rows_read) -> tuple[str, str]:
    """One clear message when not a single row could be accepted."""
    union = " UNION ALL ".join(
        f"SELECT {lit(n)} AS col, substr({r}, strpos({r}, '|') + 1) AS reason "
        f"FROM {STAGE} WHERE {r} IS NOT NULL"
        for n, r in zip([*out_names, "id"], reason_cols, strict=True))
    top = con.execute(f"SELECT col, reason, count(*) n FROM ({union}) GROUP BY ALL "
                      "ORDER BY n DESC LIMIT 1").fetchall()
    return diagnosis(src, rows_read, top[0] if top else None)


def diagnosis(src: Source, rows_read: int, top) -> tuple[str, str]:
    """The message and hint when no row of ``src`` could be accepted; ``top`` the most
    common problem ``(column, reason words, rows)`` or None."""
    msg = f"No row of {src.label} could be accepted ({rows_read} rows read); nothing was written."
    if top is None:
        return msg, "Check the file's delimiter, encoding and header line."
    col, reason, n = top
    msg += f" Most common problem: {col}: {reason} ({n} rows)."
    if "date" in reason:
        hint = "The dates are in a format Loyalist will not guess: pass --date-format, e.g. " \
               "--date-format %d/%m/%Y."
    elif "missing required" in reason:
        hint = f"Column {col} is empty in every row: check --map (wrong column?) and --delimiter."
    elif "number" in reason:
        hint = "Numbers could not be read: check --map, and --decimal , if commas mark decimals."
    else:
        hint = "Check --map, --delimiter and --encoding."
    if len(src.columns) == 1:
        hint += " The file was read as a single column: the delimiter is probably wrong."
    return msg, hint
