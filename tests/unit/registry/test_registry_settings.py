"""Settings come from ADAPTLOOP_REGISTRY_* variables; building the app connects to nothing."""

from __future__ import annotations

import pytest
from adaptloop_registry.bootstrap import create_app
from adaptloop_registry.config import Settings


def test_settings_read_the_registry_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTLOOP_REGISTRY_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("ADAPTLOOP_REGISTRY_DB_SCHEMA", "other")
    monkeypatch.setenv("ADAPTLOOP_REGISTRY_MAX_ARTIFACT_BYTES", "123")
    settings = Settings()
    assert (settings.database_url, settings.db_schema, settings.max_artifact_bytes) == ("sqlite:///x.db", "other", 123)
    assert Settings.model_fields["port"].default == 8002
    assert settings.artifact_base_url == "http://127.0.0.1:8002"


def test_building_the_app_connects_to_nothing() -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", kafka_bootstrap="127.0.0.1:1",
                        relay_enabled=False)
    app = create_app(settings)
    assert app.state.runtime.db.schema == "registry"


def test_schema_names_are_checked() -> None:
    with pytest.raises(ValueError, match="schema name"):
        create_app(Settings(database_url="postgresql://x@127.0.0.1:1/db", db_schema='bad"name', relay_enabled=False))
