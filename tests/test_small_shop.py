"""A small shop is scored quickly: the churn model's smooth logistic regression alone,
in NumPy, with neither LightGBM nor scikit-learn loaded; the NumPy parts compute what
scikit-learn's would."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import loyalist
from loyalist.datasets import make_business
from loyalist.models._churn_parts import UniformSpline, l2_logistic, roc_auc


def test_numpy_parts_match_scikit_learn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import SplineTransformer

    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * [1, 5, 100]
    x[:, 2] = np.round(x[:, 2])
    x = np.column_stack([x, np.ones(500)])  # one value: zeros, as scikit-learn gives
    ref = SplineTransformer(n_knots=4, degree=2, extrapolation="constant",
                            include_bias=False).fit(x)
    ours = UniformSpline(4).fit(x)
    new = rng.normal(size=(300, 4)) * [2, 8, 150, 1]  # beyond the knots too
    assert np.allclose(ref.transform(new), ours.transform(new), atol=1e-12)
    B = ours.transform(x)
    y = (rng.random(500) < 1 / (1 + np.exp(-x[:, 0]))).astype(int)
    lr = LogisticRegression(C=0.3, solver="newton-cholesky", max_iter=100).fit(B, y)
    coef, intercept = l2_logistic(B, y, 0.3)
    assert np.allclose(lr.coef_[0], coef, atol=1e-5) and abs(lr.intercept_[0] - intercept) < 1e-5
    s = np.round(rng.normal(size=500), 1)  # many ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    with pytest.raises(ValueError):
        roc_auc(np.ones(5), s[:5])


PROBE = """
import json, sys
import loyalist
from loyalist.decisions.scoring import score
with loyalist.connect(sys.argv[1]) as s:
    run = score(s)
print(json.dumps({"notes": run.notes, "n": len(run.scores),
                  "loaded": sorted(m for m in ("lightgbm", "sklearn", "scipy.optimize")
                                   if m in sys.modules)}))
"""


def test_small_shop_scored_without_trees_or_scikit_learn(tmp_path):
    # make_business(n_customers=25, months=24, seed=3, events=False)'s orders alone: the
    # shop of bench/score_speed.py
    shop = make_business(n_customers=25, months=24, seed=3, events=False)
    db = tmp_path / "shop.duckdb"
    with loyalist.connect(db) as s:
        s.ingest("orders", shop.tables["orders"])
    p = subprocess.run([sys.executable, "-c", PROBE, str(db)], capture_output=True,
                       text=True, check=True)
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got["loaded"] == []
    assert got["n"] > 10
    assert any("the smooth logistic regression alone, without trees" in n
               for n in got["notes"])
    with loyalist.connect(db, read_only=True) as s:
        sc = s.table("scores").to_pandas()
    assert sc["p_leave"].between(0, 1).all() and sc["p_leave"].std() > 0.05
