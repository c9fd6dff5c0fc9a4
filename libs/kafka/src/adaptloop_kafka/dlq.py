"""Dead-letter records: where an invalid message goes, with what went wrong."""

from __future__ import annotations

DLQ_HEADERS = (
    "adaptloop-dlq-source-topic",
    "adaptloop-dlq-source-partition",
    "adaptloop-dlq-source-offset",
    "adaptloop-dlq-error",
    "adaptloop-dlq-consumer",
)
MAX_REASON_CHARS = 4000


def dead_letter_headers(
    *, topic: str, partition: int, offset: int, reason: str, consumer: str
) -> list[tuple[str, bytes]]:
    values = (topic, str(partition), str(offset), reason[:MAX_REASON_CHARS], consumer)
    return [(k, v.encode("utf-8")) for k, v in zip(DLQ_HEADERS, values, strict=True)]
