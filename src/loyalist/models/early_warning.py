"""Training data, the BTYD features and the time-ordered backtest of the churn model.

The backtest is honest about time: the model is trained on as-of dates whose labels
were complete before the evaluation date (``as_of + horizon <= eval_date``), then
scored at ``eval_date`` and compared with what happened in the ``horizon`` days
after it. The baselines (BG/NBD's probability of no purchase in the horizon, a
gradient-boosted recency/frequency/monetary/tenure model, a logistic regression and
a recency rule) are scored on exactly the same customers and dates.

Seasons: when the data reach a year before the scored date, the training dates also
cover that season a year earlier, and the model is stopped, blended and calibrated on
those dates (it learns from the recent ones): a quarter that runs into a peak is
judged by how the same quarter went last year, not by the spring the recent dates
saw. Without an earlier season the model says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.contract.moments import moment
from loyalist.errors import ConvergenceError, DataError
from loyalist.features.builder import (
    FeatureSpec,
    available,
    build_features,
    feature_frame,
    prepare,
)
from loyalist.features.labels import (
    contract_labels,
    lapse_labels,
    observed_until,
    suggest_horizon,
)
from loyalist.features.rfm import rfm_summary
from loyalist.models.churn import ChurnModel
from loyalist.models.complaints import fit_from_store, text_scores, unhappy_features
from loyalist.models.evaluation import calibration_table, evaluate, paired_bootstrap

#: recalibrate the level on the very date a year before the scored one
ANCHOR = True
#: below this many training rows (customers x training dates) the churn model is its
#: smooth logistic regression alone: trees with leaves of 20 rows learn next to nothing
#: there, and a small shop is scored in seconds without loading LightGBM
SMALL_TRAIN_ROWS = 500
#: the recency/frequency/monetary/tenure columns of the gradient-boosted RFM baseline
RFM_COLUMNS = ("recency_days", "orders", "spend", "tenure_days")


def btyd_features(orders, as_of, horizon_days: float, max_fit: int = 200_000,
                  random_state: int = 0, min_customers: int = 50) -> pd.DataFrame:
    """BG/NBD P(alive), expected purchases in the horizon and the probability of no
    purchase in it, fitted on orders before ``as_of`` only. Columns: customer_id,
    p_alive, expected_purchases, p_no_purchase; ``.attrs["failed"]`` says why the
    model could not be fitted (the columns are then missing values).

    Four parameters need no million customers: above ``max_fit`` customers the
    model learns from a random sample of that many and scores everyone; below
    ``min_customers`` it is not fitted (too few to tell a population from noise)."""
    cols = ["customer_id", "p_alive", "expected_purchases", "p_no_purchase"]
    end = (pd.Timestamp(as_of) - pd.Timedelta(days=1)).date().isoformat()
    s = rfm_summary(orders, observation_end=end, freq="W").to_pandas()
    s = s[s["T"] > 0]  # first seen on the last day: nothing to judge yet
    if len(s) < min_customers:
        out = pd.DataFrame({c: pd.Series(dtype="string" if c == "customer_id" else "float64")
                            for c in cols})
        out.attrs["failed"] = (f"BG/NBD not fitted: {len(s)} customers with history before "
                               f"{end}, fewer than {min_customers}")
        return out
    from loyalist.models._transactions import BoundaryWarning  # SciPy: only when fitted
    from loyalist.models.bgnbd import BGNBD

    # drawn from the customers by id: the engine's row order differs (Spark's from DuckDB's)
    fit = (s.sort_values("customer_id").sample(max_fit, random_state=random_state)
           if len(s) > max_fit else s)
    failed = None
    t = horizon_days / 7.0
    try:
        with warnings.catch_warnings():  # a boundary fit is an answer here, not news
            warnings.simplefilter("ignore", BoundaryWarning)
            m = BGNBD().fit(fit["frequency"], fit["recency"], fit["T"])
        x, t_x, big_t = (s[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
        p = m.predict_p_alive(x, t_x, big_t)
        e = m.predict_purchases(t, x, t_x, big_t)
        r, alpha = float(m.params_["r"]), float(m.params_["alpha"])
        # alive, the purchase rate is Gamma(r + x, alpha + T) a posteriori: no purchase
        # in t has probability ((alpha + T) / (alpha + T + t)) ** (r + x)
        quiet = np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + t)))
        none = 1.0 - p * (1.0 - quiet)
        if not np.all(np.isfinite(p)):
            raise ConvergenceError("BG/NBD gave no finite P(alive).")
    except (ConvergenceError, DataError, FloatingPointError) as err:
        failed = f"BG/NBD could not be fitted on the orders before {end}: " + str(
            getattr(err, "message", err)).split("\n")[0]
        p = e = none = np.full(len(s), np.nan)
    out = pd.DataFrame({"customer_id": s["customer_id"].to_numpy(), "p_alive": np.asarray(p),
                        "expected_purchases": np.asarray(e),
                        "p_no_purchase": np.asarray(none)})
    if failed:
        out.attrs["failed"] = failed
    return out


def choose_mode(store, mode: str = "auto") -> str:
    if mode not in ("auto", "lapse", "contract"):
        raise DataError(f"Unknown mode {mode!r}.", hint="Use auto, lapse or contract.")
    have = available(store)
    if not have["orders"] and not have["subscriptions"]:  # no mode can help: say what can
        raise DataError("Nothing to learn who leaves from: the store has no orders and no "
                        "subscriptions.",
                        hint="Ingest an orders export (loyalist ingest orders FILE) or a "
                        "subscriptions export (loyalist ingest subscriptions FILE); or, with "
                        "a customer table that says who left, use --label COLUMN.")
    if mode == "auto":
        mode = "lapse" if have["orders"] else "contract"
    if mode == "lapse" and not have["orders"]:
        raise DataError("Lapse labels need orders, and the store has none.",
                        hint="Ingest orders (loyalist ingest orders FILE), or use --mode "
                        "contract: the store has subscriptions.")
    if mode == "contract" and not have["subscriptions"]:
        raise DataError("Contract labels need subscriptions, and the store has none.",
                        hint="Ingest subscriptions (loyalist ingest subscriptions FILE), or "
                        "use --mode lapse: the store has orders.")
    return mode


def labels_at(store, as_of, mode: str, horizon: int, customers=None) -> pd.DataFrame:
    """Who left within ``horizon`` days of ``as_of``; of ``customers`` only (an engine
    table with a ``customer_id`` column) when given."""
    if mode == "lapse":
        t = lapse_labels(_of(store.table("orders"), customers), as_of, horizon)
    else:
        t = contract_labels(_of(store.table("subscriptions"), customers), as_of, horizon)
    return t.to_pandas()


def _of(table, customers):
    """``table``'s rows of ``customers`` (all rows when None), filtered in the engine."""
    return table if customers is None else table.semi_join(customers, "customer_id")


