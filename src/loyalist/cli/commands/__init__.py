"""One module per command (or group of commands); each defines ``register(app)``."""
