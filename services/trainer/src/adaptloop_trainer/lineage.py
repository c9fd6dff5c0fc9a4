"""Reading the registry's records: production versions, their artifacts and recorded lineage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptloop_trainer.candidate_evaluation import AdapterFiles, Baseline
from adaptloop_trainer.errors import JobRejected
from adaptloop_trainer.ports import Registry
from adaptloop_trainer.torch_runtime import verify_base_model


def alias_version(adapter: dict[str, Any], alias: str) -> int | None:
    """The version an alias points at; aliases come as `{alias: n}` or `{alias: {version: n}}`."""
    value = (adapter.get("aliases") or {}).get(alias)
    if isinstance(value, dict):
        value = value.get("version")
    return int(value) if isinstance(value, int) else None


def snapshot_sha_of(version: dict[str, Any]) -> str | None:
    snap = version.get("dataset_snapshot")
    if isinstance(snap, dict) and snap.get("sha256"):
        return str(snap["sha256"])
    value = version.get("dataset_sha256")
    return str(value) if value else None


@dataclass(frozen=True)
class ProductionVersion:
    number: int
    record: dict[str, Any]


def production_version(registry: Registry, adapter: dict[str, Any]) -> ProductionVersion | None:
    number = alias_version(adapter, "production")
    if number is None:
        return None
    record = registry.version(adapter["name"], number)
    return ProductionVersion(number, record) if record else None


def base_model_dir(registry: Registry, models_dir: Path, name: str) -> Path:
    """A base model's directory, verified against the registry's record of it."""
    record = registry.base_model(name)
    if record is None:
        raise JobRejected(f"base model {name!r} is not registered")
    return verify_base_model(models_dir, name, record.get("weights_sha256"))


def adapter_files(registry: Registry, version: dict[str, Any]) -> AdapterFiles:
    return AdapterFiles(registry.download_artifact(version["weights_sha256"]),
                        registry.download_artifact(version["config_sha256"]))


def baseline_for(registry: Registry, models_dir: Path, adapter: dict[str, Any], base_dir: Path) -> Baseline:
    """The current production version (on its own base model), or the bare base model when none."""
    production = production_version(registry, adapter)
    files = adapter_files(registry, production.record) if production is not None else None
    return baseline_of(registry, models_dir, adapter, base_dir, production, files)


def baseline_of(registry: Registry, models_dir: Path, adapter: dict[str, Any], base_dir: Path,
                production: ProductionVersion | None, files: AdapterFiles | None) -> Baseline:
    """The baseline for a production version whose artifacts the caller already downloaded."""
    if production is None or files is None:
        return Baseline("base model", base_dir)
    prod_base = str(production.record.get("base_model") or adapter["base_model"])
    return Baseline(f"production v{production.number}", base_model_dir(registry, models_dir, prod_base), files)
