"""Churn on a customer table: one row per customer, and a column saying who left.

The table comes from the store's ``customers`` (its extra columns are the features)
or from any file or data frame (``read_table``). The label may be written in any two
values (yes/no, 1/0, ``Attrited Customer``/``Existing Customer``...; see
:func:`loyalist.features.labels.label_values`); rows without a label are scored but
not learnt from; a table without an id gets row numbers. Columns that cannot teach
anything (empty, constant, identifiers, free text) are dropped with a note.

:func:`snapshot_cv` cross-validates the churn model with default LightGBM and a
logistic regression on the same folds (with the time each took);
:func:`score_table` scores every row, out of fold for the labelled ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.errors import DataError
from loyalist.features.labels import label_values
from loyalist.models.churn import ChurnModel
from loyalist.models.evaluation import calibration_table, evaluate, paired_bootstrap

#: column names (normalised) taken as a table's row identifier
ID_NAMES = ("id", "customer_id", "customerid", "client_id", "clientnum", "account_id",
            "user_id", "customer_no", "customer_number")


@dataclass
class LabelledTable:
    """Features (``X``, with ``customer_id``) and the label (``y``: 1 left, 0 stayed,
    missing when the row has no label)."""

    X: pd.DataFrame
    y: pd.Series
    label: str
    leaving: object
    staying: object
    notes: list[str] = field(default_factory=list)

    @property
    def labelled(self) -> np.ndarray:
        return self.y.notna().to_numpy()


def read_table(path) -> pd.DataFrame:
    """A table from any file the store reads (CSV with any delimiter or encoding,
    Parquet, JSON lines, Excel), as a pandas DataFrame."""
    from loyalist.store import read_file

    return _typed(read_file(path).drop(columns=["_line"], errors="ignore"))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns that hold numbers (blanks allowed) become numbers; blanks become
    missing values."""
    out = frame.copy()
    for c in out.columns:
        v = out[c]
        if pd.api.types.is_numeric_dtype(v) or pd.api.types.is_datetime64_any_dtype(v):
            continue
        text = v.astype("string").str.strip()
        text = text.mask(text == "")
        num = pd.to_numeric(text, errors="coerce")
        given = int(text.notna().sum())
        if given and num.notna().sum() >= 0.98 * given:
            out[c] = num.astype("float64")
        else:
            out[c] = text.astype(object).where(text.notna(), None)
    return out


def _normal(name) -> str:
    from loyalist.store.ingest.mapping import normalize

    return normalize(name)


def _find(columns, name: str) -> str | None:
    if name in columns:
        return name
    match = [c for c in columns if _normal(c) == _normal(name)]
    return match[0] if match else None


def labelled_table(source, label: str, *, positive=None, id_column: str | None = None
                   ) -> LabelledTable:
    """The features and the 0/1 label of a customer table.

    ``source`` is a store (its ``customers`` table) or a DataFrame. ``id_column`` names
    the row identifier of a DataFrame; without it a column named like an id whose
    values are all different is taken, and failing that the rows are numbered.
    """
    notes = []
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
    else:
        frame = source.table("customers").to_pandas()
        if frame.empty:
            raise DataError("The customers table is empty.",
                            hint="Ingest a customer table with its churn column first.")
        frame = frame.drop(columns=["name"], errors="ignore")
        id_column = "id"
    col = _find(frame.columns, label)
    if col is None:
        raise DataError(f"The table has no column {label!r}.",
                        hint=f"Its columns: {', '.join(map(str, frame.columns))}.")
    ident = _id_column(frame, id_column, col, notes)
    if ident is None:
        ids = pd.Series([f"row {i}" for i in range(1, len(frame) + 1)], index=frame.index)
        notes.append(f"no id column: rows are named 'row 1' to 'row {len(frame):,}' in "
                     "the order of the table")
    else:
        ids = frame[ident].astype("string")
        if ids.isna().any() or ids.duplicated().any():
            raise DataError(f"The id column {ident!r} has missing or repeated values.",
                            hint="Give a column that names each row once (--id-column), or "
                                 "none to number the rows.")
    leaving, staying = label_values(frame[col].value_counts(), col, positive)
    raw = frame[col]
    y = pd.Series(np.where(raw.isna(), np.nan, (raw == leaving).astype(float)),
                  index=frame.index)
    if raw.isna().any():
        notes.append(f"{int(raw.isna().sum()):,} rows have no {col!r}: scored, not learnt "
                     "from")
    X = frame.drop(columns=[c for c in (col, ident) if c is not None])
    X.insert(0, "customer_id", ids.to_numpy())
    return LabelledTable(X=X.reset_index(drop=True), y=y.reset_index(drop=True), label=col,
                         leaving=leaving, staying=staying, notes=notes)


