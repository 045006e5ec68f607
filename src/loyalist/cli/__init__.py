"""The command line: a thin layer over the Python API.

Each module in :mod:`loyalist.cli.commands` defines ``register(app)`` and is picked
up automatically, so a new capability adds a file rather than editing a shared one.
"""
