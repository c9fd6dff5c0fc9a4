"""The shared Kafka connection settings, translated for faust (aiokafka) instead of librdkafka."""

from __future__ import annotations

import ssl

from adaptloop_kafka import KafkaConnection
from faust.auth import GSSAPICredentials, SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT


def tls_context(connection: KafkaConnection) -> ssl.SSLContext:
    """The CA, the client certificate and key, and host-name checking the librdkafka options name."""
    options = connection.options
    context = ssl.create_default_context(cafile=_text(options.get("ssl.ca.location")))
    certificate = _text(options.get("ssl.certificate.location"))
    if certificate is not None:
        context.load_cert_chain(certificate, _text(options.get("ssl.key.location")),
                                _text(options.get("ssl.key.password")))
    if options.get("ssl.endpoint.identification.algorithm") == "none":
        context.check_hostname = False
    return context


def faust_credentials(connection: KafkaConnection) -> CredentialsT | None:
    """`broker_credentials` for the faust app: None for PLAINTEXT, else SASL and/or TLS as configured."""
    options = connection.options
    context = tls_context(connection) if connection.uses_tls else None
    if not connection.uses_sasl:
        return SSLCredentials(context) if context is not None else None
    mechanism = str(options["sasl.mechanism"])
    if mechanism == "GSSAPI":
        return GSSAPICredentials(
            kerberos_service_name=str(options.get("sasl.kerberos.service.name", "kafka")), ssl_context=context,
        )
    return SASLCredentials(username=_text(options.get("sasl.username")), password=_text(options.get("sasl.password")),
                           ssl_context=context, mechanism=mechanism)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
