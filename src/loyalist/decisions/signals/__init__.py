"""Signals: whispers, alert weights and a customer's story in plain words."""
