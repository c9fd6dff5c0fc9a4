#!/usr/bin/env bash
# Runs the test suite in the environment each part belongs to.
#   tests/*/{inference,trainer,model}  -> model environment (vLLM, torch, peft)
#   everything else (incl. tests/e2e)  -> stream environment (faust, River, the stack driver)
# Usage: test.sh [unit|integration|e2e]...   (default: all three levels)
set -uo pipefail
cd "$(dirname "$0")/../.."
levels=("${@:-unit integration e2e}")
read -r -a levels <<< "${levels[*]}"
model_dirs=(inference trainer model)
stream_paths=() model_paths=()
for level in "${levels[@]}"; do
  [ -d "tests/$level" ] || continue
  for d in tests/"$level"/*/; do
    [ -d "$d" ] || continue
    name=$(basename "$d")
    if [[ " ${model_dirs[*]} " == *" $name "* ]]; then model_paths+=("$d"); else stream_paths+=("$d"); fi
  done
done
if [[ " ${levels[*]} " == *" e2e "* ]] && ! command -v chromium >/dev/null 2>&1; then
  # The dashboard test drives a real headless browser: Debian's chromium package.
  echo "== installing Debian's chromium for the dashboard test"
  if command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >var/apt-chromium.log 2>&1 \
      || echo "== could not install chromium (see var/apt-chromium.log); the dashboard test will fail"
  fi
fi
if [[ " ${levels[*]} " == *" e2e "* ]]; then
  # The compose test (tests/e2e/compose) runs the images with podman: podman, runc, debootstrap and
  # podman-compose are installed when missing; a failure here makes that test fail with the reason.
  bash deploy/scripts/containers.sh install || echo "== the container tools are missing; the compose test will fail"
fi
status=0
run() {
  local env=$1; shift
  [ "$#" -gt 0 ] || return 0
  echo "== pytest in the $env environment: $*"
  "var/venv/$env/bin/python" -m pytest --durations=20 "$@"
  local rc=$?
  if [ "$rc" -ne 0 ]; then echo "== pytest ($env) failed with exit code $rc"; status=1; fi
}
run stream "${stream_paths[@]}"
run model "${model_paths[@]}"
exit $status
