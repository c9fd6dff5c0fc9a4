"""Every route of the trainer declares the shape of its success answers (the app built by `create_app`, with fakes
in place of the database, broker and registry: nothing connects)."""

from __future__ import annotations

from types import SimpleNamespace

from adaptloop_contracts.openapi_check import untyped_operations
from adaptloop_trainer.bootstrap import create_app
from adaptloop_trainer.config import Settings
from trainer_fakes import FakeRegistry, InMemoryJobStore, RecordedEvents


def test_every_trainer_answer_has_a_schema() -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", registry_token="t", ingest_token="t")
    trainer = SimpleNamespace(settings=settings, store=InMemoryJobStore(), registry=FakeRegistry(),
                              events=RecordedEvents(), runner=object(), consumer=object())
    document = create_app(settings, runtime=trainer).openapi()  # type: ignore[arg-type]

    assert "/v1/jobs" in document["paths"]
    assert untyped_operations(document) == []
