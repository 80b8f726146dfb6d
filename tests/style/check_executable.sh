#!/usr/bin/env bash
# check_executable.sh: every tracked file that starts with "#!" is executable in git (mode
# 100755). A script that lost its bit (an editor or a rewrite can drop it) fails only when
# something runs it directly: scripts/setup.sh did, and CI stopped at "Permission denied".
set -euo pipefail
src=${SURGE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src"
command -v git >/dev/null && git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    { echo "SKIP: not a git checkout" >&2; exit 77; }
bad=0
while read -r mode _ _ path; do
    [ "$mode" = 100644 ] && [ -f "$path" ] || continue
    if [ "$(head -c 2 "$path" | tr -d '\0')" = "#!" ]; then
        echo "not executable in git: $path (git update-index --chmod=+x $path)"
        bad=$((bad + 1))
    fi
done < <(git ls-files -s)
echo "$bad script(s) without the executable bit"
[ "$bad" -eq 0 ]
