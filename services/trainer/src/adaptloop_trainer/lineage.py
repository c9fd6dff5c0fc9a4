"""Reading the registry's records: production versions, their artifacts and recorded lineage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adaptloop_contracts.registry_answers import AdapterRecord, VersionRecord

from adaptloop_trainer.candidate_evaluation import AdapterFiles, Baseline
from adaptloop_trainer.errors import JobRejected
from adaptloop_trainer.ports import Registry
from adaptloop_trainer.torch_runtime import verify_base_model


def alias_version(adapter: AdapterRecord, alias: str) -> int | None:
    """The version an alias points at (None: the alias does not exist)."""
    return adapter.aliases.get(alias)


def snapshot_sha_of(version: VersionRecord) -> str | None:
    return version.dataset_sha256 or None


@dataclass(frozen=True)
class ProductionVersion:
    number: int
    record: VersionRecord


def production_version(registry: Registry, adapter: AdapterRecord) -> ProductionVersion | None:
    number = alias_version(adapter, "production")
    if number is None:
        return None
    record = registry.version(adapter.name, number)
    return ProductionVersion(number, record) if record else None


def base_model_dir(registry: Registry, models_dir: Path, name: str) -> Path:
    """A base model's directory, verified against the registry's record of it."""
    record = registry.base_model(name)
    if record is None:
        raise JobRejected(f"base model {name!r} is not registered")
    return verify_base_model(models_dir, name, record.weights_sha256)


def adapter_files(registry: Registry, version: VersionRecord) -> AdapterFiles:
    return AdapterFiles(registry.download_artifact(version.weights_sha256),
                        registry.download_artifact(version.config_sha256))


def baseline_of(registry: Registry, models_dir: Path, adapter: AdapterRecord, base_dir: Path,
                production: ProductionVersion | None, files: AdapterFiles | None) -> Baseline:
    """The baseline for a production version whose artifacts the caller already downloaded."""
    if production is None or files is None:
        return Baseline("base model", base_dir)
    prod_base = production.record.base_model or adapter.base_model
    return Baseline(f"production v{production.number}", base_model_dir(registry, models_dir, prod_base), files)
