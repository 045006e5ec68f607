"""The data contract on a Spark DataFrame: what :meth:`SparkStore.load
<loyalist.store.engine.spark.store.SparkStore.load>` checks before anything is written (required
columns present and filled, each column's type, no unknown column except the customers'
attributes) and the cast to the store's types."""

from __future__ import annotations

from loyalist.contract.schema import get_table
from loyalist.errors import DataError
from loyalist.store.engine import SPARK_TYPES

#: the bookkeeping columns of every contract table (as in the DuckDB store)
META = {"_key": "string", "_ingest_id": "integer", "_line": "integer"}
#: Spark type names (``DataType.simpleString()``) a contract type accepts on load
_ACCEPTS = {
    "string": {"string"},
    "timestamp": {"timestamp_ntz", "timestamp", "date"},
    "float": {"double", "float", "bigint", "int", "smallint", "tinyint"},
    "integer": {"bigint", "int", "smallint", "tinyint"},
    "boolean": {"boolean"},
    "blob": {"binary"},
}


def checked(table: str, df):
    """``df`` cast to the contract of ``table`` (plus its bookkeeping columns and,
    for customers, its attributes), or a DataError naming the table and column."""
    from pyspark.sql import functions as F

    spec = get_table(table)
    found = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    for c in spec.columns:
        if c.name not in found:
            if c.required:
                raise DataError(f"{table}.{c.name}: required column missing.",
                                hint=f"{table} needs: {', '.join(spec.required)} "
                                "(docs/data-contract.md).")
            continue
        if found[c.name] not in _ACCEPTS[c.type]:
            raise DataError(f"{table}.{c.name} is {found[c.name]}; the contract says "
                            f"{c.type}.", hint="Cast the column before loading, or "
                            "ingest the export into a DuckDB store, which parses text, "
                            "and copy it (SparkStore.copy_from).")
    for c, t in META.items():
        if c in found and found[c] not in _ACCEPTS[t]:
            raise DataError(f"{table}.{c} is {found[c]}; the store keeps it as {t}.",
                            hint="Leave the bookkeeping columns out.")
    extra = [c for c in found if c not in spec.names and c not in META]
    if extra and not spec.extra_attributes:
        raise DataError(f"{table}.{extra[0]}: not a column of the contract.",
                        hint=f"{table}'s columns: {', '.join(spec.names)}.")
    attributes = {c: contract_type(found[c]) for c in extra}
    for c, t in attributes.items():
        if t is None:
            raise DataError(f"{table}.{c} is {found[c]}: an attribute must be text, a "
                            "number, a time or true/false.", hint="Cast or drop it.")
    required = [c for c in spec.required if c in found]
    if required:
        nulls = df.select(*[F.sum(F.col(f"`{c}`").isNull().cast("int")).alias(c)
                            for c in required]).first()
        bad = [c for c in required if nulls[c]]
        if bad:
            raise DataError(f"{table}.{bad[0]}: {nulls[bad[0]]} rows have no value.",
                            hint="A required column must be filled in every row.")
    types = {c.name: c.type for c in spec.columns}
    types.update(META)
    types.update(attributes)
    key = F.col("`id`").cast("string") if "id" in found else F.lit(None).cast("string")
    out = []
    for c, t in types.items():
        if c in found:
            out.append(F.col(f"`{c}`").cast(SPARK_TYPES[t]).alias(c))
        elif c == "_key":
            out.append(key.alias(c))
        else:
            out.append(F.lit(None).cast(SPARK_TYPES[t]).alias(c))
    return df.select(*out), attributes


def contract_type(spark_type: str) -> str | None:
    """The contract type of an attribute column of Spark type ``spark_type``."""
    for t in ("string", "integer", "float", "timestamp", "boolean"):
        if spark_type in _ACCEPTS[t]:
            return t
    return None

