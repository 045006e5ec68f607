"""Row-level writes to a Spark store's Parquet folders: numbering and appending the
bookkeeping tables (worklist, council, audit), and rewriting tables without one
customer's rows (the erasure). Each write stages every table it touches before any is
put in place, so a failure leaves every table as it was. The store's methods check that
it may write, hold its lock and keep the derived tables' log."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from loyalist.store.engine import conform

#: the numbers drawn so far from each sequence (:func:`draw`)
SEQUENCES = "_loyalist_sequences.json"


def draw(store, sequence: str, n: int) -> list[int]:
    """``n`` new numbers from ``sequence``, kept in the warehouse. The caller holds the
    store's lock."""
    seqs = store._read_json(SEQUENCES)
    start = int(seqs.get(sequence, 0)) + 1
    seqs[sequence] = start + n - 1
    store._write_json(SEQUENCES, seqs)
    return list(range(start, start + n))


def _discard(staged) -> None:
    for _table, path in staged:
        shutil.rmtree(path, ignore_errors=True)


def append(store, batches) -> None:
    """Append each ``(table, frame)`` of ``batches``: cast to the table's declared
    columns and staged first, then each file put in place by a rename."""
    staged = []
    try:
        for table, frame in batches:
            _declared, data = conform(table, frame, bookkeeping=True)
            staged.append((table, store._stage(
                table, lambda path, t=table, d=data: store._write_arrow(t, d, path))))
    except BaseException:
        _discard(staged)
        raise
    for table, path in staged:
        folder = store._dir(table)
        folder.mkdir(parents=True, exist_ok=True)
        for part in path.iterdir():  # each file appears whole, by a rename
            os.replace(part, folder / part.name)
        shutil.rmtree(path, ignore_errors=True)
    store._forget(*{t for t, _ in staged})


def stage_without(store, targets, value) -> tuple[list[tuple[str, Path]], dict[str, int]]:
    """Each ``(table, column)`` of ``targets`` rewritten to the staging area without its
    rows whose ``column`` equals ``value``: the staged folders and the rows removed per
    table (tables with no such row are left out). Nothing is put in place here."""
    from pyspark.sql import functions as F

    staged, removed = [], {}
    try:
        for table, column in targets:
            folder = store._dir(table)
            if not folder.is_dir():
                continue
            df = store.spark.read.schema(store._schema(table)).parquet(str(folder))
            hit = F.col(f"`{column}`") == F.lit(value)
            n = df.filter(hit).count()
            if not n:
                continue
            keep = df.filter(~hit | F.col(f"`{column}`").isNull())
            staged.append((table, store._stage(
                table, lambda path, k=keep: k.write.parquet(path))))
            removed[table] = int(n)
    except BaseException:
        _discard(staged)
        raise
    return staged, removed
