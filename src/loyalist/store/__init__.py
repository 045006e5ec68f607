"""The store (DuckDB behind Ibis) and ingestion against the data contract."""

from loyalist.store.ingest.rules import IngestResult
from loyalist.store.store import Store

__all__ = ["IngestResult", "Store"]
