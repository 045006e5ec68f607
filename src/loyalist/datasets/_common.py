"""Shared helpers of the generator: time arithmetic, identifiers, vectorised strings.

Inside the generator every moment is a float number of days since the start of the
simulated period (``t = 0`` is ``start`` at midnight); NaN means "never" or "not known".
Only the final tables turn them into timestamps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loyalist.contract import TABLES

#: Arrow type of each logical contract type.
ARROW_TYPES = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
    "float": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
}


def to_timestamps(start: np.datetime64, days: np.ndarray) -> np.ndarray:
    """Days since ``start`` (NaN = missing) -> ``datetime64[us]`` to the second (NaT)."""
    days = np.asarray(days, dtype=np.float64)
    ok = np.isfinite(days)
    secs = np.zeros(days.shape, dtype=np.int64)
    secs[ok] = np.round(days[ok] * 86400.0).astype(np.int64)
    out = np.datetime64(start, "s") + secs.astype("timedelta64[s]")
    out = out.astype("datetime64[us]")
    out[~ok] = np.datetime64("NaT")
    return out


def ids(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` + a zero-padded running number 1..n."""
    nums = pa.array(np.arange(1, n + 1, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(nums, width, "0"), "")


def pick(strings: tuple[str, ...] | list[str], idx: np.ndarray,
         missing: np.ndarray | None = None) -> pa.Array:
    """The strings at ``idx`` (nulls where ``missing``) as an Arrow string array."""
    indices = pa.array(np.asarray(idx, dtype=np.int32), mask=missing)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(strings), pa.string())
                                          ).dictionary_decode()


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays (and scalars)."""
    return pc.binary_join_element_wise(*parts, "")


def fill_slot(templates: tuple[str, ...] | list[str], idx: np.ndarray,
              value: pa.Array) -> pa.Array:
    """Templates at ``idx`` with their ``{ref}`` slot (if any) replaced by ``value``."""
    heads, tails, has = [], [], []
    for template in templates:
        head, sep, tail = template.partition("{ref}")
        heads.append(head)
        tails.append(tail)
        has.append(bool(sep))
    slot = pc.if_else(pa.array(np.asarray(has)[idx]), value, "")
    return join(pick(heads, idx), slot, pick(tails, idx))


def choice(rng: np.random.Generator, p: np.ndarray | list[float], size: int) -> np.ndarray:
    """Indices drawn from the discrete distribution ``p`` (fast for large ``size``)."""
    cdf = np.cumsum(np.asarray(p, dtype=np.float64))
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)


def choice_rows(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One index per row of the (rows x k) probability matrix ``p``."""
    cdf = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), p.shape[1] - 1)


def poisson_times(rng: np.random.Generator, rate: np.ndarray, t0: np.ndarray,
                  t1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Homogeneous Poisson points of each row's ``rate`` per day on ``[t0, t1)``.

    Returns (row index of each point, time of each point), grouped by row.
    """
    span = np.clip(t1 - t0, 0.0, None)
    counts = rng.poisson(rate * span)
    row = np.repeat(np.arange(len(rate), dtype=np.int64), counts)
    t = t0[row] + rng.random(len(row)) * span[row]
    return row, t


def working_hours(t: np.ndarray, weekday0: int, rng: np.random.Generator) -> np.ndarray:
    """Move moments outside Monday-Friday 08:00-18:00 to shortly after the next opening."""
    day = np.floor(np.nan_to_num(t))
    hour = (np.nan_to_num(t) - day) * 24.0
    weekday = (weekday0 + day.astype(np.int64)) % 7
    after = hour >= 18.0
    before = hour < 8.0
    new_day = np.where(after, day + 1, day)
    wd = np.where(after, (weekday + 1) % 7, weekday)
    shift = np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
    closed = after | before | (shift > 0)
    opening = new_day + shift + (8.0 + rng.exponential(0.75, len(t)).clip(0, 9)) / 24.0
    return np.where(closed & np.isfinite(t), opening, t)


def day_time(rng: np.random.Generator, t: np.ndarray, weekday0: int,
             weekend_keep: float) -> tuple[np.ndarray, np.ndarray]:
    """Give each moment a daytime hour; return (new times, keep mask thinning weekends)."""
    day = np.floor(t)
    hour = 7.5 + 11.0 * rng.beta(2.2, 2.2, len(t))
    weekday = (weekday0 + day.astype(np.int64)) % 7
    keep = (weekday < 5) | (rng.random(len(t)) < weekend_keep)
    return day + hour / 24.0, keep


def contract_frame(table: str, columns: dict[str, object],
                   extra: dict[str, object] | None = None) -> pd.DataFrame:
    """A pandas DataFrame with exactly the contract's columns, in order and typed.

    Missing contract columns are all-null. Strings are Arrow-backed ``str``, timestamps
    ``datetime64[us]``, floats ``float64``, integers nullable ``Int64`` and booleans
    nullable ``boolean``.
    """
    spec = TABLES[table]
    arrays, fields = [], []
    n = None
    for values in columns.values():
        n = len(values)
        break
    for col in spec.columns:
        typ = ARROW_TYPES[col.type]
        values = columns.get(col.name)
        if values is None:
            arr = pa.nulls(n or 0, typ)
        elif isinstance(values, pa.Array | pa.ChunkedArray):
            arr = values.cast(typ)
        else:
            values = np.asarray(values)
            mask = np.isnan(values) if values.dtype.kind == "f" and col.type == "integer" else None
            if mask is not None:
                values = np.where(mask, 0, values).astype(np.int64)
            arr = pa.array(values, type=typ, mask=mask)
        arrays.append(arr)
        fields.append(pa.field(col.name, typ, nullable=not col.required))
    for name, values in (extra or {}).items():
        arr = values if isinstance(values, pa.Array) else pa.array(values)
        arrays.append(arr)
        fields.append(pa.field(name, arr.type))
    tab = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    return tab.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(),
                                       pa.bool_(): pd.BooleanDtype()}.get)
