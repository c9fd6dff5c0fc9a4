#!/usr/bin/env bash
# Runs every benchmark in the environment of the code it measures; each writes bench/results/<name>.json.
# Usage: bench/run.sh [name ...]   (names: registry drift trainer inference loop adaptation; default all)
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
declare -A ENV_OF=([registry]=stream [drift]=stream [loop]=stream [trainer]=model [inference]=model [adaptation]=model)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(registry drift trainer inference loop adaptation)
status=0
for name in "${names[@]}"; do
  script="bench/$name/bench_$name.py"
  if [ ! -f "$script" ]; then echo "bench: $script missing" >&2; status=1; continue; fi
  echo "== bench $name (${ENV_OF[$name]} environment)"
  if ! "var/venv/${ENV_OF[$name]}/bin/python" "$script"; then
    echo "== bench $name failed" >&2; status=1
  fi
done
exit $status
