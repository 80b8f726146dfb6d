#!/usr/bin/env bash
# `surge validate` as users run it: every example plan (and the plans embedded in the Helm
# chart) is valid (exit 0, one-paragraph summary); broken plans exit 2 with
# FILE:LINE:COL: message on stderr; usage errors exit 2.
set -uo pipefail
surge=${SURGE_BIN:?}
src=${SURGE_SRC:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# 1. every example validates
shopt -s nullglob
examples=("$src"/examples/*.yaml)
[ ${#examples[@]} -ge 4 ] || fail "expected at least 4 examples, found ${#examples[@]}"
for plan in "${examples[@]}"; do
    out=$("$surge" validate "$plan" 2>&1); rc=$?
    [ $rc -eq 0 ] || fail "$plan: exit $rc: $out"
    grep -q "plan '" <<<"$out" || fail "$plan: no summary: $out"
done
# and all of them at once
"$surge" validate -q "${examples[@]}" >/dev/null 2>&1 || fail "validate -q over all examples"

# 2. the plans the Helm chart embeds (plan.content blocks) validate too
for values in "$src"/helm/surge/values.yaml "$src"/helm/surge/examples/*.yaml; do
    [ -f "$values" ] || continue
    out_plan="$tmp/helm-$(basename "$values")"
    awk '/^plan:/{p=1;next} p&&/^  content: \|/{c=1;next}
         c&&/^    /{sub(/^    /,"");print;next} c&&!/^    /&&!/^$/{exit}' "$values" >"$out_plan"
    [ -s "$out_plan" ] || continue
    out=$("$surge" validate "$out_plan" 2>&1) || fail "helm plan in $values: $out"
done

# 3. broken plans: exit 2 and FILE:LINE:COL: message
expect_error() { # name expected-prefix expected-text  (plan text on stdin)
    local file="$tmp/$1.yaml"
    cat >"$file"
    local out rc
    out=$("$surge" validate "$file" 2>&1 >/dev/null); rc=$?
    [ $rc -eq 2 ] || fail "$1: exit $rc, expected 2 ($out)"
    [[ "$out" == "$file:$2"* ]] || fail "$1: expected '$file:$2' at the start of: $out"
    [[ "$out" == *"$3"* ]] || fail "$1: expected '$3' in: $out"
}
expect_error unknown-key 4:1: "unknown key 'duraton' in the plan" <<'Y'
targets: [sim://tiny]
model: surge-sim-tiny
phases: [{kind: constant, rate: 1, duration: 1s}]
duraton: 5s
Y
expect_error bad-duration 5:15: "expected a duration with a unit" <<'Y'
targets: [sim://tiny]
model: surge-sim-tiny
phases:
  - kind: warmup
    duration: 30
    rate: 1
Y
expect_error bad-indent 5:4: "YAML syntax error" <<'Y'
targets: [sim://tiny]
model: surge-sim-tiny
phases:
  - kind: warmup
   rate: 1
Y
expect_error tab 3:1: "YAML syntax error" <<'Y'
targets: [sim://tiny]
model: surge-sim-tiny
	phases: []
Y
expect_error unknown-phase-key 7:5: "unknown key 'start_rate' in a constant phase" <<'Y'
targets: [sim://tiny]
model: surge-sim-tiny
phases:
  - kind: constant
    rate: 2/s
    duration: 10s
    start_rate: 1
Y
expect_error sla-metric 5:5: "unknown metric 'ttft_ms.p42'" <<'Y'
targets: [sim://tiny]
model: surge-sim-tiny
phases: [{kind: constant, rate: 1, duration: 1s}]
sla:
  - ttft_ms.p42 <= 100
Y

# 4. usage
"$surge" validate >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "no argument: exit $rc, expected 2"
out=$("$surge" validate "$tmp/missing.yaml" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"cannot open"* ]] || fail "missing file: exit $rc: $out"
"$surge" validate --help | grep -q "usage: surge validate" || fail "--help"
# one bad plan among good ones: still exit 2, the good ones still summarised
out=$("$surge" validate "${examples[0]}" "$tmp/unknown-key.yaml" 2>/dev/null); rc=$?
[ $rc -eq 2 ] && grep -q "plan '" <<<"$out" || fail "mixed good and bad: exit $rc"

if [ $failures -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "surge validate: examples, helm plans, broken plans and usage all as expected"
