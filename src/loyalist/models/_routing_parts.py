"""Parts of the request router: its view of the input, its calibrations, its file.

Private to :mod:`loyalist.models.routing`.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from loyalist.errors import DataError, SourceError

#: format of a saved router; bump when the pickled layout changes
FORMAT_VERSION = 1
_FORMAT = "loyalist.RequestRouter"
_RETRAIN = "retrain it with `loyalist route --train` (or RequestRouter().fit(...).save(path))."

#: columns of a DataFrame input the router reads
TEXT_COLUMNS = ("subject", "text")


def ngrams(value, name: str) -> tuple[int, int]:
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
          and 1 <= value[0] <= value[1])
    if not ok:
        raise DataError(f"The '{name}' parameter of RequestRouter must be a pair (min_n, max_n) "
                        f"of integers with 1 <= min_n <= max_n. Got {value!r} instead.")
    return int(value[0]), int(value[1])


def documents(X) -> pd.DataFrame:
    """The router's view of its input: one ``doc`` string and a ``channel`` per row."""
    if isinstance(X, str):
        X = [X]
    if isinstance(X, pd.DataFrame):
        present = [c for c in TEXT_COLUMNS if c in X.columns]
        if not present:
            raise DataError(
                f"The requests need a 'text' (or 'subject') column; found {list(X.columns)}.",
                hint="rename the column that holds what the customer wrote to 'text'.")
        parts = [X[c].astype("string").fillna("").str.strip() for c in present]
        doc = parts[0] if len(parts) == 1 else (parts[0] + "\n" + parts[1]).str.strip()
        channel = (X["channel"].astype("string").fillna("").str.strip().str.lower()
                   if "channel" in X.columns else pd.Series("", index=X.index, dtype="string"))
        return pd.DataFrame({"doc": doc.to_numpy(dtype=object),
                             "channel": channel.to_numpy(dtype=object)})
    values = pd.Series(np.asarray(X, dtype=object).ravel() if not isinstance(X, pd.Series)
                       else X.to_numpy(dtype=object))
    doc = values.astype("string").fillna("").str.strip()
    return pd.DataFrame({"doc": doc.to_numpy(dtype=object),
                         "channel": np.full(len(doc), "", dtype=object)})


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def svm_scores(model: LinearSVC, X) -> np.ndarray:
    s = model.decision_function(X)
    return np.column_stack([-s, s]) if s.ndim == 1 else s


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the log loss of ``softmax(scores / T)``."""

    def nll(log_t: float) -> float:
        z = scores / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        logp = z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))
        return -float(logp.mean())

    res = optimize.minimize_scalar(nll, bounds=(np.log(1e-3), np.log(1e2)), method="bounded")
    return float(np.exp(res.x))


def top_features(scores: np.ndarray) -> np.ndarray:
    """Top score and its margin over the runner-up, per row."""
    top2 = np.partition(scores, scores.shape[1] - 2, axis=1)[:, -2:]
    return np.column_stack([top2[:, 1], top2[:, 1] - top2[:, 0]])


def fit_confidence(scores: np.ndarray, y: np.ndarray) -> LogisticRegression | None:
    """P(top category is right | top score, margin); None if no fold ever erred."""
    right = scores.argmax(axis=1) == y
    if right.all() or not right.any():
        return None
    return LogisticRegression(C=100.0).fit(top_features(scores), right)


def write_saved(router, path) -> Path:
    """Pickle ``router`` with its format version, atomically."""
    import sklearn

    import loyalist

    path = Path(path)
    payload = {"format": _FORMAT, "format_version": FORMAT_VERSION,
               "loyalist": loyalist.__version__, "sklearn": sklearn.__version__,
               "router": router}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return path


def read_saved(path, cls):
    """The router in a file written by :func:`write_saved`, after checking its format."""
    import sklearn

    path = Path(path)
    if not path.exists():
        raise SourceError(f"No saved router at {str(path)!r}.",
                          hint="train one first, e.g. `loyalist route --train`.")
    try:
        with open(path, "rb") as f:
            payload = pickle.load(f)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means the same thing
        raise DataError(f"{str(path)!r} is not a readable saved router ({e}).",
                        hint=_RETRAIN) from e
    if (not isinstance(payload, dict) or payload.get("format") != _FORMAT
            or not isinstance(payload.get("router"), cls)):
        raise DataError(f"{str(path)!r} is not a saved {cls.__name__}.", hint=_RETRAIN)
    if payload.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{str(path)!r} holds router format {payload.get('format_version')}; "
                        f"this Loyalist reads format {FORMAT_VERSION}.", hint=_RETRAIN)
    if payload.get("sklearn") != sklearn.__version__:
        warnings.warn(f"{path} was saved with scikit-learn {payload.get('sklearn')} and is "
                      f"loaded with {sklearn.__version__}; retrain if predictions look off.",
                      UserWarning, stacklevel=3)
    return payload["router"]
