"""Commands on a service's internal topics: the drift service's pause/resume (`SetPaused`)."""

from __future__ import annotations

import json

import pytest
from adaptloop_contracts import InvalidEvent, SetPaused


def test_a_pause_command_travels_as_the_object_the_policy_agent_reads() -> None:
    command = SetPaused(adapter="support", paused=True, actor="ops")

    assert json.loads(command.to_json_bytes()) == {"adapter": "support", "paused": True, "actor": "ops"}
    assert SetPaused.from_json_bytes(command.to_json_bytes()) == command
    assert SetPaused.from_json_bytes(b'{"adapter": "support", "paused": false, "actor": "ops"}').paused is False


@pytest.mark.parametrize(("raw", "reason"), [
    (b'{"adapter": "Support!", "paused": true, "actor": "ops"}', "adapter: String should match pattern"),
    (b'{"adapter": "support", "paused": "no", "actor": "ops"}', "paused: Input should be a valid boolean"),
    (b'{"adapter": "support", "paused": true}', "actor: Field required"),
    (b"pause support", "not JSON"),
    (b'["support", true]', "expected a JSON object"),
    (None, "empty message"),
])
def test_a_malformed_command_is_refused_with_the_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        SetPaused.from_json_bytes(raw)

