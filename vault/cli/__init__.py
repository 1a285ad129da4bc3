"""The ``vault`` command: a thin client of the HTTP API (and ``serve`` / ``db upgrade`` for the local service)."""
