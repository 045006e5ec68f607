"""Retention is everyone's job: whom a contact really changes (uplift), where losses come
from (departments), how the firm keeps its practices (scorecard) and who keeps customers
(staff recognition)."""

from loyalist.team.uplift import (
    TwoModelUplift,
    XLearnerUplift,
    auuc,
    check_uplift,
    qini_coefficient,
    qini_curve,
    qini_interval,
)

__all__ = ["TwoModelUplift", "XLearnerUplift", "auuc", "check_uplift", "qini_coefficient",
           "qini_curve", "qini_interval"]
