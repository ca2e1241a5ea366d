#!/usr/bin/env bash
# Installs the Debian packages uvsock needs to build and test, if they are missing.
# Idempotent: does nothing (and needs no root) when everything is there.
set -euo pipefail

packages=(cmake gcc make libc6-dev clang-format git)

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
