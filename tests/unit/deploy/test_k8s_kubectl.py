"""Every overlay as `kubectl` renders it: typed objects, rules every pod keeps, and the images behind them.

No cluster is needed. `kubectl kustomize` renders each overlay; `kubectl set env --local` and
`kubectl set selector --local` decode each rendered object into its typed Kubernetes object
(a wrong type fails) and print it back, so a field the API does not know (a typo such as
`readinesProbe`) shows up as dropped. On top of that, the rules: probes, non-root users that
are the images' users, writable volumes where the code writes, Secrets and keys the operator
provides (secrets.example.yaml, make_secrets.py), ports as the services' defaults, addresses
that point at Services, and images that the Dockerfiles build (the topic Job's module
included). kubectl is required: the tests fail without it.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from settings_fields import ROOT

K8S = ROOT / "deploy/k8s"
OVERLAYS = sorted(p.parent.relative_to(K8S).as_posix() for p in (K8S / "overlays").glob("*/kustomization.yaml"))
SECRETS_EXAMPLE = K8S / "secrets.example.yaml"
MAKE_SECRETS = K8S / "make_secrets.py"
README = ROOT / "README.md"
VERSION = "0.1.0"
# Where each workload's code and image come from.
SOURCES = {
    "inference": ROOT / "services/inference",
    "ingest": ROOT / "services/ingest",
    "registry": ROOT / "services/registry",
    "trainer": ROOT / "services/trainer",
    "drift": ROOT / "services/drift",
    "dashboard": ROOT / "libs/dashboard",
}
# The image tag of each model-environment workload, by overlay (the others are VERSION).
ACCELERATED = {"overlays/cpu-demo": "cpu", "overlays/gpu": "cuda", "overlays/gpu-kafka-sasl-tls": "cuda"}
# Settings naming a directory the service writes to.
WRITTEN_DIRS = {
    "registry": ("ADAPTLOOP_REGISTRY_ARTIFACT_DIR",),
    "trainer": ("ADAPTLOOP_TRAINER_WORK_DIR", "HOME"),
    "drift": ("ADAPTLOOP_DRIFT_DATA_DIR",),
    "inference": ("ADAPTLOOP_INFERENCE_ADAPTER_CACHE_DIR", "HOME"),
}
OPTIONAL_SECRET_KEYS = {("adaptloop-token-digests", "inference-api-keys")}
SECRET_NAMES = re.compile(r"(TOKEN|TOKENS|PASSWORD|DATABASE_URL|API_KEYS)$")

Doc = dict[str, Any]


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is required to check the manifests (it is at /usr/bin/kubectl here)"
    return kubectl


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # An empty kubeconfig: nothing here may reach for a cluster.
    env = {**os.environ, "KUBECONFIG": os.devnull}
    return subprocess.run([_kubectl(), *args], input=stdin, capture_output=True, text=True, timeout=60, env=env)


@functools.cache
def _rendered(overlay: str) -> tuple[Doc, ...]:
    result = _run(["kustomize", str(K8S / overlay)])
    assert result.returncode == 0, f"kubectl kustomize {overlay}: {result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc is not None)


def _docs(overlay: str) -> list[Doc]:
    return json.loads(json.dumps(_rendered(overlay)))


def _json_stream(text: str) -> list[Doc]:
    decoder, out, pos = json.JSONDecoder(), [], 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        doc, pos = decoder.raw_decode(text, pos)
        out.append(doc)
    return out


def _pod_spec(doc: Doc) -> Doc:
    return doc["spec"]["template"]["spec"]


def _containers(spec: Doc) -> Iterator[Doc]:
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def _workloads(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def _deployment(docs: list[Doc], name: str) -> Doc:
    (doc,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name]
    return doc


def _main(doc: Doc) -> Doc:
    return _pod_spec(doc)["containers"][0]


def _env(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


def _configmap(docs: list[Doc]) -> dict[str, str]:
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "adaptloop-config"]
    return dict(config["data"])


def _value(docs: list[Doc], entry: Doc) -> str | None:
    """An env entry's value, through the ConfigMap; None for Secrets and the downward API."""
    if "value" in entry:
        return str(entry["value"])
    ref = entry.get("valueFrom", {}).get("configMapKeyRef")
    return _configmap(docs)[ref["key"]] if ref else None


def _default_port(workload: str) -> int:
    """`port: int = N` of the workload's Settings: the default the contract names."""
    package = SOURCES[workload] / "src" / f"adaptloop_{workload}" / "config.py"
    for node in ast.walk(ast.parse(package.read_text())):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "port":
            assert isinstance(node.value, ast.Constant)
            return int(node.value.value)
    raise AssertionError(f"{package}: no port setting")


