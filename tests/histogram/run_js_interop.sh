#!/usr/bin/env bash
# run_js_interop.sh HIST_TOOL: surge <-> hdr-histogram-js interop (tests/js/hdr_interop.mjs).
# Skips (exit 77) when node or tests/js/node_modules is missing: `npm ci` in tests/js
# (scripts/test.sh does it) installs the pinned hdr-histogram-js.
set -euo pipefail
tool=$1
js_dir="${SURGE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/js"
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node is not installed (needed to run hdr-histogram-js)"
    exit 77
fi
if [ ! -d "$js_dir/node_modules/hdr-histogram-js" ]; then
    echo "SKIP: $js_dir/node_modules is missing; run: (cd tests/js && npm ci)"
    exit 77
fi
exec node "$js_dir/hdr_interop.mjs" "$tool"
