"""Ingestion's rules, the same on every engine: the read options, reason codes and what
an ingest reports (:mod:`.rules`), the column mapping (:mod:`.mapping`), the parse and
check of each value as Ibis expressions (:mod:`.checks`) and the survey answers' checks
(:mod:`.survey_checks`). Each engine's staging and merge are in its adapter
(:mod:`loyalist.store.engine.duckdb`, :mod:`loyalist.store.engine.spark`).
"""
