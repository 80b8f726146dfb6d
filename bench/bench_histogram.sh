#!/usr/bin/env bash
# bench_histogram.sh [BUILD_DIR] [SECONDS]: surge's histogram against hdr-histogram-js, in one
# run on one machine: cost per operation of each, and the ratio (reference / surge; > 1 means
# surge is faster). Both use 1 us .. 1 h at 3 digits and the same kind of values.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} seconds=${2:-1}
cmake --build "$build" --target bench_histogram >/dev/null
[ -d tests/js/node_modules ] || (cd tests/js && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

surge_out=$("$build/bench/bench_histogram" "$seconds")
js_out=$(node bench/bench_histogram_js.mjs "$seconds")
surge_ns() { # the ns/op column (after the 44-character label) of the row starting with $1
    awk -v row="$1" 'index($0, row) == 1 { split(substr($0, 46), f, " "); print f[1]; exit }' <<<"$surge_out"
}
js_ns() { awk -v k="$1" '$1 == k { print $2 }' <<<"$js_out"; }

printf '%-44s %12s %16s %8s\n' "operation" "surge ns/op" "hdr-js ns/op" "ratio"
while IFS='|' read -r label surge_row js_key; do
    s=$(surge_ns "$surge_row") j=$(js_ns "$js_key")
    printf '%-44s %12s %16s %7.1fx\n' "$label" "$s" "$j" "$(awk -v j="$j" -v s="$s" 'BEGIN { print j / s }')"
done <<'ROWS'
record (random, 64 Ki distinct values)|record (random, 64 Ki|record
merge typical snapshot (1,000 values)|merge typical snapshot (1,000|merge
encode typical snapshot (V2 compressed)|encode typical snapshot|encode
decode typical snapshot|decode typical snapshot|decode
one percentile of typical snapshot|percentile of typical snapshot|percentile
ROWS
