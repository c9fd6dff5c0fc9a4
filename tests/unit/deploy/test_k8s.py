"""deploy/k8s stays consistent with itself and with the code: references, probes, resources, settings.

No cluster is needed: each kustomization is rendered here by a small renderer that applies
what the manifests use (resources, strategic-merge and JSON 6902 patches, images, namespace),
and `kubectl kustomize`'s own output is compared with it (kubectl is required).
test_k8s_kubectl.py checks kubectl's rendering of every overlay further.
"""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from adaptloop_contracts.inference import INFERENCE_LOGS
from adaptloop_contracts.topics import TOPICS
from settings_fields import ROOT, env_setting_name, service_settings_fields

K8S = ROOT / "deploy/k8s"
SECRETS_EXAMPLE = K8S / "secrets.example.yaml"
CONTRACT_PORTS = {"inference": 8000, "ingest": 8001, "registry": 8002, "trainer": 8003, "drift": 8004}
SERVICES = tuple(CONTRACT_PORTS)
BUILDS = ("base", "overlays/cpu-demo", "overlays/gpu")
GPU = "nvidia.com/gpu"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass"}
TOPICS_JOB_SOURCE = ROOT / "libs/devstack/src/adaptloop_devstack/topics.py"

Doc = dict[str, Any]


# --- reading and rendering -------------------------------------------------------------------


