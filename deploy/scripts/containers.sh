#!/usr/bin/env bash
# Builds and runs adaptloop's container images with podman (no Docker engine needed).
#   containers.sh install            podman, runc, debootstrap (apt) and podman-compose (pip), when missing
#   containers.sh base               the local base image (Debian bookworm + Python 3.11), when missing
#   containers.sh build [cpu|gpu]    every image, one after the other (default: cpu):
#                                    adaptloop/{registry,ingest,drift,dashboard}:0.1.0 and
#                                    adaptloop/{trainer,inference}:0.1.0-cpu (gpu: :0.1.0-cuda, for Kubernetes)
#   containers.sh standins           the test stand-ins for apache/kafka and postgres (deploy/compose/standins)
#   containers.sh env [FILE]         write FILE (default .env) with fresh tokens and passwords, if it is missing
#   containers.sh up [OPTIONS] [-- SERVICES]
#                                    start the compose stack (podman-compose OPTIONS such as -p, --env-file, -f;
#                                    default services: all of the profile ADAPTLOOP_COMPOSE_PROFILE, cpu)
#   containers.sh compose ARGS...    podman-compose with this machine's settings, e.g. `compose --profile cpu down`
#   containers.sh podman ARGS...     podman with this machine's settings
# Settings: ADAPTLOOP_BASE_IMAGE (the base every Dockerfile starts FROM; default: the local one made
# here; python:3.11-slim where images can be pulled), ADAPTLOOP_IMAGE_TAG (default 0.1.0).
# podman caches the layers: the locked dependencies are one layer per environment, shared by its
# images, so a second build only redoes the project's own packages when they changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LOCAL_BASE=localhost/bookworm-python:local
BASE_IMAGE=${ADAPTLOOP_BASE_IMAGE:-$LOCAL_BASE}
TAG=${ADAPTLOOP_IMAGE_TAG:-0.1.0}
COMPOSE_VERSION=1.6.0
STATE=$ROOT/var/containers
mkdir -p "$STATE"

# podman needs three settings on these hosts: no default ulimits, runc (crun refuses the hybrid
# cgroup layout) and the cgroupfs manager (no systemd session); a file logger for events.
export CONTAINERS_CONF=$STATE/containers.conf
cat > "$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF

die() { echo "containers.sh: $*" >&2; exit 1; }

install_tools() {
  if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "podman is missing and there is no apt-get to install it; install podman, runc and debootstrap"
    echo "containers.sh: installing podman, runc and debootstrap (apt)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap; } \
      >"$STATE/apt.log" 2>&1 || die "apt-get could not install podman (see $STATE/apt.log)"
  fi
  if [ ! -x "$STATE/venv/bin/podman-compose" ]; then
    echo "containers.sh: installing podman-compose $COMPOSE_VERSION into $STATE/venv"
    python3 -m venv "$STATE/venv" && "$STATE/venv/bin/pip" install --quiet "podman-compose==$COMPOSE_VERSION" \
      >"$STATE/pip.log" 2>&1 || die "pip could not install podman-compose (see $STATE/pip.log)"
  fi
  podman info >"$STATE/podman-info.log" 2>&1 \
    || die "the container engine cannot start: podman info says: $(tail -3 "$STATE/podman-info.log" | tr '\n' ' ') (full output: $STATE/podman-info.log)"
}

debian_mirror() {
  # The Debian archive apt already uses here (a proxy or snapshot on some hosts), else deb.debian.org.
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null \
    | grep -oE '^(URIs:|deb) +https?://[^ ]+' | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

build_base() {
  if podman image exists "$LOCAL_BASE"; then return 0; fi
  echo "containers.sh: making $LOCAL_BASE with debootstrap (Debian bookworm, Python 3.11)"
  local rootfs=$STATE/rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,libnuma1 \
    bookworm "$rootfs" "$(debian_mirror)" >"$STATE/debootstrap.log" 2>&1 \
    || die "debootstrap failed (see $STATE/debootstrap.log)"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["python3"]' - "$LOCAL_BASE" >"$STATE/import.log" 2>&1 \
    || die "podman import of the base image failed (see $STATE/import.log)"
  rm -rf "$rootfs"
}

# What every build gets: the host network and the host's package index settings (pip.conf, CA bundle),
# and the wheels the host already keeps (PIP_FIND_LINKS) so pip does not download them again.
build_args=()
set_build_args() {
  build_args=(--format docker --network=host --layers --build-arg "BASE_IMAGE=$BASE_IMAGE"
    --build-arg "STREAM_LOCK=$(sha256sum deploy/requirements/stream.lock | cut -d' ' -f1)"
    --build-arg "MODEL_LOCK=$(sha256sum deploy/requirements/model.lock | cut -d' ' -f1)")
  [ -f /etc/pip.conf ] && build_args+=(-v /etc/pip.conf:/etc/pip.conf:ro)
  [ -f /etc/ssl/certs/ca-certificates.crt ] && build_args+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  local links=${PIP_FIND_LINKS:-$(python3 -m pip config get global.find-links 2>/dev/null || true)}
  if [ -n "$links" ] && [ -d "$links" ]; then
    build_args+=(-v "$links:/wheels:ro" --build-arg PIP_FIND_LINKS=/wheels)
    # torch's CPU wheel among them: no need to ask the PyTorch index (unreachable on some hosts).
    if compgen -G "$links/torch-2.13.0+cpu-*.whl" >/dev/null; then build_args+=(--build-arg TORCH_INDEX_URL=); fi
  fi
}

build_one() {
  local image=$1 dockerfile=$2; shift 2
  local started=$SECONDS log=$STATE/build-${image//[\/:]/-}.log
  echo "containers.sh: building $image ($dockerfile $*)"
  podman build "${build_args[@]}" -f "$dockerfile" -t "$image" "$@" . >"$log" 2>&1 \
    || { tail -30 "$log" >&2; die "building $image failed (see $log)"; }
  echo "containers.sh: built $image in $((SECONDS - started)) s"
}

build_images() {
  local flavour=${1:-cpu}
  set_build_args
  # One after the other (builds are heavy): the stream images share their dependency layer, as do
  # the trainer's and inference's CPU images.
  build_one "adaptloop/registry:$TAG" services/registry/Dockerfile
  build_one "adaptloop/ingest:$TAG" services/ingest/Dockerfile
  build_one "adaptloop/drift:$TAG" services/drift/Dockerfile
  build_one "adaptloop/dashboard:$TAG" libs/dashboard/Dockerfile
  case $flavour in
    cpu)
      build_one "adaptloop/trainer:$TAG-cpu" services/trainer/Dockerfile --target cpu
      build_one "adaptloop/inference:$TAG-cpu" services/inference/Dockerfile --target cpu ;;
    gpu)
      build_one "adaptloop/trainer:$TAG-cuda" services/trainer/Dockerfile --target gpu
      build_one "adaptloop/inference:$TAG-cuda" services/inference/Dockerfile --target gpu ;;
    *) die "unknown flavour $flavour (cpu or gpu)" ;;
  esac
}

