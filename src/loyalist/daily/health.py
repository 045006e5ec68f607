"""Model health: does the churn model still rank and size risk as it did?

Each daily run checks a churn model of the store at the newest *settled* period, the
latest date whose outcome the data already show (the data's end minus the model's
horizon): it scores the customers active then and compares its predictions with who
left, by ROC AUC (ranking) and the expected calibration error (sizing, with the gap
chance alone gives). Crossing a ``[daily]`` threshold (``min_auc``; ``auc_drop`` below
the model's own held-out ROC AUC at fitting; ``max_calibration_gap``) raises an alert
to the admins. Every check is appended to ``model_health``.

The model checked is the newest one that never saw those outcomes: one fitted at least
a horizon before the data's end, as a store scored daily keeps. A model fitted today
learnt from the settled period itself, so while no older model exists the check is in
sample: shown, with the date of the first true check, and never alerted on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from loyalist.errors import DataError


def calibration_gap(y, p, bins: int = 10) -> float:
    """Expected calibration error: the customer-weighted mean of |mean predicted -
    share observed| over ``bins`` equal-count bins of the prediction (deciles).

    >>> calibration_gap([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0], bins=2)
    0.0
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    k = int(max(1, min(bins, len(y))))
    order = np.argsort(p, kind="stable")
    gaps = [abs(p[part].mean() - y[part].mean()) * len(part)
            for part in np.array_split(order, k) if len(part)]
    return float(sum(gaps) / len(y))


@dataclass
class Health:
    """One check of the latest model."""

    model_id: int
    eval_date: pd.Timestamp
    horizon: int
    customers: int
    left: int
    roc_auc: float
    reference_auc: float | None
    calibration_gap: float
    mean_predicted: float
    observed: float
    #: the thresholds crossed, in words (empty: healthy)
    problems: list[str]
    #: the model never saw the outcomes it was checked on
    out_of_sample: bool = True
    #: the calibration gap chance alone gives (95%)
    noise: float = 0.0
    note: str = ""

    @property
    def alert(self) -> bool:
        return bool(self.problems)

    def line(self) -> str:
        ref = (f" (held out at fitting: {self.reference_auc:.3f})"
               if self.reference_auc is not None else "")
        head = (f"model #{self.model_id} at {self.eval_date:%Y-%m-%d} (settled, horizon "
                f"{self.horizon} days, {self.customers:,} customers, {self.left:,} left): "
                f"ROC AUC {self.roc_auc:.3f}{ref}, calibration gap "
                f"{self.calibration_gap:.1%} ({self.mean_predicted:.1%} predicted, "
                f"{self.observed:.1%} left; chance alone gives up to {self.noise:.1%})")
        if self.note:
            head += f"; {self.note}"
        return head + (": ALERT, " + "; ".join(self.problems) if self.problems else
                       (": healthy" if self.out_of_sample else ""))

    def row(self, day) -> dict:
        return {"day": day, "model_id": self.model_id, "eval_date": self.eval_date,
                "horizon_days": self.horizon, "customers": self.customers, "left": self.left,
                "roc_auc": self.roc_auc, "reference_auc": self.reference_auc,
                "calibration_gap": self.calibration_gap,
                "mean_predicted": self.mean_predicted, "observed": self.observed,
                "calibration_noise": self.noise, "out_of_sample": self.out_of_sample,
                "alert": self.alert, "why": "; ".join(self.problems) or None,
                "note": self.note or None}


def calibration_noise(p, *, draws: int = 200, level: float = 0.95, seed: int = 0) -> float:
    """The ``level`` quantile of :func:`calibration_gap` when the outcomes are drawn from
    ``p`` itself (a perfectly calibrated model): the gap chance alone gives this many
    customers. A check alerts only on a gap beyond both this and the threshold."""
    p = np.asarray(p, dtype=float)
    rng = np.random.default_rng(seed)
    gaps = [calibration_gap(rng.random(len(p)) < p, p) for _ in range(draws)]
    return float(np.quantile(gaps, level))


def _reference(info: dict) -> float | None:
    m = info.get("metrics") or {}
    for key in ("blend_roc_auc", "trees_roc_auc", "linear_roc_auc"):
        if isinstance(m.get(key), int | float) and np.isfinite(m[key]):
            return float(m[key])
    return None


def _choose(store, end: pd.Timestamp):
    """The model to check and whether the check is out of sample: the newest dated churn
    model whose outcomes ended by the settled period (it never saw what it is checked
    on), else the newest one (in sample)."""
    import json

    models = store.models("churn")
    fallback = None
    for r in models.itertuples(index=False):  # newest first
        info = json.loads(r.info) if isinstance(r.info, str) and r.info else {}
        if info.get("mode") not in ("lapse", "contract") or not info.get("horizon"):
            continue  # a model of a labelled table: no dates to settle
        settled = end - pd.Timedelta(days=int(info["horizon"]))
        fallback = fallback or (int(r.id), info, settled)
        if info.get("as_of") and pd.Timestamp(info["as_of"]) <= settled:
            return int(r.id), info, settled, True
    return (*fallback, False) if fallback else None


