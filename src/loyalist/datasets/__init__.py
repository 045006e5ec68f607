"""Synthetic data: one coherent business with the ground truth behind its records.

``make_business`` generates customers, orders, subscriptions, service requests, survey
answers and usage events that follow the data contract, and separately the truth a
real business never has: who leaves, when, why, and when the whispers began; which
requests were misrouted and which were call-backs. Later features are tested against it.
"""

from loyalist.datasets._customers import ARCHETYPES
from loyalist.datasets._text import CATEGORIES, CATEGORY_TEAM, REASONS, TEAMS
from loyalist.datasets.business import Business, make_business
from loyalist.datasets.outreach import Outreach, simulate_outreach

__all__ = [
    "ARCHETYPES", "CATEGORIES", "CATEGORY_TEAM", "REASONS", "TEAMS", "Business", "Outreach",
    "make_business", "simulate_outreach",
]
