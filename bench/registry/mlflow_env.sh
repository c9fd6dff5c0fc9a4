#!/usr/bin/env bash
# Creates var/venv/mlflow, the environment of the MLflow model registry server that the registry
# benchmark compares against, from bench/registry/mlflow.lock; idempotent (a fingerprint of the lock).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
dir=var/venv/mlflow
fp=$(sha256sum bench/registry/mlflow.lock | cut -d' ' -f1)
if [ -f "$dir/.lock-fingerprint" ] && [ "$(cat "$dir/.lock-fingerprint")" = "$fp" ]; then
  exit 0
fi
echo "bench: installing bench/registry/mlflow.lock into $dir" >&2
[ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
"$dir/bin/pip" install --quiet --disable-pip-version-check -r bench/registry/mlflow.lock 2>&1 \
  | grep -v "is ignored: it is neither" >&2 || true
"$dir/bin/python" -c "import mlflow.server, psycopg" || { echo "bench: $dir does not import mlflow" >&2; exit 1; }
echo "$fp" > "$dir/.lock-fingerprint"
