"""Decisions: signals, alerts and the worklist, built on features and models."""
