"""The ingest service: the CLI only checks that it is ready."""

from __future__ import annotations

from adaptloop_cli.clients.base import ServiceClient


class IngestClient(ServiceClient):
    service = "ingest"