def sample_customers(store, mode: str, n: int, seed: int = 0):
    """At most ``n`` customers of the orders (lapse) or subscriptions (contract), drawn
    at random with ``seed`` from their sorted ids (the same draw on every engine), as an
    engine table of ``customer_id``; ``None`` when there are no more than ``n``.

    The driver holds the ids (one short string per customer), never their rows."""
    import ibis

    t = store.table("orders" if mode == "lapse" else "subscriptions")
    ids = t.select("customer_id").distinct().order_by("customer_id").to_pyarrow()
    if ids.num_rows <= n:
        return None
    pick = np.sort(np.random.default_rng(seed).choice(ids.num_rows, n, replace=False))
    return ibis.memtable(ids.take(pick))


def design(store, dates, *, mode: str, horizon: int, spec: FeatureSpec | None = None,
           labelled: bool = True, progress: Callable[[str], None] | None = None,
           texts: pd.DataFrame | None = None, have: dict | None = None,
           customers=None, where: Callable | None = None) -> pd.DataFrame:
    """Features (and labels) of the eligible customers at each date, stacked.

    ``texts`` (from :func:`complaint_texts`) adds, per customer, the texts of the last
    90 days that read like a low score. ``customers`` (an engine table with a
    ``customer_id`` column, see :func:`sample_customers`) keeps those customers only,
    filtered in the engine before anything reaches the driver; the BG/NBD features are
    then fitted on their orders. ``where`` (a function of the engine's feature table
    giving a boolean column) keeps the rows it holds for, filtered in the engine too
    (the BG/NBD features are still fitted on everyone's orders).
    ``.attrs["unavailable"]`` maps each feature that could not be computed at some date
    to why (BG/NBD not fitted, say)."""
    if horizon <= 0:
        raise DataError(f"The horizon must be a positive number of days; got {horizon}.",
                        hint="Pass e.g. --horizon 90, or leave it out to have it suggested.")
    step = progress or (lambda _m: None)
    frames = []
    dates = list(dates)
    shared = prepare(store, spec, have=have, cache=len(dates) > 1)
    have = shared.have
    unavailable = {}
    for d in dates:
        step(f"features at {pd.Timestamp(d):%Y-%m-%d}")
        if customers is None and where is None:
            f = feature_frame(store, [d], spec, prepared=shared)
        else:
            t = build_features(store, d, spec, prepared=shared)
            t = t if customers is None else t.semi_join(customers, "customer_id")
            t = t if where is None else t.filter(where(t))
            f = t.to_pandas().sort_values(["as_of", "customer_id"], ignore_index=True)
        if have["orders"]:
            btyd = btyd_features(_of(store.table("orders"), customers), d, horizon)
            if "failed" in btyd.attrs:
                for c in ("p_alive", "expected_purchases", "p_no_purchase"):
                    unavailable.setdefault(c, btyd.attrs["failed"])
            f = f.merge(btyd, on="customer_id", how="left")
        if texts is not None:
            f = f.merge(unhappy_features(texts, d), on="customer_id", how="left")
            f["unhappy_texts"] = f["unhappy_texts"].fillna(0.0)
        if labelled:
            lab = labels_at(store, d, mode, horizon, customers)
            f = f.merge(lab, on="customer_id", how="inner")
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["unavailable"] = unavailable
    return out


