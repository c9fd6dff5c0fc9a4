"""`adaptloop base-models add`, `adaptloop adapters create | import`: bring your own model and adapters.

Every check runs before anything is registered, so bad input (exit code 2) leaves nothing behind.
An imported adapter passes the same LoRA checks inference applies (`adaptloop_common.lora_files`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import typer
from adaptloop_common.lora_files import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    BaseShapes,
    LoraFileRejected,
    LoraLimits,
    check_adapter_dir,
)
from adaptloop_contracts import AdapterName
from pydantic import TypeAdapter, ValidationError

from adaptloop_cli.clients.registry import RegistryClient
from adaptloop_cli.console import stderr
from adaptloop_cli.context import CliContext, cli_context
from adaptloop_cli.errors import ServiceRefused, reports_errors
from adaptloop_cli.onboarding_io import (
    BadInput,
    OutputFormat,
    OutputOption,
    adapter_or_bad_input,
    as_bad_input,
    emit,
    progress_bar,
    require_dir,
    upload_artifact,
)
from adaptloop_cli.settings import default_var_dir

base_models_app = typer.Typer(help="Base models: register your own (Hugging Face layout, safetensors only).",
                              no_args_is_help=True)
adapters_app = typer.Typer(help="Adapters: create one, or import a PEFT LoRA directory as its next version.",
                           no_args_is_help=True)

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
MAX_ADAPTER_BYTES = 2 * 1024 ** 3
Policy = Literal["manual", "auto", "canary", "approval"]


def _check_model_dir(directory: Path) -> None:
    """Hugging Face layout with safetensors weights only; every weights file's header parses."""
    pickled = sorted(p.name for p in directory.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickled:
        raise BadInput(f"{directory} holds pickle-based files {pickled} (loading them runs code); "
                       "keep safetensors weights only")
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except OSError:
        raise BadInput(f"{directory}: config.json missing (not a Hugging Face model directory)") from None
    except ValueError as exc:
        raise BadInput(f"{directory}/config.json is not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise BadInput(f"{directory}/config.json is not a JSON object")
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise BadInput(f"{directory}: no tokenizer (one of {', '.join(TOKENIZER_FILES)})")
    weights = sorted(directory.glob("*.safetensors"))
    if not weights:
        raise BadInput(f"{directory}: no *.safetensors weights")
    from safetensors import safe_open

    for path in weights:
        try:
            with safe_open(str(path), framework="numpy") as handle:
                handle.keys()
        except Exception as exc:  # the parser's own words say what is wrong
            raise BadInput(f"{path}: not a readable safetensors file ({exc})") from None


def _manifest(directory: Path) -> tuple[dict[str, Any], bool]:
    """The directory's manifest (verified against the files), written first when missing; (manifest, written)."""
    from adaptloop_scenarios.model_manifest import MANIFEST_NAME, ModelDirInvalid, verify_model_dir, write_manifest

    if not (directory / MANIFEST_NAME).exists():
        return write_manifest(directory, {"source": "adaptloop base-models add"}), True
    try:
        return verify_model_dir(directory), False
    except ModelDirInvalid as exc:
        raise BadInput(f"{MANIFEST_NAME} does not match the files: {exc}") from None


@base_models_app.command("add")
@reports_errors
def add_base_model(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The base model's name (services find it by this name)."),
    directory: Path = typer.Argument(..., metavar="DIR", help="The model directory (Hugging Face layout)."),
    version: str | None = typer.Option(None, "--version", help="A label; default: the weights digest's start."),
    successor_of: str | None = typer.Option(None, "--successor-of", help="The base model this one replaces."),
    reason: str = typer.Option("registered with the adaptloop CLI", "--reason", "-r", help="Recorded in the audit."),
    output: OutputFormat = OutputOption,
) -> None:
    """Verify DIR (safetensors only), write its manifest.json when missing, and register it as NAME."""
    registry = cli_context(ctx).registry
    _check_model_dir(require_dir(directory))
    with stderr().status(f"hashing the files of {directory}"):
        manifest, written = _manifest(directory)
    digest = str(manifest["weights_sha256"])
    existing = registry.base_model(name)
    if existing is not None:
        if existing.weights_sha256 != digest:
            raise BadInput(f"base model {name!r} is already registered with other weights "
                           f"({existing.weights_sha256[:12]}…, not {digest[:12]}…)")
        emit(output, {**existing.model_dump(mode="json"), "created": False},
             f"base model {name} is already registered (same weights)")
        return
    try:
        answer = registry.register_base_model(name=name, version=version or digest[:12],
                                              location=str(directory.resolve()), weights_sha256=digest,
                                              successor_of=successor_of, reason=reason)
    except ServiceRefused as exc:
        raise as_bad_input(exc) from None
    note = " (manifest.json written)" if written else ""
    emit(output, {**answer.model_dump(mode="json"), "created": True, "manifest_written": written},
         f"[green]registered base model {name}[/] (weights {digest[:12]}…){note}")


@adapters_app.command("create")
@reports_errors
def create_adapter(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Adapter name: a-z, 0-9, '_' and '-'."),
    base_model: str = typer.Option(..., "--base-model", "-b", help="A registered base model."),
    policy: str = typer.Option("manual", "--policy", help="How new versions reach traffic: manual, auto, canary or "
                                                          "approval."),
    reason: str = typer.Option("created with the adaptloop CLI", "--reason", "-r", help="Recorded in the audit."),
    output: OutputFormat = OutputOption,
) -> None:
    """Create adapter NAME on a registered base model, with its promotion policy."""
    try:
        TypeAdapter(AdapterName).validate_python(name)
        TypeAdapter(Policy).validate_python(policy)
    except ValidationError as exc:
        raise BadInput(f"invalid adapter {name!r} or policy {policy!r}: {exc.errors()[0]['msg']}") from None
    registry = cli_context(ctx).registry
    if registry.base_model(base_model) is None:
        raise BadInput(f"base model {base_model!r} is not registered (add it with `adaptloop base-models add`)")
    body = {"name": name, "base_model": base_model, "promotion_policy": {"mode": policy}, "reason": reason}
    try:
        answer = registry.create_adapter(body)
    except ServiceRefused as exc:
        raise as_bad_input(exc) from None
    emit(output, answer.model_dump(mode="json"), f"[green]created adapter {name}[/] on {base_model} (policy {policy})")


def _base_dir(cli: CliContext, registry: RegistryClient, base_model: str, given: Path | None) -> Path:
    """The base model's directory: --base-dir, the registered location, or `<models dir>/<name>`."""
    if given is not None:
        return require_dir(given)
    record = registry.base_model(base_model)
    candidates = [Path(record.location)] if record is not None and record.location else []
    candidates.append((cli.settings.models_dir or default_var_dir() / "models") / base_model)
    for candidate in candidates:
        if (candidate / "config.json").is_file():
            return candidate
    raise BadInput(f"the directory of base model {base_model!r} is not at {', '.join(map(str, candidates))}; "
                   "pass --base-dir")


@adapters_app.command("import")
@reports_errors
def import_adapter(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The adapter the version belongs to."),
    directory: Path = typer.Argument(..., metavar="DIR",
                                     help="A PEFT LoRA directory: adapter_model.safetensors + adapter_config.json."),
    promote: bool = typer.Option(False, "--promote", help="Move `production` to the imported version."),
    base_dir: Path | None = typer.Option(None, "--base-dir", help="The base model's directory (shapes are checked "
                                                                   "against it); default: from the registry."),
    reason: str = typer.Option("imported with the adaptloop CLI", "--reason", "-r", help="Recorded in the audit."),
    output: OutputFormat = OutputOption,
) -> None:
    """Register DIR as NAME's next version after the checks inference applies (rank, modules, shapes)."""
    cli = cli_context(ctx)
    registry = cli.registry
    require_dir(directory)
    adapter = adapter_or_bad_input(registry, name)
    base_model = adapter.base_model
    base = _base_dir(cli, registry, base_model, base_dir)
    limits = LoraLimits(max_rank=cli.settings.max_lora_rank, base=_shapes(base))
    try:
        summary = check_adapter_dir(directory, limits)
    except LoraFileRejected as exc:
        raise BadInput(f"{directory} would be refused by inference ({exc.kind}): {exc.reason}") from None
    weights, config = (directory / WEIGHTS_FILE).read_bytes(), (directory / CONFIG_FILE).read_bytes()
    if len(weights) > MAX_ADAPTER_BYTES:
        raise BadInput(f"{directory / WEIGHTS_FILE}: larger than {MAX_ADAPTER_BYTES} bytes")
    with progress_bar() as progress:
        weights_sha = upload_artifact(registry, weights, WEIGHTS_FILE, progress=progress)
        config_sha = upload_artifact(registry, config, CONFIG_FILE, progress=progress)
    body = {"weights_sha256": weights_sha, "config_sha256": config_sha, "base_model": base_model,
            "request_id": "import-" + hashlib.sha256(f"{weights_sha}:{config_sha}".encode()).hexdigest()[:32],
            "metrics": {"imported": True, "rank": summary.rank, "target_modules": list(summary.target_modules)},
            "reason": reason}
    try:
        version = registry.register_version(name, body)
    except ServiceRefused as exc:
        raise as_bad_input(exc) from None
    number = version.version
    answer: dict[str, Any] = {"adapter": name, "version": number, "status": version.status,
                              "weights_sha256": weights_sha, "config_sha256": config_sha, "rank": summary.rank,
                              "target_modules": list(summary.target_modules)}
    text = f"[green]imported {name} v{number}[/] (rank {summary.rank}, {', '.join(summary.target_modules)})"
    if promote:
        current = registry.adapter(name).aliases.get("production")
        if current != number:
            registry.move_alias(name, "production", version=number, expected_version=current, reason=reason)
        answer["production"] = number
        text += f"; production -> v{number}"
    emit(output, answer, text)


def _shapes(base_dir: Path) -> BaseShapes:
    try:
        return BaseShapes.of_model_dir(base_dir)
    except LoraFileRejected as exc:
        raise BadInput(exc.reason) from None
