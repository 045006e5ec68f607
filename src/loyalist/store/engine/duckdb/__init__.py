"""The DuckDB side of the engine adapter: what only a DuckDB connection runs.

- ingestion of raw exports (:mod:`.ingest`: stage, check and merge in SQL, one
  transaction), its readers of CSV, text, JSON, Parquet and Excel files into a DuckDB
  relation with line numbers (:mod:`.readers`, also used on the driver by the Spark
  store's ingest), the looks at a raw column's own values and the shared reason codes
  and options (:mod:`.parsing`), order lines (:mod:`.lines`) and the quarantine
  (:mod:`.quarantine`);
- the DuckDB file's schema: numbered migrations and contract sync (:mod:`.schema`);
- bad survey answers moved to the quarantine (:mod:`.survey`).

These modules were regrouped here from ``store/`` and ``store/engine/`` (issue 17);
their code is as it was. The parse and check of each value are Ibis expressions in
:mod:`loyalist.store.ingest.checks`, shared with the Spark store.
"""