# -- which dates to learn from --------------------------------------------------------
@dataclass
class TrainingPlan:
    """The dates a model of the outcome at ``target`` learns from: ``recent`` ones and,
    when the data reach back far enough, ``season`` ones a year before the target (the
    model is stopped, blended and calibrated on those)."""

    target: pd.Timestamp
    horizon: int
    recent: list[pd.Timestamp]
    season: list[pd.Timestamp] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def dates(self) -> list[pd.Timestamp]:
        return sorted(self.recent + self.season)


def first_seen(store, mode: str) -> pd.Timestamp:
    """The first order (lapse) or subscription start (contract) in the store."""
    cols = {"orders": ("ordered_at",)} if mode == "lapse" else {"subscriptions": ("started_at",)}
    t = store.table(next(iter(cols)))
    col = next(iter(cols.values()))[0]
    first = t.aggregate(m=t[col].min()).to_pandas().iloc[0, 0]
    return pd.Timestamp(first) if pd.notna(first) else observed_until(store)


def plan_training(store, target, horizon: int, *, mode: str, n_train_dates: int = 4,
                  spacing_days: int = 30, season: bool = True,
                  known_until=None, min_season_customers: int = 500) -> TrainingPlan:
    """Training dates for a model scoring at ``target``: their outcomes are known by
    then (``date + horizon <= target``, and by ``known_until``, the end of the data),
    and each has history before it (at least ``min(horizon, 90)`` days)."""
    target = pd.Timestamp(target).normalize()
    limit = target if known_until is None else min(target, pd.Timestamp(known_until))
    first = first_seen(store, mode).normalize()
    history = pd.Timedelta(days=min(horizon, 90))
    step = pd.Timedelta(days=spacing_days)
    last = limit - pd.Timedelta(days=horizon)
    wanted = [last - step * k for k in range(n_train_dates)]
    recent = sorted(d for d in wanted if d >= first + history)
    notes = []
    if not recent:
        raise DataError(
            f"A horizon of {horizon} days leaves no training date: outcomes are known until "
            f"{limit.date()}, so the last date to learn from is {last.date()}, but the data "
            f"start {first.date()} and a date needs {history.days} days of history.",
            hint="Use a shorter --horizon, a later date, or more history.")
    if len(recent) < len(wanted):
        notes.append(f"{len(wanted) - len(recent)} of {len(wanted)} training dates dropped: "
                     f"before {(first + history).date()} there is too little history")
    plan = TrainingPlan(target=target, horizon=horizon, recent=recent, notes=notes)
    if not season:
        return plan
    t = store.table("orders" if mode == "lapse" else "subscriptions")
    # the customers known at the target: rows after it do not decide the calibration
    t = t.filter(t["ordered_at" if mode == "lapse" else "started_at"] < target.to_pydatetime())
    customers = int(t.customer_id.nunique().execute())
    if customers < min_season_customers:
        notes.append(f"{customers:,} customers: too few to calibrate on the season a year "
                     "earlier; calibrated on the latest training date")
        return plan
    year_ago = target - pd.Timedelta(days=365)
    cands = [year_ago + step * j for j in (-1, 0, 1)]
    # a season date stands for the business as it runs: customers of at least two
    # horizons (the active window) and half a year, not its first weeks
    settled = first + pd.Timedelta(days=max(2 * horizon, 180))
    plan.season = [d for d in cands if d >= settled
                   and d + pd.Timedelta(days=horizon) <= limit and d < recent[0] - step / 2]
    if plan.season:
        notes.append("calibrated on the same season a year earlier ("
                     + ", ".join(f"{d:%Y-%m-%d}" for d in plan.season) + ")")
    else:
        notes.append(f"no earlier season in the data (it starts {first.date()}): the "
                     f"calibration comes from {recent[-1]:%Y-%m-%d}, and a coming peak or "
                     "lull is not foreseen")
    return plan


