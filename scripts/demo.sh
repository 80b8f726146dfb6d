#!/usr/bin/env bash
# demo.sh: install what is missing, build, and run the main job on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -f examples/demo.yaml ] && build/surge --help | grep -q '^  run '; then
    exec build/surge run examples/demo.yaml --out results-demo "$@"
fi
exec build/surge --help
