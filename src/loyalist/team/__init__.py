"""Retention is everyone's job: whom a contact really changes (uplift), how the firm keeps
its retention practices (scorecard) and who keeps customers (staff recognition)."""

from loyalist.team.losses import DepartmentLosses, department_losses
from loyalist.team.report import TeamReport, team_report
from loyalist.team.targeting import UpliftRun, fit_uplift
from loyalist.team.uplift import (
    TwoModelUplift,
    XLearnerUplift,
    auuc,
    check_uplift,
    qini_coefficient,
    qini_curve,
    qini_interval,
)

__all__ = ["DepartmentLosses", "TeamReport", "department_losses", "TwoModelUplift", "UpliftRun", "XLearnerUplift", "auuc",
           "check_uplift", "fit_uplift", "qini_coefficient", "qini_curve", "qini_interval",
           "team_report"]
