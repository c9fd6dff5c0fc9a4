"""How every Kafka client of the product connects: one place for the broker's security settings.

`KafkaClientSettings` reads `ADAPTLOOP_KAFKA_*` (the same variables for every service, the CLI's
stack and the dev tools): the security protocol, the SASL mechanism and credentials, the TLS
files, and any other librdkafka option as JSON. A `KafkaConnection` (the bootstrap servers plus
those options) is what every producer, consumer and admin client is built from, and what the
drift service's faust app takes its credentials from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ClientOption = str | int | float | bool

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER"]


class KafkaClientSettings(BaseSettings):
    """`ADAPTLOOP_KAFKA_*`: librdkafka's own option names with `_` for `.` (see docs/operations.md)."""

    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_KAFKA_", extra="ignore")

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    """PEM file of the CA that signed the brokers' certificates (unset: the system's CAs)."""
    ssl_certificate_location: str | None = None
    """PEM client certificate, for brokers that authenticate clients by TLS (mTLS)."""
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    ssl_endpoint_identification_algorithm: Literal["https", "none"] | None = None
    client_config: dict[str, ClientOption] = Field(default_factory=dict)
    """Any other librdkafka option as JSON, e.g. `{"sasl.oauthbearer.method": "oidc"}`; wins over the above."""

    @model_validator(mode="after")
    def _consistent(self) -> KafkaClientSettings:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism is None:
            raise ValueError(f"security protocol {self.security_protocol} needs ADAPTLOOP_KAFKA_SASL_MECHANISM")
        if not sasl and (self.sasl_mechanism or self.sasl_username or self.sasl_password):
            raise ValueError(f"SASL settings given but ADAPTLOOP_KAFKA_SECURITY_PROTOCOL is {self.security_protocol}")
        if (self.ssl_certificate_location is None) != (self.ssl_key_location is None):
            raise ValueError("ADAPTLOOP_KAFKA_SSL_CERTIFICATE_LOCATION and _SSL_KEY_LOCATION go together")
        return self

    def options(self) -> dict[str, ClientOption]:
        """The librdkafka options these settings stand for (only those that were set)."""
        values: dict[str, Any] = {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value() if self.sasl_password else None,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password.get_secret_value() if self.ssl_key_password else None,
            "ssl.endpoint.identification.algorithm": self.ssl_endpoint_identification_algorithm,
        }
        out: dict[str, ClientOption] = {k: v for k, v in values.items() if v is not None}
        out.update(self.client_config)
        return out

    def connection(self, bootstrap: str) -> KafkaConnection:
        return KafkaConnection(bootstrap, self.options())


@dataclass(frozen=True)
class KafkaConnection:
    """The bootstrap servers and the shared client options; `client_config` builds one client's config."""

    bootstrap: str
    options: Mapping[str, ClientOption] = field(default_factory=dict)

    @classmethod
    def of(cls, target: str | KafkaConnection) -> KafkaConnection:
        """A connection from itself, or from `ADAPTLOOP_KAFKA_*` for a bare bootstrap string (tools, tests)."""
        if isinstance(target, KafkaConnection):
            return target
        return KafkaClientSettings().connection(target)

    def client_config(self, defaults: Mapping[str, Any] | None = None, *,
                      overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """`bootstrap.servers`, the client's `defaults`, the shared options, then explicit `overrides`."""
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap, **(defaults or {})}
        config.update(self.options)
        config.update(overrides or {})
        return config

    @property
    def uses_sasl(self) -> bool:
        return str(self.options.get("security.protocol", "PLAINTEXT")).startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return str(self.options.get("security.protocol", "PLAINTEXT")) in ("SSL", "SASL_SSL")
