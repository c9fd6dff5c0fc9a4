"""HTTP routes of the drift service: health, readiness, metrics, state, signal series, pause/resume."""
