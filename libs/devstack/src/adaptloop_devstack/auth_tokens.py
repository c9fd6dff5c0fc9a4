"""Bearer tokens for the local stack: generated once, kept in `var/secrets/tokens.json` (mode 600)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from adaptloop_common.auth import token_digest

ROLES = ("admin", "trainer", "reader")


@dataclass(frozen=True)
class StackTokens:
    path: Path
    tokens: dict[str, str]

    @classmethod
    def load_or_create(cls, path: Path) -> StackTokens:
        if path.exists():
            return cls(path, json.loads(path.read_text()))
        path.parent.mkdir(parents=True, exist_ok=True)
        tokens = {role: secrets.token_urlsafe(24) for role in ROLES}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(tokens, fh, indent=2)
        return cls(path, tokens)

    def token(self, role: str) -> str:
        return self.tokens[role]

    def digest_spec(self) -> str:
        """The `actor:role:sha256` list services are configured with (the actor is named after the role)."""
        return ",".join(f"local-{role}:{role}:{token_digest(tok)}" for role, tok in self.tokens.items())