def _id_column(frame, given, label, notes) -> str | None:
    if given is not None:
        col = _find(frame.columns, given)
        if col is None:
            raise DataError(f"The table has no id column {given!r}.",
                            hint=f"Its columns: {', '.join(map(str, frame.columns))}.")
        return col
    for c in frame.columns:
        if c != label and _normal(c) in ID_NAMES and frame[c].notna().all() \
                and frame[c].is_unique:
            return c
    return None


# -- cross-validation with the plain peers ------------------------------------------------
@dataclass
class SnapshotResult:
    """Stratified k-fold cross-validation of the churn model on a labelled table, with
    default LightGBM and a logistic regression on the same folds."""

    label: str
    metrics: pd.DataFrame  # the model: one row per fold plus "mean"
    calibration: pd.DataFrame  # reliability table of the out-of-fold predictions
    model: ChurnModel  # fitted on every labelled row
    top_features: pd.DataFrame
    comparison: pd.DataFrame | None = None  # one row per method: mean metrics, seconds
    bootstrap: pd.DataFrame | None = None
    oof: pd.DataFrame | None = None  # customer_id, left, and each method's prediction
    notes: list[str] = field(default_factory=list)


def _lightgbm_matrix(X: pd.DataFrame, columns, categories) -> pd.DataFrame:
    M = X[columns].copy()
    for c in columns:
        if c in categories:
            M[c] = pd.Categorical(M[c].astype("string").astype(object),
                                  categories=categories[c])
        else:
            M[c] = pd.to_numeric(M[c], errors="coerce").astype("float64")
    return M


def _peers(columns, categories):
    """The plain peers: LightGBM with its default settings, and a logistic regression
    on one-hot categories and standardised numbers (median-imputed)."""
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cats = [c for c in columns if c in categories]
    nums = [c for c in columns if c not in categories]

    def logistic():
        parts = []
        if cats:
            parts.append(("cat", make_pipeline(
                SimpleImputer(strategy="constant", fill_value="(missing)"),
                OneHotEncoder(handle_unknown="ignore")), cats))
        if nums:
            parts.append(("num", make_pipeline(SimpleImputer(strategy="median"),
                                               StandardScaler()), nums))
        return make_pipeline(ColumnTransformer(parts), LogisticRegression(max_iter=2000))

    def as_text(M):
        out = M.copy()
        for c in cats:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
        return out

    # LightGBM's default settings, on one thread (the same trees as on more, and no
    # time lost waiting for a busy machine's other core)
    return {"lightgbm": (lambda: LGBMClassifier(verbose=-1, random_state=0, n_jobs=1),
                         lambda M: M),
            "logistic": (logistic, as_text)}


