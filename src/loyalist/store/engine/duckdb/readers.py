"""Turn a source (file or data frame) into a DuckDB relation of raw columns plus ``_line``.

Readers never guess values: CSV and text sources are read as text and parsed later
by :mod:`loyalist.store.engine.duckdb.parsing`, so every bad value can be reported with its line.
Typed sources (Parquet, Excel, data frames) keep their types.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from loyalist.errors import SourceError
from loyalist.store.ingest.rules import FORMATS
from loyalist.store.sql import lit, q

_CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
WHITESPACE = "whitespace"


@dataclass
class Source:
    """A raw source registered in a DuckDB connection as view ``name``."""

    name: str  # the view holding raw columns and _line
    label: str  # what to call it in messages (file name or "data frame")
    format: str
    columns: list[str]
    types: dict[str, str]
    #: structural rejects found while reading: (line, reason, raw text)
    structural_rejects: list[tuple[int, str, str]] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    cleanup: list[str] = field(default_factory=list)
    #: the source's own column names, one per column of ``columns`` (the reader renames
    #: names that repeat once spaces and case are set aside: ``id `` is read as ``id_1``)
    header: list[str] | None = None

    def own_names(self) -> dict[str, str]:
        """Each column as read -> the name the source itself gives it."""
        plain = {c: c for c in self.columns}
        if self.header is None or len(self.header) != len(self.columns):
            return plain
        pairs = dict(zip(self.columns, self.header, strict=True))
        # trust the alignment only where every name read is the source's own, trimmed,
        # with at most a suffix the reader added (a header found elsewhere than line 1)
        if all(not o.strip() or c == o.strip() or c.startswith(o.strip())
               for c, o in pairs.items()):
            return pairs
        return plain


def _engine_message(e: Exception, path: Path, *also: str) -> str:
    """The first line of an engine's error, naming the file by its name only (never the
    folder it sits in: an upload's temporary path is nobody's business)."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    for where in (*also, str(path)):
        text = text.replace(where, path.name)
    for where in {str(Path(w).parent) for w in (*also, str(path))} - {"."}:
        text = text.replace(where + os.sep, "").replace(where, "")
    return text


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise SourceError(f"Unknown format {fmt!r}.",
                              hint="Use one of: csv, parquet, json, excel.")
        return fmt
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise SourceError(
            f"Cannot tell the format of {path.name!r} from its extension.",
            hint="Pass --format csv|parquet|json|excel, or rename the file.",
        ) from None


def detect_encoding(path: Path, given: str | None) -> str:
    """The file's text encoding: the one given, else detected from its first 256 kB."""
    given_is_utf8 = False
    if given:
        try:
            name = codecs.lookup(given).name
        except LookupError:
            raise SourceError(f"Unknown encoding {given!r}.",
                              hint="Use a Python codec name such as utf-8, latin-1, cp1252.") from None
        if name != "utf-8":
            return name
        given_is_utf8 = True  # still check: DuckDB would read UTF-16 text as garbage
    with open(path, "rb") as f:
        head = f.read(256 * 1024)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if given_is_utf8:
            raise SourceError("The file starts with a UTF-16 byte-order mark, not UTF-8.",
                              hint="Pass --encoding utf-16, or leave --encoding out.")
        return "utf-16"
    if b"\x00" in head:
        raise SourceError("The file holds NUL bytes: it is not UTF-8 or single-byte text "
                          "(UTF-16 without a byte-order mark, or a binary file).",
                          hint="Pass --encoding utf-16-le or utf-16-be, or check the file.")
    if given_is_utf8:
        return "utf-8"
    try:
        # an incomplete last character is fine: we cut the file in the middle
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    if best is None:
        raise SourceError(
            "Cannot tell the text encoding of the file (it may not be text).",
            hint="Pass --encoding, e.g. --encoding latin-1.",
        )
    name = codecs.lookup(best.encoding).name
    # Short samples cannot tell the single-byte Western code pages apart; exports from
    # Western business software are cp1252 far more often than the rest.
    if name.startswith(("cp125", "iso8859", "latin", "mac")):
        try:
            head.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return name


