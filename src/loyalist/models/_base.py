"""Shared fitting machinery for the statistical models.

A model subclass declares its parameter names and supplies two things: the
per-row log-likelihood with its analytic gradient (``_loglik``), and sensible
starting values (``_start``). This base class does the rest the same way for
every model:

* identical input rows are compressed into unique rows with weights, so a
  million customers with a few thousand distinct histories cost a few thousand
  likelihood evaluations;
* all parameters are positive and optimised with L-BFGS-B and the analytic
  gradient, from a few starting points, on coordinates ``theta`` (by default the
  log of each parameter; a model may pick coordinates in which the limits of its
  family are finite bounds, see ``_transactions.py``);
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
from threadpoolctl import threadpool_limits

from loyalist.errors import ConvergenceError, DataError, NotFittedError
from loyalist.models._solution import Solution, _on_bound, _projected_gradient

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
    _mode_keys: tuple[str, ...] = ()  # data keys that select a variant of the likelihood

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

    # -- optimisation coordinates ----------------------------------------------------
    # The optimiser works on a vector ``theta``: by default the log of each parameter.
    # A model may choose coordinates in which the limits of its family are finite points
    # (e.g. the mean purchase rate and 1/r instead of r and alpha), so that an optimum
    # at such a limit is a bound the optimiser reaches, not a ridge it wanders along.
    def _theta_from_params(self, params) -> np.ndarray:
        return np.log(np.asarray(params, dtype=float))

    def _params_from_theta(self, theta) -> np.ndarray:
        return np.exp(np.asarray(theta, dtype=float))

    def _dparams_dtheta(self, theta) -> np.ndarray:
        """Jacobian ``d params / d theta`` (k x k)."""
        return np.diag(np.exp(np.asarray(theta, dtype=float)))

    def _theta_bounds(self) -> list[tuple[float, float]]:
        return [(-25.0, 25.0)] * len(self._param_names)

    def _loglik_sum_theta(self, theta, data, weights):
        """Weighted total log-likelihood and its gradient in ``theta``."""
        params = self._params_from_theta(theta)
        ll, g = self._loglik_sum(params, data, weights)
        return ll, self._dparams_dtheta(theta).T @ g

    def _limit_watch(self, data, frame):
        """A callback that stops the optimiser once it is heading into a limit whose
        exact value the model evaluates separately (``None``: no such limit)."""
        return None

    def _penalty_mask(self, data) -> np.ndarray:
        """Which parameters the L2 penalty applies to (all, unless a model says not)."""
        return np.ones(len(self._param_names), dtype=bool)

    # -- the fit ---------------------------------------------------------------------
    def _objective(self, theta, data, weights, total, frame=None):
        """Mean penalised negative log-likelihood and its gradient in the free
        coordinates; ``frame = (full theta, free mask)`` holds the others fixed."""
        full = theta
        if frame is not None:
            full = frame[0].copy()
            full[frame[1]] = theta
        with np.errstate(all="ignore"):
            ll_sum, g_sum = self._loglik_sum_theta(full, data, weights)
            value = -ll_sum / total
            gradient = -np.asarray(g_sum, dtype=float) / total
            pen = float(getattr(self, "penalizer", 0.0))
            if pen:
                mask = self._penalty_mask(data)
                p = np.where(mask, self._params_from_theta(full), 0.0)
                value += pen * float(p @ p)
                gradient = gradient + pen * 2.0 * (self._dparams_dtheta(full).T @ p)
        if frame is not None:
            gradient = gradient[frame[1]]
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            return 1e300, np.zeros_like(theta)
        return value, gradient

    def _optimise(self, data, weights, starts, frame=None):
        """L-BFGS-B from each start (theta vectors, free coordinates only with a
        ``frame``) until one converges."""
        total = float(weights.sum())
        bounds = self._theta_bounds()
        if frame is not None:
            bounds = [b for b, keep in zip(bounds, frame[1], strict=True) if keep]
        best, tried = None, []
        for start in starts:
            x0 = np.clip(np.asarray(start, dtype=float), [b[0] for b in bounds],
                         [b[1] for b in bounds])
            watch = self._limit_watch(data, frame)
            res = optimize.minimize(
                self._objective, x0, args=(data, weights, total, frame), jac=True,
                method="L-BFGS-B", bounds=bounds, callback=watch,
                options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
            )
            res.bounds = bounds
            res.stopped_at_limit = bool(watch is not None and watch.hit)
            tried.append(res)
            if np.isfinite(res.fun) and res.fun < 1e299 and (best is None or res.fun < best.fun):
                best = res
            if self._converged(best) or res.stopped_at_limit:
                break  # the other starting points are for fits that go astray
        return best, tried

    def _newton(self, x0, hess_mean, data, weights, max_iter=30):
        """Newton steps on all rows with a fixed Hessian (from a subsample's fit).

        The subsample Hessian is close to the full one, so each step costs one
        gradient evaluation and the error shrinks by a large factor per step.
        """
        total = float(weights.sum())
        bounds = self._theta_bounds()
        lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
        x = np.asarray(x0, dtype=float).copy()
        f, g = self._objective(x, data, weights, total)
        pen = float(getattr(self, "penalizer", 0.0))
        if pen:
            j = self._dparams_dtheta(x)
            hess_mean = hess_mean + 2.0 * pen * (j.T @ j)
        for it in range(1, max_iter + 1):
            h = hess_mean
            try:
                step = -np.linalg.solve(h, g)
            except np.linalg.LinAlgError:
                return None
            for _ in range(20):  # backtrack if the step overshoots
                x_new = np.clip(x + step, lo, hi)
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
                res = optimize.OptimizeResult(x=x, fun=f, jac=g, nit=it, success=True,
                                              message="Newton steps converged")
                res.bounds = bounds
                return res
        res = optimize.OptimizeResult(x=x, fun=f, jac=g, nit=max_iter, success=False,
                                      message="Newton steps did not converge")
        res.bounds = bounds
        return res

    def _solve(self, data: dict, weights: np.ndarray | None, *, fixed: dict | None = None,
               extra_starts=()):
        """Maximise the likelihood; returns a :class:`Solution` (no attribute is set).

        ``fixed`` maps coordinate indexes to values held constant (a limit of the
        model); ``extra_starts`` are further starting points in ``theta``.
        """
        # L-BFGS-B's own steps are BLAS calls on vectors of 2-4 numbers: with threaded
        # OpenBLAS on a busy machine they cost milliseconds each (5x the whole fit of
        # 600 customers); the likelihoods do not use BLAS (see wdot)
        with threadpool_limits(limits=1, user_api="blas"):
            return self._solve_single_thread(data, weights, fixed, extra_starts)

    def _solve_single_thread(self, data, weights, fixed, extra_starts):
        self._check_hyper()
        names = [k for k in data if not k.startswith("_")]
        flags = {k: v for k, v in data.items() if k in self._mode_keys}
        cols, w = compress_rows([data[k] for k in names], weights)
        data_u = self._prepare({**dict(zip(names, cols, strict=True)), **flags})
        total = float(w.sum())
        if total <= 0:
            raise DataError(f"{type(self).__name__}.fit got no rows with positive weight.")
        k = len(self._param_names)
        starts = [self._theta_from_params(p) for p in self._start(data_u, w)]
        starts = [*extra_starts, *starts]
        frame = None
        if fixed:
            free = np.ones(k, dtype=bool)
            base = np.asarray(starts[0], dtype=float).copy()
            for i, v in fixed.items():
                free[i] = False
                base[i] = v
            frame = (base, free)
            starts = [np.asarray(s, dtype=float)[free] for s in starts]
        if w.size > 4 * _WARM_ROWS and frame is None:
            # most iterations happen far from the optimum: take them on a random subsample
            # and finish on all rows from there
            idx = np.sort(np.random.default_rng(0).choice(w.size, _WARM_ROWS, replace=False))
            sub = self._prepare({**{n: c[idx] for n, c in zip(names, cols, strict=True)},
                                 **flags})
            warm, _ = self._optimise(sub, w[idx], starts)
            best, tried = None, []
            if self._converged(warm, tol=1e-4) and not _on_bound(warm).any():
                h_sub = self._hessian_theta(warm.x, sub, w[idx])
                best = self._newton(warm.x, h_sub / float(w[idx].sum()), data_u, w)
                tried = [] if best is None else [best]
            if not self._converged(best):
                more, tried2 = self._optimise(data_u, w, [warm.x, *starts]
                                              if warm is not None else starts)
                best, tried = more, tried + tried2
        else:
            best, tried = self._optimise(data_u, w, starts, frame)
        converged = self._converged(best, tol=1e-4)
        theta = None
        if best is not None:
            theta = np.asarray(best.x, dtype=float)
            if frame is not None:
                theta = frame[0].copy()
                theta[frame[1]] = best.x
        return Solution(self, best, tried, theta, frame, data_u, w, total, converged)

    def _fit_data(self, data: dict, weights: np.ndarray | None, n_obs: int):
        sol = self._solve(data, weights)
        if not sol.converged:
            self._raise_convergence(sol.best, sol.tried)
        return self._adopt(sol, n_obs)

    def _adopt(self, sol: Solution, n_obs: int):
        """Set the fitted attributes from a solution."""
        theta = sol.theta
        params = self._params_from_theta(theta)
        self._theta_ = theta
        self.params_ = pd.Series(params, index=list(self._param_names), name="coef")
        self.log_likelihood_ = sol.log_likelihood
        self.n_obs_ = int(n_obs)
        self.n_unique_ = int(sol.weights.size)
        self.n_iter_ = int(sol.best.nit)
        k = int(sol.n_free)
        self.aic_ = 2 * k - 2 * self.log_likelihood_
        self.bic_ = k * np.log(sol.total) - 2 * self.log_likelihood_
        cov_theta = sol.covariance()
        if cov_theta is None:
            raise ConvergenceError(
                f"{type(self).__name__} reached a point where the log-likelihood is flat or "
                "not at a maximum (the Hessian is not positive definite): the data do not "
                f"identify every parameter (estimates: {np.round(params, 4).tolist()}).",
                hint=self._what_to_try(),
            )
        self._set_uncertainty(theta, cov_theta)
        return self

    def _set_uncertainty(self, theta, cov_theta):
        """Standard errors (delta method) and the summary with 95% intervals computed
        on the log scale of each parameter (so always positive)."""
        idx = list(self._param_names)
        params = self._params_from_theta(theta)
        jac = self._dparams_dtheta(theta)
        with np.errstate(all="ignore"):
            cov = jac @ cov_theta @ jac.T
            cov[~np.isfinite(cov)] = np.nan
            jac_log = jac / params[:, None]
            var_log = np.einsum("ij,jk,ik->i", jac_log, np.nan_to_num(cov_theta), jac_log)
            # a coordinate with infinite variance (not identified) spreads to every
            # parameter that depends on it
            inf_var = ~np.isfinite(np.diag(cov_theta))
            touched = (np.abs(jac_log[:, inf_var]) > 0).any(axis=1)
            var_log[touched] = np.inf
        self.variance_matrix_ = pd.DataFrame(cov, index=idx, columns=idx)
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        se[touched] = np.inf
        self.standard_errors_ = pd.Series(se, index=self.params_.index, name="se(coef)")
        se_log = np.sqrt(np.clip(var_log, 0, None))
        with np.errstate(over="ignore", invalid="ignore"):
            self.summary_ = pd.DataFrame(
                {
                    "coef": params,
                    "se(coef)": self.standard_errors_.to_numpy(),
                    "lower 95% bound": np.exp(np.log(params) - _Z95 * se_log),
                    "upper 95% bound": np.exp(np.log(params) + _Z95 * se_log),
                },
                index=pd.Index(idx, name="param"),
            )

    @staticmethod
    def _converged(res, tol=1e-6) -> bool:
        """Projected gradient below ``tol`` (a coordinate on a bound may push outwards)."""
        if res is None or not np.isfinite(res.fun) or res.fun >= 1e299:
            return False
        return bool(np.max(np.abs(_projected_gradient(res)), initial=0.0) <= tol)

    def _hessian_theta(self, theta, data, weights, free=None, g0=None) -> np.ndarray:
        """Hessian of the total negative log-likelihood in ``theta`` (free coordinates).

        Forward differences of the analytic gradient: k + 1 gradient evaluations (k when
        the gradient at ``theta``, ``g0``, is known).
        """
        theta = np.asarray(theta, dtype=float)
        k = theta.size
        free = np.ones(k, dtype=bool) if free is None else free
        cols = np.flatnonzero(free)
        if g0 is None:
            g0 = self._gradient_unpenalized(theta, data, weights)
        h = np.empty((k, cols.size))
        for c, i in enumerate(cols):
            step = 1e-6 * max(1.0, abs(theta[i]))
            e = np.zeros(k)
            e[i] = step
            h[:, c] = (self._gradient_unpenalized(theta + e, data, weights) - g0) / step
        h = h[cols]
        return (h + h.T) / 2

    def _gradient_unpenalized(self, theta, data, weights):
        with np.errstate(all="ignore"):
            _, g_sum = self._loglik_sum_theta(theta, data, weights)
        return -np.asarray(g_sum, dtype=float)

    def _raise_convergence(self, best, tried) -> None:
        name = type(self).__name__
        detail = "no finite log-likelihood was reached"
        if best is not None:
            detail = (
                f"best attempt stopped with message {best.message!r}, max |gradient| "
                f"{np.max(np.abs(best.jac)):.2e}, coordinates {np.round(best.x, 3).tolist()}"
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
            "model: try a simpler one, or more history."
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
        status = getattr(self, "status_", None)
        if status is not None:
            lines.insert(1, f"  status = {status}")
        notes = [*getattr(self, "param_notes_", {}).items()]
        lines += [f"  {name}: {text}" for name, text in notes]
        lines += [f"Note: {text}" for text in getattr(self, "notes_", [])]
        print("\n".join(lines), file=file)
