"""Shared fitting machinery for the statistical models.

A model subclass declares its parameter names and supplies two things: the
per-row log-likelihood with its analytic gradient (``_loglik``), and sensible
starting values (``_start``). This base class does the rest the same way for
every model:

* identical input rows are compressed into unique rows with weights, so a
  million customers with a few thousand distinct histories cost a few thousand
  likelihood evaluations;
* all parameters are positive and optimised on the log scale with L-BFGS-B and
  the analytic gradient, from a few starting points;
* standard errors come from the Hessian of the log-likelihood (finite differences
  of the analytic gradient) and the delta method;
* ``params_``, ``standard_errors_``, ``log_likelihood_``, ``aic_``, ``bic_``,
  ``summary_`` and ``print_summary()`` look the same on every model;
* a fit that does not converge raises :class:`~loyalist.errors.ConvergenceError`
  with numbered things to try.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize

from loyalist.errors import ConvergenceError, DataError, NotFittedError

_Z95 = 1.959963984540054
_WARM_ROWS = 50_000  # rows of the warm-start subsample for large fits
_SKIP_CHECK = 20_000  # rows sampled to decide whether compressing pays


def as_array(values, name: str, *, dtype=float) -> np.ndarray:
    """Turn one input column into a 1-D float array, naming it in any error."""
    if isinstance(values, pd.DataFrame):
        raise DataError(f"'{name}' must be one column (array or Series); got a DataFrame.")
    arr = np.asarray(values, dtype=dtype)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise DataError(f"'{name}' must be one-dimensional; got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).sum())
        raise DataError(
            f"'{name}' has {bad} missing or infinite value(s).",
            hint=f"drop or fill those rows before fitting, e.g. df.dropna(subset=['{name}']).",
        )
    return arr


def wdot(a, b):
    """Weighted sum ``a @ b`` without BLAS.

    OpenBLAS threads the dot products of long vectors; on a busy machine its spinning
    threads made a fit 50x slower, and these sums are memory-bound anyway.
    """
    a, b = np.asarray(a), np.asarray(b)
    if b.ndim == 2 and a.ndim == 1:
        return np.einsum("i,ij->j", a, b)
    if a.ndim == 2 and b.ndim == 1:
        return np.einsum("ij,j->i", a, b)
    return float(np.einsum("i,i->", a, b))


def check_fitted(model) -> None:
    """Raise NotFittedError when ``model`` has not been fitted yet."""
    if not hasattr(model, "params_"):
        raise NotFittedError(
            f"This {type(model).__name__} instance is not fitted yet.",
            hint=f"call {type(model).__name__}().fit(...) before using it.",
        )


def compress_rows(columns: Sequence[np.ndarray], weights: np.ndarray | None):
    """Unique rows of ``columns`` (sorted by the first column, then the next...) and the
    summed weight of each.

    Large inputs whose rows are (nearly) all distinct, e.g. continuous recency and age,
    are returned as they are: a sample of rows shows that sorting would not pay.
    """
    n = columns[0].size
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if n > 10 * _SKIP_CHECK:
        idx = np.random.default_rng(0).choice(n, _SKIP_CHECK, replace=False)
        sample, _ = _sorted_unique([c[idx] for c in columns], np.ones(_SKIP_CHECK))
        if sample[0].size > 0.98 * _SKIP_CHECK:
            keep = w > 0
            return [np.ascontiguousarray(c[keep]) for c in columns], w[keep]
    return _sorted_unique(columns, w)


def _sorted_unique(columns, w):
    n = columns[0].size
    order = np.lexsort(tuple(columns[::-1]))
    cols = [c[order] for c in columns]
    new_row = np.zeros(n, dtype=bool)
    new_row[:1] = True
    for c in cols:
        new_row[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new_row)
    w_u = np.add.reduceat(w[order], starts) if n else np.zeros(0)
    keep = w_u > 0
    return [c[starts][keep] for c in cols], w_u[keep]


def unique_index(values: np.ndarray):
    """``(uniq, inverse)`` of a 1-D array; O(n) for whole numbers such as frequencies."""
    if values.size and np.all(values[1:] >= values[:-1]):
        new = np.r_[True, values[1:] != values[:-1]]
        return values[new], np.cumsum(new) - 1
    if values.size:
        lo, hi = float(values.min()), float(values.max())
        if lo >= 0 and hi < 10 * values.size + 1_000_000:
            as_int = values.astype(np.int64)
            if np.array_equal(as_int, values):
                present = np.bincount(as_int) > 0
                position = np.cumsum(present) - 1
                return np.flatnonzero(present).astype(values.dtype), position[as_int]
    uniq, inverse = np.unique(values, return_inverse=True)
    return uniq, inverse.ravel()


class BaseFitter:
    """Base class of the likelihood models; not used directly."""

    _param_names: tuple[str, ...] = ()
    _data_names: tuple[str, ...] = ()

    # -- to be provided by subclasses -------------------------------------------------
    def _loglik(self, params: np.ndarray, data: dict, *, grad: bool):  # pragma: no cover
        """Per-row log-likelihood (n,) and, if ``grad``, its gradient (n, k)."""
        raise NotImplementedError

    def _loglik_sum(self, params: np.ndarray, data: dict, weights: np.ndarray):
        """Weighted total log-likelihood and its gradient (models may do this faster)."""
        ll, g = self._loglik(params, data, grad=True)
        return wdot(weights, ll), wdot(weights, g)

    def _prepare(self, data: dict) -> dict:
        """Add to the compressed data whatever stays fixed during the fit (cached indexes)."""
        return data

    def _start(self, data: dict, weights: np.ndarray) -> list[np.ndarray]:  # pragma: no cover
        """Starting parameter vectors (natural scale), best guess first."""
        raise NotImplementedError

    # -- sklearn-style helpers -------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict:
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params):
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"Invalid parameter {k!r} for {type(self).__name__}.")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_hyper(self) -> None:
        pen = getattr(self, "penalizer", 0.0)
        if not (isinstance(pen, (int, float)) and np.isfinite(pen) and pen >= 0):
            raise ValueError(
                f"The 'penalizer' parameter of {type(self).__name__} must be a float in the "
                f"range [0, inf). Got {pen!r} instead."
            )

    # -- the fit ---------------------------------------------------------------------
    def _objective(self, log_params, data, weights, total):
        params = np.exp(log_params)
        with np.errstate(all="ignore"):
            ll_sum, g_sum = self._loglik_sum(params, data, weights)
            value = -ll_sum / total
            gradient = -g_sum / total * params
        pen = float(getattr(self, "penalizer", 0.0))
        if pen:
            value += pen * float(params @ params)
            gradient += pen * 2.0 * params * params
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            return 1e300, np.zeros_like(log_params)
        return value, gradient

    def _optimise(self, data, weights, starts):
        """L-BFGS-B on log-parameters from each start until one converges."""
        total = float(weights.sum())
        best, tried = None, []
        for start in starts:
            x0 = np.log(np.asarray(start, dtype=float))
            res = optimize.minimize(
                self._objective, x0, args=(data, weights, total), jac=True, method="L-BFGS-B",
                bounds=[(-25.0, 25.0)] * len(x0),
                options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
            )
            tried.append(res)
            if np.isfinite(res.fun) and res.fun < 1e299 and (best is None or res.fun < best.fun):
                best = res
            if self._converged(best):
                break  # the other starting points are for fits that go astray
        return best, tried

    def _newton(self, x0, hess_mean, data, weights, max_iter=30):
        """Newton steps on all rows with a fixed Hessian (from a subsample's fit).

        The subsample Hessian is close to the full one, so each step costs one
        gradient evaluation and the error shrinks by a large factor per step.
        """
        total = float(weights.sum())
        pen = float(getattr(self, "penalizer", 0.0))
        x = np.asarray(x0, dtype=float).copy()
        f, g = self._objective(x, data, weights, total)
        hess_mean = hess_mean + np.diag(4.0 * pen * np.exp(2 * x))
        for it in range(1, max_iter + 1):
            h = hess_mean
            try:
                step = -np.linalg.solve(h, g)
            except np.linalg.LinAlgError:
                return None
            for _ in range(20):  # backtrack if the step overshoots
                x_new = np.clip(x + step, -25.0, 25.0)
                f_new, g_new = self._objective(x_new, data, weights, total)
                if f_new <= f + 1e-14 * abs(f):
                    break
                step /= 2.0
            else:
                return None
            # BFGS update of the curvature with the step just taken (superlinear steps)
            s_k, y_k = x_new - x, g_new - g
            if y_k @ s_k > 1e-16:
                hs = hess_mean @ s_k
                hess_mean = (hess_mean + np.outer(y_k, y_k) / (y_k @ s_k)
                             - np.outer(hs, hs) / (s_k @ hs))
            x, f, g = x_new, f_new, g_new
            if np.max(np.abs(g)) <= 1e-8:
                return optimize.OptimizeResult(x=x, fun=f, jac=g, nit=it, success=True,
                                               message="Newton steps converged")
        return optimize.OptimizeResult(x=x, fun=f, jac=g, nit=max_iter, success=False,
                                       message="Newton steps did not converge")

    def _fit_data(self, data: dict, weights: np.ndarray | None, n_obs: int):
        self._check_hyper()
        names = list(data)
        cols, w = compress_rows([data[k] for k in names], weights)
        data_u = self._prepare(dict(zip(names, cols, strict=True)))
        total = float(w.sum())
        if total <= 0:
            raise DataError(f"{type(self).__name__}.fit got no rows with positive weight.")
        starts = list(self._start(data_u, w))
        if w.size > 4 * _WARM_ROWS:
            # most iterations happen far from the optimum: take them on a random subsample
            # and finish on all rows from there
            idx = np.sort(np.random.default_rng(0).choice(w.size, _WARM_ROWS, replace=False))
            sub = self._prepare({k: c[idx] for k, c in zip(names, cols, strict=True)})
            warm, _ = self._optimise(sub, w[idx], starts)
            best, tried = None, []
            if self._converged(warm, tol=1e-4):
                h_sub = self._hessian_log(warm.x, sub, w[idx], float(w[idx].sum()))
                best = self._newton(warm.x, h_sub / float(w[idx].sum()), data_u, w)
                tried = [] if best is None else [best]
            if not self._converged(best):
                more, tried2 = self._optimise(data_u, w, [np.exp(warm.x), *starts]
                                              if warm is not None else starts)
                best, tried = more, tried + tried2
        else:
            best, tried = self._optimise(data_u, w, starts)
        if not self._converged(best, tol=1e-4):
            self._raise_convergence(best, tried)
        log_params = best.x
        params = np.exp(log_params)
        self.params_ = pd.Series(params, index=list(self._param_names), name="coef")
        # the optimiser's last value is the mean penalised negative log-likelihood
        pen = float(getattr(self, "penalizer", 0.0))
        self.log_likelihood_ = float(-(best.fun - pen * float(params @ params)) * total)
        self.n_obs_ = int(n_obs)
        self.n_unique_ = int(w.size)
        self.n_iter_ = int(best.nit)
        k = len(params)
        self.aic_ = 2 * k - 2 * self.log_likelihood_
        self.bic_ = k * np.log(total) - 2 * self.log_likelihood_
        # the unpenalised total gradient at the optimum, recovered from the optimiser's
        g0 = (np.asarray(best.jac) - 2.0 * pen * params * params) * total
        self.variance_matrix_ = self._covariance(log_params, data_u, w, total, g0)
        se = np.sqrt(np.clip(np.diag(self.variance_matrix_.to_numpy()), 0, None))
        self.standard_errors_ = pd.Series(se, index=self.params_.index, name="se(coef)")
        self.summary_ = self._summary(params, log_params, data_u, w, total)
        return self

    @staticmethod
    def _converged(res, tol=1e-6) -> bool:
        return (res is not None and bool(np.max(np.abs(res.jac)) <= tol)
                and not np.any(np.abs(res.x) >= 24.9))

    def _hessian_log(self, log_params, data, weights, total, g0=None) -> np.ndarray:
        """Hessian of the total negative log-likelihood in log-parameters.

        Forward differences of the analytic gradient: k + 1 gradient evaluations.
        """
        k = len(log_params)
        h = np.empty((k, k))
        if g0 is None:
            g0 = self._objective_unpenalized(log_params, data, weights)
        for i in range(k):
            step = 1e-6 * max(1.0, abs(log_params[i]))
            e = np.zeros(k)
            e[i] = step
            h[:, i] = (self._objective_unpenalized(log_params + e, data, weights) - g0) / step
        return (h + h.T) / 2

    def _objective_unpenalized(self, log_params, data, weights):
        params = np.exp(log_params)
        with np.errstate(all="ignore"):
            _, g_sum = self._loglik_sum(params, data, weights)
        return -g_sum * params

    def _covariance(self, log_params, data, weights, total, g0=None) -> pd.DataFrame:
        idx = list(self._param_names)
        h = self._hessian_log(log_params, data, weights, total, g0)
        try:
            cov_log = np.linalg.inv(h)
        except np.linalg.LinAlgError:
            cov_log = np.full_like(h, np.nan)
        if not np.all(np.isfinite(cov_log)) or np.any(np.diag(cov_log) <= 0):
            raise ConvergenceError(
                f"{type(self).__name__} reached a point where the log-likelihood is flat or "
                "not at a maximum (the Hessian is not positive definite): the data do not "
                f"identify every parameter (estimates: {np.round(np.exp(log_params), 4).tolist()}).",
                hint=self._what_to_try(),
            )
        self._cov_log = cov_log
        params = np.exp(log_params)
        cov = cov_log * np.outer(params, params)
        return pd.DataFrame(cov, index=idx, columns=idx)

    def _summary(self, params, log_params, data, weights, total) -> pd.DataFrame:
        se_log = np.sqrt(np.clip(np.diag(self._cov_log), 0, None))
        with np.errstate(over="ignore"):  # a very uncertain parameter has an infinite bound
            return pd.DataFrame(
                {
                    "coef": params,
                    "se(coef)": self.standard_errors_.to_numpy(),
                    "lower 95% bound": np.exp(log_params - _Z95 * se_log),
                    "upper 95% bound": np.exp(log_params + _Z95 * se_log),
                },
                index=pd.Index(list(self._param_names), name="param"),
            )

    def _raise_convergence(self, best, tried) -> None:
        name = type(self).__name__
        detail = "no finite log-likelihood was reached"
        if best is not None:
            detail = (
                f"best attempt stopped with message {best.message!r}, max |gradient| "
                f"{np.max(np.abs(best.jac)):.2e}, log-parameters {np.round(best.x, 3).tolist()}"
            )
        raise ConvergenceError(
            f"{name} did not converge ({len(tried)} starting points tried; {detail}).",
            hint=self._what_to_try(),
        )

    def _what_to_try(self) -> str:
        name = type(self).__name__
        return (
            "1. check the inputs: frequency counts repeat purchases (first purchase "
            "excluded), 0 <= recency <= T, and all in the same time unit; "
            "2. rescale time (weeks instead of days) so that parameters are of order 1-100; "
            f"3. add a small L2 penalty, e.g. {name}(penalizer=0.001); "
            "4. a parameter running to 0 or infinity means the data do not identify the "
            "model: try a simpler one (e.g. BGNBD instead of ParetoNBD), or more history."
        )

    # -- reporting -------------------------------------------------------------------
    def print_summary(self, decimals: int = 4, file=None) -> None:
        """Print the fitted parameters, standard errors and fit statistics."""
        check_fitted(self)
        lines = [
            f"<loyalist.models.{type(self).__name__}>",
            f"  observations = {self.n_obs_:,} ({self.n_unique_:,} unique rows)",
            f"  log-likelihood = {self.log_likelihood_:.{decimals}f}",
            f"  AIC = {self.aic_:.{decimals}f}, BIC = {self.bic_:.{decimals}f}",
            f"  penalizer = {getattr(self, 'penalizer', 0.0)}",
            "",
            self.summary_.round(decimals).to_string(),
        ]
        print("\n".join(lines), file=file)
