"""The excess-hazard model behind the losses by department, its attribution and the
interval on it (:func:`~loyalist.team.losses.department_losses` counts the patterns in
the engine; this module only sees the pattern table and the lost customers' windows).

The model, per customer-month at risk: ``h = exp(a + g . z) + sum_k beta_k x_k`` with
every ``beta_k >= 0``, fitted by Poisson maximum likelihood on the failure patterns
(``n`` customer-months and ``d`` departures each). A lost customer's chance that
department ``D``'s failures made them leave is ``sum_{k in D} beta_k x_k / h``. Only
kinds whose excess is credibly above 0 keep it (:func:`select_kinds`).

**The interval** (:func:`attribution_interval`) answers "how much of the lost revenue
did each department's failures really cost", and has two parts, drawn together:

1. the fit's uncertainty: a Poisson bootstrap of the pattern table (each customer-month
   weighed by a Poisson(1) draw, so a pattern's departures and stays are Poisson draws
   around their counts), each replicate one Newton step from the point estimate
   (:func:`bootstrap_fits`);
2. the cause of each loss is one draw: under the refitted model, each lost customer's
   cause is drawn among the departments and ``no department`` with the model's shares,
   and the revenue of the drawn causes summed.

The percentiles of the replicates give the interval. A few large customers carrying most
of the lost revenue widen it, as they widen the spread of the true share. Customer-months
of one customer are treated as independent in part 1 (the pattern table keeps no
customer), which may make it a little narrow; ``tests/test_losses_truth.py`` checks how
often it covers the generator's truth.
"""

from __future__ import annotations

import numpy as np

#: replicates of the interval (200: a 90% interval's ends move by about a point of share
#: between seeds on the synthetic business)
REPS = 200
LEVEL = 0.9


def exposure(orders) -> np.ndarray:
    """Exposure covariate: log(1 + orders) in the window (frequent buyers meet more
    order failures and, in the records, leave less)."""
    return np.log1p(np.asarray(orders, dtype=float))[:, None]