def _transcode(path: Path, encoding: str) -> str:
    """Copy a non-UTF-8 text file to a temporary UTF-8 file, streaming."""
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="loyalist-")
    with open(path, encoding=encoding, errors="strict", newline="") as src, \
            os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
        try:
            while chunk := src.read(1 << 20):  # the utf-16 codec drops its own BOM
                dst.write(chunk)
        except UnicodeDecodeError as e:
            raise SourceError(
                f"The file is not valid {encoding} text ({e.reason} at byte {e.start}).",
                hint="Pass the right --encoding (e.g. utf-8, latin-1, cp1252).",
            ) from None
    return tmp


def sniff_delimiter(sample_lines: list[str]) -> str:
    """Pick the delimiter that splits the sample lines most consistently."""
    lines = [ln for ln in sample_lines if ln.strip()][:50]
    if not lines:
        return ","
    best, best_score = None, 0.0
    for d in _CANDIDATE_DELIMITERS:
        counts = [_count_outside_quotes(ln, d) for ln in lines]
        nonzero = [c for c in counts if c]
        if not nonzero:
            continue
        mode = max(set(nonzero), key=nonzero.count)
        score = counts.count(mode) / len(counts) + 0.001 * mode
        if score > best_score:
            best, best_score = d, score
    if best is not None and best_score >= 0.5:
        return best
    if all(re.search(r"\S\s+\S", ln.strip()) for ln in lines[:20]):
        return WHITESPACE
    return best or ","


def _count_outside_quotes(line: str, d: str) -> int:
    n, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == d and not quoted:
            n += 1
    return n


def _head_lines(path: str, n: int = 60) -> list[str]:
    out = []
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for _ in range(n):
            line = f.readline()
            if not line:
                break
            out.append(line.rstrip("\r\n"))
    return out


