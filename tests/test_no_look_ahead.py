"""Scoring at a date sees nothing after it: a store scored at ``D``, then given the
orders, service requests and feedback dated on or after ``D``, scores the same at ``D``.

What leaked before (found by the slow test below): the complaint language was learnt
from every rated comment in the store, later answers included (it reads the request
texts behind the ``unhappy_texts`` feature and the ``unhappy_words`` alerts, so
probabilities, reasons and alerts moved); and the count of customers that decides
whether the churn model is calibrated on the season a year earlier counted customers
first seen after ``D``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.datasets import make_business

DATED = {"orders": "ordered_at", "requests": "opened_at", "feedback": "answered_at"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A business, the date ``D`` 120 days before its records end, a store holding what
    was known at ``D`` and the rows dated later (kept aside)."""
    b = make_business(n_customers=400, months=18, seed=1, events=False)
    d = b.as_of - pd.Timedelta(days=120)
    path = tmp_path_factory.mktemp("look_ahead") / "s.duckdb"
    later = {}
    with loyalist.connect(path) as s:
        for name, frame in b.tables.items():
            if not len(frame):
                continue
            if name in DATED:
                known = frame[DATED[name]] < d
                later[name] = frame[~known]
                frame = frame[known]
            s.ingest(name, frame)
    assert all(len(f) for f in later.values())
    return path, d, later


def _add_later(path, later):
    with loyalist.connect(path) as s:
        for name, frame in later.items():
            s.ingest(name, frame)


def test_the_training_plan_sees_nothing_after_the_date(world, tmp_path):
    """The plan's count of customers (it decides the calibration on the season a year
    earlier; its note names the count) is of the customers known at ``D``."""
    import shutil

    from loyalist.models.early_warning import plan_training

    src, d, later = world
    path = tmp_path / "copy.duckdb"
    shutil.copyfile(src, path)

    def plan(**kw):
        with loyalist.connect(path, read_only=True) as s:
            return plan_training(s, d, 90, mode="lapse", n_train_dates=1, **kw)

    a = plan()
    _add_later(path, later)
    b = plan()
    assert any("customers: too few" in n for n in a.notes)
    assert (a.notes, a.recent, a.season) == (b.notes, b.recent, b.season)
    n = int(next(n for n in a.notes if "customers: too few" in n).split()[0])
    assert not any("too few" in m for m in plan(min_season_customers=n).notes)


@pytest.mark.slow
def test_the_complaint_language_is_learnt_before_the_date(world, tmp_path):
    """Rated comments answered on or after ``D`` do not teach the complaint model that
    scores read at ``D`` (two cross-validated fits: slow)."""
    import shutil

    from loyalist.models.complaints import fit_from_store

    src, d, later = world
    path = tmp_path / "copy.duckdb"
    shutil.copyfile(src, path)
    with loyalist.connect(path) as s:
        s.ingest("feedback", later["feedback"])
        f = s.table("feedback")
        rated = f.filter(f.comment.notnull() & f.nps.notnull())
        assert rated.filter(rated.answered_at >= d.to_pydatetime()).count().execute() > 10
        before = rated.filter(rated.answered_at < d.to_pydatetime()).count().execute()
        model, _ = fit_from_store(s, before=d)
        everything, _ = fit_from_store(s)
    assert model.cv_["comments"] == before < everything.cv_["comments"]


@pytest.mark.slow
def test_scores_at_a_date_ignore_later_rows(world, tmp_path):
    """score() at ``D`` twice, before and after the later rows arrive: the same
    probabilities, reasons, alerts, features and training notes (the complaint model's
    note counts its rated comments)."""
    import shutil

    from loyalist.decisions.scoring import score
    from loyalist.features.builder import build_features

    src, d, later = world
    path = tmp_path / "copy.duckdb"
    shutil.copyfile(src, path)

    def scored():
        with loyalist.connect(path) as s:
            run = score(s, d, horizon=90, n_train_dates=1)
            out = {t: s.table(t).to_pandas().drop(columns="model_id", errors="ignore")
                   for t in ("scores", "reasons", "alerts")}
            _model, info = s.load_model(kind="churn")
            out["features"] = build_features(s, d).order_by("customer_id").to_pandas()
        assert run.as_of == d
        return out, info

    a, info_a = scored()
    _add_later(path, later)
    b, info_b = scored()
    assert len(a["scores"]) > 200 and a["scores"]["p_leave"].between(0, 1).all()
    for name in ("scores", "reasons", "alerts"):
        keys = [c for c in a[name].columns if a[name][c].dtype == object][:3] or None
        x = a[name].sort_values(keys or list(a[name].columns[:1]), ignore_index=True)
        y = b[name].sort_values(keys or list(b[name].columns[:1]), ignore_index=True)
        pd.testing.assert_frame_equal(x, y, check_exact=False, rtol=1e-12, obj=name)
    pd.testing.assert_frame_equal(a["features"], b["features"], obj="features")
    for key in ("notes", "features", "train_rows", "metrics", "train_dates"):
        assert info_a[key] == info_b[key], key
    assert np.isfinite(a["scores"]["p_leave"]).all()
