"""`python -m adaptloop_ingest` starts the service."""

from adaptloop_ingest.main import main

main()
