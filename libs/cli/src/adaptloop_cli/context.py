"""Builds the clients every command uses from one `CliSettings`; tests pass a fake transport instead."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
import typer

from adaptloop_cli.clients.base import ServiceClient
from adaptloop_cli.clients.drift import DriftClient
from adaptloop_cli.clients.inference import InferenceClient
from adaptloop_cli.clients.ingest import IngestClient
from adaptloop_cli.clients.registry import RegistryClient
from adaptloop_cli.clients.trainer import TrainerClient
from adaptloop_cli.settings import CliSettings, resolve_token

C = TypeVar("C", bound=ServiceClient)


@dataclass
class CliContext:
    settings: CliSettings = field(default_factory=CliSettings)
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    _clients: dict[str, ServiceClient] = field(default_factory=dict, init=False)
    _token: str | None = field(default=None, init=False)

    def token(self) -> str:
        if self._token is None:
            self._token = resolve_token(self.settings)
        return self._token

    def _client(self, kind: type[C], url: str) -> C:
        client = self._clients.get(kind.service)
        if client is None:
            client = kind(url, token=self.token, timeout_s=self.settings.timeout_s, transport=self.transport)
            self._clients[kind.service] = client
        assert isinstance(client, kind)
        return client

    @property
    def registry(self) -> RegistryClient:
        return self._client(RegistryClient, self.settings.registry_url)

    @property
    def trainer(self) -> TrainerClient:
        return self._client(TrainerClient, self.settings.trainer_url)

    @property
    def drift(self) -> DriftClient:
        return self._client(DriftClient, self.settings.drift_url)

    @property
    def inference(self) -> InferenceClient:
        return self._client(InferenceClient, self.settings.inference_url)

    @property
    def ingest(self) -> IngestClient:
        return self._client(IngestClient, self.settings.ingest_url)

    def all_services(self) -> list[ServiceClient]:
        return [self.inference, self.ingest, self.registry, self.trainer, self.drift]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def cli_context(ctx: typer.Context) -> CliContext:
    """The `CliContext` the root callback placed on the typer context (or a default one)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext()
        root.call_on_close(root.obj.close)
    return root.obj
