"""The firm's own complaint language: a text model of low scores, in any language.

Where feedback has both a score and a comment, :class:`ComplaintTextModel` learns
P(low score | words) from the firm's own customers, whatever language they write
in (letter n-grams within words carry across inflections and languages; word pairs
carry phrases), with cross-validated ROC AUC and a calibrated probability. It then
reads texts that carry no score (service requests, unrated comments): a request
that reads like a detractor's comment is a whisper. With too few rated comments it
says so instead of guessing (:func:`fit_from_store` returns None and why).

>>> m = ComplaintTextModel().fit(comments, nps)          # doctest: +SKIP
>>> m.predict_proba(["Nobody calls back, again"])          # doctest: +SKIP
array([0.93])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.errors import DataError, NotFittedError


class ComplaintTextModel:
    """P(the writer gave a low score) from the words of a comment.

    Parameters
    ----------
    low : float, default 6
        Scores at or below it are low (6 on the 0-10 NPS scale: a detractor).
    min_each : int, default 30
        Fewer rated comments than this on either side: too little to learn from.
    folds : int, default 5
        Cross-validation folds of ``cv_``.
    C : float or None, default None
        Inverse L2 strength of the logistic regression; None: chosen out of fold from
        ``C_GRID`` (0.25 to 4).
    random_state : int, default 0

    Attributes
    ----------
    pipeline_ : the fitted TF-IDF and logistic regression; its view of the text (words
        and word pairs, with or without letter n-grams 2-5 within words) and strength
        are chosen by the out-of-fold ROC AUC (``view_``, ``C_``; every candidate's in
        ``cv_table_``).
    calibrator_ : Platt map of the out-of-fold scores.
    cv_ : dict, out-of-fold ``roc_auc``, ``pr_auc``, ``brier``, and the counts.
    summary_ : DataFrame of the words and phrases that most raise and lower P(low).
    """

    def __init__(self, low: float = 6, min_each: int = 30, folds: int = 5,
                 C: float | None = None,
                 random_state: int = 0):
        self.low = low
        self.min_each = min_each
        self.folds = folds
        self.C = C
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict:
        return {k: getattr(self, k) for k in ("low", "min_each", "folds", "C",
                                              "random_state")}

    #: the text views tried (by cross-validation): words and word pairs, and those
    #: with letter n-grams within words (which carry across inflections and typos)
    VIEWS = ("words", "words+letters")

    #: the strengths tried when ``C`` is None (inverse L2 of the logistic regression;
    #: 1.0 is scikit-learn's default, the plain TF-IDF baseline's)
    C_GRID = (0.25, 0.5, 1.0, 2.0, 4.0)

    def _pipeline(self, view: str = "words+letters", C: float = 1.0):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        if view == "words+letters":
            words = make_union(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                               sublinear_tf=True, min_df=2), words)
        return make_pipeline(words, LogisticRegression(C=C, max_iter=2000))

    @staticmethod
    def _texts(texts) -> pd.Series:
        return pd.Series(np.asarray(texts, dtype=object).ravel()).astype("string").fillna(
            "").str.strip()

    def fit(self, texts, scores) -> ComplaintTextModel:
        """Learn from comments and the scores their writers gave (rows without either
        are skipped)."""
        from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        from loyalist.models._churn_parts import Platt

        t = self._texts(texts)
        s = pd.to_numeric(pd.Series(np.asarray(scores).ravel()), errors="coerce")
        if len(t) != len(s):
            raise DataError(f"fit got {len(t)} texts but {len(s)} scores.")
        keep = (t != "").to_numpy() & s.notna().to_numpy()
        t, y = t[keep].reset_index(drop=True), (s[keep] <= self.low).astype(int).to_numpy()
        n_low, n_high = int(y.sum()), int(len(y) - y.sum())
        if min(n_low, n_high) < self.min_each:
            raise DataError(
                f"Too little to learn the firm's complaint language from: {n_low} rated "
                f"comments with a score of {self.low:g} or less and {n_high} above (need "
                f"{self.min_each} of each).",
                hint="Collect more survey comments with their scores; until then the "
                     "word lists (features/cues.toml) are used alone.")
        split = StratifiedKFold(min(self.folds, n_low, n_high), shuffle=True,
                                random_state=self.random_state)
        folds = list(split.split(t, y))
        grid = self.C_GRID if self.C is None else (float(self.C),)
        oof = {(v, C): np.zeros(len(y)) for v in self.VIEWS for C in grid}
        for train, test in folds:  # the view and strength chosen out of fold
            for view in self.VIEWS:  # the text view is learnt once per fold and view
                vec = self._pipeline(view)[:-1]
                x_train = vec.fit_transform(t.iloc[train])
                x_test = vec.transform(t.iloc[test])
                for C in grid:
                    lr = self._pipeline(view, C)[-1].fit(x_train, y[train])
                    oof[view, C][test] = lr.decision_function(x_test)
        # the plain baseline's setting (words and word pairs, C = 1: scikit-learn's
        # default) stands unless the best candidate beats it on the folds by more than
        # the standard error of their paired differences: no switch on noise
        fold_auc = {k: np.array([roc_auc_score(y[te], z[te]) for _, te in folds])
                    for k, z in oof.items()}
        self.cv_table_ = pd.DataFrame(
            [(v, C, float(roc_auc_score(y, z)), float(fold_auc[v, C].mean()))
             for (v, C), z in oof.items()], columns=["view", "C", "roc_auc", "fold_mean"])
        best = tuple(self.cv_table_.iloc[int(self.cv_table_["fold_mean"].argmax())][
            ["view", "C"]])
        plain = ("words", 1.0) if ("words", 1.0) in oof else (self.VIEWS[0], grid[0])
        d = fold_auc[best] - fold_auc[plain]
        if d.mean() <= d.std(ddof=1) / np.sqrt(len(d)):
            best = plain
        self.view_, self.C_ = str(best[0]), float(best[1])
        oof = oof[self.view_, self.C_]
        self.calibrator_ = Platt().fit(oof, y)
        self.pipeline_ = self._pipeline(self.view_, self.C_).fit(t, y)
        prob = self.calibrator_.predict(oof)
        self.cv_ = {"comments": len(y), "low": n_low, "view": self.view_, "C": self.C_,
                    "roc_auc": float(roc_auc_score(y, oof)),
                    "pr_auc": float(average_precision_score(y, oof)),
                    "brier": float(brier_score_loss(y, prob)), "base_rate": float(y.mean())}
        self.oof_ = prob
        self._summarise()
        return self

    def _summarise(self, top: int = 12) -> None:
        union, lr = self.pipeline_[0], self.pipeline_[-1]
        parts = [t for _, t in union.transformer_list] if hasattr(union, "transformer_list") \
            else [union]
        names = np.concatenate([t.get_feature_names_out() for t in parts])
        coef = lr.coef_[0]
        order = np.argsort(coef)
        rows = [(names[i], coef[i], "low") for i in order[::-1][:top]]
        rows += [(names[i], coef[i], "high") for i in order[:top]]
        self.summary_ = pd.DataFrame(rows, columns=["term", "weight", "points to"])

    def predict_proba(self, texts) -> np.ndarray:
        """Calibrated P(low score) of each text (texts without words: NaN)."""
        if not hasattr(self, "pipeline_"):
            raise NotFittedError("This ComplaintTextModel is not fitted yet.",
                                 hint="Call fit(comments, scores) first.")
        t = self._texts(texts)
        out = np.full(len(t), np.nan)
        has = (t != "").to_numpy()
        if has.any():
            # the same text once: exports repeat templates and signatures
            uniq, inv = np.unique(t[has].to_numpy(dtype=object), return_inverse=True)
            z = self.pipeline_.decision_function(pd.Series(uniq))
            out[has] = self.calibrator_.predict(z)[inv]
        return out

    def print_summary(self, file=None) -> None:
        cv = self.cv_
        print(f"ComplaintTextModel: {cv['comments']:,} rated comments, {cv['low']:,} with a "
              f"score of {self.low:g} or less; out-of-fold ROC AUC {cv['roc_auc']:.3f}, PR "
              f"AUC {cv['pr_auc']:.3f}, Brier {cv['brier']:.3f}", file=file)
        print(self.summary_.to_string(index=False), file=file)


def fit_from_store(store, before=None, **params) -> tuple[ComplaintTextModel | None, str]:
    """The complaint model of a store's rated feedback (answered before ``before``, a
    time, when given), or None and why not. The comments are read by id (then text and
    score): the same model whatever order the engine stores them in."""
    from loyalist.features.builder import available

    if not available(store)["feedback"]:
        return None, "no feedback to learn the firm's complaint language from"
    f = store.table("feedback")
    f = f.filter(f.comment.notnull() & f.nps.notnull())
    if before is not None:
        f = f.filter(f.answered_at < pd.Timestamp(before).to_pydatetime())
    # in one order on every engine: the folds that choose the model's view and strength
    # are drawn over the rows' positions, so rows in the engine's storage order (another
    # after a copy, a re-ingest or a multi-file read) gave another model (the parity
    # business with its feedback stored reversed: 2,733 reasons written, not 2,755)
    rated = f.select("id", "comment", "nps").order_by(["id", "comment", "nps"]).to_pandas()
    try:
        return ComplaintTextModel(**params).fit(rated["comment"], rated["nps"]), ""
    except DataError as e:
        return None, e.message


def text_scores(store, model: ComplaintTextModel) -> pd.DataFrame:
    """P(low score) of every text without a score: service requests (subject and text)
    and unrated survey comments. Columns: customer_id, at, source, id, p_low, text."""
    from loyalist.features.builder import available

    have = available(store)
    parts = []
    if have["requests"]:
        r = store.table("requests").select("id", "customer_id", "opened_at", "subject",
                                           "text").to_pandas()
        words = (r["subject"].fillna("") + ". " + r["text"].fillna("")).str.strip(". ")
        parts.append(pd.DataFrame({"customer_id": r["customer_id"], "at": r["opened_at"],
                                   "source": "requests", "id": r["id"], "text": words}))
    if have["feedback"]:
        f = store.table("feedback")
        u = f.filter(f.comment.notnull() & f.nps.isnull()).select(
            "id", "customer_id", "answered_at", "comment").to_pandas()
        parts.append(pd.DataFrame({"customer_id": u["customer_id"], "at": u["answered_at"],
                                   "source": "feedback", "id": u["id"], "text": u["comment"]}))
    if not parts:
        return pd.DataFrame(columns=["customer_id", "at", "source", "id", "p_low", "text"])
    out = pd.concat(parts, ignore_index=True)
    out["p_low"] = model.predict_proba(out["text"])
    return out[out["p_low"].notna()].reset_index(drop=True)


def unhappy_features(texts: pd.DataFrame, as_of, window_days: int = 90,
                     cut: float = 0.5) -> pd.DataFrame:
    """Per customer at ``as_of``: texts of the last ``window_days`` that read like a low
    score (P >= ``cut``), and the highest P among them. Columns: customer_id,
    unhappy_texts, unhappy_max."""
    now = pd.Timestamp(as_of)
    t = texts[(texts["at"] < now) & (texts["at"] >= now - pd.Timedelta(days=window_days))]
    per = t.assign(hit=(t["p_low"] >= cut).astype("float64")).groupby("customer_id").agg(
        unhappy_texts=("hit", "sum"), unhappy_max=("p_low", "max"))
    return per.reset_index()


__all__ = ["ComplaintTextModel", "fit_from_store", "text_scores", "unhappy_features"]