def fit_excess(x, z, d, n, start=None):
    """Poisson MLE of h = exp(a + g.z) + x.beta with beta >= 0, over patterns: ``n``
    customer-months and ``d`` departures each. Returns ``(a, g, beta)``."""
    from scipy.optimize import minimize  # here: importing it costs every `loyalist team` 1-2 s

    k, q = x.shape[1], z.shape[1]

    def nll(p):
        a, g, b = p[0], p[1:1 + q], p[1 + q:]
        base = np.exp(np.clip(a + z @ g, -30, 5))
        h = np.maximum(base + x @ b, 1e-300)
        ll = d * np.log(h) - n * h
        dh = d / h - n
        grad = np.concatenate([[-(dh * base).sum()], -(z * (dh * base)[:, None]).sum(0),
                               -(x * dh[:, None]).sum(0)])
        return -ll.sum(), grad

    if start is None:
        rate = max(d.sum() / n.sum(), 1e-6)
        start = np.concatenate([[np.log(rate)], np.zeros(q), np.full(k, rate * 0.1)])
    else:
        start = np.concatenate([[start[0]], start[1], start[2]])
    bounds = [(None, None)] * (1 + q) + [(0.0, None)] * k
    res = minimize(nll, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return res.x[0], res.x[1:1 + q], res.x[1 + q:]


def kind_shares(fit, xl, zl) -> np.ndarray:
    """Per lost customer (rows of ``xl``) and kind: ``beta_k x_k / h``."""
    a, g, beta = fit
    base = np.exp(np.clip(a + zl @ g, -30, 5))
    parts = xl * beta[None, :]
    h = base + parts.sum(axis=1)
    return parts / h[:, None]


def _information(x, z, n, fit):
    """The hazard ``h`` per pattern, its Jacobian in ``(a, g, beta)`` and the expected
    (Fisher) information of the Poisson fit at ``fit``."""
    a, g, beta = fit
    base = np.exp(np.clip(a + z @ g, -30, 5))
    h = np.maximum(base + x @ beta, 1e-300)
    jac = np.column_stack([base, z * base[:, None], x])  # dh / d(a, g, beta)
    return h, jac, (jac * (n / h)[:, None]).T @ jac


#: one-sided z a kind's excess must reach to be kept (5%)
KEEP_Z = 1.645


def select_kinds(x, z, d, n, fit, *, keep_z: float = KEEP_Z):
    """The fit with every kind whose excess is not credibly above 0 set to 0 and the rest
    refitted (a one-sided Wald test at 5%, the weak kinds dropped together, repeated until
    every kind left passes).

    With ``beta >= 0`` a kind that adds no risk still gets a positive ``beta`` in about
    half of all samples (its noise is cut at 0 on one side only), so the fit's kinds
    with no effect add up to a share above 0: on the synthetic business at 3,000
    customers the returns and product requests (no effect in the generator) took 3.5-13
    points of the lost revenue and billing up to 3. Testing each kind keeps a kind with
    no effect at 0 in about 95% of samples."""
    q = z.shape[1]
    a, g, beta = fit
    beta = np.asarray(beta, float).copy()
    for _ in range(x.shape[1]):
        keep = np.flatnonzero(beta > 1e-12)
        if not len(keep):
            break
        _h, _j, info = _information(x[:, keep], z, n, (a, g, beta[keep]))
        cov = np.linalg.pinv(info)
        se = np.sqrt(np.maximum(np.diag(cov)[1 + q:], 1e-300))
        weak = beta[keep] / se < keep_z
        if not weak.any():
            break
        beta[keep[weak]] = 0.0
        kept = keep[~weak]
        a, g, b = fit_excess(x[:, kept], z, d, n, start=(a, g, beta[kept]))
        beta[kept] = b
    return a, g, beta


def bootstrap_fits(x, z, d, stay, fit, reps: int, rng, chunk: int = 50, keep_z=None):
    """``reps`` fits of the Poisson bootstrap of the pattern table (departures and stays
    of each pattern drawn Poisson around their counts), each a one-step Newton update
    from the point estimate ``fit`` with its expected information, the kinds at the
    bound (beta = 0) entering only when the replicate's score pushes them above it.
    A full refit per replicate would cost the fit again ``reps`` times (about 1 s each
    at 3,000 customers); the one step has the same large-sample spread.

    With ``keep_z`` each replicate goes through :func:`select_kinds`' test too (a kind
    whose replicate ``beta`` is under ``keep_z`` of its standard error at the point
    estimate gets 0), so the interval is that of the estimate with its selection."""
    a, g, beta = fit
    q = z.shape[1]
    h, jac, info = _information(x, z, d + stay, fit)
    theta = np.concatenate([[a], g, beta])
    free = np.concatenate([np.ones(1 + q, bool), beta > 1e-12])
    bound = np.flatnonzero(~free)
    fi = np.flatnonzero(free)
    inv = np.linalg.pinv(info[np.ix_(fi, fi)])
    se = 1 / np.sqrt(np.maximum(np.diag(info), 1e-300))  # kinds at the bound: alone
    se[fi] = np.sqrt(np.maximum(np.diag(inv), 1e-300))
    se = se[1 + q:]
    done = 0
    while done < reps:
        b = min(chunk, reps - done)
        dr = rng.poisson(d, size=(b, len(d))).astype(float)
        nr = dr + rng.poisson(stay, size=(b, len(d)))
        score = (dr / h - nr) @ jac  # b x params, at the point estimate
        step = np.zeros_like(score)
        step[:, fi] = score[:, fi] @ inv
        if len(bound):
            push = score[:, bound] - step[:, fi] @ info[np.ix_(fi, bound)]
            step[:, bound] = np.maximum(push / np.diag(info)[bound], 0.0)
        for row in theta[None, :] + step:
            rb = np.maximum(row[1 + q:], 0.0)
            if keep_z is not None:
                rb[rb < keep_z * se] = 0.0
            yield row[0], row[1:1 + q], rb
        done += b


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, axis=0, return_inverse=True)`` (the same rows in the same order)
    by a sort of the columns: numpy's sorts the rows as one opaque type, 2.8 s for the
    311,788 lost customers of a 1M-customer store against about 0.1 s."""
    if not len(a):
        return a[:0], np.zeros(0, np.int64)
    order = np.lexsort(a.T[::-1])
    s = a[order]
    new = np.ones(len(s), bool)
    new[1:] = (s[1:] != s[:-1]).any(axis=1)
    inv = np.empty(len(s), np.int64)
    inv[order] = np.cumsum(new) - 1
    return s[new], inv


def draw_causes(cum: np.ndarray, inv: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Each customer's drawn cause: the number of columns of their pattern's cumulative
    shares (``cum[inv]``, non-decreasing along a row) at or below their uniform draw
    ``u``, counted one column at a time (the same as ``(u[:, None] >= cum[inv]).sum(1)``
    without the customers x columns array, a tenth of the time at 1M customers)."""
    cause = np.zeros(len(u), np.int64)
    for col in np.ascontiguousarray(cum.T):
        cause += u >= col[inv]
    return cause


