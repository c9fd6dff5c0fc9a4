"""The privacy mode of a deployment and of each adapter, applied wherever text leaves a service.

One set of `ADAPTLOOP_PRIVACY_*` variables configures every service alike, so inference's logs,
ingest's events and store, and the trainer's datasets agree on what a value became:

- `redact`: each detected value becomes a typed placeholder (`[EMAIL]`); the default;
- `hash`: each value becomes a keyed HMAC token (`[EMAIL:kbmaofhdpnlcgiej]`): equal values
  stay joinable across events and services, and nobody without the key can test a guess;
- `drop`: the free-text fields (prompt, completion, correction) are published empty and no
  example is stored from them; metadata strings are redacted;
- `off`: text passes unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from adaptloop_contracts import InferenceFeedback, InferenceLog, adapter_of
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adaptloop_common.redaction import BUILTIN_ORDER, Redactor, Replacement, compile_rules, typed_placeholder


class PrivacyMode(StrEnum):
    REDACT = "redact"
    HASH = "hash"
    DROP = "drop"
    OFF = "off"


class PrivacySettings(BaseSettings):
    """`ADAPTLOOP_PRIVACY_*`: the same values for every service (see docs/operations.md#personal-data)."""

    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_PRIVACY_", extra="ignore")

    mode: PrivacyMode = PrivacyMode.REDACT
    """The deployment's mode."""
    adapter_modes: dict[str, PrivacyMode] = Field(default_factory=dict)
    """Per-adapter modes as JSON, e.g. `{"support": "hash", "legal": "drop"}`; others use `mode`."""
    hash_key: SecretStr | None = None
    """The HMAC key of `hash` mode (required when any mode is `hash`; the same in every service)."""
    rules: list[str] = Field(default_factory=lambda: list(BUILTIN_ORDER))
    """Built-in detectors to apply, as a JSON list."""
    patterns: dict[str, str] = Field(default_factory=dict)
    """Custom detectors as JSON `{"label": "regex"}`; a match is replaced like a built-in one."""

    @model_validator(mode="after")
    def _hash_needs_a_key(self) -> PrivacySettings:
        uses_hash = PrivacyMode.HASH in {self.mode, *self.adapter_modes.values()}
        if uses_hash and (self.hash_key is None or len(self.hash_key.get_secret_value()) < 16):
            raise ValueError("privacy mode `hash` needs ADAPTLOOP_PRIVACY_HASH_KEY (at least 16 characters)")
        return self


_HASH_LETTERS = "abcdefghijklmnop"


def keyed_token(key: bytes) -> Replacement:
    """A replacement writing `[LABEL:digest]`: HMAC-SHA256 of the normalised value, 64 bits, as letters."""

    def replace(label: str, found: str) -> str:
        value = found.strip().lower() if label == "email" else re.sub(r"[^0-9A-Za-z]", "", found).upper()
        digest = hmac.new(key, f"{label}:{value}".encode(), hashlib.sha256).digest()[:8]
        return f"[{label.upper()}:" + "".join(_HASH_LETTERS[b >> 4] + _HASH_LETTERS[b & 15] for b in digest) + "]"

    return replace


class _Dropping(Redactor):
    """`drop` mode: free text is not published at all."""

    def redact(self, text: str) -> str:
        return ""


class PrivacyPolicy:
    """The redactor of each adapter, and the scrubbing of the events that carry free text."""

    def __init__(self, settings: PrivacySettings) -> None:
        rules = compile_rules(settings.rules, settings.patterns)
        key = settings.hash_key.get_secret_value().encode() if settings.hash_key is not None else b""
        self.settings = settings
        self._redactors: dict[PrivacyMode, Redactor] = {
            PrivacyMode.REDACT: Redactor(rules, typed_placeholder),
            PrivacyMode.HASH: Redactor(rules, keyed_token(key)),
            PrivacyMode.DROP: _Dropping(rules, typed_placeholder),
            PrivacyMode.OFF: Redactor(()),
        }

    def mode_for(self, adapter: str) -> PrivacyMode:
        return self.settings.adapter_modes.get(adapter, self.settings.mode)

    def redactor(self, adapter: str) -> Redactor:
        """What the adapter's free text goes through (empty text in `drop` mode)."""
        return self._redactors[self.mode_for(adapter)]

    def storing_redactor(self, adapter: str) -> Redactor:
        """For text kept whatever the mode (metadata, curated imports): `drop` mode redacts it instead."""
        mode = self.mode_for(adapter)
        return self._redactors[PrivacyMode.REDACT if mode is PrivacyMode.DROP else mode]

    def scrub_log(self, log: InferenceLog) -> InferenceLog:
        adapter = adapter_of(log.model)
        if self.mode_for(adapter) is PrivacyMode.OFF:
            return log
        text = self.redactor(adapter)
        return log.model_copy(update={
            "prompt": text.redact(log.prompt), "completion": text.redact(log.completion),
            "metadata": scrub_value(log.metadata, self.storing_redactor(adapter)),
        })

    def scrub_feedback(self, feedback: InferenceFeedback) -> InferenceFeedback:
        adapter = adapter_of(feedback.model)
        if self.mode_for(adapter) is PrivacyMode.OFF:
            return feedback
        correction = feedback.correction
        if correction is not None:
            correction = self.redactor(adapter).redact(correction) or None
        return feedback.model_copy(update={
            "correction": correction, "metadata": scrub_value(feedback.metadata, self.storing_redactor(adapter)),
        })

    def scrub_row(self, adapter: str, row: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
        """A dataset row with its text `fields` redacted (emptied in `drop` mode)."""
        redactor = self.redactor(adapter)
        return {k: redactor.redact(v) if k in fields and isinstance(v, str) else v for k, v in row.items()}


def scrub_value(value: Any, redactor: Redactor) -> Any:
    """Every string inside a JSON-like value, redacted."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, Mapping):
        return {k: scrub_value(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v, redactor) for v in value]
    return value
