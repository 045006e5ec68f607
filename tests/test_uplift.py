"""Uplift models and their measures: the Qini coefficient by hand and against
scikit-uplift's, a known heterogeneous effect recovered, and (slow) the public Hillstrom
e-mail experiment with our two-model and X-learner against scikit-uplift's TwoModels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import DATA
from loyalist.errors import DataError
from loyalist.team.uplift import (
    TwoModelUplift,
    XLearnerUplift,
    auuc,
    check_uplift,
    design_matrix,
    qini_coefficient,
    qini_curve,
)

HILLSTROM = DATA / "hillstrom" / "hillstrom.csv"
#: scikit-uplift 0.5.1 calls a scikit-learn helper deprecated in 1.8
pytestmark = pytest.mark.filterwarnings("ignore:Function stable_cumsum:FutureWarning")


def test_qini_by_hand():
    # ranked: treated responder, treated non-responder, control responder, control non-r.
    y, t, s = [1, 0, 1, 0], [1, 1, 0, 0], [4, 3, 2, 1]
    x, v = qini_curve(y, s, t)
    assert x.tolist() == [0, 1, 2, 3, 4]
    assert v.tolist() == [0, 1, 1, -1, 0]
    # area 1 against the perfect ranking's 3 (the line is flat: no overall effect)
    assert qini_coefficient(y, s, t) == pytest.approx(1 / 3)
    # the reverse ranking is worse than random
    assert qini_coefficient(y, [1, 2, 3, 4], t) < 0


def test_qini_equals_scikit_uplift():
    from sklift.metrics import qini_auc_score

    rng = np.random.default_rng(4)
    for n in (50, 999, 5000):
        y = rng.random(n) < 0.3
        t = rng.integers(0, 2, n)
        s = np.round(rng.normal(size=n), 1)  # ties included
        assert qini_coefficient(y, s, t) == pytest.approx(
            qini_auc_score(y.astype(int), s, t), abs=1e-12)


def _heterogeneous(n, seed):
    """Contact raises P(stay) by 0.25 when x0 > 0.5 and not at all otherwise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = rng.integers(0, 2, n)
    tau = np.where(X[:, 0] > 0.5, 0.25, 0.0)
    y = rng.random(n) < 0.3 + 0.1 * X[:, 1].clip(-2, 2) + t * tau
    return X, y.astype(int), t, tau


@pytest.mark.parametrize("model", [TwoModelUplift, XLearnerUplift])
def test_a_known_effect_is_found(model):
    X, y, t, tau = _heterogeneous(6000, 1)
    check, test, s = check_uplift(model(), X, y, t, n_boot=100)
    print(check)
    assert check.qini_low > 0.02  # the interval excludes random ranking
    assert check.top_third_uplift > check.bottom_third_uplift + 0.1
    # ranked by predicted uplift, the customers with the true effect come first
    top = np.argsort(-s)[: int((tau[test] > 0).sum())]
    assert (tau[test][top] > 0).mean() > 0.75
    assert auuc(y[test], s, t[test]) > auuc(y[test], -s, t[test])


def test_uplift_refuses_what_it_cannot_learn():
    X, y, t, _ = _heterogeneous(200, 2)
    with pytest.raises(DataError, match="Too few control"):
        TwoModelUplift().fit(X, y, np.r_[np.zeros(5), np.ones(195)].astype(int))
    with pytest.raises(DataError, match="0 \\(control\\) or 1"):
        XLearnerUplift().fit(X, y, t * 2)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        XLearnerUplift().predict_uplift(X)


def hillstrom():
    """The women's e-mail against no e-mail (the usual pairing), outcome: a visit."""
    d = pd.read_csv(HILLSTROM)
    d = d[d["segment"] != "Mens E-Mail"].reset_index(drop=True)
    X, names = design_matrix(d, ["recency", "history", "mens", "womens", "newbie"],
                             ["zip_code", "channel"])
    return X, d["visit"].to_numpy(), (d["segment"] == "Womens E-Mail").to_numpy().astype(int)


@pytest.mark.slow
def test_hillstrom_against_scikit_uplift():
    """Hillstrom (2008) women's e-mail vs none, 42,693 customers, 30% held out (seed 0):
    both our learners find a ranking whose Qini interval excludes 0; scikit-uplift's
    TwoModels with the same base classifier, fitted in the same run on the same rows,
    scores inside our X-learner's interval; our Qini equals scikit-uplift's metric."""
    from sklift.metrics import qini_auc_score, uplift_auc_score
    from sklift.models import TwoModels

    from loyalist.team.uplift import _default_classifier, qini_interval

    X, y, t = hillstrom()
    assert len(y) == 42_693
    results = {}
    for model in (TwoModelUplift(), XLearnerUplift()):
        check, test, s = check_uplift(model, X, y, t, seed=0)
        assert qini_coefficient(y[test], s, t[test]) == pytest.approx(
            qini_auc_score(y[test], s, t[test]), abs=1e-12)
        results[check.method] = check
    train = np.ones(len(y), dtype=bool)
    train[test] = False
    peer = TwoModels(estimator_trmnt=_default_classifier(0),
                     estimator_ctrl=_default_classifier(0), method="vanilla")
    peer.fit(X[train], y[train], t[train])
    ps = peer.predict(X[test])
    peer_qini = qini_auc_score(y[test], ps, t[test])
    peer_low, peer_high = qini_interval(y[test], ps, t[test], seed=0)
    for name, c in results.items():
        print(f"{name}: Qini {c.qini:.4f} (95% {c.qini_low:.4f}-{c.qini_high:.4f}), "
              f"AUUC {c.auuc:.4f}, top third uplift {c.top_third_uplift:.3f}, "
              f"bottom {c.bottom_third_uplift:.3f}")
    print(f"scikit-uplift TwoModels: Qini {peer_qini:.4f} (95% {peer_low:.4f}-"
          f"{peer_high:.4f}), uplift AUC {uplift_auc_score(y[test], ps, t[test]):.4f}")
    x = results["x-learner"]
    assert x.qini_low > 0 and results["two-model"].qini_low > 0
    assert x.qini_low <= peer_qini <= x.qini_high
    assert x.top_third_uplift > x.bottom_third_uplift