def _load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def _key(doc: Doc) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def _named(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def _strategic_merge(base: Any, patch: Any) -> Any:
    """Maps merge key by key; lists of named items merge by name; anything else is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _strategic_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and base and _named(base) and _named(patch):
        merged_list = [dict(item) for item in base]
        index = {item["name"]: n for n, item in enumerate(merged_list)}
        for item in patch:
            if item["name"] in index:
                merged_list[index[item["name"]]] = _strategic_merge(merged_list[index[item["name"]]], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    assert path.startswith("/"), f"JSON pointer {path!r} must start with /"
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _step(node: Any, part: str, where: str) -> Any:
    if isinstance(node, list):
        assert part.isdigit() and int(part) < len(node), f"{where}: no list index {part}"
        return node[int(part)]
    assert isinstance(node, dict) and part in node, f"{where}: no key {part!r}"
    return node[part]


def _json6902(doc: Doc, ops: list[Doc], where: str) -> None:
    """Apply add/remove/replace operations; a path that does not exist in the target fails."""
    for op in ops:
        parts = _pointer(op["path"])
        parent = doc
        for part in parts[:-1]:
            parent = _step(parent, part, f"{where} {op['path']}")
        last = parts[-1]
        if op["op"] == "remove":
            _step(parent, last, f"{where} {op['path']}")
            del parent[int(last) if isinstance(parent, list) else last]
        elif op["op"] == "replace":
            _step(parent, last, f"{where} {op['path']}")
            parent[int(last) if isinstance(parent, list) else last] = copy.deepcopy(op["value"])
        elif op["op"] == "add":
            if isinstance(parent, list):
                parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(op["value"]))
            else:
                parent[last] = copy.deepcopy(op["value"])
        else:
            raise AssertionError(f"{where}: unsupported JSON patch op {op['op']!r}")


def _matches(doc: Doc, target: Doc | None) -> bool:
    if target is None:
        return True
    unsupported = set(target) - {"kind", "name"}
    assert not unsupported, f"patch target selectors {unsupported} are not checked by this test"
    kind, name = _key(doc)
    return target.get("kind", kind) == kind and target.get("name", name) == name


def _containers(pod_spec: Doc) -> Iterator[Doc]:
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec.get("containers", [])


def _pod_spec(doc: Doc) -> Doc:
    return doc["spec"]["template"]["spec"]


def render(directory: Path) -> list[Doc]:
    """Render a kustomization the way `kubectl kustomize` does, for the features the manifests use."""
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs: list[Doc] = []
    for ref in kust.get("resources", []):
        path = directory / ref
        docs += render(path) if path.is_dir() else copy.deepcopy(_load_all(path))
    keys = [_key(d) for d in docs]
    assert len(keys) == len(set(keys)), f"{directory}: duplicate resources {keys}"
    for patch in kust.get("patches", []):
        where = f"{directory.relative_to(K8S)} patch {patch['path']}"
        content = _load_all(directory / patch["path"])
        target = patch.get("target")
        if len(content) == 1 and isinstance(content[0], list):
            targets = [n for n, d in enumerate(docs) if _matches(d, target)]
            assert targets, f"{where}: target {target} matches no resource"
            for n in targets:
                _json6902(docs[n], content[0], where)
            continue
        for part in content:
            found = [n for n, d in enumerate(docs) if _key(d) == _key(part) and _matches(d, target)]
            assert found, f"{where}: {_key(part)} is not a resource of the build"
            docs[found[0]] = _strategic_merge(docs[found[0]], part)
    for image in kust.get("images", []):
        for doc in docs:
            if doc["kind"] in WORKLOAD_KINDS:
                for container in _containers(_pod_spec(doc)):
                    name, _, tag = container["image"].partition(":")
                    if name == image["name"]:
                        container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    if "namespace" in kust:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kust["namespace"]
    return docs


@functools.cache
def _rendered(name: str) -> tuple[Doc, ...]:
    return tuple(render(K8S / name))


def _build(name: str) -> list[Doc]:
    return copy.deepcopy(list(_rendered(name)))


def _find(docs: list[Doc], kind: str, name: str) -> Doc:
    for doc in docs:
        if _key(doc) == (kind, name):
            return doc
    raise AssertionError(f"no {kind} {name}")


def _workload(docs: list[Doc], service: str) -> Doc:
    found = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet") and d["metadata"]["name"] == service]
    assert len(found) == 1, f"expected one Deployment or StatefulSet named {service}, found {len(found)}"
    return found[0]


def _main_container(workload: Doc) -> Doc:
    name = workload["metadata"]["name"]
    for container in _pod_spec(workload)["containers"]:
        if container["name"] == name:
            return container
    raise AssertionError(f"{name}: no container named {name}")


def _container_port(container: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    for spec in container.get("ports", []):
        if spec.get("name") == port:
            return int(spec["containerPort"])
    raise AssertionError(f"{container['name']}: no container port named {port!r}")


def _secret_keys() -> dict[str, set[str]]:
    """Secrets the operator provides: names and keys documented in secrets.example.yaml."""
    out: dict[str, set[str]] = {}
    for doc in _load_all(SECRETS_EXAMPLE):
        assert doc["kind"] == "Secret"
        out[doc["metadata"]["name"]] = set(doc.get("stringData", {})) | set(doc.get("data", {}))
    return out


# --- the files themselves --------------------------------------------------------------------


def test_every_yaml_file_parses_into_objects_or_patch_lists() -> None:
    files = sorted([*K8S.rglob("*.yaml"), *K8S.rglob("*.yml")])
    assert files, "deploy/k8s has no YAML files"
    for path in files:
        docs = _load_all(path)
        assert docs, f"{path} is empty"
        for doc in docs:
            if isinstance(doc, list):
                assert all({"op", "path"} <= set(op) for op in doc), f"{path}: malformed JSON patch"
                continue
            assert isinstance(doc, dict), f"{path}: not a mapping"
            assert {"apiVersion", "kind"} <= set(doc), f"{path}: apiVersion/kind missing"
            if doc["kind"] != "Kustomization":
                assert doc.get("metadata", {}).get("name"), f"{path}: {doc['kind']} without a name"


def test_kustomization_references_exist() -> None:
    dirs = _kustomization_dirs()
    assert {d.relative_to(K8S).as_posix() for d in dirs} >= set(BUILDS)
    referenced: set[Path] = set()
    for directory in dirs:
        kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
        assert kust["kind"] == "Kustomization"
        for ref in kust.get("resources", []):
            path = (directory / ref).resolve()
            assert path.exists(), f"{directory}: resource {ref} does not exist"
            if path.is_dir():
                assert (path / "kustomization.yaml").is_file(), f"{directory}: {ref} has no kustomization.yaml"
            referenced.add(path)
        for patch in kust.get("patches", []):
            path = (directory / patch["path"]).resolve()
            assert path.is_file(), f"{directory}: patch {patch['path']} does not exist"
            referenced.add(path)
    for path in K8S.rglob("*.yaml"):
        if path.name == "kustomization.yaml" or path == SECRETS_EXAMPLE:
            continue
        assert path.resolve() in referenced, f"{path} is not referenced by any kustomization"
    assert SECRETS_EXAMPLE.resolve() not in referenced, "secrets.example.yaml holds placeholders: never applied"


@pytest.mark.parametrize("build", BUILDS)
def test_build_renders_with_every_patch_applying(build: str) -> None:
    docs = _build(build)
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "ConfigMap", "Service", "Deployment", "Job", "PersistentVolumeClaim"} <= kinds
    namespace = _find(docs, "Namespace", "adaptloop")["metadata"]["name"]
    for doc in docs:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"].get("namespace") == namespace, f"{_key(doc)} outside namespace {namespace}"


# --- workloads -------------------------------------------------------------------------------


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("service", SERVICES)
def test_probes_ports_and_service_match_the_contract(build: str, service: str) -> None:
    docs = _build(build)
    workload = _workload(docs, service)
    container = _main_container(workload)
    port = CONTRACT_PORTS[service]
    assert port in {int(p["containerPort"]) for p in container["ports"]}
    readiness, liveness = container.get("readinessProbe"), container.get("livenessProbe")
    assert readiness and liveness, f"{service}: readiness and liveness probes are required"
    assert readiness["httpGet"]["path"] == "/readyz"
    assert liveness["httpGet"]["path"] == "/healthz"
    for probe in (readiness, liveness, container.get("startupProbe")):
        if probe is not None:
            assert _container_port(container, probe["httpGet"]["port"]) == port, f"{service}: probe on wrong port"
    env = {e["name"]: e for e in container.get("env", [])}
    assert env[f"ADAPTLOOP_{service.upper()}_PORT"]["value"] == str(port)
    assert env[f"ADAPTLOOP_{service.upper()}_HOST"]["value"] == "0.0.0.0"

    svc = _find(docs, "Service", service)
    template_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= template_labels.items(), f"{service}: Service selects no pod"
    assert workload["spec"]["selector"]["matchLabels"].items() <= template_labels.items()
    (svc_port,) = svc["spec"]["ports"]
    assert svc_port["port"] == port
    assert _container_port(container, svc_port["targetPort"]) == port

    annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/scrape") == "true"
    assert annotations.get("prometheus.io/port") == str(port)
    assert annotations.get("prometheus.io/path") == "/metrics"


@pytest.mark.parametrize("build", BUILDS)
def test_every_container_has_resource_requests_and_limits(build: str) -> None:
    for doc in _build(build):
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        for container in _containers(_pod_spec(doc)):
            resources = container.get("resources", {})
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(section, {})), (
                    f"{_key(doc)} container {container['name']}: {section} for cpu and memory required"
                )


@pytest.mark.parametrize("build", BUILDS)
def test_images_are_adaptloop_images_of_the_release(build: str) -> None:
    for doc in _build(build):
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        for container in _containers(_pod_spec(doc)):
            assert re.fullmatch(r"adaptloop/(inference|ingest|registry|trainer|drift|dashboard):0\.1\.0(-cpu|-cuda)?",
                                container["image"]), f"{_key(doc)}: unexpected image {container['image']}"
        if doc["kind"] != "Job":
            image = _main_container(doc)["image"]
            assert image.startswith(f"adaptloop/{doc['metadata']['name']}:"), image


def _refs(doc: Doc) -> Iterator[tuple[str, str, str | None, bool]]:
    """(kind, name, key or None, optional) of every Secret/ConfigMap a workload reads."""
    spec = _pod_spec(doc)
    for container in _containers(spec):
        for env in container.get("env", []):
            source = env.get("valueFrom", {})
            for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                if field in source:
                    ref = source[field]
                    yield kind, ref["name"], ref["key"], bool(ref.get("optional"))
        for env_from in container.get("envFrom", []):
            for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                if field in env_from:
                    yield kind, env_from[field]["name"], None, bool(env_from[field].get("optional"))
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            yield "Secret", volume["secret"]["secretName"], None, bool(volume["secret"].get("optional"))
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"]["name"], None, bool(volume["configMap"].get("optional"))


@pytest.mark.parametrize("build", BUILDS)
def test_every_secret_and_configmap_reference_resolves(build: str) -> None:
    docs = _build(build)
    available: dict[tuple[str, str], set[str]] = {}
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            available["ConfigMap", doc["metadata"]["name"]] = set(doc.get("data", {}))
        if doc["kind"] == "Secret":
            available["Secret", doc["metadata"]["name"]] = set(doc.get("stringData", {})) | set(doc.get("data", {}))
    for name, keys in _secret_keys().items():
        available.setdefault(("Secret", name), set()).update(keys)
    for doc in docs:
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        for kind, name, key, _optional in _refs(doc):
            assert (kind, name) in available, (
                f"{_key(doc)}: {kind} {name} is neither in the manifests nor in secrets.example.yaml"
            )
            if key is not None:
                assert key in available[kind, name], f"{_key(doc)}: {kind} {name} has no key {key!r}"


@pytest.mark.parametrize("build", BUILDS)
def test_secrets_come_from_secret_refs_and_connection_settings_from_the_configmap(build: str) -> None:
    docs = _build(build)
    for service in SERVICES:
        env = {e["name"]: e for e in _main_container(_workload(docs, service)).get("env", [])}
        prefix = f"ADAPTLOOP_{service.upper()}_"
        for name, entry in env.items():
            if name.endswith(("_DATABASE_URL", "_TOKENS", "_TOKEN", "_API_KEYS")):
                assert "secretKeyRef" in entry.get("valueFrom", {}), f"{service}: {name} must come from a Secret"
        assert env[f"{prefix}KAFKA_BOOTSTRAP"]["valueFrom"]["configMapKeyRef"]["key"] == "kafka-bootstrap"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["valueFrom"]["configMapKeyRef"]["key"] == "otlp-endpoint"
        assert env["OTEL_SERVICE_NAME"]["value"] == f"adaptloop-{service}"
        assert f"{prefix}TOKENS" in env or service == "inference", f"{service}: accepted token digests not set"


@pytest.mark.parametrize("service", SERVICES)
def test_every_environment_variable_is_a_setting(service: str) -> None:
    fields = service_settings_fields(service)
    for build in BUILDS:
        for env in _main_container(_workload(_build(build), service)).get("env", []):
            name = env["name"]
            field = env_setting_name(service, name)
            if field is not None:
                assert field in fields, f"{build}: {name} is not a setting of {service}"
            else:
                prefix = f"ADAPTLOOP_{service.upper()}_"
                assert not name.startswith("ADAPTLOOP_"), f"{build}: {name} lacks the prefix {prefix}"


def test_topics_job_runs_the_topic_creator_with_the_variables_it_reads() -> None:
    source = TOPICS_JOB_SOURCE.read_text()
    for build in BUILDS:
        (job,) = [d for d in _build(build) if d["kind"] == "Job"]
        (container,) = _pod_spec(job)["containers"]
        assert container["command"] == ["python", "-m", "adaptloop_devstack.topics"]
        names = {e["name"] for e in container["env"]}
        assert "ADAPTLOOP_KAFKA_BOOTSTRAP" in names
        for name in names:
            assert f'"{name}"' in source, f"{name} is not read by adaptloop_devstack.topics"


@pytest.mark.parametrize("build", BUILDS)
def test_state_lives_on_persistent_volumes(build: str) -> None:
    docs = _build(build)
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    for doc in docs:
        if doc["kind"] in WORKLOAD_KINDS:
            templates = {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
            for volume in _pod_spec(doc).get("volumes", []):
                if "persistentVolumeClaim" in volume:
                    assert volume["persistentVolumeClaim"]["claimName"] in claims, f"{_key(doc)}: unknown claim"
            mounted = {m["name"] for c in _containers(_pod_spec(doc)) for m in c.get("volumeMounts", [])}
            declared = {v["name"] for v in _pod_spec(doc).get("volumes", [])} | templates
            assert mounted <= declared, f"{_key(doc)}: mounts of undeclared volumes {mounted - declared}"

    def mount_of(service: str, env_name: str) -> str:
        container = _main_container(_workload(docs, service))
        path = {e["name"]: e.get("value") for e in container["env"]}[env_name]
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == path]
        return mount["name"]

    # registry artifacts, trainer work dir, drift checkpoints: each on a claim; shared claims
    # of services with several replicas must be ReadWriteMany
    for service, variable in (("registry", "ADAPTLOOP_REGISTRY_ARTIFACT_DIR"),
                              ("trainer", "ADAPTLOOP_TRAINER_WORK_DIR"),
                              ("drift", "ADAPTLOOP_DRIFT_DATA_DIR")):
        workload = _workload(docs, service)
        volumes = {v["name"]: v for v in _pod_spec(workload).get("volumes", [])}
        templates = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
        volume = mount_of(service, variable)
        assert volume in templates or "persistentVolumeClaim" in volumes.get(volume, {}), (
            f"{service}: {variable} is not on a persistent volume"
        )
        if volume in volumes and workload["spec"]["replicas"] > 1:
            claim = _find(docs, "PersistentVolumeClaim", volumes[volume]["persistentVolumeClaim"]["claimName"])
            assert "ReadWriteMany" in claim["spec"]["accessModes"], f"{service}: replicas share {variable}"


# --- scaling rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("build", BUILDS)
def test_scaling_rules(build: str) -> None:
    docs = _build(build)
    drift = _workload(docs, "drift")
    assert 1 <= drift["spec"]["replicas"] <= TOPICS[INFERENCE_LOGS].partitions, "drift replicas beyond partitions idle"

    inference = _workload(docs, "inference")
    assert inference["kind"] == "Deployment"
    env = {e["name"]: e for e in _main_container(inference)["env"]}
    # the replica id names the pod's own consumer group of registry.events
    assert env["ADAPTLOOP_INFERENCE_REPLICA_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"

    trainer = _workload(docs, "trainer")
    assert trainer["spec"]["replicas"] == 1
    assert trainer["spec"]["strategy"]["type"] == "Recreate"


@pytest.mark.parametrize("build", ["base", "overlays/gpu"])
def test_trainer_and_inference_are_gpu_workloads(build: str) -> None:
    docs = _build(build)
    for service in ("trainer", "inference"):
        workload = _workload(docs, service)
        spec = _pod_spec(workload)
        assert int(_main_container(workload)["resources"]["limits"][GPU]) >= 1, f"{service}: no GPU limit"
        assert spec.get("nodeSelector"), f"{service}: GPU pods need a nodeSelector"
        assert any(t.get("key") == GPU for t in spec.get("tolerations", [])), f"{service}: no GPU toleration"


def test_cpu_demo_needs_no_gpu_and_runs_vllm_cpu() -> None:
    docs = _build("overlays/cpu-demo")
    for doc in docs:
        if doc["kind"] in WORKLOAD_KINDS:
            spec = _pod_spec(doc)
            assert "nodeSelector" not in spec and "tolerations" not in spec, _key(doc)
            for container in _containers(spec):
                for section in ("requests", "limits"):
                    assert GPU not in container["resources"].get(section, {}), _key(doc)
    inference = _main_container(_workload(docs, "inference"))
    assert inference["image"] == "adaptloop/inference:0.1.0-cpu"
    assert any(e["name"] == "VLLM_CPU_KVCACHE_SPACE" for e in inference["env"])


# --- agreement with kubectl, when it is installed ----------------------------------------------


def _summary(docs: list[Doc]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for doc in docs:
        entry: dict[str, Any] = {"namespace": doc["metadata"].get("namespace")}
        if doc["kind"] in WORKLOAD_KINDS:
            spec = _pod_spec(doc)
            entry["replicas"] = doc["spec"].get("replicas")
            entry["containers"] = {
                c["name"]: (c["image"], c.get("resources"), sorted((e["name"], str(e.get("value"))) for e in c["env"]))
                for c in _containers(spec)
            }
            entry["placement"] = (spec.get("nodeSelector"), spec.get("tolerations"))
        if doc["kind"] == "PersistentVolumeClaim":
            entry["spec"] = doc["spec"]
        out[_key(doc)] = entry
    return out


@pytest.mark.parametrize("build", BUILDS)
def test_kubectl_kustomize_agrees(build: str) -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is required to check the manifests (it is at /usr/bin/kubectl here)"
    result = subprocess.run([kubectl, "kustomize", str(K8S / build)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert _summary(_load_all_text(result.stdout)) == _summary(_build(build))


def _load_all_text(text: str) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def test_the_sasl_tls_overlay_gives_every_workload_the_shared_kafka_settings_and_the_ca() -> None:
    from adaptloop_kafka import KafkaClientSettings

    secret = _secret_keys()
    assert {"ca.crt"} <= secret["adaptloop-kafka-ca"]
    fields = set(KafkaClientSettings.model_fields)
    assert {key.removeprefix("ADAPTLOOP_KAFKA_").lower() for key in secret["adaptloop-kafka-client"]} <= fields
    workloads = [d for d in _build("overlays/gpu-kafka-sasl-tls")
                 if d["kind"] in WORKLOAD_KINDS and d["metadata"]["name"] != "dashboard"]  # no Kafka client
    assert len(workloads) == len(SERVICES) + 1  # the services and the topic Job
    for workload in workloads:
        spec = _pod_spec(workload)
        (ca_volume,) = [v for v in spec["volumes"] if v.get("secret", {}).get("secretName") == "adaptloop-kafka-ca"]
        for container in spec["containers"]:
            assert {"secretRef": {"name": "adaptloop-kafka-client"}} in container["envFrom"], workload["metadata"]
            assert any(m["name"] == ca_volume["name"] and m["mountPath"] == "/etc/adaptloop/kafka"
                       for m in container["volumeMounts"])
