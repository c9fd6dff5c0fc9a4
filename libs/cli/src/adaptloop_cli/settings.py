"""Where the services are and which token the CLI uses (`ADAPTLOOP_CLI_*`, `ADAPTLOOP_TOKEN`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from adaptloop_cli.errors import MissingToken

TOKEN_HINT = "run `make up` (it writes local tokens to var/secrets/tokens.json) or export ADAPTLOOP_TOKEN=<admin token>"


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_CLI_", extra="ignore", populate_by_name=True)

    registry_url: str = "http://127.0.0.1:8002"
    ingest_url: str = "http://127.0.0.1:8001"
    trainer_url: str = "http://127.0.0.1:8003"
    drift_url: str = "http://127.0.0.1:8004"
    inference_url: str = "http://127.0.0.1:8000"
    token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("ADAPTLOOP_TOKEN", "token"))
    """The bearer token for mutating calls; unset means the local stack's `admin` token."""
    tokens_file: Path | None = None
    """The local stack's token file; unset means `<ADAPTLOOP_HOME or repo>/var/secrets/tokens.json`."""
    models_dir: Path | None = None
    """Where base models live by name (for `upgrade-base`); unset means `<var>/models`."""
    max_lora_rank: int = 16
    """The largest LoRA rank `adapters import` accepts: the inference service's `MAX_LORA_RANK`."""
    timeout_s: float = 10.0
    poll_interval_s: float = 1.0


def default_var_dir() -> Path:
    from adaptloop_devstack.paths import var_dir

    return Path(var_dir())


def resolve_token(settings: CliSettings) -> str:
    """`ADAPTLOOP_TOKEN`, else the `admin` token the local stack wrote; `MissingToken` when neither exists."""
    if settings.token is not None and settings.token.get_secret_value():
        return settings.token.get_secret_value()
    path = settings.tokens_file or default_var_dir() / "secrets" / "tokens.json"
    if not path.is_file():
        raise MissingToken(f"no token: ADAPTLOOP_TOKEN is unset and {path} does not exist", hint=TOKEN_HINT)
    from adaptloop_devstack.auth_tokens import StackTokens

    try:
        return str(StackTokens.load_or_create(path).token("admin"))
    except (KeyError, ValueError, OSError) as exc:
        raise MissingToken(f"no admin token in {path} ({exc.__class__.__name__}: {exc})", hint=TOKEN_HINT) from exc
