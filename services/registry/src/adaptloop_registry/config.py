"""Registry settings, read from `ADAPTLOOP_REGISTRY_*` environment variables."""

from __future__ import annotations

from adaptloop_common.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Where the registry keeps its records and artifacts, and who may change them."""

    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_REGISTRY_", extra="ignore")

    port: int = 8002
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/adaptloop"
    """SQLAlchemy URL; `sqlite:///path.db` for a single-machine trial."""
    db_schema: str = "registry"
    """PostgreSQL schema holding the registry's tables (ignored on SQLite)."""
    db_pool_size: int = 10
    """Connections per worker process (and as many again as overflow)."""
    workers: int = 1
    """uvicorn worker processes; each runs its own outbox relay (they share the work safely)."""
    loop: str = "auto"
    """uvicorn's event loop: `auto` (uvloop, installed with the service), `uvloop` or `asyncio`."""
    http_parser: str = "auto"
    """uvicorn's HTTP/1.1 parser: `auto` (httptools, installed with the service), `httptools` or `h11`."""
    alias_cache: bool = True
    """Keep alias answers in each worker, exact through PostgreSQL LISTEN/NOTIFY (none on SQLite)."""
    artifact_dir: str = "var/registry/artifacts"
    max_artifact_bytes: int = 2 * 1024**3
    """Largest artifact upload accepted (the JSON body limit is `max_body_bytes`)."""
    relay_enabled: bool = True
    relay_batch_size: int = 100
    relay_poll_interval_s: float = 0.2
    relay_linger_s: float = 0.02
    """While the outbox is busy, the pause before the next batch, so that commits share batches."""
    relay_publish_timeout_s: float = 15.0
    public_url: str = ""
    """Base URL used in `artifact_uri` (default `http://<host>:<port>`)."""

    @property
    def artifact_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
