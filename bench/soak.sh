#!/bin/sh
# soak.sh: the soak test for as long as you like (docs/performance.md "Soak").
#   bench/soak.sh [--minutes N] [--rate R] [BUILD_DIR]     defaults: 30 minutes, 50/s, build
# A coordinator, two workers and a 16-replica `surge sim` on loopback under steady
# streaming load (Poisson arrivals, 16 tokens); every 3 s it samples VmRSS and open file
# descriptors of each process and prints the table, then the growth after the first
# third. Never pass/fail (tests/hostile/soak_test.py, ctest soak_flat_resources, is the
# bounded check).
set -eu
minutes=30
rate=50
build=build
while [ $# -gt 0 ]; do
    case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    -h | --help) sed -n 2,8p "$0"; exit 0 ;;
    *) build=$1; shift ;;
    esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
SURGE_BIN=${SURGE_BIN:-$build/surge} SURGE_BUILD=$build \
    exec python3 "$here/tests/hostile/soak_test.py" --seconds $((minutes * 60)) --rate "$rate" \
    --arrival poisson --table --no-check