def fit_on_plan(train: pd.DataFrame, plan: TrainingPlan, mode: str,
                model: ChurnModel | None = None) -> ChurnModel:
    """Fit the churn model on the plan's training rows: learning from the recent dates
    and calibrating on the season ones when there are any (each side with leavers and
    stayers), otherwise calibrating on the latest dates."""
    if model is None:
        small = len(train) < SMALL_TRAIN_ROWS
        model = ChurnModel(offset="p_no_purchase" if mode == "lapse" else None,
                           learner="linear" if small else "blend")
        if small:
            plan.notes.append(f"{len(train):,} training rows (fewer than {SMALL_TRAIN_ROWS:,}): "
                              "the smooth logistic regression alone, without trees")
    y = train["left"].to_numpy()
    held = None
    if plan.season:
        held = train["as_of"].isin(plan.season).to_numpy()
        if any(len(np.unique(y[side])) < 2 for side in (held, ~held)):
            held = None
            plan.notes.append("the season a year earlier has too few leavers or stayers to "
                              "calibrate on; calibrated on the latest dates instead")
    X = train.drop(columns=["left"])
    unavailable = train.attrs.get("unavailable", {})
    if held is None:
        return model.fit(X, y, unavailable=unavailable)
    model.fit(X, y, unavailable=unavailable, held_out=held, refit=False)
    if ANCHOR and model.calibration == "sigmoid":  # the level of the date a year earlier
        twin = min(plan.season, key=lambda d: abs(d - (plan.target - pd.Timedelta(days=365))))
        rows = (train["as_of"] == twin).to_numpy()
        if len(np.unique(y[rows])) == 2:
            model.shift_calibration(X[rows], y[rows])
    return model


