#!/usr/bin/env bash
# Builds uvsock (installing what it needs) and starts the main job on the simulated device.
# Arguments are passed to the program.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/deps.sh"
cmake -S "$root" -B "$root/build" >/dev/null
cmake --build "$root/build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec "$root/build/bin/uvsock-demo" "$@"
