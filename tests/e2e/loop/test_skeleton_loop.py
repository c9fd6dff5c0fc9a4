"""The loop closes: a request, its log through drift, a retrain, a new version, and the swap.

Driven from outside with plain HTTP and Kafka clients only (the `closed_loop` fixture in conftest).
"""

from __future__ import annotations

import httpx
from adaptloop_devstack.stack import Stack

SERVICES = ("inference", "ingest", "registry", "trainer", "drift", "dashboard")


def test_every_service_is_ready(stack: Stack) -> None:
    for name in SERVICES:
        resp = httpx.get(stack.config.url(name) + "/readyz", timeout=5)
        assert resp.status_code == 200, (name, resp.text)
        assert httpx.get(stack.config.url(name) + "/metrics", timeout=5).status_code == 200


def test_loop_serves_a_version_that_did_not_exist(closed_loop) -> None:  # type: ignore[no-untyped-def]
    assert closed_loop.versions_before == []
    # Before any version exists, the adapter's name is served by the base model.
    assert closed_loop.first_header == "base"
    assert closed_loop.alias_moved["alias"] == "production"
    assert closed_loop.new_version not in closed_loop.versions_before
    assert closed_loop.served_header == str(closed_loop.new_version)
