"""I/O adapters of the ingest service: Kafka and PostgreSQL."""