def _dockerfile(image: str) -> Path:
    return SOURCES[image.split("/", 1)[1].split(":", 1)[0]] / "Dockerfile"


def _dockerfile_uid(path: Path) -> int:
    text = path.read_text()
    found = set(re.findall(r"useradd\b[^\n]*?--uid[ =](\d+)", text))
    assert len(found) == 1, f"{path}: the image's user needs one fixed uid (useradd --uid N), found {found or 'none'}"
    return int(found.pop())


def _dropped(sent: Any, back: Any, where: str = "") -> Iterator[str]:
    """Paths of fields in `sent` that kubectl's typed round trip did not give back."""
    if isinstance(sent, dict):
        if not isinstance(back, dict):
            yield where
            return
        for key, value in sent.items():
            if key not in back:
                # kubectl leaves out empty maps and lists, and null (creationTimestamp)
                if value not in ({}, [], None):
                    yield f"{where}.{key}"
            else:
                yield from _dropped(value, back[key], f"{where}.{key}")
    elif isinstance(sent, list):
        if not isinstance(back, list) or len(back) != len(sent):
            yield where
            return
        for n, (a, b) in enumerate(zip(sent, back, strict=True)):
            yield from _dropped(a, b, f"{where}[{n}]")


# --- rendering and the typed objects -----------------------------------------------------------


def test_kubectl_is_installed() -> None:
    result = _run(["version", "--client"])
    assert result.returncode == 0, result.stderr


