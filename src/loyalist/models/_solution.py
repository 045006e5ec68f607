"""The outcome of one likelihood maximisation, and what can be read from it.

A :class:`Solution` keeps the optimiser's result with the (compressed) data it was
computed on, says which coordinates ended on a bound of the fit coordinates (a limit of
the model) and gives the covariance of the free ones, treating flat directions as not
estimated rather than failing. :class:`~loyalist.models._base.BaseFitter` produces them;
the transaction models compare several (the full model and its limits) before adopting
one.
"""

from __future__ import annotations

import numpy as np


def _on_bound(res, rel=1e-9) -> np.ndarray:
    """Which coordinates of an optimiser result sit on their lower (-1) or upper (+1)
    bound (0: inside)."""
    x = np.asarray(res.x, dtype=float)
    lo = np.array([b[0] for b in res.bounds])
    hi = np.array([b[1] for b in res.bounds])
    tol = rel * np.maximum(1.0, np.abs(x))
    return np.where(x <= lo + tol, -1, np.where(x >= hi - tol, 1, 0))


def _projected_gradient(res) -> np.ndarray:
    """The gradient with the components that push against a bound removed."""
    g = np.asarray(res.jac, dtype=float).copy()
    if getattr(res, "bounds", None) is None:
        return g
    side = _on_bound(res)
    g[(side < 0) & (g > 0)] = 0.0
    g[(side > 0) & (g < 0)] = 0.0
    return g


class Solution:
    """The outcome of one likelihood maximisation (no model attribute is touched).

    ``theta`` is the full coordinate vector; ``side`` says, per coordinate, whether it
    ended on its lower (-1) or upper (+1) bound or inside (0); coordinates held fixed
    by the caller have ``side`` 2.
    """

    def __init__(self, model, best, tried, theta, frame, data, weights, total, converged):
        self.model, self.best, self.tried = model, best, tried
        self.theta, self.frame = theta, frame
        self.data, self.weights, self.total = data, weights, total
        self.converged = converged
        k = len(model._param_names)
        self.side = np.zeros(k, dtype=int)
        if best is not None:
            inner = _on_bound(best)
            if frame is None:
                self.side = inner
            else:
                self.side[:] = 2
                self.side[frame[1]] = inner
        self._cov = {}

    @property
    def n_free(self) -> int:
        return int((self.side == 0).sum())

    @property
    def log_likelihood(self) -> float:
        """Unpenalised log-likelihood at ``theta`` (minus infinity without a solution),
        recovered from the optimiser's last value (the mean penalised negative one)."""
        if self.theta is None or self.best is None or not np.isfinite(self.best.fun):
            return -np.inf
        return float(-(self.best.fun - self._penalty()) * self.total)

    def _penalty(self) -> float:
        pen = float(getattr(self.model, "penalizer", 0.0))
        if not pen:
            return 0.0
        p = np.where(self.model._penalty_mask(self.data),
                     self.model._params_from_theta(self.theta), 0.0)
        return pen * float(p @ p)

    def _gradient(self):
        """The unpenalised total gradient in theta at the optimum, from the optimiser's
        last gradient when every coordinate was free (else None: evaluate it)."""
        if self.frame is not None or self.best is None:
            return None
        pen = float(getattr(self.model, "penalizer", 0.0))
        g = np.asarray(self.best.jac, dtype=float).copy()
        if pen:
            p = np.where(self.model._penalty_mask(self.data),
                         self.model._params_from_theta(self.theta), 0.0)
            g -= pen * 2.0 * (self.model._dparams_dtheta(self.theta).T @ p)
        return g * self.total

    def covariance(self, *, fill_flat: bool = False):
        """Covariance of ``theta`` from the inverse Hessian of the free coordinates.

        Coordinates on a bound or held fixed get variance 0 (they are not estimated
        there). With ``fill_flat``, directions along which the log-likelihood is flat
        get infinite variance in every coordinate they involve; otherwise a Hessian
        that is not positive definite gives ``None``.
        """
        if fill_flat in self._cov:
            return self._cov[fill_flat]
        self._cov[fill_flat] = cov = self._covariance(fill_flat)
        return cov

    def _covariance(self, fill_flat):
        k = self.theta.size
        free = self.side == 0
        cov = np.zeros((k, k))
        if not free.any():
            return cov
        h = self.model._hessian_theta(self.theta, self.data, self.weights, free,
                                      g0=self._gradient())
        vals, vecs = np.linalg.eigh(h)
        flat = vals <= 1e-9 * max(float(np.abs(vals).max(initial=0.0)), 1e-300)
        if flat.any() and not fill_flat:
            return None
        inv = np.zeros_like(h)
        if (~flat).any():
            v = vecs[:, ~flat]
            inv = v @ np.diag(1.0 / vals[~flat]) @ v.T
        if flat.any():
            # coordinates along a flat direction: not estimated (infinite variance)
            involved = (np.abs(vecs[:, flat]) > 1e-3).any(axis=1)
            inv[np.ix_(involved, ~involved)] = 0.0
            inv[np.ix_(~involved, involved)] = 0.0
            inv[np.ix_(involved, involved)] = np.inf
        cov[np.ix_(free, free)] = inv
        return cov
