"""`adaptloop erase`, `retire`, `costs`, `tokens create`, and the costs in `status`."""

from __future__ import annotations

import json

from cli_fakes import Cli, FakeServices

LEDGER = {"adapter": "support", "totals": {"retrains": 2, "succeeded": 2, "training_seconds": 40.0,
                                           "evaluation_seconds": 4.0, "examples_trained": 80, "tokens_trained": 1800,
                                           "requests_served": 150, "tokens_served": 3000, "mean_quality_gained": 0.15},
          "last_24h": {"retrains": 1, "training_seconds": 10.0},
          "versions": [{"job_id": "6f1c0d1e-0000-4000-8000-000000000003", "version": 3, "state": "succeeded",
                        "reason": "drift", "mode": "incremental", "requested_at": "2025-01-02T10:00:00+00:00",
                        "finished_at": "2025-01-02T10:01:00+00:00", "training_seconds": 10.0,
                        "preparation_seconds": 1.0, "evaluation_seconds": 2.0, "examples_trained": 40,
                        "tokens_trained": 900, "gate_passed": True, "quality_gained": 0.1, "requests_served": 30,
                        "tokens_served": 600}]}


def test_erase_shows_lineage_and_what_to_do_next(cli: Cli, fake: FakeServices) -> None:
    fake.erasure_answer = {"erasure_id": "e-1", "subject": {"kind": "tenant", "sha256": "b" * 64},
                           "examples_removed": 2, "pending_feedback_removed": 1,
                           "snapshots": [{"adapter": "support", "sha256": "a" * 64, "snapshot_id": "snap-aaaa",
                                          "examples": 1, "jobs": ["j-1"], "candidate_versions": [2]}],
                           "versions": [{"adapter": "support", "version": 2, "status": "production",
                                         "cause": "dataset"}]}
    result = cli("erase", "alice", "--reason", "GDPR art. 17")
    assert result.exit_code == 0, result.output
    assert "erased 2 examples and 1 pending ratings" in result.output
    assert "erasure_pending support v2" in result.output and "adaptloop train support" in result.output
    [sent] = [r for r in fake.mutations() if r.url.path == "/v1/erasures"]
    assert json.loads(sent.content) == {"reason": "GDPR art. 17", "tenant": "alice"}

    result = cli("erase", "e1,e2", "--events", "-r", "asked")
    assert json.loads(fake.mutations()[-1].content)["event_ids"] == ["e1", "e2"]

    unknown = cli("erase", "nobody", "-r", "x")
    assert unknown.exit_code != 0 and "no examples" in unknown.output


def test_retire_costs_and_tokens(cli: Cli, fake: FakeServices) -> None:
    assert cli("retire", "support", "1", "-r", "erased").exit_code == 0
    assert fake.mutations()[-1].url.path == "/v1/adapters/support/versions/1/retire"
    fake.costs["support"] = LEDGER
    result = cli("costs", "support")
    assert result.exit_code == 0, result.output
    assert "2 retrains" in result.output and "1,800 tokens trained" in result.output and "v3" in result.output
    status = cli("status", "--no-services")
    assert status.exit_code == 0, status.output
    assert "Costs" in status.output and "1,800" in status.output
    issued = cli("tokens", "create", "acme-bot", "--role", "trainer", "--adapters", "support")
    assert issued.exit_code == 0 and "tok-123" in issued.output
    refused = cli("tokens", "create", "acme-bot", "--adapters", "support,ghost")
    assert refused.exit_code != 0 and "ghost" in refused.output
