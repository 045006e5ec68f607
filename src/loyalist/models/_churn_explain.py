"""The churn model's explanations: each feature's (or family's) share of each score
(path attribution of the trees, the logistic part's terms), the summary of importance,
and the leaving rates that profile reasons cite.

Private to :mod:`loyalist.models.churn`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.errors import NotFittedError
from loyalist.models._churn_data import rates
from loyalist.models._churn_fitting import lightgbm_array
from loyalist.models._churn_parts import TreePaths

#: rows transformed at a time by the (dense) spline expansion
_SLICE = 100_000


def _check_fitted(model) -> None:
    if not hasattr(model, "feature_names_"):
        raise NotFittedError(f"This {type(model).__name__} is not fitted yet.",
                             hint="Call fit(X, y) first.")


class ChurnExplaining:
    """The explaining side of :class:`~loyalist.models.churn.ChurnModel`."""

    def _summarise(self, M, y, terms) -> None:
        """Importance by gain (trees) and mean absolute term (logistic part, ``terms``
        of a sample of the rows), and the leaving rates."""
        w = self.blend_weight_
        gain = np.zeros(len(self.feature_names_))
        if isinstance(self.model_, str):  # the offset alone
            gain[self.feature_names_.index(self.offset_)] += w
        elif self.model_ is not None:
            g = self.model_.feature_importance("gain")
            gain += w * g / max(g.sum(), 1e-12)
        if self.linear_ is not None:
            g = np.abs(terms - self.linear_means_).mean(axis=0)
            gain += (1 - w) * g / max(g.sum(), 1e-12)
        self.summary_ = (pd.DataFrame({"feature": self.feature_names_, "gain": gain})
                         .sort_values("gain", ascending=False, ignore_index=True))
        self.summary_["share"] = self.summary_["gain"] / max(self.summary_["gain"].sum(), 1e-12)
        self.rates_ = rates(M, y, self.random_state)

    def _has_trees(self) -> bool:
        return self.model_ is not None and not isinstance(self.model_, str)

    @property
    def paths_(self) -> TreePaths | None:
        """Path attribution tables of the trees (built on first use)."""
        if self._has_trees() and getattr(self, "_paths", None) is None:
            self._paths = TreePaths(self.model_)
        return getattr(self, "_paths", None)

    def contributions(self, X: pd.DataFrame, groups: dict[str, str] | None = None
                      ) -> pd.DataFrame:
        """Each feature's contribution to each row's log-odds, plus ``bias``; the row
        sums are :meth:`decision_function` exactly.

        ``groups`` (feature -> group name) sums the features of each group (feature
        families for the whispers); features not named keep their own column. The
        trees' part is path attribution (each split's change in the expected score
        goes to its feature); the linear part adds each feature's term, centred on
        its training average; a blend weighs the two as its score does.
        """
        _check_fitted(self)
        groups = groups or {}
        names = list(dict.fromkeys(groups.get(f, f) for f in self.feature_names_))
        gid = np.array([names.index(groups.get(f, f)) for f in self.feature_names_])
        one_hot = np.zeros((len(self.feature_names_), len(names)))
        one_hot[np.arange(len(gid)), gid] = 1.0
        table = self.paths_.table(gid, len(names)) if self._has_trees() else None
        out = np.empty((len(X), len(names) + 1))
        for i in range(0, len(X), _SLICE):  # in slices: leaf indices are rows x trees
            M = self._matrix(X.iloc[i:i + _SLICE])
            tree = lin = None
            if self.model_ is not None:
                if self._has_trees():
                    leaves = self.model_.predict(lightgbm_array(M), pred_leaf=True,
                                                    num_threads=self._n_jobs(len(M)))
                    t = self.paths_.contributions(np.asarray(leaves, dtype=np.int64), table)
                    bias = np.full(len(M), self.paths_.bias)
                else:  # the offset alone
                    t, bias = np.zeros((len(M), len(names))), np.zeros(len(M))
                if self.offset_ is not None:  # the starting point: its own feature's
                    off = self._offset(M)
                    t[:, gid[self.feature_names_.index(self.offset_)]] += off - self.offset_mean_
                    bias += self.offset_mean_
                tree = np.column_stack([t, bias])
            if self.linear_ is not None:
                li = (self.linear_terms_.terms(M) - self.linear_means_) @ one_hot
                bias = self.linear_terms_.intercept + self.linear_means_.sum()
                lin = np.column_stack([li, np.full(len(M), bias)])
            out[i:i + len(M)] = self._blend(tree, lin)
        return pd.DataFrame(out, columns=[*names, "bias"], index=X.index)

    def print_summary(self, top: int = 15, file=None) -> None:
        _check_fitted(self)
        parts = {1.0: "trees alone", 0.0: "logistic regression alone"}
        how = parts.get(self.blend_weight_, f"trees {self.blend_weight_:.0%}, logistic "
                        f"{1 - self.blend_weight_:.0%}")
        lines = [f"ChurnModel: {self.n_train_:,} training rows, base rate "
                 f"{self.base_rate_:.1%}, {len(self.feature_names_)} features; {how}"
                 + (f", {self.n_trees_} trees" if self.n_trees_ else "")
                 + (f"; no tree improved on {self.offset_} (used alone)"
                    if isinstance(self.model_, str) else ""),
                 "held out: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float)
                                          else f"{k} {v}" for k, v in self.validation_.items()),
                 self.summary_.head(top).to_string(index=False)]
        if len(self.unused_):
            lines.append("Not used: " + "; ".join(f"{r.feature} ({r.reason})"
                                                  for r in self.unused_.itertuples()))
        print("\n".join(lines), file=file)
