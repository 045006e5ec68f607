"""The churn model's data: which columns can teach something, and the matrix its parts
read (numbers as floats, text as categories fixed at training).

Private to :mod:`loyalist.models.churn`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from loyalist.errors import DataError

#: columns that identify a row, never features
ID_COLUMNS = ("customer_id", "as_of", "left", "id")
#: a column of whole numbers, all different, with a name like these is an identifier
_ID_NAME = re.compile(r"(^|_)(id|num|number|no|key|code|clientnum|ref)($|_)", re.I)


def _is_category(v: pd.Series) -> bool:
    """Text and yes/no columns are categories; numbers are numbers."""
    return not pd.api.types.is_numeric_dtype(v) or pd.api.types.is_bool_dtype(v)


def _codes(v: pd.Series, categories: list[str]) -> np.ndarray:
    """Each value's position among ``categories`` (their text, as at training), -1 when
    missing or unseen; looked up once per distinct value, not once per row."""
    codes, distinct = pd.factorize(v)
    lookup = pd.Index(categories, dtype=object).get_indexer(
        pd.Index(distinct).astype(str).astype(object))
    return np.append(lookup, -1)[codes]


class ChurnData:
    """The data side of :class:`~loyalist.models.churn.ChurnModel`."""

    # -- data --------------------------------------------------------------
    def _choose_columns(self, X: pd.DataFrame, unavailable: dict[str, str]) -> None:
        """Which columns can teach something; the others go to ``unused_`` with why."""
        cols, unused, values = [], [], {}
        n = len(X)
        for c in X.columns:
            if c in ID_COLUMNS or c in self.exclude:
                continue
            v = X[c]
            if pd.api.types.is_datetime64_any_dtype(v):
                unused.append((c, "a date"))
                continue
            if _is_category(v):  # text: its distinct values once (they become categories)
                codes, values[c] = pd.factorize(v)
                count, distinct = int((codes >= 0).sum()), len(values[c])
            else:
                count = v.notna().sum()
                distinct = v.nunique(dropna=True) if count else 0
            if count == 0:
                unused.append((c, unavailable.get(c, "empty")))
                continue
            if distinct <= 1 and count == n:
                unused.append((c, unavailable.get(c, "constant")))
                continue
            numeric = pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_bool_dtype(v)
            if n >= 50 and distinct == count == n:
                whole = numeric and bool((v.dropna() % 1 == 0).all())
                if not numeric or (whole and _ID_NAME.search(str(c))):
                    unused.append((c, "an identifier (a different value in every row)"))
                    continue
            if not numeric and distinct > max(50, 0.5 * count):
                unused.append((c, f"free text ({distinct:,} different values)"))
                continue
            cols.append(c)
        if not cols:
            raise DataError("No feature columns to learn from.",
                            hint="Check the feature frame and the excluded columns"
                            + (f"; not used: {', '.join(c for c, _ in unused[:8])}."
                               if unused else "."))
        self.feature_names_ = cols
        self._dtypes = {}
        self.unused_ = pd.DataFrame(unused, columns=["feature", "reason"])
        self.categories_ = {c: sorted(pd.Index(values[c]).astype(str).unique())
                            for c in cols if c in values}

    def _dtype(self, c: str) -> pd.CategoricalDtype:
        """Column ``c``'s categories as a dtype, made once (checking them each time
        costs more than coding the rows of a small table)."""
        dtypes = self.__dict__.setdefault("_dtypes", {})
        if c not in dtypes:
            dtypes[c] = pd.CategoricalDtype(self.categories_[c])
        return dtypes[c]

    def _matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise DataError(f"Features missing from the data: {', '.join(missing[:10])}.",
                            hint="Build features the same way as for training.")
        cols = {}
        for c in self.feature_names_:
            v = X[c]
            if c in self.categories_:  # values unseen in training: missing
                cols[c] = pd.Categorical.from_codes(_codes(v, self.categories_[c]),
                                                    dtype=self._dtype(c))
            elif v.dtype.kind == "f":
                cols[c] = v.astype("float64")
            else:
                cols[c] = pd.to_numeric(v, errors="coerce").astype("float64")
        return pd.DataFrame(cols, index=X.index)


def rates(M: pd.DataFrame, y: np.ndarray, seed: int, max_rows: int = 200_000) -> dict:
    """Share leaving by category, or by quintile of a number, in (a sample of) the
    training rows: the evidence a profile reason cites. Each value is a DataFrame
    (rate, rows) indexed by category or by quintile (0-4, -1 for missing); a number's
    quintile edges are in ``.attrs["edges"]``."""
    if len(y) > max_rows:
        rows = np.random.default_rng(seed).choice(len(y), max_rows, replace=False)
        M, y = M.iloc[rows], y[rows]
    out = {}
    for c in M.columns:
        v = M[c]
        if isinstance(v.dtype, pd.CategoricalDtype):
            codes = v.cat.codes.to_numpy()
            index = [*v.cat.categories, None]
            key = np.where(codes < 0, len(index) - 1, codes)
            edges = None
        else:
            x = v.to_numpy(dtype="float64")
            ok = ~np.isnan(x)
            edges = np.unique(np.quantile(x[ok], [0.2, 0.4, 0.6, 0.8])) if ok.any() \
                else np.array([])
            index = [*range(len(edges) + 1), -1]
            key = np.where(ok, np.searchsorted(edges, np.where(ok, x, 0), side="right"),
                           len(index) - 1)
        rows = np.bincount(key, minlength=len(index))
        left = np.bincount(key, y, minlength=len(index))
        seen = rows > 0
        g = pd.DataFrame({"rate": left[seen] / rows[seen], "rows": rows[seen]},
                         index=pd.Index(np.array(index, dtype=object)[seen], name=c))
        if edges is not None:
            g.attrs["edges"] = edges
        out[c] = g
    return out
