"""The envelope every adaptloop event shares, and the decoding rules for raw bytes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

SCHEMA_VERSION = 1
MAX_EVENT_BYTES = 1_048_576
"""Largest encoded event accepted on any topic (Kafka's default message.max.bytes)."""
MAX_TEXT_CHARS = 65_536
"""Longest prompt, completion or correction accepted."""
MAX_EXTRA_FIELDS = 32
"""Producers may add fields of their own, up to this many."""
MAX_METADATA_BYTES = 16_384

ModelName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$"),
]
"""What a client names: `NAME`, `NAME:ALIAS`, `NAME@N` or a base model id."""

AdapterName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
"""A registered adapter's name: lower-case, safe in paths, topics and URLs."""

LongText = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
ShortText = Annotated[str, StringConstraints(max_length=1024)]


def adapter_of(model_name: str) -> str:
    """The adapter a client-facing model name refers to: `support:canary` and `support@3` -> `support`."""
    for sep in ("@", ":"):
        model_name = model_name.split(sep, 1)[0]
    return model_name


class InvalidEvent(ValueError):
    """Raw bytes that are not a valid event of the expected type; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("occurred_at must carry a time zone (RFC 3339, UTC)")
    return value.astimezone(UTC)


def _bounded_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata larger than {MAX_METADATA_BYTES} bytes")
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_bounded_metadata)]


class Event(BaseModel):
    """Fields every event carries; subclasses fix `event_type` and add their own."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    EVENT_TYPES: ClassVar[tuple[str, ...]] = ()

    event_id: uuid.UUID = Field(default_factory=new_event_id)
    event_type: str
    schema_version: int = SCHEMA_VERSION
    occurred_at: Annotated[datetime, AfterValidator(_require_utc)] = Field(default_factory=utc_now)
    model: ModelName

    @model_validator(mode="after")
    def _check_envelope(self) -> Self:
        if self.EVENT_TYPES and self.event_type not in self.EVENT_TYPES:
            raise ValueError(f"event_type {self.event_type!r} is not one of {', '.join(self.EVENT_TYPES)}")
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} unsupported (this reader knows {SCHEMA_VERSION})")
        extras = self.model_extra or {}
        if len(extras) > MAX_EXTRA_FIELDS:
            raise ValueError(f"{len(extras)} unknown fields; at most {MAX_EXTRA_FIELDS} are kept")
        return self

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json_bytes(cls, raw: bytes | str | None) -> Self:
        """Decode and validate; every failure becomes `InvalidEvent` with a readable reason."""
        return cls.from_payload(json_object(raw))

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Self:
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise InvalidEvent(describe_validation_error(exc)) from exc


def json_object(raw: bytes | str | None) -> dict[str, Any]:
    """The JSON object a message holds; `InvalidEvent` if it is empty, too large, not UTF-8 or not an object."""
    if raw is None:
        raise InvalidEvent("empty message (no value)")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"message of {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"not UTF-8: {exc}") from exc
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(payload, dict):
        raise InvalidEvent(f"expected a JSON object, got {type(payload).__name__}")
    return payload


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: `field.path: message`."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
