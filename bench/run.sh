#!/usr/bin/env bash
# Runs every benchmark in the environment of the code it measures; each writes bench/results/<name>.json.
# Usage: bench/run.sh [name ...]
#   (names: registry drift trainer inference guided_decoding loop adaptation; default all)
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
declare -A ENV_OF=([registry]=stream [drift]=stream [loop]=stream [trainer]=model [inference]=model [adaptation]=model
                   [guided_decoding]=model)
declare -A DIR_OF=([guided_decoding]=inference)  # a benchmark kept next to the others of its service
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(registry drift trainer inference guided_decoding loop adaptation)
status=0
for name in "${names[@]}"; do
  script="bench/${DIR_OF[$name]:-$name}/bench_$name.py"
  if [ ! -f "$script" ]; then echo "bench: $script missing" >&2; status=1; continue; fi
  echo "== bench $name (${ENV_OF[$name]} environment)"
  if ! "var/venv/${ENV_OF[$name]}/bin/python" "$script"; then
    echo "== bench $name failed" >&2; status=1
  fi
done
exit $status
