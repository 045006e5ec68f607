"""The store (DuckDB behind Ibis) and ingestion against the data contract."""

from loyalist.store.ingest.rules import FORMATS, IngestResult
from loyalist.store.store import Store


def read_file(path):
    """A file the store reads (CSV with any delimiter or encoding, Parquet, JSON lines,
    Excel; :data:`FORMATS`) as a pandas DataFrame with its ``_line`` column, read on
    this machine with no store needed (the engine's reader, behind the store)."""
    from loyalist.store.engine.duckdb.readers import read_frame

    return read_frame(path)


__all__ = ["FORMATS", "IngestResult", "Store", "read_file"]