def level_at_target(model: ChurnModel, train: pd.DataFrame, plan: TrainingPlan,
                    X: pd.DataFrame, store, mode: str) -> str | None:
    """Set the model's level at the scored date (``X``: its customers' features) to the
    mean of two estimates, when the plan has a season a year earlier:

    - the model as calibrated on that season (levelled on its very date);
    - the model calibrated on the latest training date, moved by how much the share
      leaving differed, a year earlier, between the scored date's season and the latest
      training date's (base rates only).

    The first misses how this year's customers differ from last year's, the second how
    this year's season differs from last year's. Returns a note, or None."""
    from loyalist.models._churn_parts import Platt

    if not plan.season or model.calibration != "sigmoid" or not len(X):
        return None
    latest = plan.recent[-1]
    then = latest - pd.Timedelta(days=365)
    settled = first_seen(store, mode).normalize() + pd.Timedelta(
        days=max(2 * plan.horizon, 180))
    if then < settled:  # a year before the latest date the business was not settled yet
        return None
    twin = min(plan.season, key=lambda d: abs(d - (plan.target - pd.Timedelta(days=365))))
    rows = (train["as_of"] == latest).to_numpy()
    y = train["left"].to_numpy()
    base = labels_at(store, then, mode, plan.horizon)["left"]
    r_season, r_then = float(y[(train["as_of"] == twin).to_numpy()].mean()), float(base.mean())
    if len(np.unique(y[rows])) < 2 or not (0 < r_season < 1 and 0 < r_then < 1):
        return None
    z_latest = model.decision_function(train.loc[rows].drop(columns=["left"]))
    latest_cal = Platt().fit(z_latest, y[rows])
    shift = np.log(r_season / (1 - r_season)) - np.log(r_then / (1 - r_then))
    z = model.decision_function(X)
    p_season = float(model.probability(z).mean())
    p_moved = float(np.mean(1.0 / (1.0 + np.exp(-(latest_cal.a_ * z + latest_cal.b_
                                                    + shift)))))
    model.shift_mean(z, (p_season + p_moved) / 2)
    return (f"level at {plan.target:%Y-%m-%d}: {(p_season + p_moved) / 2:.1%}, the mean of "
            f"the season-calibrated model ({p_season:.1%}) and the latest date's level moved "
            f"by last year's season ({p_moved:.1%}; a year earlier {r_season:.1%} left "
            f"around {twin:%d %b} against {r_then:.1%} around {then:%d %b})")


def complaint_texts(store, before=None) -> tuple[pd.DataFrame | None, str]:
    """Every unscored text (requests, unrated comments) read by the firm's own
    complaint model, learnt from its rated feedback (answered before ``before`` when
    given: a score at a date learns nothing from later answers); None and why when there
    is too little to learn from. The second value is a note for the user."""
    model, why = fit_from_store(store, before=before)
    if model is None:
        return None, f"complaint language not learnt: {why}"
    cv = model.cv_
    return text_scores(store, model), (
        f"complaint language learnt from {cv['comments']:,} rated comments (out-of-fold "
        f"ROC AUC {cv['roc_auc']:.3f}) and read in every request")


def lapse_horizon(store, before=None) -> int:
    """The suggested lapse horizon from the orders before ``before`` (all when None)."""
    return suggest_horizon(store.table("orders"), before=before)


# -- the backtest -----------------------------------------------------------------------
@dataclass
class Backtest:
    """What the backtest measured. ``metrics`` has one row per model; ``bootstrap`` the
    paired bootstrap of the model's ROC AUC against each baseline; ``calibration`` the
    model's reliability table."""

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
    bootstrap: pd.DataFrame | None = None
    plan: TrainingPlan | None = None

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
        if self.bootstrap is not None and len(self.bootstrap):
            sure = self.bootstrap[self.bootstrap["low"] > 0].index.tolist()
            if sure:
                text += (" Its lead is clear of chance (95% paired bootstrap) against "
                         + ", ".join(sure) + ".")
        return text

    def save(self, folder) -> list:
        from pathlib import Path

        from loyalist.models import early_warning_plots as plots

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.metrics.to_csv(folder / "metrics.csv")
        self.calibration.to_csv(folder / "calibration.csv")
        files = [folder / "metrics.csv", folder / "calibration.csv"]
        if self.bootstrap is not None:
            self.bootstrap.to_csv(folder / "bootstrap.csv")
            files.append(folder / "bootstrap.csv")
        return [*files, *plots.save_all(self, folder)]