def judge(h: Health, cfg) -> list[str]:
    """The ``[daily]`` thresholds of ``cfg`` that check ``h`` crosses, in words (none for
    an in-sample check)."""
    if not h.out_of_sample:
        return []
    problems = []
    if h.roc_auc < cfg.min_auc:
        problems.append(f"ROC AUC {h.roc_auc:.3f} below min_auc {cfg.min_auc:g}")
    ref = h.reference_auc
    if ref is not None and ref - h.roc_auc > cfg.auc_drop:
        problems.append(f"ROC AUC {ref - h.roc_auc:.3f} below its held-out {ref:.3f} "
                        f"(auc_drop {cfg.auc_drop:g})")
    if h.calibration_gap > max(cfg.max_calibration_gap, h.noise):
        problems.append(f"calibration gap {h.calibration_gap:.1%} above "
                        f"max_calibration_gap {cfg.max_calibration_gap:.1%} and chance "
                        f"({h.noise:.1%})")
    return problems


def latest_health(store, model_id: int | None = None) -> Health | None:
    """The latest check kept in ``model_health`` (of model ``model_id``, when given), if
    any; its ``problems`` are those recorded (re-:func:`judge` it for other thresholds)."""
    if "model_health" not in store.tables():
        return None
    t = store.table("model_health")
    if model_id is not None:
        t = t.filter(t.model_id == int(model_id))
    rows = t.to_pandas()
    if not len(rows):
        return None
    r = rows.iloc[-1]
    return Health(int(r.model_id), pd.Timestamp(r.eval_date), int(r.horizon_days),
                  int(r.customers), int(r.left), float(r.roc_auc),
                  None if pd.isna(r.reference_auc) else float(r.reference_auc),
                  float(r.calibration_gap), float(r.mean_predicted), float(r.observed),
                  [p for p in str(r.why or "").split("; ") if p] if r.alert else [],
                  out_of_sample=bool(r.out_of_sample), noise=float(r.calibration_noise),
                  note=str(r.note or ""))


def model_health(store, settings=None, *, day=None, progress=None) -> Health | None:
    """Check the latest churn model at the newest settled period against the ``[daily]``
    thresholds (``settings``: default the store's) and append the check to
    ``model_health``. None when the store has no dated churn model yet.

    The model checked is the newest that never saw the settled period's outcomes (one
    fitted at least a horizon ago, as a store run daily keeps). A store with only newer
    models gets an in-sample check of the newest: reported, never alerted on."""
    from loyalist.features.builder import available
    from loyalist.features.labels import observed_until
    from loyalist.models.early_warning import complaint_texts, design
    from loyalist.models.evaluation import evaluate

    step = progress or (lambda _m: None)
    cfg = (settings or store.settings).daily
    end = observed_until(store).normalize()
    chosen = _choose(store, end)
    if chosen is None:
        return None
    model_id, info, e, oos = chosen
    horizon, mode = int(info["horizon"]), info["mode"]
    model, _ = store.load_model(model_id)
    step(f"checking model #{model_id} at {e:%Y-%m-%d}")
    # the firm's complaint language is learnt only for a model that reads it
    texts = (complaint_texts(store, before=e)[0] if "unhappy_texts" in model.feature_names_
             and available(store)["feedback"] else None)
    test = design(store, [e], mode=mode, horizon=horizon, texts=texts)
    if test.empty or test["left"].nunique() < 2:
        raise DataError(f"No settled period to check the model on: at {e.date()} "
                        + ("no customer was active" if test.empty else
                           "every customer had the same outcome") + ".",
                        hint="The data need more history than the model's horizon.")
    y = test["left"].to_numpy().astype(int)
    p = model.predict_proba(test.drop(columns=["left"]))
    m = evaluate(y, p)
    note = ""
    if not oos:
        first = pd.Timestamp(info["as_of"]) + pd.Timedelta(days=horizon)
        note = (f"in sample: the model learnt from these outcomes; not alerted (the first "
                f"check on unseen outcomes: {first:%Y-%m-%d})")
    h = Health(model_id, e, horizon, len(y), int(y.sum()), float(m["roc_auc"]),
               _reference(info), calibration_gap(y, p), float(p.mean()), float(y.mean()), [],
               out_of_sample=oos, noise=calibration_noise(p), note=note)
    h.problems = judge(h, cfg)
    day = pd.Timestamp(day or pd.Timestamp.now(tz="UTC").tz_localize(None)).normalize()
    store.append_derived("model_health", pd.DataFrame([h.row(day)]),
                         note=f"model {model_id}")
    return h


__all__ = ["Health", "calibration_gap", "calibration_noise", "judge", "latest_health",
           "model_health"]
