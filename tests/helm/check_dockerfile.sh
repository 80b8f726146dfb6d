#!/usr/bin/env bash
# shellcheck disable=SC2015 # `COND && ok || fail MSG` throughout: ok only counts, never fails
# check_dockerfile.sh: the image's runtime stage can run surge. There is no container
# engine here, so the Dockerfile is checked, not built:
#   - both stages are debian:bookworm-slim, the build stage runs scripts/setup.sh, the
#     runtime stage switches to a non-root numeric USER;
#   - every package the runtime stage installs exists in Debian bookworm (apt-cache);
#   - every shared library build/surge needs (its DT_NEEDED entries) comes from one of
#     those packages, or from glibc / the gcc runtime, which every Debian image has.
# Skipped (exit 77) where apt's lists are absent or the machine is not bookworm (package
# names differ between releases).
set -euo pipefail
src=${SURGE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
dockerfile=$src/Dockerfile
failed=0 passed=0
ok() { passed=$((passed + 1)); }
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}
skip() {
    echo "SKIP: $*" >&2
    exit 77
}

# The Dockerfile with continuation lines joined, split into its two stages.
joined=$(sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$dockerfile")
froms=$(grep -c '^FROM ' <<<"$joined")
[ "$froms" = 2 ] && ok || fail "Dockerfile has $froms stages, want 2 (build, runtime)"
build_stage=$(awk '/^FROM /{n++} n==1' <<<"$joined")
runtime_stage=$(awk '/^FROM /{n++} n==2' <<<"$joined")
grep -q '^FROM debian:bookworm-slim AS build' <<<"$build_stage" && ok || fail "build stage is not debian:bookworm-slim AS build"
grep -q '^FROM debian:bookworm-slim$' <<<"$runtime_stage" && ok || fail "runtime stage is not debian:bookworm-slim"
grep -q '^RUN scripts/setup.sh' <<<"$build_stage" && ok || fail "build stage does not run scripts/setup.sh"
grep -q '^COPY --from=build /src/build/surge /usr/local/bin/surge$' <<<"$runtime_stage" && ok ||
    fail "runtime stage does not copy build/surge to /usr/local/bin/surge"
user=$(grep '^USER ' <<<"$runtime_stage" | tail -1 | awk '{print $2}')
uid=${user%%:*}
[[ "$uid" =~ ^[0-9]+$ ]] && [ "$uid" -gt 0 ] && ok || fail "runtime USER '$user' is not a numeric non-root id"
[ "$uid" = 10001 ] && ok || fail "runtime USER $uid differs from the chart's podSecurityContext.runAsUser 10001"

# Packages after `apt-get install` in the runtime stage, options left out.
read -r -a pkgs <<<"$(grep -o 'apt-get install[^&]*' <<<"$runtime_stage" | sed 's/apt-get install//' |
    tr ' ' '\n' | grep -v '^-' | grep -v '^$' | tr '\n' ' ')"
[ "${#pkgs[@]}" -gt 0 ] && ok || fail "no packages found after apt-get install in the runtime stage"

# shellcheck disable=SC1091
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ "$codename" = bookworm ] || skip "this machine is Debian '$codename', not bookworm: package names may differ"
command -v apt-cache >/dev/null || skip "apt-cache is not installed"
apt-cache show --no-all-versions libc6 >/dev/null 2>&1 || skip "apt's package lists are absent (apt-get update)"
# One apt-cache call for all (it exits 0 when only some exist: count the records).
found=$(apt-cache show --no-all-versions "${pkgs[@]}" 2>/dev/null | grep -c '^Package: ' || true)
if [ "$found" = "${#pkgs[@]}" ]; then
    passed=$((passed + ${#pkgs[@]}))
else # find which; apt's lists may be mid-update by another process: ask again before failing
    for p in "${pkgs[@]}"; do
        for try in 1 2 3; do
            apt-cache show --no-all-versions "$p" >/dev/null 2>&1 && break
            [ "$try" = 3 ] || sleep 2
        done
        apt-cache show --no-all-versions "$p" >/dev/null 2>&1 && ok || fail "runtime package $p does not exist in bookworm"
    done
fi

bin=${SURGE_BIN:-$src/build/surge}
if [ ! -x "$bin" ]; then
    echo "note: $bin not built; library coverage not checked"
else
    command -v readelf >/dev/null || skip "readelf (binutils) is not installed"
    in_list() {
        local x
        for x in "${pkgs[@]}"; do [ "$x" = "$1" ] && return 0; done
        return 1
    }
    # A sanitizer build (gcc links libasan/libubsan dynamically) is never what the image
    # ships: its sanitizer runtimes do not count.
    for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        case "$lib" in libasan.so* | libubsan.so* | liblsan.so* | libtsan.so*) continue ;; esac
        # The readers below consume all their input (no early `exit`, no `head`): under
        # pipefail, a writer killed by SIGPIPE would end this script with status 141.
        path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64|AArch64|aarch64/ && !p {p = $NF} END {print p}')
        [ -n "$path" ] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !p {p = $NF} END {print p}')
        pkg=""
        for cand in "$path" "$(readlink -f "$path" 2>/dev/null || true)" "/usr$path" "${path#/usr}"; do
            [ -n "$cand" ] || continue
            pkg=$(dpkg -S "$cand" 2>/dev/null | awk -F: 'NR == 1 {print $1}') && [ -n "$pkg" ] && break
        done
        if [ -z "$pkg" ]; then
            fail "$lib ($path): no Debian package owns it"
            continue
        fi
        if in_list "$pkg" || [ "$pkg" = libc6 ] || [ "$pkg" = libgcc-s1 ]; then
            ok
        else
            fail "surge needs $lib from $pkg, which the runtime stage does not install"
        fi
    done
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