def default_dates(store, horizon: int, eval_date=None, n_train_dates: int = 4,
                  spacing_days: int = 30) -> tuple[pd.Timestamp, list[pd.Timestamp]]:
    """Evaluation date (default: as late as the data still shows its outcome) and the
    training dates before it whose outcomes were known by then."""
    e = evaluation_date(store, horizon, eval_date)
    last_train = e - pd.Timedelta(days=horizon)
    train = [last_train - pd.Timedelta(days=spacing_days * k) for k in range(n_train_dates)]
    return e, sorted(train)


def evaluation_date(store, horizon: int, eval_date=None) -> pd.Timestamp:
    end = observed_until(store).normalize()
    e = moment(eval_date, "eval_date") if eval_date is not None else end - pd.Timedelta(days=horizon)
    if e + pd.Timedelta(days=horizon) > end + pd.Timedelta(days=1):
        raise DataError(f"The outcome of {e.date()} is not known yet: the data ends "
                        f"{end.date()} and the horizon is {horizon} days.",
                        hint=f"Choose an evaluation date on or before "
                        f"{(end - pd.Timedelta(days=horizon)).date()}, or a shorter "
                        "--horizon.")
    return e


def _backtest_horizon(store, eval_date) -> tuple[int, str]:
    """The suggested horizon, from the data before the evaluation date only (without
    one, before the date the suggestion itself implies)."""
    if eval_date is not None:
        h = lapse_horizon(store, before=eval_date)
        return h, (f"horizon {h} days, suggested from the order gaps before "
                   f"{pd.Timestamp(eval_date):%Y-%m-%d}")
    end = observed_until(store).normalize()
    h = lapse_horizon(store)
    for _ in range(3):  # settle on a horizon suggested by the data before end - horizon
        again = lapse_horizon(store, before=end - pd.Timedelta(days=h))
        if again == h:
            break
        h = again
    return h, (f"horizon {h} days, suggested from the order gaps before "
               f"{(end - pd.Timedelta(days=h)).date()}")


