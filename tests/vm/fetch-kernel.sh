#!/usr/bin/env bash
# Stage 1: a guest kernel and its modules from Debian's linux-image package, without installing
# it (the machine's own kernel has no vhost, no UIO and no modules, see ../shared/VM-NOTES.md).
#   tests/vm/fetch-kernel.sh VMDIR
# The version follows the linux-image-amd64 metapackage's dependency, so it tracks Debian's
# current kernel instead of a hard-coded one. The unpacked tree is cached in VMDIR/kernel/VERSION
# and a second run only re-reads the metapackage. Prints the version on stdout.
set -euo pipefail
vmdir=${1:?usage: fetch-kernel.sh VMDIR}
mkdir -p "$vmdir"

# "Depends: linux-image-6.1.0-56-amd64" -> linux-image-6.1.0-56-amd64
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
if [ -z "$pkg" ]; then
    # The package lists may simply never have been fetched on a fresh machine.
    echo "fetch-kernel: no linux-image-amd64 in the package lists; running apt-get update" >&2
    apt-get update -qq >&2
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
          sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
fi
[ -n "$pkg" ] || { echo "fetch-kernel: FAILED: cannot resolve linux-image-amd64's kernel package" >&2; exit 1; }
version=${pkg#linux-image-}
tree="$vmdir/kernel/$version"

if [ ! -f "$tree/.complete" ]; then
    echo "fetch-kernel: downloading $pkg" >&2
    rm -rf "$tree" "$vmdir/kernel/dl"
    mkdir -p "$vmdir/kernel/dl" "$tree"
    # apt-get download writes into the current directory; _apt must be able to write there.
    (cd "$vmdir/kernel/dl" && chmod 777 . && apt-get download -q "$pkg" >&2) ||
        { echo "fetch-kernel: FAILED: apt-get download $pkg" >&2; exit 1; }
    dpkg -x "$vmdir"/kernel/dl/"${pkg}"_*.deb "$tree"
    rm -rf "$vmdir/kernel/dl"
    [ -f "$tree/boot/vmlinuz-$version" ] ||
        { echo "fetch-kernel: FAILED: no boot/vmlinuz-$version in $pkg" >&2; exit 1; }
    # modprobe --show-depends needs modules.dep for this tree: make sure it is there.
    depmod -b "$tree" "$version"
    touch "$tree/.complete"
fi
echo "$version"
