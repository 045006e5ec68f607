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

from loyalist.models._transactions import BoundaryWarning
from loyalist.models.bgbb import BGBB
from loyalist.models.bgnbd import BGNBD, MBGNBD
from loyalist.models.clv import customer_lifetime_value
from loyalist.models.gammagamma import GammaGamma
from loyalist.models.paretonbd import ParetoNBD
from loyalist.models.sbg import ShiftedBetaGeometric

__all__ = [
    "BGBB", "BGNBD", "BoundaryWarning", "GammaGamma", "MBGNBD", "ParetoNBD",
    "ShiftedBetaGeometric", "ValueResult", "customer_lifetime_value", "fit_value",
]


def __getattr__(name):
    # the pipeline needs Ibis; load it only when asked for, so importing a model stays light
    if name in ("ValueResult", "fit_value"):
        from loyalist.models import value

        return getattr(value, name)
    raise AttributeError(f"module 'loyalist.models' has no attribute {name!r}")
