"""Serving many users: server-wide limits, live camera streams, and the Ray engine."""
