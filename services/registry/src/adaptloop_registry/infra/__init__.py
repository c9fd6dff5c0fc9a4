"""I/O for the registry: the database and the artifact store."""
