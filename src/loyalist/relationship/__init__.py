"""The relationship: trust and commitment, what customers want against what they get,
and who will sing your praises.

From answers to a multi-item survey (``survey_answers``, defined in TOML; a default
relationship survey ships) and the firm's own records:

* :func:`analyse` runs it all; :func:`page_data` gives the web page's data and
  :func:`save_analysis` keeps it (with the segments, for the worklist);
* :mod:`~loyalist.relationship.reliability`: Cronbach's alpha and McDonald's omega
  with intervals, item-rest correlations, warnings in words;
* :func:`importance_performance`: want vs deliver, quadrants, by segment;
* :func:`key_drivers`: relative weights or Shapley regression with bootstrap intervals;
* :class:`AdvocacyModel`: trust, commitment and P(promoter) from behaviour alone;
* :func:`assign_segments`: loyal advocates, at-risk promoters, silent promoters and
  detractors, each with an action.
"""

from loyalist.contract.survey import Survey, load_survey
from loyalist.relationship.advocacy import AdvocacyModel
from loyalist.relationship.analysis import (
    RelationshipResult,
    analyse,
    page_data,
    save_analysis,
    save_segments,
    stored_page_data,
)
from loyalist.relationship.answers import check_answers, ingest_answers, responses
from loyalist.relationship.drivers import key_drivers, relative_weights, shapley_r2
from loyalist.relationship.gap import importance_performance
from loyalist.relationship.reliability import (
    cronbach_alpha,
    mcdonald_omega,
    scale_reliability,
)
from loyalist.relationship.segments import ACTIONS, SegmentRules, assign_segments

__all__ = [
    "ACTIONS", "AdvocacyModel", "RelationshipResult", "SegmentRules", "Survey", "analyse",
    "assign_segments", "check_answers", "cronbach_alpha", "importance_performance",
    "ingest_answers", "key_drivers", "load_survey", "mcdonald_omega", "page_data",
    "relative_weights", "responses", "save_analysis", "save_segments", "scale_reliability",
    "shapley_r2", "stored_page_data",
]
