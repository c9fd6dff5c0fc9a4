"""docker-compose.yml stays consistent with the code: build contexts, settings and ports.

Docker cannot run on every machine, so this reads the file instead of starting it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from settings_fields import service_settings_fields

ROOT = Path(__file__).resolve().parents[3]
CONTRACT_PORTS = {"inference": 8000, "ingest": 8001, "registry": 8002, "trainer": 8003, "drift": 8004}
SERVICES = tuple(CONTRACT_PORTS)


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _compose_service(compose: dict, service: str) -> dict:
    for name, spec in compose["services"].items():
        if name == service or name.startswith(f"{service}-"):
            return spec
    raise AssertionError(f"docker-compose.yml has no {service} service")


def test_every_build_context_and_dockerfile_exists() -> None:
    for name, spec in _compose()["services"].items():
        build = spec.get("build")
        if not build:
            continue
        context = ROOT / build["context"]
        assert context.is_dir(), f"{name}: build context {context} missing"
        assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: Dockerfile missing"


@pytest.mark.parametrize("service", SERVICES)
def test_every_environment_variable_is_a_setting(service: str) -> None:
    fields = service_settings_fields(service)
    prefix = f"ADAPTLOOP_{service.upper()}_"
    env = _compose_service(_compose(), service).get("environment", {})
    for key in env:
        if key.startswith(prefix):
            assert key[len(prefix):].lower() in fields, f"{service}: {key} is not a setting of {service}"
        elif key.startswith("ADAPTLOOP_"):
            raise AssertionError(f"{service}: {key} does not carry the service's prefix {prefix}")


@pytest.mark.parametrize("service", SERVICES)
def test_ports_match_the_contract(service: str) -> None:
    spec = _compose_service(_compose(), service)
    port = CONTRACT_PORTS[service]
    assert f"127.0.0.1:{port}:{port}" in spec["ports"]
    assert spec["environment"][f"ADAPTLOOP_{service.upper()}_PORT"] == str(port)
    probe = " ".join(spec["healthcheck"]["test"])
    assert f":{port}/readyz" in probe


def test_services_wait_for_healthy_dependencies() -> None:
    compose = _compose()
    for service in SERVICES:
        depends = _compose_service(compose, service).get("depends_on", {})
        assert depends, f"{service} has no depends_on"
        for dep, cond in depends.items():
            assert cond["condition"] in ("service_healthy", "service_completed_successfully"), (service, dep)