def _rfm_booster(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray | None:
    """LightGBM (its default settings) on recency, frequency, monetary value and tenure,
    trained on the same past dates: the plain gradient-boosted baseline."""
    from lightgbm import LGBMClassifier

    cols = [c for c in RFM_COLUMNS if c in train and train[c].notna().any()]
    if len(cols) < len(RFM_COLUMNS):
        return None
    m = LGBMClassifier(verbose=-1, n_jobs=1, random_state=0).fit(train[cols], train["left"])
    return m.predict_proba(test[cols])[:, 1]


def backtest(store, *, mode: str = "auto", horizon: int | None = None, eval_date=None,
             n_train_dates: int = 4, spacing_days: int = 30, spec: FeatureSpec | None = None,
             model: ChurnModel | None = None, progress=None, path_steps: int = 3,
             season: bool = True, bootstrap: int = 300) -> Backtest:
    """Train before ``eval_date - horizon``, evaluate at ``eval_date``, with baselines."""
    if eval_date is not None:  # a date that is not one fails first, with its name
        eval_date = moment(eval_date, "eval_date")
    mode = choose_mode(store, mode)
    notes = []
    if horizon is None:
        if mode == "lapse":
            horizon, note = _backtest_horizon(store, eval_date)
            notes.append(note)
        else:
            horizon = 90
    e = evaluation_date(store, horizon, eval_date)
    plan = plan_training(store, e, horizon, mode=mode, n_train_dates=n_train_dates,
                         spacing_days=spacing_days, season=season)
    # the complaint language learnt only from comments answered before the evaluation
    # date, as `score` at that date would
    texts, note = (complaint_texts(store, before=e) if available(store)["feedback"]
                   else (None, ""))
    notes += [note] if note else []
    train = design(store, plan.dates, mode=mode, horizon=horizon, spec=spec,
                   progress=progress, texts=texts)
    test = design(store, [e], mode=mode, horizon=horizon, spec=spec, progress=progress,
                  texts=texts)
    if train["left"].nunique() < 2 or test["left"].nunique() < 2:
        raise DataError("Not enough customers left (or stayed) to learn and test.",
                        hint="Use a longer history or another horizon.")
    if progress:
        progress("training")
    model = fit_on_plan(train, plan, mode, model)
    notes.extend(plan.notes)
    y = test["left"].to_numpy()
    X = test.drop(columns=["left"])
    level = level_at_target(model, train, plan, X, store, mode)
    notes += [level] if level else []
    scores = pd.DataFrame({"customer_id": test["customer_id"], "left": y,
                           "model": model.predict_proba(X)})
    linear = fit_on_plan(train, TrainingPlan(e, horizon, plan.recent, plan.season), mode,
                         ChurnModel(learner="linear"))
    scores["logistic"] = linear.predict_proba(X)
    failed = test.attrs.get("unavailable", {}).get("p_no_purchase")
    if "p_no_purchase" in test and test["p_no_purchase"].notna().any():
        q = test["p_no_purchase"]
        scores["bgnbd"] = q.fillna(q.median()).to_numpy()
        if q.isna().any():
            notes.append(f"BG/NBD has no prediction for {int(q.isna().sum()):,} customers "
                         "first seen on the evaluation date's eve (given the median)")
    elif mode == "lapse":
        notes.append("baseline bgnbd not fitted: " + (failed or "no customer to fit it on"))
    booster = _rfm_booster(train, test)
    if booster is not None:
        scores["rfm_booster"] = booster
    else:
        notes.append("baseline rfm_booster not fitted: the data have no orders")
    if "recency_days" in test and test["recency_days"].notna().any():
        typical = test["typical_gap_days"].median() if "typical_gap_days" in test else 30.0
        typical = typical if pd.notna(typical) and typical > 0 else 30.0
        gap = test.get("typical_gap_days", pd.Series(typical, index=test.index))
        ratio = (test["recency_days"] / gap.where(gap > 0)).fillna(
            test["recency_days"] / typical)
        scores["recency"] = ratio.fillna(ratio.max()).to_numpy()
    names = [c for c in scores.columns if c not in ("customer_id", "left")]
    metrics = pd.DataFrame({name: evaluate(y, scores[name]) for name in names}).T
    calib = calibration_table(y, scores["model"])
    boot = paired_bootstrap(y, scores[names], n_boot=bootstrap) if bootstrap else None
    path = risk_path(store, model, scores[["customer_id", "left"]], e, mode=mode,
                     horizon=horizon, spec=spec, steps=path_steps, texts=texts)
    return Backtest(eval_date=e, horizon=horizon, mode=mode, train_dates=plan.dates,
                    metrics=metrics, calibration=calib, scores=scores, model=model,
                    notes=notes, risk_path=path, bootstrap=boot, plan=plan)


def risk_path(store, model, outcome: pd.DataFrame, eval_date, *, mode: str, horizon: int,
              spec=None, steps: int = 3, spacing_days: int = 30, texts=None
              ) -> pd.DataFrame:
    """Mean P(leave) of the evaluation date's leavers and stayers at earlier dates:
    how early the model heard them. Columns: as_of, left, mean_p, customers."""
    rows = []
    for k in range(steps, -1, -1):
        d = pd.Timestamp(eval_date) - pd.Timedelta(days=spacing_days * k)
        X = design(store, [d], mode=mode, horizon=horizon, spec=spec, labelled=False,
                   texts=texts)
        X = X.merge(outcome, on="customer_id", how="inner")
        if X.empty:
            continue
        X["p"] = model.predict_proba(X.drop(columns=["left"]))
        g = X.groupby("left")["p"].agg(["mean", "size"]).reset_index()
        for r in g.itertuples(index=False):
            rows.append({"as_of": d, "left": int(r.left), "mean_p": r.mean,
                         "customers": r.size})
    return pd.DataFrame(rows)
