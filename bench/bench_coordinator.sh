#!/bin/sh
# bench_coordinator.sh: the coordinator's cost per snapshot in instructions, which stay
# the same from run to run on a busy shared machine where microseconds do not.
#
# usage: bench/bench_coordinator.sh [build-dir=build] [snapshots=400]
#
# For 1 and 8 targets: instructions per snapshot from callgrind (valgrind), counted as
# the difference between a run of 2N and a run of N snapshots divided by N, so that
# building the synthetic snapshots (the same in both runs) cancels out; then the wall
# clock figure of bench_coordinator itself, the best of 7 runs of 4000 snapshots (the
# least disturbed by neighbours on a shared machine; still noisy: compare instructions),
# turned into workers per core at 1 snapshot/s within 10% of it. Never pass/fail.
set -eu
build=${1:-build}
n=${2:-400}
bin=$build/bench/bench_coordinator
[ -x "$bin" ] || { echo "no $bin: build it first (cmake --build $build --target bench_coordinator)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

instructions() { # snapshots targets -> instructions of the whole run
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$bin" "$1" 50 200 "$2" \
        >/dev/null 2>"$tmp/err"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/err"
}

best_us() { # targets -> least us per snapshot of 7 runs
    for i in 1 2 3 4 5 6 7; do
        "$bin" 4000 50 200 "$1" | sed -n 's/.*: \([0-9.]*\) us per snapshot.*/\1/p'
    done | sort -n | head -1
}

printf '| targets | instructions per snapshot | us per snapshot (best of 7) | workers at 1 Hz within 10%% of a core |\n'
printf '|---|---|---|---|\n'
for targets in 1 8; do
    one=$(instructions "$n" "$targets")
    two=$(instructions $((2 * n)) "$targets")
    per=$(( (two - one) / n ))
    us=$(best_us "$targets")
    workers=$(awk -v us="$us" 'BEGIN { printf "%.0f", 0.1 * 1e6 / us }')
    printf '| %d | %d | %s | %s |\n' "$targets" "$per" "$us" "$workers"
done
