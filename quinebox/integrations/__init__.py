"""quinebox."""
