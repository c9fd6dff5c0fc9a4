"""Personal data and secrets of every kind the redaction detects, for tests that look for leaks."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

RAW_VALUES: dict[str, str] = {
    "email": "jane.doe@example.com",
    "phone": "+49 30 1234567",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "secret": "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e",
}
"""One value per detector, as a user would type it (the card passes Luhn, the IBAN its checksum)."""

SENTENCE = (f"I am {RAW_VALUES['email']}, call {RAW_VALUES['phone']}; my card {RAW_VALUES['card']} and "
            f"IBAN {RAW_VALUES['iban']} were charged, the key {RAW_VALUES['secret']} leaked.")


def leaks(blobs: Iterable[bytes]) -> list[str]:
    """Which raw values (or their digits without spaces) appear in any of the blobs."""
    found = []
    for blob in blobs:
        text = blob.decode("utf-8", "replace")
        for kind, raw in RAW_VALUES.items():
            if raw in text or raw.replace(" ", "") in text:
                found.append(f"{kind} in {text[:160]!r}")
    return found


def unique_sentence() -> str:
    """`SENTENCE` with a unique tail, so a test finds its own events."""
    return f"{SENTENCE} ({uuid.uuid4().hex[:8]})"
