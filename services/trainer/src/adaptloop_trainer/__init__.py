"""adaptloop trainer service."""
