"""Request routing: text -> category -> team, with a calibrated confidence.

:class:`RequestRouter` learns the category of a request from its text (and its
subject and channel when present) with TF-IDF word and character n-grams and a
linear support vector machine. Both calibrations are fitted on out-of-fold
scores: ``predict_proba`` gives temperature-scaled probabilities of every
category, and the ``confidence`` of a routed request is the probability that its
top category is right, from a logistic model of the top score and its margin over
the runner-up, so that of requests routed with confidence 0.8 about 80 % are
right. The category maps to a team
through a configurable table; a request whose confidence is below ``threshold``
goes to a human queue instead of being guessed.

>>> import pandas as pd
>>> from loyalist.models.routing import RequestRouter
>>> train = pd.read_csv("../shared/data/banking77/train.csv")   # doctest: +SKIP
>>> router = RequestRouter(threshold=0.5).fit(train.text, train.category)  # doctest: +SKIP
>>> router.route(["My card has not arrived yet", "hello"])   # doctest: +SKIP
         category          team  confidence  needs_human
0    card_arrival  card_arrival        0.79        False
1  request_refund        triage        0.40         True
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import OneHotEncoder
from sklearn.svm import LinearSVC

from loyalist.errors import DataError, NotFittedError
from loyalist.models._routing_parts import (
    WORD,
    documents,
    fit_confidence,
    fit_temperature,
    ngrams,
    novelty_table,
    read_saved,
    softmax,
    strangers,
    svm_scores,
    top_features,
    write_saved,
)

#: requests scored at a time by :meth:`RequestRouter.route`
_CHUNK = 20_000


class RequestRouter(ClassifierMixin, BaseEstimator):
    """Route requests to a category and a team, or to a human when unsure.

    Parameters
    ----------
    category_to_team : dict, optional
        Team of each category. Without it every category is its own team; with it a
        category missing from the map goes to ``default_team``.
    threshold : float, default 0.5
        Requests whose confidence is below it go to ``human_queue``.
    human_queue : str, default "triage"
        Team name of the queue where people route unsure requests by hand.
    default_team : str, optional
        Team of categories missing from ``category_to_team`` (default: ``human_queue``).
    C : float, default 0.5
        Inverse regularisation strength of the linear SVM.
    word_ngrams, char_ngrams : (int, int), default (1, 2) and (2, 4)
        N-gram ranges of the word and the character (within word bounds) TF-IDF features.
    calibration_folds : int, default 5
        Folds of the out-of-fold scores on which both calibrations are fitted.
    novelty : bool, default True
        Learn what the business's requests look like, so that text unlike them
        (keyboard mash, greetings, a language the router has never seen) gets a
        confidence near 0 and goes to a person: the confidence is P(a request of the
        known kind) x P(its category is right), both fitted on held-out requests and on
        made-up strangers (see :func:`_routing_parts.strangers`).
    random_state : int, default 0
        Seed of the fold split.

    Attributes
    ----------
    classes_ : ndarray of the categories.
    temperature_ : float, the fitted softmax temperature of ``predict_proba``.
    confidence_model_ : logistic model of the confidence (None when the
        out-of-fold predictions were never wrong; then the top probability is used).
    cv_accuracy_ : float, out-of-fold accuracy on the training data.
    cv_coverage_ : float, out-of-fold share of requests at or above ``threshold`` (at
        fit time; :meth:`print_summary` shows it for the current threshold).
    cv_accuracy_confident_ : float, out-of-fold accuracy of those requests.
    cv_confidence_, cv_correct_ : arrays, out-of-fold confidence and correctness of
        each training request (for :meth:`threshold_for` and :meth:`plot_calibration`).
    summary_ : DataFrame, one row per category: training count, team, out-of-fold
        precision and recall.
    n_ignored_ : int, training rows without any text (not used).
    novelty_model_ : logistic model of P(a request of the known kind) or None.
    cv_in_domain_ : array, out-of-fold P(known kind) of each training request.
    cv_strangers_to_human_ : float, share of the made-up strangers a person would get.
    """

    def __init__(self, *, category_to_team: Mapping[str, str] | None = None,
                 threshold: float = 0.5, human_queue: str = "triage",
                 default_team: str | None = None, C: float = 0.5,
                 word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (2, 4),
                 calibration_folds: int = 5, novelty: bool = True, random_state: int = 0):
        self.category_to_team = category_to_team
        self.threshold = threshold
        self.human_queue = human_queue
        self.default_team = default_team
        self.C = C
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.calibration_folds = calibration_folds
        self.novelty = novelty
        self.random_state = random_state

    # -- checks ------------------------------------------------------------------------
    def _check_params(self) -> None:
        name = type(self).__name__
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1:
            raise DataError(f"The 'threshold' parameter of {name} must be a float in the range "
                            f"[0, 1]. Got {t!r} instead.")
        c = self.C
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not np.isfinite(c) or c <= 0:
            raise DataError(f"The 'C' parameter of {name} must be a float in the range "
                            f"(0, inf). Got {c!r} instead.")
        k = self.calibration_folds
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise DataError(f"The 'calibration_folds' parameter of {name} must be an integer "
                            f">= 2. Got {k!r} instead.")
        if self.category_to_team is not None and not isinstance(self.category_to_team, Mapping):
            raise DataError(f"The 'category_to_team' parameter of {name} must be a dict "
                            f"category -> team. Got {type(self.category_to_team).__name__}.")
        if not isinstance(self.human_queue, str) or not self.human_queue:
            raise DataError(f"The 'human_queue' parameter of {name} must be a non-empty "
                            f"string. Got {self.human_queue!r} instead.")
        ngrams(self.word_ngrams, "word_ngrams")
        ngrams(self.char_ngrams, "char_ngrams")

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet.",
                hint="call fit(texts, categories) first, or load a saved router with "
                     "RequestRouter.load(path).")

    # -- fit ---------------------------------------------------------------------------
    def _features(self, with_channel: bool) -> ColumnTransformer:
        parts = [
            ("word", TfidfVectorizer(ngram_range=ngrams(self.word_ngrams, "word_ngrams"),
                                     sublinear_tf=True), "doc"),
            ("char", TfidfVectorizer(analyzer="char_wb", sublinear_tf=True,
                                     ngram_range=ngrams(self.char_ngrams, "char_ngrams")),
             "doc"),
        ]
        if with_channel:
            parts.append(("channel", OneHotEncoder(handle_unknown="ignore"), ["channel"]))
        return ColumnTransformer(parts, sparse_threshold=1.0)

    def fit(self, X, y=None):
        """Learn categories from past requests.

        ``X`` is a list or Series of texts, or a DataFrame with a ``text`` column and
        optionally ``subject`` and ``channel``; ``y`` the categories (for a DataFrame,
        its ``category`` column is used when ``y`` is not given).
        """
        self._check_params()
        if y is None:
            if not (isinstance(X, pd.DataFrame) and "category" in X.columns):
                raise DataError("fit needs the categories: pass y, or a DataFrame with a "
                                "'category' column.")
            y = X["category"]
        docs = documents(X)
        y = pd.Series(np.asarray(y, dtype=object).ravel())
        if len(y) != len(docs):
            raise DataError(f"fit got {len(docs)} requests but {len(y)} categories.")
        missing = y.isna() | (y.astype("string").str.strip() == "")
        if missing.any():
            raise DataError(f"{int(missing.sum())} of {len(y)} categories are missing.",
                            hint="train only on requests with a known category, e.g. "
                                 "df[df.category.notna()].")
        y = y.astype(str).to_numpy()
        empty = (docs["doc"] == "").to_numpy()
        docs, y = docs[~empty].reset_index(drop=True), y[~empty]
        classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(classes) < 2:
            raise DataError(f"fit needs at least two categories with text; found "
                            f"{len(classes)} in {len(y)} requests.")
        with_channel = bool((docs["channel"] != "").any())
        features = self._features(with_channel)
        Xm = sparse.csr_matrix(features.fit_transform(docs))

        oof, splits = self._out_of_fold_scores(Xm, y_idx, len(classes), counts)
        temperature = fit_temperature(oof, y_idx)
        self.confidence_model_ = fit_confidence(oof, y_idx)
        model = LinearSVC(C=float(self.C)).fit(Xm, y_idx)
        self.temperature_ = temperature
        self.novelty_model_, in_domain = None, np.ones(len(y_idx))
        if self.novelty:
            in_domain = self._fit_novelty(docs, features, model, oof, splits)

        self.features_ = features
        self.model_ = model
        self.classes_ = classes
        self.temperature_ = temperature
        self.uses_channel_ = with_channel
        self.n_ignored_ = int(empty.sum())
        self.n_train_ = int(len(y))
        self._fill_summary(oof, y_idx, counts, in_domain)
        return self

    def _analyzers(self):
        from sklearn.feature_extraction.text import CountVectorizer

        return (CountVectorizer(token_pattern=WORD).build_analyzer(),
                CountVectorizer(analyzer="char_wb", ngram_range=(3, 3)).build_analyzer())

    def _fit_novelty(self, docs, features, model, oof, splits) -> np.ndarray:
        """What the business's requests look like: held-out requests (their words
        judged against the other folds' vocabulary) against made-up strangers.
        Returns each training request's out-of-fold P(known kind)."""
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        text = docs["doc"]
        words = CountVectorizer(token_pattern=WORD, binary=True).fit_transform(text)
        chars = CountVectorizer(analyzer="char_wb", ngram_range=(3, 3),
                                binary=True).fit_transform(text)
        table = np.zeros((len(text), 4))
        for train, test in splits:
            seen_w = (np.asarray(words[train].sum(axis=0)).ravel() >= 2).astype(float)
            seen_c = (np.asarray(chars[train].sum(axis=0)).ravel() >= 2).astype(float)
            n_w = np.asarray(words[test].sum(axis=1)).ravel()
            n_c = np.asarray(chars[test].sum(axis=1)).ravel()
            k_w = words[test] @ seen_w
            table[test] = np.column_stack([
                np.where(n_w > 0, k_w / np.maximum(n_w, 1), 0.0), np.log1p(k_w),
                np.where(n_c > 0, (chars[test] @ seen_c) / np.maximum(n_c, 1), 0.0),
                np.log1p(n_w)])
        word_an, char_an = self._analyzers()
        vocab_w = CountVectorizer(token_pattern=WORD, binary=True, min_df=2).fit(text)
        vocab_c = CountVectorizer(analyzer="char_wb", ngram_range=(3, 3), binary=True,
                                  min_df=2).fit(text)
        self.known_words_ = frozenset(vocab_w.vocabulary_)
        self.known_chars_ = frozenset(vocab_c.vocabulary_)
        rng = np.random.default_rng(self.random_state)
        odd = strangers(rng, text, int(min(3000, max(300, len(text) // 4))))
        odd_docs = pd.DataFrame({"doc": odd.to_numpy(dtype=object),
                                 "channel": np.full(len(odd), "", dtype=object)})
        odd_table = novelty_table(odd, self.known_words_, self.known_chars_, word_an,
                                  char_an)
        odd_scores = svm_scores(model, features.transform(odd_docs))
        X = np.vstack([np.column_stack([table, top_features(oof)]),
                       np.column_stack([odd_table, top_features(odd_scores)])])
        y = np.concatenate([np.ones(len(text)), np.zeros(len(odd))])
        self.novelty_model_ = make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced",
                                                 max_iter=1000)).fit(X, y)
        p_odd = self.novelty_model_.predict_proba(X[len(text):])[:, 1]
        self._odd_confidence = p_odd * self._confidence_right(odd_scores)
        return self.novelty_model_.predict_proba(X[:len(text)])[:, 1]

    def _in_domain(self, docs, scores) -> np.ndarray:
        if getattr(self, "novelty_model_", None) is None:
            return np.ones(len(docs))
        word_an, char_an = self._analyzers()
        table = novelty_table(docs["doc"], self.known_words_, self.known_chars_, word_an,
                              char_an)
        return self.novelty_model_.predict_proba(
            np.column_stack([table, top_features(scores)]))[:, 1]

    def _out_of_fold_scores(self, Xm, y_idx, k, counts) -> np.ndarray:
        folds = int(min(self.calibration_folds, max(2, counts.max())))
        split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        oof = np.zeros((Xm.shape[0], k))
        with warnings.catch_warnings():  # categories rarer than the folds: still usable
            warnings.simplefilter("ignore", UserWarning)
            splits = list(split.split(np.zeros(len(y_idx)), y_idx))
        for train, test in splits:
            seen = np.unique(y_idx[train])
            if seen.size < 2:
                continue
            m = LinearSVC(C=float(self.C)).fit(Xm[train], y_idx[train])
            s = svm_scores(m, Xm[test])
            # a category absent from this fold's training part can never win
            oof[test] = s.min() - 1.0
            oof[np.ix_(test, seen)] = s
        return oof, splits

    def _fill_summary(self, oof, y_idx, counts, in_domain) -> None:
        pred = oof.argmax(axis=1)
        conf = self._confidence_right(oof) * in_domain
        self.cv_in_domain_ = in_domain
        odd = getattr(self, "_odd_confidence", None)
        self.cv_strangers_to_human_ = (float((odd < self.threshold).mean())
                                       if odd is not None and len(odd) else float("nan"))
        if hasattr(self, "_odd_confidence"):
            del self._odd_confidence
        right = pred == y_idx
        k = len(self.classes_)
        tp = np.bincount(y_idx[right], minlength=k)
        predicted = np.bincount(pred, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), np.nan)
        self.cv_confidence_, self.cv_correct_ = conf, right
        self.cv_accuracy_ = float(right.mean())
        self.cv_coverage_, self.cv_accuracy_confident_ = self._at_threshold()
        self.summary_ = pd.DataFrame({
            "n_train": counts,
            "team": [self._team_of(c) for c in self.classes_],
            "cv_precision": precision,
            "cv_recall": tp / counts,
        }, index=pd.Index(self.classes_, name="category"))

    # -- predict -----------------------------------------------------------------------
    def _team_of(self, category: str) -> str:
        if self.category_to_team is None:
            return category
        team = self.category_to_team.get(category)
        if team is None:
            return self.default_team if self.default_team is not None else self.human_queue
        return team

    def _scores(self, X) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        docs = documents(X)
        return svm_scores(self.model_, self.features_.transform(docs)), (docs["doc"] == "").to_numpy()

    def _confidence(self, scores: np.ndarray, docs=None) -> np.ndarray:
        """P(a request of the known kind) x P(its top category is right)."""
        right = self._confidence_right(scores)
        return right if docs is None else right * self._in_domain(docs, scores)

    def _confidence_right(self, scores: np.ndarray) -> np.ndarray:
        if self.confidence_model_ is None:
            return softmax(scores, self.temperature_).max(axis=1)
        return self.confidence_model_.predict_proba(top_features(scores))[:, 1]

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probability of each category (columns in ``classes_`` order)."""
        return softmax(self._scores(X)[0], self.temperature_)

    def predict(self, X) -> np.ndarray:
        """The most likely category of each request."""
        scores = self._scores(X)[0]
        return self.classes_[scores.argmax(axis=1)]

    def route(self, X) -> pd.DataFrame:
        """Category, team, confidence and ``needs_human`` of each request.

        Requests below ``threshold``, and requests without any text (confidence 0),
        go to ``human_queue``. The result keeps the index of a DataFrame or Series
        input, and the ``id`` column of a DataFrame when there is one.
        """
        self._check_fitted()
        docs = documents(X)
        best = np.empty(len(docs), dtype=np.int64)
        confidence = np.empty(len(docs))
        for lo in range(0, len(docs), _CHUNK):  # bounded memory: scores are n x categories
            part = docs.iloc[lo:lo + _CHUNK]
            scores = svm_scores(self.model_, self.features_.transform(part))
            best[lo:lo + _CHUNK] = scores.argmax(axis=1)
            confidence[lo:lo + _CHUNK] = self._confidence(scores, part)
        confidence[(docs["doc"] == "").to_numpy()] = 0.0
        category = self.classes_[best]
        teams = np.array([self._team_of(c) for c in self.classes_], dtype=object)[best]
        needs_human = confidence < self.threshold
        teams[needs_human] = self.human_queue
        out = pd.DataFrame({"category": category, "team": teams, "confidence": confidence,
                            "needs_human": needs_human})
        if isinstance(X, (pd.DataFrame, pd.Series)):
            out.index = X.index
        if isinstance(X, pd.DataFrame):
            if "id" in X.columns:
                out.insert(0, "id", X["id"].to_numpy())
        return out

    def _at_threshold(self) -> tuple[float, float]:
        """Out-of-fold share routed without a human at the current threshold, and its
        accuracy."""
        sure = self.cv_confidence_ >= self.threshold
        right = self.cv_correct_[sure]
        return float(sure.mean()), (float(right.mean()) if sure.any() else float("nan"))

    def print_summary(self, file=None) -> None:
        """Print the fit: out-of-fold accuracy, coverage and the per-category table."""
        self._check_fitted()
        coverage, accuracy = self._at_threshold()
        lines = [
            f"{type(self).__name__}: {self.n_train_:,} requests, {len(self.classes_)} "
            f"categories" + (f", {self.n_ignored_} without text ignored"
                             if self.n_ignored_ else ""),
            f"out-of-fold accuracy {self.cv_accuracy_:.3f}; at threshold {self.threshold:g}: "
            f"{coverage:.1%} routed automatically with accuracy {accuracy:.3f}, the rest to '{self.human_queue}'",
            f"temperature {self.temperature_:.3g}"
            + ("" if getattr(self, "novelty_model_", None) is None else
               f"; texts unlike the training requests go to a person (of made-up ones: "
               f"{self.cv_strangers_to_human_:.1%})"),
            self.summary_.to_string(float_format=lambda v: f"{v:.3f}"),
        ]
        print("\n".join(lines), file=file)

    def threshold_for(self, accuracy: float) -> float:
        """The lowest threshold at which the requests routed without a human were right
        at least ``accuracy`` of the time (out of fold); 1.0 if no threshold achieves it.

        >>> router.set_params(threshold=router.threshold_for(0.95))   # doctest: +SKIP
        """
        self._check_fitted()
        order = np.argsort(-self.cv_confidence_, kind="stable")
        running = np.cumsum(self.cv_correct_[order]) / np.arange(1, order.size + 1)
        ok = np.flatnonzero(running >= accuracy)
        return float(self.cv_confidence_[order][ok.max()]) if ok.size else 1.0

    def plot_calibration(self, ax=None, bins: int = 10):
        """Reliability diagram: share right against confidence, out of fold."""
        self._check_fitted()
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 4))
        which = np.clip((self.cv_confidence_ * bins).astype(int), 0, bins - 1)
        n = np.bincount(which, minlength=bins)
        has = n > 0
        conf = np.bincount(which, self.cv_confidence_, bins)[has] / n[has]
        right = np.bincount(which, self.cv_correct_, bins)[has] / n[has]
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfectly calibrated")
        ax.plot(conf, right, marker="o", label="out-of-fold predictions")
        ax.axvline(self.threshold, color="C3", lw=1,
                   label=f"threshold {self.threshold:g}: {self._at_threshold()[0]:.0%} automatic")
        ax.set(xlabel="confidence", ylabel="share right", xlim=(0, 1), ylim=(0, 1.02),
               title=f"Routing confidence ({self.n_train_:,} requests)")
        ax.legend(loc="upper left", fontsize="small")
        return ax

    # -- persistence ---------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the fitted router to ``path`` (a pickle with a format version)."""
        self._check_fitted()
        return write_saved(self, path)

    @classmethod
    def load(cls, path) -> RequestRouter:
        """Read a router written by :meth:`save`; only open files you trust (pickle)."""
        return read_saved(path, cls)


# -- the business's own requests ---------------------------------------------------------
def router_path(store_path) -> Path:
    """Where the router of a store is saved: ``<store stem>-router.pkl`` beside it."""
    p = Path(store_path)
    return p.with_name(f"{p.stem}-router.pkl")


def keep_router(store, router: RequestRouter) -> int:
    """Keep a fitted router in the store's model registry (kind ``router``, listed by
    ``loyalist models``) with what it was trained on; return its model id."""
    router._check_fitted()
    info = {"trained_on": {"rows": int(router.n_train_)},
            "metrics": {"cv_accuracy": round(float(router.cv_accuracy_), 4),
                        "cv_coverage": round(float(router.cv_coverage_), 4)},
            "categories": [str(c) for c in router.classes_],
            "threshold": float(router.threshold)}
    return store.save_model("router", router, info)


def newest_router_id(store) -> int | None:
    """The id of the newest router in the store's registry, or None."""
    df = store.models("router")
    return None if df.empty else int(df["id"].iloc[0])


def load_router(store, model_id: int | None = None) -> RequestRouter:
    """The store's router: by model id, else the newest in its registry, else one saved
    beside the store by an older Loyalist (``<store stem>-router.pkl``)."""
    if model_id is None and newest_router_id(store) is None:
        legacy = router_path(store.path)
        if legacy.exists():
            return RequestRouter.load(legacy)
        raise NotFittedError("No request router has been trained for this store yet.",
                             hint=f"run: loyalist route --train --store {store.path}")
    router, _info = store.load_model(model_id, kind="router")
    if not isinstance(router, RequestRouter):
        raise DataError(f"Model {model_id} is not a request router.",
                        hint="See the stored models with loyalist models --kind router.")
    return router


def usual_teams(requests: pd.DataFrame) -> dict[str, str]:
    """Category -> the team that handled most of its requests (ties: alphabetical)."""
    known = requests.dropna(subset=["category", "team"])
    if known.empty:
        return {}
    counts = known.groupby(["category", "team"]).size().rename("n").reset_index()
    counts = counts.sort_values(["category", "n", "team"], ascending=[True, False, True])
    return dict(counts.drop_duplicates("category").set_index("category")["team"])


def train_router_from_store(store, *, category_to_team: Mapping[str, str] | None = None,
                            **params) -> RequestRouter:
    """Fit a :class:`RequestRouter` on the store's past requests that have a category.

    Without ``category_to_team`` each category goes to the team that usually handled it
    (:func:`usual_teams`). Other keyword arguments are router parameters.
    """
    cols = ["text", "subject", "channel", "category", "team"]
    df = store.table("requests").select(*cols).to_pandas()
    df = df[df["category"].notna()]
    if len(df) == 0 or df["category"].nunique() < 2:
        raise DataError(
            f"The store {store.path} has {len(df)} requests with a category "
            f"({df['category'].nunique()} distinct); training needs at least two categories.",
            hint="ingest past requests with their category first: "
                 "`loyalist ingest requests past_requests.csv`.")
    teams = category_to_team if category_to_team is not None else usual_teams(df) or None
    return RequestRouter(category_to_team=teams, **params).fit(
        df[["text", "subject", "channel"]], df["category"])
