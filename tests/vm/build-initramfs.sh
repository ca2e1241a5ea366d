#!/usr/bin/env bash
# Stage 2: a guest's initramfs: static busybox, the kernel modules the guest needs (with every
# dependency, in modules.dep order), the guest's /init and any extra static programs.
#   tests/vm/build-initramfs.sh VMDIR KERNEL_VERSION LEVEL OUT.cpio [PROGRAM...]
# LEVEL 1: 9p (to mount this machine's root), virtio_pci and vhost_vsock (the device's host
#          side); init is l1-init.sh.
# LEVEL 2: virtio_pci and the kernel's virtio-vsock driver (the yardstick), uio and
#          uio_pci_generic (uvsock); init is l2-init.sh.
# The image is left uncompressed: under TCG, unpacking gzip costs more boot time than
# reading the bigger file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vmdir=${1:?} version=${2:?} level=${3:?} out=${4:?}
shift 4
tree="$vmdir/kernel/$version"

case $level in
1) modules="9p 9pnet_virtio virtio_pci vhost_vsock" init=l1-init.sh ;;
2) modules="virtio_pci vmw_vsock_virtio_transport uio_pci_generic" init=l2-init.sh ;;
*) echo "build-initramfs: LEVEL must be 1 or 2" >&2; exit 2 ;;
esac

busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
    echo "build-initramfs: FAILED: need a static busybox (Debian package busybox-static)" >&2
    exit 1
fi

stage=$(mktemp -d "$vmdir/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,run,tmp,host,modules}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$here/$init" "$stage/init"
chmod 755 "$stage/init"

# modprobe resolves dependencies from this tree's modules.dep; "builtin" lines need nothing.
: >"$stage/modules/order"
for m in $modules; do
    deps=$(modprobe -d "$tree" -S "$version" --show-depends "$m") ||
        { echo "build-initramfs: FAILED: module $m not in kernel $version" >&2; exit 1; }
    for ko in $(awk '$1 == "insmod" { print $2 }' <<<"$deps"); do
        name=$(basename "$ko")
        grep -qx "$name" "$stage/modules/order" && continue
        cp "$ko" "$stage/modules/$name"
        echo "$name" >>"$stage/modules/order"
    done
done

for prog in "$@"; do
    cp "$prog" "$stage/bin/"
done

(cd "$stage" && find . | cpio -o -H newc --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
