#!/usr/bin/env bash
# test.sh: install what is missing, build, and run the whole test suite twice:
#   1. build/       optimised (gcc), every ctest;
#   2. build-asan/  clang with AddressSanitizer + UndefinedBehaviorSanitizer, every ctest
#                   again, plus the libFuzzer targets for a bounded time each.
# Environment: SURGE_FUZZ_SECONDS (default 20) per fuzz target; SURGE_TEST_JOBS (default
# nproc) parallel tests; SURGE_SKIP_ASAN=1 skips the sanitizer pass (local use only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --deps-only --test-deps

jobs=${SURGE_TEST_JOBS:-$(nproc)}
fuzz_seconds=${SURGE_FUZZ_SECONDS:-20}

# Test tooling from the npm registry (hdr-histogram-js for interop), pinned by the lockfile.
if [ -f tests/js/package.json ]; then
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

echo "== build (release) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
echo "== tests (release) =="
ctest --test-dir build --output-on-failure -j"$jobs" -LE fuzz

if [ "${SURGE_SKIP_ASAN:-0}" != 1 ]; then
    echo "== build (ASan + UBSan, clang, libFuzzer) =="
    CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSURGE_SANITIZE=ON -DSURGE_FUZZ=ON \
        -DSURGE_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
    cmake --build build-asan -j"$(nproc)"
    echo "== tests (ASan + UBSan) =="
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE fuzz
    echo "== fuzzing (${fuzz_seconds}s per target) =="
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -L fuzz
fi
