"""Trainer settings, read from `ADAPTLOOP_TRAINER_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from adaptloop_common.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Every knob of the trainer; secrets (tokens, database URL) have no defaults."""

    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_TRAINER_", extra="ignore")

    port: int = 8003
    database_url: str
    """SQLAlchemy or libpq URL of the trainer's database (`postgresql://...`)."""
    db_schema: str = "trainer"
    registry_url: str = "http://127.0.0.1:8002"
    registry_token: str
    """Bearer token with the `trainer` role at the registry."""
    ingest_url: str = "http://127.0.0.1:8001"
    ingest_token: str
    """Bearer token with the `reader` role at ingest."""
    models_dir: Path = Path("var/models")
    work_dir: Path = Path("var/trainer")
    consumer_group: str = "adaptloop-trainer"
    min_examples: int = Field(default=16, ge=1)
    """Fewest usable examples (with a target) a snapshot needs; fewer -> the job is rejected."""
    torch_threads: int = Field(default=2, ge=1)
    """Fixed intra-op thread count: part of what makes a run reproducible."""
    checkpoint_every: int = Field(default=10, ge=1)
    """Steps between checkpoints."""
    regression_per_snapshot: int = Field(default=16, ge=0)
    """Held-out examples of each successful snapshot pinned into the adapter's regression set."""
    code_revision: str = ""
    """Recorded on every version; empty -> the package version."""
    http_timeout_s: float = 60.0
    retry_after_s: int = Field(default=1, ge=1)
    """`Retry-After` sent with a 503 (the database unreachable)."""
    default_training_config: dict[str, object] = Field(default_factory=dict)
    """Defaults under the adapter's own training_config (JSON object)."""
