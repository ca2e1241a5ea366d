#!/usr/bin/env bash
# Installs the Debian packages uvsock needs to build and test, if they are missing.
# Idempotent: does nothing (and needs no root) when everything is there.
set -euo pipefail

packages=(
    cmake gcc make libc6-dev pkg-config git clang-format   # the C core and its checks
    swig python3 python3-dev python3-pytest               # Python bindings (issue 4)
    liblua5.4-dev lua5.4 lua-unit                         # Lua bindings (issue 5)
    libedit-dev python3-pexpect                           # the shell and its pty tests (issue 6)
    tshark                                                # capture decoding in tests (issue 7)
    qemu-system-x86 busybox-static cpio kmod socat        # the real-device VM suite (issue 3)
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "uvsock: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
