"""adaptloop registry service."""
