"""adaptloop drift service."""
