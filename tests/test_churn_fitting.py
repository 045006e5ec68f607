"""The churn model's fitting shortcuts give what the plain computations give."""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.models._churn_fitting import _log_loss
from loyalist.models._churn_parts import Platt, platt_log_losses
from loyalist.models.churn import ChurnModel


def test_blend_weights_tried_at_once_match_one_platt_fit_each():
    rng = np.random.default_rng(3)
    y = rng.random(800) < 0.3
    zt = rng.normal(size=800) + 1.5 * y
    zl = 3 * rng.normal(size=800) + y
    w = np.linspace(0, 1, 11)
    Z = zt[:, None] * w + zl[:, None] * (1 - w)
    one_by_one = [_log_loss(y, Platt().fit(Z[:, j], y).predict(Z[:, j])) for j in range(11)]
    assert np.allclose(platt_log_losses(Z, y), one_by_one, rtol=0, atol=1e-10)
    # separable scores: the steps stay finite and the loss small
    sep = np.column_stack([np.where(y, 5.0, -5.0), rng.normal(size=800)])
    losses = platt_log_losses(sep, y)
    assert np.isfinite(losses).all() and losses[0] < 0.01 < losses[1]


def test_categories_are_coded_by_their_text_and_unseen_values_are_missing():
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame({"customer_id": [str(i) for i in range(n)],
                      "plan": pd.array(rng.choice(["a", "b", "c"], n), dtype="string"),
                      "flag": rng.random(n) < 0.5, "x": rng.normal(size=n)})
    y = (X["x"] + (X["plan"] == "a").astype(float) > 0.5).astype(int)
    m = ChurnModel(learner="linear").fit(X, y)
    assert m.categories_ == {"plan": ["a", "b", "c"], "flag": ["False", "True"]}
    new = pd.DataFrame({"customer_id": ["1", "2", "3", "4"],
                        "plan": ["c", "never seen", None, "a"],  # object, not string dtype
                        "flag": ["True", "False", "True", None], "x": [0.0, 1.0, 2.0, 3.0]})
    M = m._matrix(new)
    assert M["plan"].cat.codes.tolist() == [2, -1, -1, 0]
    assert M["flag"].cat.codes.tolist() == [1, 0, 1, -1]
    assert list(M["plan"].cat.categories) == ["a", "b", "c"]


def test_a_random_fifth_held_out_keeps_the_logistic_part_and_refits_the_trees():
    """Above 2,000 rows a random fifth is held out: the trees are refitted on every row
    with the number of trees chosen there, the logistic part is the one whose held-out
    scores chose the blend."""
    from sklearn.model_selection import StratifiedShuffleSplit

    from loyalist.models._churn_parts import SplineLogistic

    rng = np.random.default_rng(1)
    n = 2500
    X = pd.DataFrame({"customer_id": [str(i) for i in range(n)], "a": rng.normal(size=n),
                      "b": rng.choice(["x", "y", "z"], n), "c": rng.normal(size=n)})
    y = ((X["a"] * X["c"] > 0) ^ (X["b"] == "x") | (rng.random(n) < 0.1)).astype(int)
    m = ChurnModel(blend=0.5).fit(X, y)
    train, _ = next(StratifiedShuffleSplit(1, test_size=0.2, random_state=0).split(X, y))
    M = m._matrix(X)
    alone = SplineLogistic(m.feature_names_, m.categories_, C=m.linear_C).fit(
        M.iloc[train], y.to_numpy()[train])
    assert np.allclose(m.linear_.coef_, alone.coef_)
    assert m.validation_["rows"] == 500 and m.validation_["folds"] == 1
    assert m.model_.num_trees() == m.n_trees_ >= 1 and m.n_train_ == n