def attribution_interval(x, z, d, n, xl, zl, revenue, group, groups: int, dept_of_kind,
                         depts: int, fit, *, reps: int = REPS, level: float = LEVEL,
                         seed: int = 0, keep_z=None) -> tuple[np.ndarray, np.ndarray]:
    """Interval on the lost revenue each department's failures cost, per group.

    Parameters
    ----------
    x, z, d, n : arrays
        The fit's pattern table (failure counts, exposure, departures, customer-months).
    xl, zl, revenue : arrays
        The lost customers' failure counts, exposure and revenue.
    group : int array
        Each lost customer's group (a period), ``0..groups-1``; the last group index
        ``groups`` is added for every lost customer together.
    dept_of_kind : int array
        Each kind's department index ``0..depts-1``; index ``depts`` is no department.
    fit : tuple
        The point estimate ``(a, g, beta)`` (the replicates start from it).
    keep_z : float, optional
        The point estimate went through :func:`select_kinds` with this bar: each
        replicate goes through the same test (:func:`bootstrap_fits`).

    The draws follow the order of the lost customers as given (the caller sorts them by
    customer) and the patterns' values (any order in).

    Returns
    -------
    (low, high) : arrays of shape (groups + 1, depts + 1)
        The ``level`` interval of the revenue lost to each department (last column: no
        department) per group, the last row every group together.
    """
    rng = np.random.default_rng(seed)
    # the same draws whatever order the patterns came in (DuckDB and Spark alike)
    key = np.column_stack([x, z, d, n])
    order = np.lexsort(key.T[::-1])
    x, z = x[order], z[order]
    d = np.asarray(d, float)[order]
    stay = np.asarray(n, float)[order] - d
    revenue = np.asarray(revenue, float)
    group = np.asarray(group, np.int64)
    onehot = np.zeros((len(dept_of_kind), depts), dtype=float)
    onehot[np.arange(len(dept_of_kind)), np.asarray(dept_of_kind, np.int64)] = 1.0
    m = len(revenue)
    cells = (groups + 1) * (depts + 1)
    out = np.empty((reps, groups + 1, depts + 1))
    # lost customers share failure patterns: the shares are computed once per pattern
    ux, inv = unique_rows(np.column_stack([xl, zl]))
    ux, uz = ux[:, :xl.shape[1]], ux[:, xl.shape[1]:]
    for r, f in enumerate(bootstrap_fits(x, z, d, stay, fit, reps, rng, keep_z=keep_z)):
        cum = np.cumsum(kind_shares(f, ux, uz) @ onehot, axis=1)
        cause = draw_causes(cum, inv, rng.random(m))  # depts: no department
        per = np.bincount(group * (depts + 1) + cause, weights=revenue,
                          minlength=cells)[:groups * (depts + 1)]
        per = per.reshape(groups, depts + 1)
        out[r, :groups] = per
        out[r, groups] = per.sum(axis=0)
    q = (1 - level) / 2
    return np.quantile(out, q, axis=0), np.quantile(out, 1 - q, axis=0)


__all__ = ["KEEP_Z", "LEVEL", "REPS", "attribution_interval", "bootstrap_fits", "draw_causes",
           "exposure", "fit_excess", "kind_shares", "select_kinds", "unique_rows"]
