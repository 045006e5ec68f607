"""Pandas frames used in a Spark query (``ibis.memtable``), made fit for Spark's Arrow
conversion."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa


def one_chunk_each(register):
    """``register`` (the Ibis backend's registration of an in-memory table) given the
    frame with each Arrow-backed column in one chunk.

    Spark's Arrow conversion takes a column only as one Arrow array, and a frame read
    from the engine in several batches (more than one shuffle partition) holds chunked
    ones: Spark warned and fell back to converting the frame row by row."""
    from ibis.expr import operations as ops
    from ibis.formats.pandas import PandasDataFrameProxy

    def register_one_chunk(op):
        if isinstance(op.data, PandasDataFrameProxy):
            frame = op.data.to_frame()
            merged = {}
            for name in frame.columns:
                arr = frame[name].array
                if isinstance(arr, pd.arrays.ArrowExtensionArray):  # and ArrowStringArray
                    data = pa.array(arr)  # its Arrow data, as held
                    if isinstance(data, pa.ChunkedArray) and data.num_chunks > 1:
                        merged[name] = type(arr)(data.combine_chunks())
            if merged:
                op = ops.InMemoryTable(name=op.name, schema=op.schema,
                                       data=PandasDataFrameProxy(frame.assign(**merged)))
        return register(op)

    return register_one_chunk
