#!/usr/bin/env bash
# check_docs_flags.sh: every long option a `surge COMMAND --help` shows is described in
# docs/ (a flag a user can see is documented in the same change). Commands are the ones
# `surge --help` lists, so a command added later is covered without editing this.
set -euo pipefail
cd "${SURGE_SRC:?}"
bin=${SURGE_BIN:?}
missing=0 checked=0
commands=$("$bin" --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}')
[ -n "$commands" ] || { echo "FAIL: surge --help lists no command"; exit 1; }
for cmd in $commands; do
    help=$("$bin" "$cmd" --help 2>&1) || { echo "FAIL: surge $cmd --help exits non-zero"; missing=$((missing + 1)); continue; }
    for flag in $(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u); do
        checked=$((checked + 1))
        if ! grep -qF -- "$flag" docs/*.md; then
            echo "FAIL: surge $cmd $flag is not described in docs/"
            missing=$((missing + 1))
        fi
    done
done
[ "$missing" = 0 ] || exit 1
echo "ok: $checked options of $(wc -w <<<"$commands") commands, each described in docs/"
