#!/usr/bin/env bash
# setup.sh [--deps-only] [--test-deps]: install the Debian packages surge needs when
# they are missing (apt-get; sudo when not root), then build build/surge.
#   --deps-only   install, do not build
#   --test-deps   also the packages only the test suite needs (clang's fuzzer runtime,
#                 node for the interop tests, chromium for the report and live tests,
#                 prometheus and tmux for the live tests, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential cmake pkg-config libzmq3-dev libczmq-dev libcurl4-openssl-dev
    libmsgpack-dev libyaml-dev libevent-dev libjansson-dev libjsmn-dev zlib1g-dev)
test_pkgs=(clang libclang-rt-14-dev python3 iproute2 curl procps unzip chromium clang-format git
    python3-prometheus-client python3-zmq prometheus tmux)

deps_only=0 with_test=0
for arg in "$@"; do
    case "$arg" in
    --deps-only) deps_only=1 ;;
    --test-deps) with_test=1 ;;
    -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

wanted=("${build_pkgs[@]}")
[ "$with_test" = 1 ] && wanted+=("${test_pkgs[@]}")
[ -n "${SURGE_EXTRA_PKGS:-}" ] && read -r -a extra <<<"$SURGE_EXTRA_PKGS" && wanted+=("${extra[@]}")

# Node.js + npm (test tooling from the npm registry): Debian's nodejs and npm packages,
# unless a node/npm is already on PATH (e.g. a NodeSource nodejs, which bundles npm and
# conflicts with Debian's npm package).
if [ "$with_test" = 1 ] && ! { command -v node >/dev/null && command -v npm >/dev/null; }; then
    wanted+=(nodejs npm)
fi

missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$deps_only" = 1 ] && exit 0

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/surge"
