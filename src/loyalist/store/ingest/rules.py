"""What ingestion means on every engine: the options of a read, the reason codes a
rejected value is kept with, the date shapes the checks recognise, and what an ingest
reports (:class:`IngestResult`). The checks themselves are Ibis expressions
(:mod:`loyalist.store.ingest.checks`); each engine's staging and merge are in its adapter
(:mod:`loyalist.store.engine.duckdb`, :mod:`loyalist.store.engine.spark`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: the files a store reads, by their ending: the reader each one goes to
FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".dat": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "json", ".ndjson": "json", ".json": "json",
    ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel",
}

# day/month/year written with / . or -, optionally followed by a time
DMY_RE = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$"
ISO_RE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
ISO_TZ_RE = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"


@dataclass
class Options:
    date_format: tuple[str, ...] = ()
    decimal: str = "."
    #: per source column: "dmy", "mdy" or "mixed", settled from the column's own values
    date_order: dict[str, str] | None = None


#: reason codes of rejected values (the ``code`` column of the quarantine), and what
#: each means; the offending value is kept beside it in the ``value`` column
REASON_CODES = {
    "missing_value": "a required value is empty",
    "not_number": "not a number",
    "not_whole_number": "not a whole number",
    "negative": "a negative value where none is allowed",
    "out_of_range": "below the minimum or above the maximum of the column",
    "not_yes_no": "not a yes or no",
    "bad_date": "a date that cannot be read",
    "ambiguous_date": "a date whose day and month could be swapped",
    "before_other": "a timestamp before the one it follows",
    "unknown_customer": "a customer not in customers (strict mode)",
    "empty_row": "neither of the columns one of which must be filled",
    "duplicate_id": "two rows of one file with the same id (both kept out)",
    "repeated_line": "a row repeating an earlier line of the file in every value (that "
                     "line is loaded once)",
    "append_only": "an append-only row already recorded with other content",
    "attribute_type": "an attribute value not of the attribute's type",
    "malformed_line": "a line the file's format cannot read",
    "order_conflict": "lines of one order that disagree on its customer or date",
    "no_amount": "an order line with neither an amount nor a quantity and unit price",
    "unknown_item": "a survey answer to an item its survey definition does not have",
    "off_scale": "a survey answer outside its item's scale (or a number for an open one)",
}


@dataclass
class IngestResult:
    """What an ingest did. ``accepted == inserted + updated + unchanged``."""

    ingest_id: int
    table: str
    source: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    rejects_file: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    attributes_added: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: rejected rows by reason code (a row with two bad values counts under both)
    reject_codes: dict[str, int] = field(default_factory=dict)
    #: with ``lines=True``: lines read and stored, returns and those linked to an order
    lines: dict[str, int] | None = None

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated + self.unchanged
