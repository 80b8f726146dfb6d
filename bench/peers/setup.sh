#!/bin/sh
# setup.sh: installs the peers surge is compared with (docs/performance.md, "Side by
# side"): Locust, aiohttp (for the LoadTestHarness-shaped client) and wrk, all from
# Debian, plus the tools the scripts use (taskset, curl). Run after scripts/setup.sh.
# The benchmarks are never part of CI; this script is what makes them runnable.
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update
$SUDO apt-get install -y python3-locust python3-aiohttp wrk util-linux curl procps
# The peers run under Debian's interpreter (a pyenv python3 on PATH lacks these modules).
/usr/bin/python3 -c 'import locust, aiohttp; print("locust", locust.__version__, "aiohttp", aiohttp.__version__)'
wrk --version 2>&1 | head -1 || true
