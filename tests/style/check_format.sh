#!/usr/bin/env bash
# check_format.sh: every C source and header git tracks follows the root .clang-format
# (clang-format --dry-run --Werror). Fix with: clang-format -i FILE.
set -euo pipefail
cd "${SURGE_SRC:?}"
if ! command -v clang-format >/dev/null; then
    echo "skip: clang-format is not installed (scripts/setup.sh --test-deps installs it)"
    exit 77
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "skip: not a git checkout, cannot list the tracked sources"
    exit 77
fi
bad=()
while IFS= read -r f; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.c' '*.h')
if [ "${#bad[@]}" -gt 0 ]; then
    echo "not formatted as .clang-format says (run clang-format -i on them):"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
echo "ok: $(git ls-files '*.c' '*.h' | wc -l) C files follow .clang-format"