build_standins() {
  set_build_args
  build_one "localhost/adaptloop-standin-kafka:$TAG" deploy/compose/standins/kafka.Dockerfile
  build_one "localhost/adaptloop-standin-postgres:$TAG" deploy/compose/standins/postgres.Dockerfile
}

write_env() {
  local file=${1:-.env}
  if [ -e "$file" ]; then echo "containers.sh: $file exists; kept (delete it for fresh tokens)"; return 0; fi
  python3 - "$file" <<'PY'
import hashlib, os, secrets, sys
path = sys.argv[1]
tokens = {role: secrets.token_urlsafe(24) for role in ("admin", "trainer", "reader")}
spec = ",".join(f"compose-{r}:{r}:{hashlib.sha256(t.encode()).hexdigest()}" for r, t in tokens.items())
lines = [
    "# adaptloop compose settings, written by `make compose-env` (keep this file private).",
    "# Bearer tokens: use ADAPTLOOP_ADMIN_TOKEN / _TRAINER_TOKEN / _READER_TOKEN with the HTTP APIs;",
    "# the services see only their sha256 (ADAPTLOOP_TOKENS).",
    f"ADAPTLOOP_ADMIN_TOKEN={tokens['admin']}",
    f"ADAPTLOOP_TRAINER_TOKEN={tokens['trainer']}",
    f"ADAPTLOOP_READER_TOKEN={tokens['reader']}",
    f"ADAPTLOOP_TOKENS={spec}",
    f"POSTGRES_PASSWORD={secrets.token_urlsafe(18)}",
    f"GRAFANA_ADMIN_PASSWORD={secrets.token_urlsafe(18)}",
    "# The base model under ./var/models served and trained on, and the first adapter `register` creates.",
    "ADAPTLOOP_BASE_MODEL=tiny-llama",
    "ADAPTLOOP_FIRST_ADAPTER=support",
]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(fd, "w") as fh:
    fh.write("\n".join(lines) + "\n")
PY
  echo "containers.sh: wrote $file (tokens, passwords; mode 600)"
}

compose() {
  ADAPTLOOP_IMAGE_TAG=$TAG "$STATE/venv/bin/podman-compose" "$@"
}

compose_up() {
  local args=() services=() profile=${ADAPTLOOP_COMPOSE_PROFILE:-cpu}
  while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then shift; services=("$@"); break; fi
    args+=("$1"); shift
  done
  if [ ${#services[@]} -eq 0 ]; then
    services=(registry ingest drift trainer "inference-$profile" dashboard register otel-collector jaeger prometheus grafana)
  fi
  # podman 4.3 cannot start a container whose dependencies have dependencies of their own (the
  # `--requires` chain podman-compose sets), and podman-compose waits for no healthcheck below
  # podman 4.6: so three steps, in the order depends_on gives. The services wait for the broker,
  # the database and the registry themselves (and restart on failure).
  compose "${args[@]}" --profile "$profile" up -d --no-deps kafka postgres
  compose "${args[@]}" --profile "$profile" run --rm --no-deps topics || die "creating the topics failed"
  compose "${args[@]}" --profile "$profile" up -d --no-deps "${services[@]}"
}

cmd=${1:-build}; shift || true
case $cmd in
  install) install_tools ;;
  base) install_tools; build_base ;;
  build) install_tools; if [ "$BASE_IMAGE" = "$LOCAL_BASE" ]; then build_base; fi; build_images "$@" ;;
  standins) install_tools; if [ "$BASE_IMAGE" = "$LOCAL_BASE" ]; then build_base; fi; build_standins ;;
  env) write_env "$@" ;;
  up) compose_up "$@" ;;
  compose) compose "$@" ;;
  podman) podman "$@" ;;
  *) die "unknown command $cmd (install, base, build, standins, env, up, compose, podman)" ;;
esac
