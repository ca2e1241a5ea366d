#!/usr/bin/env bash
# Builds uvsock (installing what it needs) and starts the interactive shell on the simulated
# device. Arguments are passed to the shell (e.g. --device URI, -c 'cmd; cmd', a script).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/deps.sh"
cmake -S "$root" -B "$root/build" >/dev/null
cmake --build "$root/build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec "$root/build/bin/uvsock" "$@"
