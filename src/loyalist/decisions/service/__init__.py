"""Service: the service report, its plots, and stay-in-touch coverage."""
