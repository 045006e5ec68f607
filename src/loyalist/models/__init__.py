"""Statistical models of customer lifetime value and "still a customer?".

Continuous-time, non-contractual (input: frequency / recency / T):
:class:`BGNBD`, :class:`MBGNBD`, :class:`ParetoNBD`. Discrete opportunities:
:class:`BGBB`. Spend per transaction: :class:`GammaGamma`. Contractual cohorts:
:class:`ShiftedBetaGeometric`. Lifetime value: :func:`customer_lifetime_value`;
the whole pipeline from an orders table: :func:`fit_value`.

All follow the scikit-learn estimator contract: ``__init__`` stores parameters,
``fit`` returns ``self``, learned attributes end in ``_`` (``params_``,
``summary_``, ``log_likelihood_``...), and ``print_summary()`` shows the fit.
"""

__all__ = [
    "BGBB", "BGNBD", "BoundaryWarning", "GammaGamma", "MBGNBD", "ParetoNBD",
    "ShiftedBetaGeometric", "ValueResult", "customer_lifetime_value", "fit_value",
]


#: where each public name lives: loaded on first use, so importing one model (the churn
#: model, say) does not load SciPy's optimisers for the others
_HOME = {"BoundaryWarning": "_transactions", "BGBB": "bgbb", "BGNBD": "bgnbd",
         "MBGNBD": "bgnbd", "customer_lifetime_value": "clv", "GammaGamma": "gammagamma",
         "ParetoNBD": "paretonbd", "ShiftedBetaGeometric": "sbg", "ValueResult": "value",
         "fit_value": "value"}


def __getattr__(name):
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(f"loyalist.models.{_HOME[name]}"), name)
    raise AttributeError(f"module 'loyalist.models' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_HOME])
