"""What the three continuous-time transaction models (BG/NBD, MBG/NBD, Pareto/NBD) share.

Inputs are the RFM summary of :func:`loyalist.features.rfm_summary`: ``frequency``
(repeat purchases, the first excluded), ``recency`` (time of the last purchase,
measured from the first) and ``T`` (time from the first purchase to the end of
observation), all in one time unit.

**Coordinates.** The optimiser does not work on ``(r, alpha, ...)`` but on four
coordinates in which every limit of the family is a finite point:

0. ``log(r / alpha)``: the mean purchase rate;
1. ``log(1 / r)``: the spread of purchase rates (squared coefficient of variation); its
   lower bound is the Poisson limit where every customer buys at the same rate
   (``r, alpha -> infinity``);
2. the mean drop-out (BG: logit of ``a / (a + b)`` per purchase; Pareto: log of
   ``s / beta`` per time unit); at its lower bound nobody drops out;
3. the spread of drop-out (BG: ``log(1 / (a + b))``; Pareto: ``log(1 / s)``); at its
   lower bound every customer has the same drop-out probability or rate.

The likelihoods are written in these coordinates (``log1p`` and sums of logs instead of
differences of ``gammaln`` and ``betaln``), so they stay exact up to the bounds.

**Limits.** A fit first maximises the full model. When the drop-out part does not
earn its keep (its mean sits on the lower bound, or it improves the log-likelihood by
less than :data:`LR_CRITICAL` over the model without drop-out, a likelihood-ratio
test at the 5% level), the model returns that limit exactly: the NBD (Poisson-gamma)
model, P(alive) = 1, with a :class:`BoundaryWarning` in words. Other coordinates on
a bound are reported the same way (``status_ == "boundary"``, ``param_notes_``).
``ConvergenceError`` is left for data with no solution (no repeat purchase at all).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import gammaln

from loyalist.errors import ConvergenceError, DataError
from loyalist.models._base import (
    _WARM_ROWS,
    BaseFitter,
    as_array,
    check_fitted,
    unique_index,
    wdot,
)
from loyalist.models._rates import rate_tables


class BoundaryWarning(UserWarning):
    """A fit whose maximum is a limit of the model family (e.g. nobody drops out)."""


#: Half the 95% point of chi-square with 1 degree of freedom: the drop-out part must
#: improve the log-likelihood by at least this much over the model without drop-out.
LR_CRITICAL = 1.920729410347062
_WALD_CLEAR = 4.0  # drop-out mean this many standard errors from zero: no test needed

RATE_BOUNDS = [(-30.0, 15.0), (float(np.log(1e-8)), float(np.log(1e6)))]
SPREAD_BOUNDS = (float(np.log(1e-8)), float(np.log(1e6)))
NO_DROPOUT = ("almost no customer drops out in this period: purchases behave like a "
              "Poisson process; P(alive) is close to 1")
#: (coordinate, side) -> (phrase, {parameter: (displayed value, words)}) for the
#: purchase rate; each model adds its drop-out limits (``_DROP_LIMITS``)
RATE_LIMITS = {
    (1, -1): ("every customer buys at about the same rate (Poisson purchases, {rate} per "
              "time unit)",
              {"r": (np.inf, "-> infinity: every customer buys at the same rate, {rate} per "
                     "time unit (r/alpha)"),
               "alpha": (np.inf, "-> infinity together with r")}),
    (1, 1): ("purchase rates are extremely spread out (r -> 0)",
             {"r": (0.0, "-> 0: purchase rates extremely spread out"),
              "alpha": (0.0, "-> 0 together with r")}),
}



def dropout_limits(shape, scale, *, at_once, same, spread, ratio):
    """The drop-out limits of a model in the form of :data:`RATE_LIMITS`: ``shape`` and
    ``scale`` name its drop-out parameters; the other arguments say in words what the
    limits mean (``same`` takes ``{mean}``, ``ratio`` names the mean as parameters)."""
    return {
        (2, 2): (NO_DROPOUT, {shape: (0.0, "-> 0: nobody drops out (the NBD limit)"),
                              scale: (np.nan, "not identified when nobody drops out")}),
        (2, 1): (at_once, {scale: (0.0, f"-> 0: {at_once}")}),
        (3, -1): (same, {shape: (np.inf, f"-> infinity: {same} ({ratio})"),
                         scale: (np.inf, f"-> infinity together with {shape}")}),
        (3, 1): (spread, {shape: (0.0, f"-> 0: {spread}"),
                          scale: (0.0, f"-> 0 together with {shape}")}),
    }

def check_rfm(frequency, recency, T, weights=None):
    """Validate and convert the three RFM columns; errors name the culprit."""
    x = as_array(frequency, "frequency")
    t_x = as_array(recency, "recency")
    big_t = as_array(T, "T")
    x, t_x, big_t = np.broadcast_arrays(x, t_x, big_t)
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise DataError(
            "'frequency' must hold non-negative whole numbers (repeat purchases).",
            hint="use loyalist.features.rfm_summary, which counts repeat purchase days.",
        )
    if np.any(t_x < 0) or np.any(big_t < 0):
        raise DataError("'recency' and 'T' must be >= 0 (T = 0: acquired at the end of "
                        "observation, which carries no information but is valid).")
    if np.any(t_x > big_t * (1 + 1e-12)):
        n = int((t_x > big_t).sum())
        raise DataError(
            f"'recency' is greater than 'T' in {n} row(s); recency is measured from the "
            "first purchase and cannot exceed the customer's age T.",
            hint="check that both use the same time unit and the same end of observation.",
        )
    if np.any((x == 0) & (t_x != 0)):
        raise DataError(
            "'recency' must be 0 for customers with frequency 0 (no repeat purchase).",
        )
    w = None
    if weights is not None:
        w = as_array(weights, "weights")
        if w.shape != x.shape or np.any(w < 0):
            raise DataError("'weights' must be non-negative and have one value per row.")
    return x.astype(float), np.minimum(t_x, big_t).astype(float), big_t.astype(float), w


def _clearly_inside(sol, coord) -> bool:
    """Whether a coordinate (the log of a spread or of a mean that is 0 at its limit)
    is more than ``_WALD_CLEAR`` standard errors from that limit on its natural scale."""
    var = sol.covariance(fill_flat=True)[coord, coord]
    return bool(np.isfinite(var) and var > 0 and 1.0 / np.sqrt(var) > _WALD_CLEAR)


class _DropoutWatch:
    """Stops L-BFGS-B when, three iterations running, at most 1 in 10,000 customers
    could have dropped out: the optimiser is creeping towards the limit without
    drop-out, which :meth:`TransactionModel.fit` then fits exactly and compares."""

    def __init__(self, model, scale):
        self.model, self.scale, self.streak, self.hit = model, scale, 0, False

    def __call__(self, intermediate_result):
        share = self.model._dropout_mean(intermediate_result.x[2]) * self.scale
        self.streak = self.streak + 1 if share < 1e-4 else 0
        if self.streak >= 3:
            self.hit = True
            raise StopIteration


class TransactionModel(BaseFitter):
    """Shared fit/predict API of the continuous-time non-contractual models."""

    _DROP_BOUNDS: tuple[float, float] = (-30.0, 30.0)
    _mode_keys = ("_no_dropout", "_no_watch")
    _nbd_first = False  # fit the limit without drop-out before the full model
    _DROP_LIMITS: dict = {}  # (coordinate, side) -> words; see RATE_LIMITS

    def _near_limit_start(self, theta_nbd, data, weights):  # pragma: no cover
        """A starting point with the purchase rates of the NBD fit and some drop-out."""
        raise NotImplementedError

    # -- coordinates --------------------------------------------------------------------
    def _theta_bounds(self):
        return [*RATE_BOUNDS, self._DROP_BOUNDS, SPREAD_BOUNDS]

    def _penalty_mask(self, data):
        if data.get("_no_dropout"):
            return np.array([True, True, False, False])
        return np.ones(4, dtype=bool)

    def _dropout_mean(self, coordinate) -> float:  # pragma: no cover
        """The mean drop-out (probability per purchase, or rate) at coordinate 2."""
        raise NotImplementedError

    def _dropout_scale(self, data) -> float:  # pragma: no cover
        """The factor that turns the drop-out mean (coordinate 2) into the share of
        customers who could have dropped out within the data (Pareto: the longest T)."""
        raise NotImplementedError

    def _limit_watch(self, data, frame):
        if frame is not None or data.get("_no_dropout") or data.get("_no_watch"):
            return None
        return _DropoutWatch(self, self._dropout_scale(data))

    def _prepare(self, data):
        x = np.asarray(data["x"], dtype=float)
        data["_xu"], data["_xi"] = unique_index(x.ravel())
        data["_xi"] = data["_xi"].reshape(x.shape)
        return data

    def _loglik(self, params, data, *, grad):
        """Per-row log-likelihood at natural parameters and its gradient in them (n, 4)."""
        if "_xu" not in data:
            data = self._prepare(dict(data))
        theta = self._theta_from_params(params)
        ll, g = self._loglik_theta(theta, data, grad=grad)
        if not grad:
            return ll, None
        return ll, g @ np.linalg.inv(self._dparams_dtheta(theta))

    def _loglik_sum(self, params, data, weights):
        if "_xu" not in data:
            data = self._prepare(dict(data))
        theta = self._theta_from_params(params)
        ll, g = self._loglik_sum_theta(theta, data, weights)
        return ll, np.linalg.solve(self._dparams_dtheta(theta).T, g)

    def _loglik_theta(self, theta, data, *, grad):  # pragma: no cover
        """Per-row log-likelihood and (with ``grad``) its gradient in theta (n, 4)."""
        raise NotImplementedError

    # -- the fit ------------------------------------------------------------------------
    def fit(self, frequency, recency, T, weights=None):
        """Fit by maximum likelihood.

        Customers with ``T = 0`` (first purchase at the end of the period) carry no
        information and are left out of the fit (``notes_`` says how many). When the
        maximum is a limit of the model (e.g. nobody drops out), the limit is returned
        with a :class:`BoundaryWarning`, ``status_ == "boundary"`` and words in
        ``boundary_``; predictions are those of the limiting model.

        Parameters
        ----------
        frequency, recency, T : array-like
            RFM summary per customer (see :func:`loyalist.features.rfm_summary`).
        weights : array-like, optional
            Number of customers each row stands for (for pre-aggregated input).

        Returns
        -------
        self
        """
        x, t_x, big_t, w = check_rfm(frequency, recency, T, weights)
        n_obs = x.size
        w = np.ones(n_obs) if w is None else w.astype(float)
        notes = []
        new = big_t <= 0
        if new.any():
            n_new = int(np.count_nonzero(new & (w > 0)))
            notes.append(f"{n_new:,} customer(s) with T = 0 (first purchase at the end of the "
                         "period) left out of the fit: they carry no information")
            x, t_x, big_t, w = x[~new], t_x[~new], big_t[~new], w[~new]
        name = type(self).__name__
        if w.sum() <= 0:
            raise DataError(f"{name}.fit: every customer has T = 0 (first purchase at the "
                            "end of the period); there is no history to learn from.",
                            hint="end the period later, or use more history.")
        if wdot(w, x) <= 0:
            raise ConvergenceError(
                f"{name} has no solution: no customer made a repeat purchase, so there is "
                "no purchase rate to estimate.",
                hint="use a longer history (repeat purchases are needed), or value customers "
                "by a plain rule until they buy again.",
            )
        data = {"x": x, "t_x": t_x, "T": big_t}
        lo = self._DROP_BOUNDS[0]
        nbd = None
        starts = []
        if self._nbd_first:
            # the limit without drop-out costs little next to the full likelihood: fit it
            # first (on a sample of large data) and start the full model from its rates
            part = np.arange(x.size)
            if x.size > 4 * _WARM_ROWS:
                part = np.sort(np.random.default_rng(0).choice(x.size, _WARM_ROWS,
                                                               replace=False))
            first = self._solve({**{k: v[part] for k, v in data.items()}, "_no_dropout": True},
                                w[part], fixed={2: lo, 3: 0.0})
            if first.converged:
                starts = [self._near_limit_start(first.theta, data, w)]
                nbd = first if part.size == x.size else None
        full = self._solve(data, w, extra_starts=starts)
        dropping = full.converged and full.side[2] == 0 and _clearly_inside(full, 2)
        self.dropout_lr_ = np.nan
        if dropping:
            choice = full
        else:
            if nbd is None:
                nbd = self._solve({**data, "_no_dropout": True}, w, fixed={2: lo, 3: 0.0},
                                  extra_starts=[] if full.theta is None else [full.theta])
            if not nbd.converged:
                self._raise_convergence(nbd.best, nbd.tried)
            gain = full.log_likelihood - nbd.log_likelihood
            at_limit = getattr(full.best, "stopped_at_limit", False)
            self.dropout_lr_ = float(2.0 * gain) if np.isfinite(gain) else np.nan
            if at_limit and gain > LR_CRITICAL:
                # even a tiny drop-out explains some long silences: no early stop then
                full = self._solve({**data, "_no_watch": True}, w, extra_starts=[full.theta])
                gain = full.log_likelihood - nbd.log_likelihood
                self.dropout_lr_ = float(2.0 * gain)
                at_limit = False
            if not full.converged and gain > LR_CRITICAL and not at_limit:
                # the drop-out model is clearly better somewhere, but no maximum was found
                self._raise_convergence(full.best, full.tried)
            # keep the drop-out model unless its mean sits on the no-drop-out bound (an upper
            # bound, nearly everyone dropping out at once, is a limit worth keeping)
            if full.converged and full.side[2] != -1 and gain >= LR_CRITICAL and not at_limit:
                choice = full
            else:
                choice = nbd
                notes.append(
                    "drop-out improves the log-likelihood by "
                    f"{max(gain, 0.0) if np.isfinite(gain) else 0.0:.2f} over the model "
                    f"without drop-out (at least {LR_CRITICAL:.2f} needed at the 5% level)")
        choice = self._simpler_limits(choice, w, notes)
        self._adopt_limits(choice, n_obs, notes)
        if self.status_ == "boundary":
            warnings.warn(BoundaryWarning(f"{name}: {self.boundary_}."), stacklevel=2)
        return self

    def _simpler_limits(self, sol, weights, notes):
        """The same likelihood-ratio rule for the other limits: purchase rates (1) or
        drop-out (3) the same for every customer. A spread within a few standard errors
        of zero is held at its limit unless freeing it gains at least LR_CRITICAL."""
        words = {1: "a spread of purchase rates between customers",
                 3: "a spread of drop-out between customers"}
        for coord in (1, 3):
            if sol.side[coord] != 0 or (coord == 3 and sol.side[2] != 0):
                continue
            if sol.converged and _clearly_inside(sol, coord):
                continue
            fixed = {i: sol.theta[i] for i in np.flatnonzero(sol.side == 2)}
            fixed[coord] = self._theta_bounds()[coord][0]
            alt = self._solve(sol.data, sol.weights, fixed=fixed, extra_starts=[sol.theta])
            gain = sol.log_likelihood - alt.log_likelihood
            if alt.converged and gain < LR_CRITICAL:
                notes.append(f"{words[coord]} improves the log-likelihood by "
                             f"{max(gain, 0.0):.2f} (at least {LR_CRITICAL:.2f} needed at the "
                             "5% level): held at the limit")
                sol = alt
        return sol

    def _adopt_limits(self, sol, n_obs, notes):
        """Set the fitted attributes from a solution that may sit on bounds."""
        self._no_dropout = bool(sol.data.get("_no_dropout", False))
        cov_theta = sol.covariance(fill_flat=True)
        theta = sol.theta
        self._theta_ = theta
        params = self._params_from_theta(theta)
        self.params_ = pd.Series(params, index=list(self._param_names), name="coef")
        self.log_likelihood_ = sol.log_likelihood
        self.n_obs_ = int(n_obs)
        self.n_unique_ = int(sol.weights.size)
        self.n_iter_ = int(sol.best.nit)
        k = sol.n_free
        self.aic_ = 2 * k - 2 * self.log_likelihood_
        self.bic_ = k * np.log(sol.total) - 2 * self.log_likelihood_
        self._set_uncertainty(theta, cov_theta)
        side = sol.side.copy()
        phrases, limits = self._limits(theta, side)
        param_notes = {}
        for pname, (value, words) in limits.items():
            self.params_[pname] = value
            self.summary_.loc[pname] = [value, np.nan, np.nan, np.nan]
            self.standard_errors_[pname] = np.nan
            param_notes[pname] = words
        for pname, row in self.summary_.iterrows():
            if pname in limits:
                continue
            lo, hi = row["lower 95% bound"], row["upper 95% bound"]
            if not (np.isfinite(hi) and lo > 0) or hi / lo > 1e4:
                param_notes[pname] = ("the data barely identify it: its 95% interval spans "
                                      "more than four orders of magnitude")
        flat = [p for p, t in param_notes.items() if t.startswith("the data barely")]
        self.status_ = "boundary" if phrases else "fitted"
        if flat:
            notes.append(f"{', '.join(flat)} barely identified (flat log-likelihood): see "
                         "their 95% intervals")
        self.boundary_ = "; ".join(phrases) if phrases else None
        self.param_notes_ = param_notes
        self.notes_ = notes
        return self

    # -- descriptions of the limits -------------------------------------------------------
    def _limits(self, theta, side):
        """Words for each coordinate on a limit (``side``: -1/+1 on a bound, 2 held at
        the no-drop-out limit), and the parameters' displayed values and notes."""
        fill = {"rate": f"{np.exp(theta[0]):.4g}", "mean": f"{self._dropout_mean(theta[2]):.4g}"}
        phrases, values = [], {}
        side = np.where((side == 2) & (np.arange(side.size) != 2), -1, side)
        for (i, where), (phrase, params) in {**RATE_LIMITS, **self._DROP_LIMITS}.items():
            if side[i] != where or (i == 3 and side[2] == 2):
                continue  # the drop-out spread means nothing when nobody drops out
            phrases.append(phrase.format(**fill))
            values.update({k: (v, words.format(**fill)) for k, (v, words) in params.items()})
        return phrases, values

    # -- shared coordinates of the purchase rate ------------------------------------------
    @staticmethod
    def _rate_to_theta(r, alpha):
        return np.log(r) - np.log(alpha), -np.log(r)

    def _pred_params(self) -> np.ndarray:
        """Natural parameters for the prediction formulas (finite even at a limit)."""
        return self._params_from_theta(self._theta_)

    # -- to be provided -------------------------------------------------------------------
    def _log_p_alive(self, x, t_x, big_t):  # pragma: no cover
        raise NotImplementedError

    def _expected_if_alive(self, t, x, t_x, big_t):  # pragma: no cover
        raise NotImplementedError

    def _nbd_expected(self, t, x, big_t):
        """E[purchases in t] without drop-out: the Gamma posterior mean rate times t."""
        lam, kap = np.exp(self._theta_[0]), np.exp(self._theta_[1])
        return (1.0 + kap * x) * lam * t / (1.0 + kap * lam * big_t)

    def _nbd_count_probability(self, n, t):
        """P(n purchases in (0, t]) of a new customer without drop-out (NBD)."""
        lam, kap = np.exp(self._theta_[0]), np.exp(self._theta_[1])
        n, t = np.broadcast_arrays(np.asarray(n, float), np.asarray(t, float))
        nu, ni = unique_index(n.ravel())
        pn = rate_tables(self._theta_, nu)[0][ni].reshape(n.shape)
        u = kap * lam * t
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = np.where(n > 0, n * np.log(np.where(t > 0, lam * t / (1.0 + u), 1.0)), 0.0)
        return np.exp(pn - gammaln(n + 1.0) + tail - np.log1p(u) / kap)

    # -- predictions ----------------------------------------------------------------------
    def predict_p_alive(self, frequency, recency, T, t=0.0):
        """Probability that each customer is still active.

        With ``t > 0``: the probability the customer will still be active ``t`` time
        units after the end of observation if they make no purchase until then (the
        curve that falls while a customer stays silent).
        """
        check_fitted(self)
        x, t_x, big_t, _ = check_rfm(frequency, recency, T)
        if self._no_dropout:
            return np.ones(np.broadcast(x, big_t + np.asarray(t, dtype=float)).shape)
        return np.exp(self._log_p_alive(x, t_x, big_t + np.asarray(t, dtype=float)))

    def predict_purchases(self, t, frequency, recency, T):
        """Expected number of purchases in the next ``t`` time units, per customer."""
        check_fitted(self)
        x, t_x, big_t, _ = check_rfm(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        if np.any(t < 0):
            raise DataError("'t' (the horizon) must be >= 0.")
        if self._no_dropout:
            return self._nbd_expected(t, x, big_t)
        p_alive = np.exp(self._log_p_alive(x, t_x, big_t))
        return p_alive * self._expected_if_alive(t, x, t_x, big_t)

    def predict_new_customer_purchases(self, t):
        """Expected repeat purchases in ``(0, t]`` of a customer just acquired."""
        check_fitted(self)
        t = np.asarray(t, dtype=float)
        flat = np.atleast_1d(t).ravel()
        zero = np.zeros_like(flat)
        if self._no_dropout:
            out = self._nbd_expected(flat, zero, zero)
        else:
            out = np.exp(self._log_p_alive(zero, zero, zero)) * self._expected_if_alive(
                flat, zero, zero, zero
            )
        return float(out[0]) if t.ndim == 0 else out.reshape(t.shape)

    def predict_discounted_purchases(self, frequency, recency, T, *, horizon, discount_rate,
                                     steps):
        """Expected purchases in ``(0, horizon]``, discounted per step.

        The horizon is cut into ``steps`` equal periods; purchases expected in period
        ``k`` are divided by ``(1 + discount_rate) ** k`` (so ``discount_rate`` is per
        period, e.g. monthly).
        """
        check_fitted(self)
        if steps < 1 or horizon <= 0 or discount_rate <= -1:
            raise DataError("Need horizon > 0, steps >= 1 and discount_rate > -1.")
        edges = np.linspace(0.0, float(horizon), int(steps) + 1)
        x, t_x, big_t, _ = check_rfm(frequency, recency, T)
        if self._no_dropout:
            p_alive = np.ones_like(x)
        else:
            p_alive = np.exp(self._log_p_alive(x, t_x, big_t))
        total = np.zeros_like(x)
        prev = np.zeros_like(x)
        for k in range(1, int(steps) + 1):
            if self._no_dropout:
                cur = self._nbd_expected(edges[k], x, big_t)
            else:
                cur = self._expected_if_alive(edges[k], x, t_x, big_t)
            total += (cur - prev) / (1.0 + discount_rate) ** k
            prev = cur
        return p_alive * total
