"""Training data, the BTYD baseline and the time-ordered backtest of the churn model.

The backtest is honest about time: the model is trained on as-of dates whose labels
were complete before the evaluation date (``as_of + horizon <= eval_date``), then
scored at ``eval_date`` and compared with what happened in the ``horizon`` days
after it. The baselines are scored on exactly the same customers and dates.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.contract.moments import moment
from loyalist.errors import ConvergenceError, DataError
from loyalist.features.builder import FeatureSpec, available, feature_frame, prepare
from loyalist.features.labels import (
    contract_labels,
    lapse_labels,
    observed_until,
    suggest_horizon,
)
from loyalist.features.rfm import rfm_summary
from loyalist.models._transactions import BoundaryWarning
from loyalist.models.bgnbd import BGNBD
from loyalist.models.churn import ChurnModel


def btyd_features(orders, as_of, horizon_days: float, max_fit: int = 200_000,
                  random_state: int = 0) -> pd.DataFrame:
    """BG/NBD P(alive) and expected purchases in the horizon, fitted on orders before
    ``as_of`` only. Columns: customer_id, p_alive, expected_purchases.

    Four parameters need no million customers: above ``max_fit`` customers the
    model learns from a random sample of that many and scores everyone."""
    end = (pd.Timestamp(as_of) - pd.Timedelta(days=1)).date().isoformat()
    s = rfm_summary(orders, observation_end=end, freq="W").to_pandas()
    s = s[s["T"] > 0]  # first seen on the last day: nothing to judge yet
    if s.empty:
        return pd.DataFrame(columns=["customer_id", "p_alive", "expected_purchases"])
    fit = s.sample(max_fit, random_state=random_state) if len(s) > max_fit else s
    try:
        with warnings.catch_warnings():  # a boundary fit is an answer here, not news
            warnings.simplefilter("ignore", BoundaryWarning)
            m = BGNBD().fit(fit["frequency"], fit["recency"], fit["T"])
        p = m.predict_p_alive(s["frequency"], s["recency"], s["T"])
        e = m.predict_purchases(horizon_days / 7.0, s["frequency"], s["recency"], s["T"])
    except ConvergenceError:
        p = e = np.full(len(s), np.nan)
    return pd.DataFrame({"customer_id": s["customer_id"], "p_alive": np.asarray(p),
                         "expected_purchases": np.asarray(e)})


def choose_mode(store, mode: str = "auto") -> str:
    have = available(store)
    if mode == "auto":
        mode = "lapse" if have["orders"] else "contract"
    if mode == "lapse" and not have["orders"]:
        raise DataError("Lapse labels need orders.", hint="Ingest orders, or use --mode contract.")
    if mode == "contract" and not have["subscriptions"]:
        raise DataError("Contract labels need subscriptions.",
                        hint="Ingest subscriptions, or use --mode lapse.")
    if mode not in ("lapse", "contract"):
        raise DataError(f"Unknown mode {mode!r}.", hint="Use auto, lapse or contract.")
    return mode


def labels_at(store, as_of, mode: str, horizon: int) -> pd.DataFrame:
    if mode == "lapse":
        t = lapse_labels(store.table("orders"), as_of, horizon)
    else:
        t = contract_labels(store.table("subscriptions"), as_of, horizon)
    return t.to_pandas()


def design(store, dates, *, mode: str, horizon: int, spec: FeatureSpec | None = None,
           labelled: bool = True, progress: Callable[[str], None] | None = None
           ) -> pd.DataFrame:
    """Features (and labels) of the eligible customers at each date, stacked."""
    if horizon <= 0:
        raise DataError(f"The horizon must be a positive number of days; got {horizon}.",
                        hint="Pass e.g. --horizon 90, or leave it out to have it suggested.")
    step = progress or (lambda _m: None)
    frames = []
    dates = list(dates)
    shared = prepare(store, spec, cache=len(dates) > 1)
    have = shared.have
    for d in dates:
        step(f"features at {pd.Timestamp(d):%Y-%m-%d}")
        f = feature_frame(store, [d], spec, prepared=shared)
        if have["orders"]:
            f = f.merge(btyd_features(store.table("orders"), d, horizon), on="customer_id",
                        how="left")
        if labelled:
            lab = labels_at(store, d, mode, horizon)
            f = f.merge(lab, on="customer_id", how="inner")
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def evaluate(y, p) -> dict:
    """ROC AUC, PR AUC, Brier, and what a team cares about: recall and lift at the top."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    order = np.argsort(-p, kind="stable")
    out = {"customers": len(y), "left": int(y.sum()), "base_rate": float(y.mean()),
           "roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p))}
    if np.all((p >= 0) & (p <= 1)):
        out["brier"] = float(brier_score_loss(y, p))
    for k in (0.1, 0.2):
        top = order[: max(1, int(round(k * len(y))))]
        out[f"recall_top{int(k * 100)}"] = float(y[top].sum() / max(y.sum(), 1))
        out[f"lift_top{int(k * 100)}"] = float(y[top].mean() / max(y.mean(), 1e-12))
    return out


def calibration_table(y, p, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed share leaving, by decile of prediction."""
    df = pd.DataFrame({"y": np.asarray(y), "p": np.asarray(p)})
    df["bin"] = pd.qcut(df["p"].rank(method="first"), bins, labels=False)
    return df.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"),
                                 customers=("y", "size"))


@dataclass
class Backtest:
    """What the backtest measured. ``metrics`` has one row per model."""

    eval_date: pd.Timestamp
    horizon: int
    mode: str
    train_dates: list[pd.Timestamp]
    metrics: pd.DataFrame
    calibration: pd.DataFrame
    scores: pd.DataFrame
    model: ChurnModel
    notes: list[str] = field(default_factory=list)
    risk_path: pd.DataFrame | None = None

    @property
    def winner(self) -> str:
        return str(self.metrics["roc_auc"].idxmax())

    def verdict(self) -> str:
        m = self.metrics
        best_auc, best_recall = m["roc_auc"].idxmax(), m["recall_top20"].idxmax()
        text = (f"Best ROC AUC: {best_auc} ({m.loc[best_auc, 'roc_auc']:.3f}); best recall in "
                f"the top 20%: {best_recall} ({m.loc[best_recall, 'recall_top20']:.1%}).")
        if best_auc == best_recall == "model":
            text += " The model beats every baseline."
        elif "model" in m.index:
            text += " The model does not beat every baseline here."
        return text

    def save(self, folder) -> list:
        from pathlib import Path

        from loyalist.models import early_warning_plots as plots

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.metrics.to_csv(folder / "metrics.csv")
        self.calibration.to_csv(folder / "calibration.csv")
        return [folder / "metrics.csv", folder / "calibration.csv", *plots.save_all(self, folder)]


def default_dates(store, horizon: int, eval_date=None, n_train_dates: int = 4,
                  spacing_days: int = 30) -> tuple[pd.Timestamp, list[pd.Timestamp]]:
    """Evaluation date (default: as late as the data still shows its outcome) and the
    training dates before it whose outcomes were known by then."""
    end = observed_until(store).normalize()
    e = moment(eval_date, "eval_date") if eval_date is not None else end - pd.Timedelta(days=horizon)
    if e + pd.Timedelta(days=horizon) > end + pd.Timedelta(days=1):
        raise DataError(f"The outcome of {e.date()} is not known yet: the data ends "
                        f"{end.date()} and the horizon is {horizon} days.",
                        hint=f"Choose an evaluation date on or before "
                        f"{(end - pd.Timedelta(days=horizon)).date()}.")
    last_train = e - pd.Timedelta(days=horizon)
    train = [last_train - pd.Timedelta(days=spacing_days * k) for k in range(n_train_dates)]
    return e, sorted(train)


def backtest(store, *, mode: str = "auto", horizon: int | None = None, eval_date=None,
             n_train_dates: int = 4, spacing_days: int = 30, spec: FeatureSpec | None = None,
             model: ChurnModel | None = None, progress=None, path_steps: int = 3
             ) -> Backtest:
    """Train before ``eval_date - horizon``, evaluate at ``eval_date``, with baselines."""
    mode = choose_mode(store, mode)
    notes = []
    if horizon is None:
        horizon = suggest_horizon(store.table("orders")) if mode == "lapse" else 90
        notes.append(f"horizon {horizon} days, suggested from the customers' own order gaps")
    e, train_dates = default_dates(store, horizon, eval_date, n_train_dates, spacing_days)
    train = design(store, train_dates, mode=mode, horizon=horizon, spec=spec, progress=progress)
    test = design(store, [e], mode=mode, horizon=horizon, spec=spec, progress=progress)
    if train["left"].nunique() < 2 or test["left"].nunique() < 2:
        raise DataError("Not enough customers left (or stayed) to learn and test.",
                        hint="Use a longer history or another horizon.")
    model = model or ChurnModel()
    if progress:
        progress("training")
    model.fit(train.drop(columns=["left"]), train["left"])
    y = test["left"].to_numpy()
    scores = pd.DataFrame({"customer_id": test["customer_id"], "left": y,
                           "model": model.predict_proba(test.drop(columns=["left"]))})
    linear = ChurnModel(learner="linear").fit(train.drop(columns=["left"]), train["left"])
    scores["logistic"] = linear.predict_proba(test.drop(columns=["left"]))
    if "p_alive" in test:
        scores["btyd"] = 1.0 - test["p_alive"].fillna(test["p_alive"].median()).to_numpy()
    if "recency_days" in test:
        typical = test["typical_gap_days"].median() if "typical_gap_days" in test else 30.0
        ratio = test["recency_days"] / test.get("typical_gap_days", typical)
        ratio = ratio.fillna(test["recency_days"] / typical)
        scores["recency"] = ratio.fillna(ratio.max()).to_numpy()
    metrics = pd.DataFrame({name: evaluate(y, scores[name]) for name in scores.columns
                            if name not in ("customer_id", "left")}).T
    calib = calibration_table(y, scores["model"])
    path = risk_path(store, model, scores[["customer_id", "left"]], e, mode=mode,
                     horizon=horizon, spec=spec, steps=path_steps)
    return Backtest(eval_date=e, horizon=horizon, mode=mode, train_dates=train_dates,
                    metrics=metrics, calibration=calib, scores=scores, model=model,
                    notes=notes, risk_path=path)


def risk_path(store, model, outcome: pd.DataFrame, eval_date, *, mode: str, horizon: int,
              spec=None, steps: int = 3, spacing_days: int = 30) -> pd.DataFrame:
    """Mean P(leave) of the evaluation date's leavers and stayers at earlier dates:
    how early the model heard them. Columns: as_of, left, mean_p, customers."""
    rows = []
    for k in range(steps, -1, -1):
        d = pd.Timestamp(eval_date) - pd.Timedelta(days=spacing_days * k)
        X = design(store, [d], mode=mode, horizon=horizon, spec=spec, labelled=False)
        X = X.merge(outcome, on="customer_id", how="inner")
        if X.empty:
            continue
        X["p"] = model.predict_proba(X.drop(columns=["left"]))
        g = X.groupby("left")["p"].agg(["mean", "size"]).reset_index()
        for r in g.itertuples(index=False):
            rows.append({"as_of": d, "left": int(r.left), "mean_p": r.mean,
                         "customers": r.size})
    return pd.DataFrame(rows)




@dataclass
class SnapshotResult:
    """Stratified k-fold cross-validation of a snapshot (labelled table) model."""

    label: str
    metrics: pd.DataFrame  # one row per fold plus "mean"
    calibration: pd.DataFrame
    model: ChurnModel  # fitted on every row
    top_features: pd.DataFrame


def snapshot_frame(store, label: str) -> tuple[pd.DataFrame, pd.Series]:
    """The customers table as features, and the label column as 0/1."""
    from loyalist.features.labels import snapshot_labels

    customers = store.table("customers")
    y = snapshot_labels(customers, label).to_pandas().set_index("customer_id")["left"]
    X = customers.to_pandas().rename(columns={"id": "customer_id"})
    X = X[X["customer_id"].isin(y.index)].drop(columns=[label, "name"], errors="ignore")
    return X.reset_index(drop=True), X["customer_id"].map(y).astype(int).reset_index(drop=True)


def snapshot_cv(store, label: str = "churn", folds: int = 5, random_state: int = 0,
                model: ChurnModel | None = None) -> SnapshotResult:
    """Cross-validate the churn model on a labelled customers table (snapshot mode)."""
    from sklearn.model_selection import StratifiedKFold

    X, y = snapshot_frame(store, label)
    params = (model or ChurnModel(num_leaves=8)).get_params()
    rows, pred = [], np.empty(len(y))
    split = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    for k, (tr, te) in enumerate(split.split(X, y)):
        m = ChurnModel(**params).fit(X.iloc[tr], y.iloc[tr])
        pred[te] = m.predict_proba(X.iloc[te])
        rows.append({"fold": k + 1, **evaluate(y.iloc[te], pred[te])})
    metrics = pd.DataFrame(rows).set_index("fold").astype(float)  # a mean row of counts
    metrics.loc["mean"] = metrics.mean()
    final = ChurnModel(**params).fit(X, y)
    return SnapshotResult(label=label, metrics=metrics, calibration=calibration_table(y, pred),
                          model=final, top_features=final.summary_.head(10))
