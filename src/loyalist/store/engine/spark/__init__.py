"""The Spark side of the engine adapter: a Loyalist store on Apache Spark.

- :mod:`.store`: :class:`~.store.SparkStore`, the contract and derived tables as
  Parquet folders in a warehouse, read through Ibis's PySpark backend;
- :mod:`.contract`: the data contract checked on a Spark DataFrame before a load;
- :mod:`.ingest`: a raw export ingested by the DuckDB store's rules (read on the driver
  by the DuckDB readers, checked and merged in Spark);
- :mod:`.models`: fitted models kept as files in the warehouse.
"""
