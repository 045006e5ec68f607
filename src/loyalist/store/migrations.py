"""Store schema versions, so a newer Loyalist opens an older store; and the names of the
store's own tables (kept in :mod:`loyalist.store.names`, read from here by older code).

The migrations themselves are the DuckDB file's DDL, so they live in the engine adapter
(:mod:`loyalist.store.engine.duckdb.schema`: the numbered list :data:`MIGRATIONS`, each step's
statements, and :func:`sync_contract`); a Spark warehouse has no schema to migrate.
"""

from __future__ import annotations

from loyalist.store.engine.duckdb.schema import (  # noqa: F401
    MIGRATIONS,
    SCHEMA_VERSION,
    check_version,
    current_version,
    customer_column,
    index_by_customer,
    migrate,
    sync_contract,
)
from loyalist.store.names import (  # noqa: F401
    ASSIGNMENTS,
    ATTRIBUTES,
    COUNCIL_ATTENDANCE,
    COUNCIL_COMMITMENTS,
    COUNCIL_MEETINGS,
    COUNCIL_MEMBERS,
    COUNCIL_POINTS,
    DERIVED,
    INGEST_COLUMNS,
    INGESTS,
    META,
    META_COLUMNS,
    MODELS,
    REJECTS,
    WORKLIST,
)
