#!/usr/bin/env bash
# Builds uvsock three ways and runs every test: the release build's ctest runs the
# AddressSanitizer+UBSan and ThreadSanitizer builds' suites as tests of its own, so the last
# line printed is one ctest summary that counts everything.
#   tests/run.sh          everything
#   tests/run.sh --quick  the release build's own tests, without the real-device VM suite
#                         (daily work)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/tests/deps.sh"

jobs=$(nproc 2>/dev/null || echo 2)
configure() { # dir, extra cmake args...
    local dir=$1; shift
    cmake -S "$root" -B "$dir" -DUVSOCK_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$jobs" >/dev/null
}

extra=()
if [ "${1:-}" != "--quick" ]; then
    echo "== building build-asan (address,undefined) and build-tsan (thread)"
    configure "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DUVSOCK_SANITIZE=address,undefined
    configure "$root/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUVSOCK_SANITIZE=thread
    extra=("$root/build-asan" "$root/build-tsan")
fi
echo "== building build"
old_ifs=$IFS; IFS=';'; suites="${extra[*]:-}"; IFS=$old_ifs
configure "$root/build" -DUVSOCK_EXTRA_SUITES="$suites"
cd "$root/build"
if [ "${1:-}" = "--quick" ]; then
    exec ctest --output-on-failure -j "$jobs" --timeout 900 -LE vm
fi
exec ctest --output-on-failure -j "$jobs" --timeout 900