def snapshot_cv(source, label: str = "churn", folds: int = 5, random_state: int = 0,
                model: ChurnModel | None = None, *, positive=None, id_column=None,
                peers: bool = True, bootstrap: int = 300) -> SnapshotResult:
    """Cross-validate the churn model on a labelled customer table (snapshot mode).

    ``source`` is a store (its customers table), a DataFrame, or a
    :class:`LabelledTable`. With ``peers``, default LightGBM and a logistic regression
    learn from the same folds; ``comparison`` has their mean metrics and CPU seconds.
    """
    from sklearn.model_selection import StratifiedKFold

    table = source if isinstance(source, LabelledTable) else labelled_table(
        source, label, positive=positive, id_column=id_column)
    keep = table.labelled
    X = table.X[keep].reset_index(drop=True)
    y = table.y[keep].astype(int).reset_index(drop=True)
    minority = int(min(y.sum(), len(y) - y.sum()))
    if minority < 2:
        raise DataError(f"Too few customers on one side of {table.label!r} to learn from: "
                        f"{int(y.sum())} left, {int(len(y) - y.sum())} stayed.",
                        hint="A churn model needs customers who left and who stayed.")
    folds = int(min(folds, minority))
    params = (model or ChurnModel()).get_params()
    chooser = ChurnModel(**params)
    chooser._choose_columns(X, {})  # which columns are usable: from X alone, no labels
    columns, categories = chooser.feature_names_, chooser.categories_
    notes = list(table.notes) + [f"not used: {r.feature} ({r.reason})"
                                 for r in chooser.unused_.itertuples()]
    methods = {"model": (lambda: ChurnModel(**params), None)}
    if peers:
        methods.update(_peers(columns, categories))
    oof = pd.DataFrame({"customer_id": X["customer_id"], "left": y.to_numpy()})
    rows, seconds = [], dict.fromkeys(methods, 0.0)
    split = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    M = _lightgbm_matrix(X, columns, categories)
    for name in methods:
        oof[name] = np.nan
    for k, (tr, te) in enumerate(split.split(X, y)):
        for name, (make, prep) in methods.items():
            started = time.process_time()
            if prep is None:
                m = make().fit(X.iloc[tr], y.iloc[tr])
                p = m.predict_proba(X.iloc[te])
            else:
                m = make().fit(prep(M.iloc[tr]), y.iloc[tr])
                p = m.predict_proba(prep(M.iloc[te]))[:, 1]
            seconds[name] += time.process_time() - started
            oof.loc[oof.index[te], name] = p
        rows.append({"fold": k + 1, **evaluate(y.iloc[te], oof[["model"]].iloc[te, 0])})
    metrics = pd.DataFrame(rows).set_index("fold").astype("float64")
    metrics.loc["mean"] = metrics.mean()
    comparison = pd.DataFrame({name: {**evaluate(y, oof[name]), "cpu_seconds": seconds[name]}
                               for name in methods}).T
    boot = (paired_bootstrap(y, oof[list(methods)], n_boot=bootstrap)
            if peers and bootstrap else None)
    final = ChurnModel(**params).fit(X, y)
    return SnapshotResult(label=table.label, metrics=metrics,
                          calibration=calibration_table(y, oof["model"]), model=final,
                          top_features=final.summary_.head(10), comparison=comparison,
                          bootstrap=boot, oof=oof, notes=notes)


@dataclass
class TableScores:
    """Every row of a labelled table scored: ``scores`` (customer_id, p_leave, left,
    out_of_fold), the model fitted on every labelled row, and its cross-validation."""

    scores: pd.DataFrame
    X: pd.DataFrame
    model: ChurnModel
    cv: SnapshotResult
    table: LabelledTable


def score_table(source, label: str, *, positive=None, id_column=None, folds: int = 5,
                model: ChurnModel | None = None, peers: bool = False) -> TableScores:
    """P(leave) of every row: out of fold for the labelled rows (no row is scored by a
    model that learnt its answer), by the model fitted on all of them for the others."""
    table = labelled_table(source, label, positive=positive, id_column=id_column)
    cv = snapshot_cv(table, folds=folds, model=model, peers=peers, bootstrap=0)
    p = pd.Series(np.nan, index=table.X.index)
    keep = table.labelled
    p[keep] = cv.oof["model"].to_numpy()
    if (~keep).any():
        p[~keep] = cv.model.predict_proba(table.X[~keep])
    scores = pd.DataFrame({"customer_id": table.X["customer_id"], "p_leave": p.to_numpy(),
                           "left": table.y.to_numpy(), "out_of_fold": keep})
    return TableScores(scores=scores, X=table.X, model=cv.model, cv=cv, table=table)


__all__ = ["LabelledTable", "SnapshotResult", "TableScores", "labelled_table", "read_table",
           "score_table", "snapshot_cv"]
