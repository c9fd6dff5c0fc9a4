"""adaptloop inference service."""
