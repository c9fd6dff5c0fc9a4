"""`adaptloop approve | reject`, and pending versions in `status` and `versions`."""

from __future__ import annotations

import json

from cli_fakes import TOKEN, Cli, FakeServices


def _pending(fake: FakeServices, number: int = 3) -> None:
    for version in fake.versions["support"]:
        if version["version"] == number:
            version["status"] = "pending_approval"
    fake.adapters["support"]["aliases"] = {"production": 2}
    fake.adapters["support"]["promotion_policy"]["mode"] = "approval"


def test_approve_moves_production_and_says_so(cli: Cli, fake: FakeServices) -> None:
    _pending(fake)

    result = cli("approve", "support", "3", "--reason", "reviewed the samples")

    assert result.exit_code == 0, result.output
    assert "approved support v3: production v2 -> v3 (by local-admin)" in result.output
    [call] = fake.mutations()
    assert call.url.path == "/v1/adapters/support/versions/3/approve"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(call.content) == {"reason": "reviewed the samples"}
    assert fake.adapters["support"]["aliases"] == {"production": 3}


def test_reject_keeps_production(cli: Cli, fake: FakeServices) -> None:
    _pending(fake)

    result = cli("reject", "support", "3", "--reason", "too risky")

    assert result.exit_code == 0, result.output
    assert "rejected support v3 (by local-admin); nothing moved" in result.output
    assert fake.mutations()[0].url.path == "/v1/adapters/support/versions/3/reject"
    assert fake.adapters["support"]["aliases"] == {"production": 2}


def test_deciding_a_version_that_is_not_pending_exits_4_with_a_hint(cli: Cli, fake: FakeServices) -> None:
    result = cli("approve", "support", "1", "--reason", "x")

    assert result.exit_code == 4
    assert "registry refused approving support v1: 409 conflict: version 1 of 'support' is candidate, not " \
           "pending_approval" in result.output
    assert "adaptloop versions support" in result.output
    assert "Traceback" not in result.output


def test_a_reason_is_required(cli: Cli, fake: FakeServices) -> None:
    result = cli("reject", "support", "3")

    assert result.exit_code == 2 and "--reason" in result.output
    assert fake.mutations() == []


def test_status_and_versions_show_what_waits_for_approval(cli: Cli, fake: FakeServices) -> None:
    _pending(fake)

    status = cli("status", "--no-services")
    versions = cli("versions", "support")

    assert status.exit_code == 0, status.output
    assert "Pending approvals" in status.output
    row = next(line for line in status.output.splitlines() if "support" in line and "v3" in line and "v2" in line)
    assert "better" in row  # the gate's verdict
    assert "waiting for approval: support 3" in status.output
    assert "adaptloop approve NAME N --reason" in status.output
    assert versions.exit_code == 0, versions.output
    assert "pending_approval" in versions.output
    assert "waiting for approval: support 3" in versions.output


def test_status_says_when_nothing_waits(cli: Cli, fake: FakeServices) -> None:
    result = cli("status", "--no-services")

    assert result.exit_code == 0, result.output
    assert "Pending approvals: none" in result.output
    assert "waiting for approval" not in cli("versions", "support").output
