"""quinebox's pytest plugin: inert until used (filled in by the pytest integration)."""
