"""New exports from the inbox folder, each ingested once.

A file's table comes from ``[daily] inbox_tables`` (glob patterns) or else from the
start of its name (``orders.csv``, ``orders-2026-05-01.csv``, ``Orders_May.xlsx``:
orders); how it is read (a column mapping, order lines, date format...) from
``[daily] inbox_options``. Every file is known by its content hash: one ingested
before, under any name, is not read again. A file that cannot be ingested (unknown table, unreadable, not one
row accepted) is reported and recorded as failed: nothing of it reaches the store, and
the other files go on. Files are left where they are.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from loyalist.contract.schema import TABLES
from loyalist.errors import LoyalistError, MappingError, PathError
from loyalist.store import FORMATS

#: the order files are ingested in: customers and staff before what names them
ORDER = ("customers", "staff", "orders", "subscriptions", "requests", "feedback", "events",
         "touches", "survey_answers")


@dataclass
class InboxFile:
    """One file of the inbox and what became of it."""

    path: Path
    sha256: str
    table: str | None
    #: ingested, failed, or seen (ingested on an earlier run)
    status: str
    detail: str = ""
    ingest_id: int | None = None
    rows_read: int | None = None
    inserted: int | None = None
    rejected: int | None = None
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The file's fate in one line."""
        if self.status == "ingested":
            rej = f", {self.rejected:,} rejected (loyalist rejects)" if self.rejected else ""
            return (f"{self.path.name} -> {self.table}: {self.rows_read:,} rows read, "
                    f"{self.inserted:,} new{rej}")
        return f"{self.path.name}: {self.detail}"


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def first_match(name: str, patterns) -> str | None:
    """The first of the glob ``patterns`` a file named ``name`` matches (case-blind)."""
    return next((p for p in (patterns or {}) if fnmatch.fnmatch(name.lower(), p.lower())),
                None)


def table_for(name: str, patterns: dict[str, str] | None = None) -> str | None:
    """The contract table a file named ``name`` belongs to, or None."""
    pattern = first_match(name, patterns)
    if pattern is not None:
        return patterns[pattern]
    stem = name.lower().split(".")[0]
    for table in sorted(TABLES, key=len, reverse=True):  # survey_answers before survey
        if re.match(rf"{re.escape(table)}(?![a-z])", stem):
            return table
    return None


def options_for(name: str, options: dict[str, dict] | None = None) -> tuple[str | None, dict]:
    """The ``[daily] inbox_options`` pattern a file named ``name`` matches (the first),
    and its options as :meth:`Store.ingest` takes them."""
    pattern = first_match(name, options)
    if pattern is None:
        return None, {}
    return pattern, {("mapping" if k == "map" else k): v for k, v in options[pattern].items()}


def _failed(e: LoyalistError, name: str, pattern: str | None) -> str:
    """Why a file could not be ingested, and, where the columns did not fit, the
    ``[daily] inbox_options`` that would read it."""
    detail = e.message.rstrip(".") + " (nothing of it was loaded)"
    suggested = getattr(e, "suggested", None)
    if isinstance(e, MappingError) and suggested:
        detail += (f"; read it with [daily.inbox_options.\"{pattern or name}\"] map = "
                   f"\"{suggested}\"")
    return detail


def files(folder: Path) -> list[Path]:
    """The files of the inbox (not hidden, not an editor's lock file), in the order of
    their tables, then by name."""
    if not folder.is_dir():
        raise PathError(f"The inbox folder {str(folder)!r} does not exist.",
                        hint="Make it, or set [daily] inbox in loyalist.toml to the folder "
                        "where the exports arrive.")
    found = [p for p in folder.iterdir() if p.is_file()
             and not p.name.startswith((".", "~$")) and not p.name.endswith((".tmp", ".part"))]

    def rank(p: Path):
        t = table_for(p.name)
        return (ORDER.index(t) if t in ORDER else len(ORDER), p.name)

    return sorted(found, key=rank)


def _known(store) -> tuple[set[str], set[str]]:
    """The hashes of the files ingested, and of those recorded as failed."""
    if "daily_files" not in store.tables():
        return set(), set()
    rows = store.table("daily_files").select("sha256", "status").distinct().to_pandas()
    return (set(rows.loc[rows["status"] == "ingested", "sha256"]),
            set(rows.loc[rows["status"] == "failed", "sha256"]))


def ingest_inbox(store, folder: Path, *, patterns: dict[str, str] | None = None, day=None,
                 progress: Callable[[str], None] | None = None,
                 options: dict[str, dict] | None = None) -> list[InboxFile]:
    """Ingest every new file of ``folder`` (see the module's text), each read with the
    ``options`` of the first pattern its name matches (``[daily] inbox_options``);
    record each in ``daily_files``; return what became of every file, the ones seen
    before included."""
    step = progress or (lambda _m: None)
    seen, failed_before = _known(store)
    day = pd.Timestamp(day or pd.Timestamp.now(tz="UTC").tz_localize(None)).normalize()
    out = []
    for path in files(folder):
        digest = file_hash(path)
        table = table_for(path.name, patterns)
        if digest in seen:
            out.append(InboxFile(path, digest, table, "seen", "ingested before"))
            continue
        if table is None:
            out.append(InboxFile(path, digest, None, "failed", "no table: name it after one ("
                                 "orders-2026-05-01.csv) or map it in [daily] inbox_tables"))
        elif path.suffix.lower() not in FORMATS:
            out.append(InboxFile(path, digest, table, "failed", f"{path.suffix or 'no'} "
                                 "extension: not a CSV, Parquet, JSON lines or Excel file"))
        else:
            step(f"ingesting {path.name} into {table}")
            pattern, kw = options_for(path.name, options)
            try:
                r = store.ingest(table, path, strict=table != "customers", **kw)
            except LoyalistError as e:
                # the option is best written for the files' pattern, as inbox_tables has it
                pattern = pattern or first_match(path.name, patterns)
                out.append(InboxFile(path, digest, table, "failed",
                                     _failed(e, path.name, pattern)))
            else:
                seen.add(digest)
                out.append(InboxFile(path, digest, table, "ingested", "", r.ingest_id,
                                     r.rows_read, r.inserted, r.rejected, list(r.notes)))
    # a bad file is reported on every run, recorded once
    new = [f for f in out if f.status == "ingested"
           or (f.status == "failed" and f.sha256 not in failed_before)]
    if new:
        now = pd.Timestamp.now(tz="UTC").tz_localize(None)
        store.append_derived("daily_files", pd.DataFrame([{
            "sha256": f.sha256, "file": f.path.name, "table_name": f.table, "day": day,
            "status": f.status, "ingest_id": f.ingest_id, "rows_read": f.rows_read,
            "inserted": f.inserted, "rejected": f.rejected,
            "detail": f.detail or None, "seen_at": now} for f in new]),
            note=f"daily {day.date()}")
    return out


__all__ = ["InboxFile", "file_hash", "files", "ingest_inbox", "table_for"]