def read_source(
    con: duckdb.DuckDBPyConnection,
    source,
    *,
    name: str = "_loyalist_src",
    fmt: str | None = None,
    header: bool = True,
    names: list[str] | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> Source:
    """Register ``source`` (a path, a pandas DataFrame or a pyarrow Table) as a view."""
    if not isinstance(source, str | os.PathLike):
        return _read_frame(con, source, name)
    path = Path(source)
    if not path.exists():
        raise SourceError(f"File not found: {str(path)!r}.",
                          hint=f"Check the path (the current folder is {os.getcwd()}).")
    if path.is_dir():
        raise SourceError(f"{str(path)!r} is a folder, not a file.", hint="Give one file.")
    fmt = detect_format(path, fmt)
    if fmt == "csv":
        src = _read_csv(con, path, name, header, names, delimiter, encoding)
    elif fmt == "parquet":
        src = _read_parquet(con, path, name)
    elif fmt == "json":
        src = _read_json(con, path, name)
    else:
        src = _read_excel(con, path, name, sheet, header)
    if names and fmt != "csv":
        _rename(con, src, names)
    return src


def _describe(con, view: str) -> tuple[list[str], dict[str, str]]:
    rows = con.execute(f"DESCRIBE {view}").fetchall()
    cols = [r[0] for r in rows if r[0] != "_line"]
    return cols, {r[0]: r[1] for r in rows}


def _rename(con, src: Source, names: list[str]) -> None:
    if len(names) != len(src.columns):
        raise SourceError(
            f"--names gives {len(names)} column names but the file has {len(src.columns)} "
            f"columns ({', '.join(src.columns)}).", hint="Give one name per column.")
    sel = ", ".join(f"{q(old)} AS {q(new)}" for old, new in zip(src.columns, names, strict=True))
    con.execute(f"CREATE OR REPLACE TEMP VIEW {src.name}_r AS SELECT _line, {sel} FROM {src.name}")
    src.name = f"{src.name}_r"
    src.columns, src.types = _describe(con, src.name)


def _read_frame(con, frame, name: str) -> Source:
    import pyarrow as pa

    try:
        if isinstance(frame, pa.Table):
            table = frame
        else:
            import pandas as pd

            if not isinstance(frame, pd.DataFrame):
                raise SourceError(
                    f"Cannot ingest an object of type {type(frame).__name__}.",
                    hint="Pass a file path, a pandas DataFrame or a pyarrow Table.")
            table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise SourceError(f"Cannot read the data frame: {e}.",
                          hint="Make each column hold one type.") from None
    table = table.append_column("_line", pa.array(range(1, table.num_rows + 1), pa.int64()))
    con.register(f"{name}_arrow", table)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_arrow")
    cols, types = _describe(con, name)
    return Source(name, "data frame", "frame", cols, types,
                  header=[str(c) for c in table.column_names[:-1]])


def _header_names(head: list[str], delimiter: str) -> list[str] | None:
    """The header line's own names (as written, spaces kept), or None when unsure."""
    if not head:
        return None
    try:
        return next(csv.reader([head[0].lstrip("\ufeff")], delimiter=delimiter))
    except (csv.Error, StopIteration, TypeError):
        return None


def _read_csv(con, path, name, header, names, delimiter, encoding) -> Source:
    enc = detect_encoding(path, encoding)
    cleanup = []
    readable = str(path)
    if enc not in ("utf-8", "ascii"):
        readable = _transcode(path, enc)
        cleanup.append(readable)
    head = _head_lines(readable)
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if delimiter in (WHITESPACE, "space", " ", r"\s+"):
        delimiter = WHITESPACE
    delim = delimiter or sniff_delimiter(head)
    if delim == WHITESPACE:
        return _read_whitespace(con, readable, name, header, names, enc, cleanup, path.name)
    opts = [
        f"delim={lit(delim)}", "all_varchar=true", f"header={str(header).lower()}",
        "store_rejects=true", f"rejects_table='{name}_rej'", f"rejects_scan='{name}_scan'",
        "null_padding=false", "auto_detect=true",
    ]
    if names:
        opts.append("names=[" + ", ".join(lit(n) for n in names) + "]")
    first = 2 if header else 1
    try:
        con.execute(f"DROP TABLE IF EXISTS {name}_rej; DROP TABLE IF EXISTS {name}_scan")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name}_raw AS SELECT row_number() OVER () AS _i, * "
            f"FROM read_csv({lit(readable)}, {', '.join(opts)})")
    except duckdb.Error as e:
        raise SourceError(f"Cannot read {path.name} as CSV: {_engine_message(e, path, readable)}",
                          hint="Check --delimiter, --encoding and --no-header.") from None
    rejects = con.execute(
        f"SELECT line, error_type || ': ' || error_message, csv_line FROM {name}_rej "
        "ORDER BY line").fetchall()
    # Physical line of each accepted record: skip the lines DuckDB rejected.
    # Valid record i sits after every rejected line r_j with r_j - first - j + 1 < i.
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name}_rl AS SELECT "
                f"line - {first} - (row_number() OVER (ORDER BY line)) + 1 AS before, "
                f"row_number() OVER (ORDER BY line) AS k FROM {name}_rej")
    if rejects:
        line_expr = (f"r._i + {first - 1} + coalesce((SELECT max(k) FROM {name}_rl "
                     f"WHERE before < r._i), 0)")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {line_expr} AS _line, "
                    f"r.* EXCLUDE (_i) FROM {name}_raw r")
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT _i + {first - 1} AS _line, "
                    f"* EXCLUDE (_i) FROM {name}_raw")
    cols, types = _describe(con, name)
    structural = [(int(ln), f"malformed line ({reason})", raw or "") for ln, reason, raw in rejects]
    own = _header_names(head, delim) if header and not names else None
    return Source(name, path.name, "csv", cols, types, structural, enc, delim, cleanup, own)