def test_every_overlay_is_checked() -> None:
    assert {"overlays/cpu-demo", "overlays/gpu", "overlays/gpu-kafka-sasl-tls"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_decodes_into_its_typed_kind_with_no_field_dropped(overlay: str) -> None:
    docs = _docs(overlay)
    workloads = _workloads(docs)
    marker = "ADAPTLOOP_KUBECTL_ROUND_TRIP"
    stream = "".join(json.dumps(d) + "\n" for d in workloads)
    result = _run(["set", "env", "--local", "-f", "-", "-o", "json", f"{marker}=1"], stream)
    assert result.returncode == 0, result.stderr
    back = _json_stream(result.stdout)
    assert [(d["kind"], d["metadata"]["name"]) for d in back] == [(d["kind"], d["metadata"]["name"]) for d in workloads]
    for sent, got in zip(workloads, back, strict=True):
        for container in _containers(_pod_spec(got)):
            container["env"] = [e for e in container["env"] if e["name"] != marker]
        dropped = list(_dropped(sent, got))
        assert not dropped, f"{overlay} {sent['kind']}/{sent['metadata']['name']}: unknown fields {dropped}"

    # Services: the same round trip through `set selector` (whose selector is then left out)
    services = [d for d in docs if d["kind"] == "Service"]
    result = _run(["set", "selector", "--local", "-f", "-", "-o", "json", "adaptloop.check=round-trip"],
                  "".join(json.dumps(d) + "\n" for d in services))
    assert result.returncode == 0, result.stderr
    back = _json_stream(result.stdout)
    assert len(back) == len(services)
    for sent, got in zip(services, back, strict=True):
        sent = {**sent, "spec": {k: v for k, v in sent["spec"].items() if k != "selector"}}
        dropped = list(_dropped(sent, got))
        assert not dropped, f"{overlay} Service/{sent['metadata']['name']}: unknown fields {dropped}"

    # the rest (Namespace, ConfigMap, PVCs, PDBs) only decode: kubectl refuses them as having
    # no pod template, which it can only say once they decoded into their types
    others = [d for d in docs if d["kind"] not in ("Deployment", "StatefulSet", "Job", "Service")]
    result = _run(["set", "env", "--local", "-f", "-", "-o", "json", f"{marker}=1"],
                  "".join(json.dumps(d) + "\n" for d in others))
    assert result.stderr.count("error:") == len(others), result.stderr
    assert result.stderr.count("does not have a pod template") == len(others), result.stderr


# --- rules every pod keeps ---------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_probes_on_its_default_port_and_a_service(overlay: str) -> None:
    docs = _docs(overlay)
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == set(SOURCES)
    for doc in deployments:
        name = doc["metadata"]["name"]
        container = _main(doc)
        port = _default_port(name)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": port}, f"{overlay} {name}: container ports {ports}, default {port}"
        assert _value(docs, _env(container)[f"ADAPTLOOP_{name.upper()}_PORT"]) == str(port)
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            assert container.get(probe, {}).get("httpGet") == {"path": path, "port": "http"}, f"{name}: {probe}"
        (service,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == name]
        assert service["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]
        assert service["spec"]["selector"].items() <= doc["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_inference_starts_only_once_its_engine_is_ready(overlay: str) -> None:
    container = _main(_deployment(_docs(overlay), "inference"))
    startup = container["startupProbe"]
    assert startup["httpGet"] == {"path": "/readyz", "port": "http"}, "/healthz answers before vLLM has loaded"
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    assert budget >= 15 * 60, f"the engine gets {budget} s to load; vLLM on a GPU can take 15 minutes"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_its_images_non_root_user(overlay: str) -> None:
    for doc in _workloads(_docs(overlay)):
        spec = _pod_spec(doc)
        where = f"{overlay} {doc['kind']}/{doc['metadata']['name']}"
        security = spec.get("securityContext", {})
        assert security.get("runAsNonRoot") is True, f"{where}: runAsNonRoot"
        assert security.get("seccompProfile") == {"type": "RuntimeDefault"}, where
        for container in _containers(spec):
            uid = container.get("securityContext", {}).get("runAsUser", security.get("runAsUser"))
            assert uid == _dockerfile_uid(_dockerfile(container["image"])), f"{where}: runAsUser {uid}"
            own = container.get("securityContext", {})
            assert own.get("allowPrivilegeEscalation") is False, where
            assert own.get("capabilities") == {"drop": ["ALL"]}, where
            assert not own.get("privileged"), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_volumes_are_declared_and_writable_where_the_code_writes(overlay: str) -> None:
    docs = _docs(overlay)
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    for doc in _workloads(docs):
        spec = _pod_spec(doc)
        name = doc["metadata"]["name"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, f"{name}: claim of {volume['name']}"
        for container in _containers(spec):
            mounts = container.get("volumeMounts", [])
            for mount in mounts:
                assert mount["name"] in volumes, f"{overlay} {name}: mount {mount['name']} has no volume"
            env = _env(container)
            for variable in WRITTEN_DIRS.get(name, ()):
                path = _value(docs, env[variable])
                assert path is not None, f"{name}: {variable} unset"
                (mount,) = [m for m in mounts if path == m["mountPath"] or path.startswith(m["mountPath"] + "/")]
                assert not mount.get("readOnly"), f"{name}: {variable}={path} is read-only"
                volume = volumes[mount["name"]]
                assert "persistentVolumeClaim" in volume or "emptyDir" in volume, f"{name}: {variable}"
                if "persistentVolumeClaim" in volume:
                    # a claim is root-owned until the kubelet hands it to the pod's fsGroup
                    assert spec["securityContext"].get("fsGroup") == spec["securityContext"]["runAsUser"], name
                    assert not volume["persistentVolumeClaim"].get("readOnly"), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_drift_replicas_share_one_checkpoint_volume(overlay: str) -> None:
    docs = _docs(overlay)
    drift = _deployment(docs, "drift")
    (volume,) = [v for v in _pod_spec(drift)["volumes"] if v["name"] == "drift-data"]
    claim = volume["persistentVolumeClaim"]["claimName"]
    (pvc,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] == claim]
    assert drift["kind"] == "Deployment" and "volumeClaimTemplates" not in drift["spec"], "one volume, not one per pod"
    if drift["spec"]["replicas"] > 1:
        assert pvc["spec"]["accessModes"] == ["ReadWriteMany"], "a moved partition's checkpoint must be readable"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_required_refs_to_keys_the_operator_provides(overlay: str) -> None:
    provided = {d["metadata"]["name"]: set(d["stringData"]) for d in yaml.safe_load_all(SECRETS_EXAMPLE.read_text())}
    for doc in _workloads(_docs(overlay)):
        for container in _containers(_pod_spec(doc)):
            where = f"{overlay} {doc['metadata']['name']}"
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if SECRET_NAMES.search(entry["name"]):
                    assert ref is not None, f"{where}: {entry['name']} must come from a Secret, not a default"
                if ref is None:
                    continue
                assert ref["key"] in provided.get(ref["name"], set()), f"{where}: Secret {ref['name']}/{ref['key']}"
                optional = (ref["name"], ref["key"]) in OPTIONAL_SECRET_KEYS
                assert bool(ref.get("optional")) == optional, f"{where}: {ref['name']}/{ref['key']} optional={optional}"
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in provided, where


def test_make_secrets_writes_every_secret_the_plain_overlays_read_with_fresh_tokens() -> None:
    def run() -> tuple[list[Doc], str]:
        result = subprocess.run([sys.executable, str(MAKE_SECRETS), "--database-url", "postgresql+psycopg://u:p@db/x"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return list(yaml.safe_load_all(result.stdout)), result.stderr

    secrets, stderr = run()
    data = {d["metadata"]["name"]: d["stringData"] for d in secrets}
    assert all(d["metadata"]["namespace"] == "adaptloop" for d in secrets)
    for overlay in ("overlays/cpu-demo", "overlays/gpu"):
        for doc in _workloads(_docs(overlay)):
            for container in _containers(_pod_spec(doc)):
                for entry in container.get("env", []):
                    ref = entry.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["key"] in data.get(ref["name"], {}), f"{ref['name']}/{ref['key']} not written"
    import hashlib

    digests = data["adaptloop-token-digests"]["tokens"].split(",")
    tokens = data["adaptloop-client-tokens"]
    for client in ("trainer", "inference", "drift"):
        digest = hashlib.sha256(tokens[client].encode()).hexdigest()
        assert f"{client}:trainer:{digest}" in digests
    admin = stderr.strip().rsplit(" ", 1)[-1]
    assert f"ops:admin:{hashlib.sha256(admin.encode()).hexdigest()}" in digests
    assert admin not in yaml.safe_dump(secrets), "the admin token itself is written nowhere"
    assert run()[0][2]["stringData"] != tokens, "tokens are fresh on every run"
    missing = subprocess.run([sys.executable, str(MAKE_SECRETS)], capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "database URL" in missing.stderr, "no default database URL"


# --- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_addresses_and_artifact_urls_point_at_services(overlay: str) -> None:
    docs = _docs(overlay)
    services = {d["metadata"]["name"]: d["spec"]["ports"][0]["port"] for d in docs if d["kind"] == "Service"}
    checked = 0
    for doc in _workloads(docs):
        for name, entry in _env(_main(doc)).items():
            if not name.endswith("_URL") or name.endswith(("DATABASE_URL", "OTLP_ENDPOINT")):
                continue
            url = _value(docs, entry)
            assert url is not None
            parts = urlsplit(url)
            assert parts.hostname in services, f"{doc['metadata']['name']}: {name}={url} names no Service"
            assert parts.port == services[parts.hostname], f"{doc['metadata']['name']}: {name}={url}"
            checked += 1
    assert checked >= 10
    public = _value(docs, _env(_main(_deployment(docs, "registry")))["ADAPTLOOP_REGISTRY_PUBLIC_URL"])
    assert public is not None and urlsplit(public).hostname == "registry", f"artifact URLs would be {public}"


# --- images ------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_the_ones_the_dockerfiles_build(overlay: str) -> None:
    for doc in _workloads(_docs(overlay)):
        for container in _containers(_pod_spec(doc)):
            image = container["image"]
            workload = doc["metadata"]["name"] if doc["kind"] != "Job" else "registry"
            tag = VERSION
            if workload in ("inference", "trainer"):
                tag = f"{VERSION}-{ACCELERATED[overlay]}"
            assert image == f"adaptloop/{workload}:{tag}", f"{overlay} {doc['kind']}/{doc['metadata']['name']}"


def test_readme_says_how_each_image_is_built_from_a_target_its_dockerfile_has() -> None:
    readme = README.read_text()
    images = {c["image"] for overlay in OVERLAYS for d in _workloads(_docs(overlay)) for c in _containers(_pod_spec(d))}
    for image in sorted(images):
        lines = [line for line in readme.splitlines() if re.search(rf"-t {re.escape(image)}(\s|$|`)", line)]
        assert lines, f"README gives no build command tagging {image}"
        (line,) = lines
        dockerfile = _dockerfile(image)
        assert f"-f {dockerfile.relative_to(ROOT).as_posix()}" in line, line
        target = re.search(r"--target[ =](\S+)", line)
        if target:
            stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile.read_text(), flags=re.M | re.I)
            assert target.group(1) in stages, f"{dockerfile} has no stage {target.group(1)} (stages {stages})"
        elif image.endswith(("-cpu", "-cuda")):
            raise AssertionError(f"{image}: a variant is built with --target")


def test_the_topics_job_runs_a_module_its_image_installs() -> None:
    for overlay in OVERLAYS:
        (job,) = [d for d in _docs(overlay) if d["kind"] == "Job"]
        (container,) = _pod_spec(job)["containers"]
        command = container.get("command", [])
        assert command[:2] == ["python", "-m"], command
        package = command[2].split(".")[0].removeprefix("adaptloop_")
        (source,) = [p for p in (ROOT / "libs" / package, ROOT / "services" / package) if p.is_dir()]
        module = source / "src" / Path(*command[2].split(".")).with_suffix(".py")
        assert module.is_file(), f"{command[2]} is not a module of {source}"
        dockerfile = _dockerfile(container["image"]).read_text()
        relative = source.relative_to(ROOT).as_posix()
        assert re.search(rf"^COPY\s+(--\S+\s+)*{re.escape(relative)}\s", dockerfile, flags=re.M), (
            f"{container['image']} does not copy {relative}: `python -m {command[2]}` would fail"
        )
        assert re.search(rf"pip install[^\n]*(\\\n[^\n]*)*{re.escape(relative)}", dockerfile), (
            f"{container['image']} does not install {relative}"
        )
