"""adaptloop ingest service."""
