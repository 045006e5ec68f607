"""Features computed from the store's tables, as engine-side Ibis expressions."""

from loyalist.features.rfm import rfm_summary

__all__ = ["rfm_summary"]
