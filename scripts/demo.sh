#!/usr/bin/env bash
# demo.sh: install what is missing, build, and run the main job on the embedded default:
# examples/demo.yaml (warm-up, baseline, saturation search, SLA check at the recommended
# operating point) with a local coordinator, one local worker per core and a local
# simulated vLLM cluster. Results go to results-demo/ (extra arguments go to `surge run`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/surge run examples/demo.yaml --out results-demo "$@"