def _read_whitespace(con, readable, name, header, names, enc, cleanup, label) -> Source:
    """Columns separated by runs of spaces or tabs (fixed-width style exports)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name}_lines AS SELECT row_number() OVER () AS _line, "
        f"string_split_regex(trim(line), '\\s+') AS f FROM read_csv({lit(readable)}, "
        "columns={'line': 'VARCHAR'}, delim='\\x01', quote='', escape='', header=false, "
        "auto_detect=false)")
    rows = con.execute(f"SELECT f FROM {name}_lines WHERE _line = 1").fetchall()
    if not rows:
        raise SourceError(f"{label} is empty.", hint="Check that the export wrote any rows.")
    first_fields = rows[0][0]
    if names:
        cols = list(names)
    elif header:
        cols = list(first_fields)
    else:
        cols = [f"column{i}" for i in range(len(first_fields))]
    n = len(cols)
    start = 2 if header else 1
    sel = ", ".join(f"f[{i + 1}] AS {q(c)}" for i, c in enumerate(cols))
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT _line, {sel} FROM {name}_lines "
                f"WHERE _line >= {start} AND len(f) = {n} AND f[1] <> ''")
    bad = con.execute(
        f"SELECT _line, len(f), array_to_string(f, ' ') FROM {name}_lines "
        f"WHERE _line >= {start} AND len(f) <> {n} AND NOT (len(f) = 1 AND f[1] = '') "
        "ORDER BY _line").fetchall()
    structural = [(int(ln), f"malformed line (expected {n} fields, found {k})", raw)
                  for ln, k, raw in bad]
    colnames, types = _describe(con, name)
    return Source(name, label, "csv", colnames, types, structural, enc, WHITESPACE, cleanup)


def _read_parquet(con, path, name) -> Source:
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT file_row_number + 1 AS _line, "
                    f"* EXCLUDE (file_row_number) FROM read_parquet({lit(str(path))}, "
                    "file_row_number=true)")
        cols, types = _describe(con, name)
    except duckdb.Error as e:
        raise SourceError(f"Cannot read {path.name} as Parquet: {_engine_message(e, path)}",
                          hint="Check that the file is a complete Parquet file.") from None
    return Source(name, path.name, "parquet", cols, types)


def _read_json(con, path, name) -> Source:
    fmt = "array" if path.suffix.lower() == ".json" and _starts_with_bracket(path) else \
        "newline_delimited"
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name}_raw AS SELECT row_number() OVER () "
                    f"AS _line, * FROM read_json({lit(str(path))}, format='{fmt}', "
                    "records=true)")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_raw")
        cols, types = _describe(con, name)
    except duckdb.Error as e:
        raise SourceError(f"Cannot read {path.name} as JSON: {_engine_message(e, path)}",
                          hint="Each line must be one JSON object (JSON lines).") from None
    return Source(name, path.name, "json", cols, types)


def _starts_with_bracket(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4096).lstrip().startswith(b"[")


def _read_excel(con, path, name, sheet, header) -> Source:
    import pandas as pd

    try:
        frame = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0,
                              header=0 if header else None, dtype=object)
    except Exception as e:  # noqa: BLE001 - a damaged file fails in many ways: each is a SourceError
        raise SourceError(f"Cannot read {path.name} as Excel: {_engine_message(e, path)}",
                          hint="Check --sheet and that the file opens in a spreadsheet (a "
                          "damaged or renamed file cannot be read).") from None
    if not header:
        frame.columns = [f"column{i}" for i in range(frame.shape[1])]
    frame.columns = [str(c) for c in frame.columns]
    # cells of mixed types become text; parsing happens later with line numbers
    frame = frame.map(lambda v: None if v is None or (isinstance(v, float) and v != v)
                      else (v.isoformat() if hasattr(v, "isoformat") else str(v)))
    src = _read_frame(con, frame, name)
    offset = 1 if header else 0
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name}_x AS SELECT _line + {offset} AS _line, "
                f"* EXCLUDE (_line) FROM {name}")
    src.name, src.label, src.format = f"{name}_x", path.name, "excel"
    src.columns, src.types = _describe(con, src.name)
    return src


def read_frame(path):
    """A file the store reads (CSV with any delimiter or encoding, Parquet, JSON lines,
    Excel) as a pandas DataFrame, through a DuckDB connection of its own (no store
    needed), with its ``_line`` column."""
    con = duckdb.connect()
    try:
        src = read_source(con, str(path))
        return con.table(src.name).df()
    finally:
        con.close()
