#!/bin/sh
# Level 1's /init (busybox). Loads the modules that give /dev/vhost-vsock, mounts this
# machine's root (read-only) and the suite's output directory (writable) over virtio-9p, and
# chroots into that root to run l1-run.sh with the whole Debian userland (qemu, socat).
# Arguments come on the kernel command line as uvsock_NAME=VALUE.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "L1: $*"; }
die() {
    say "FAILED: $*"
    poweroff -f
}
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^uvsock_$1=//p"; }
say "init at $(cut -d' ' -f1 /proc/uptime) s"

for m in $(cat /modules/order); do
    insmod "/modules/$m" || die "insmod $m"
done
[ -c /dev/vhost-vsock ] || die "no /dev/vhost-vsock after loading vhost_vsock"

out=$(arg out)
# A large msize: qemu and its libraries are read through this mount.
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$opts,ro" hostroot /host || die "mount the host root over 9p"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mount -t tmpfs tmpfs /host/run
mount -t tmpfs tmpfs /host/tmp
# The checkout, its build tree and the output go on top, each its own mount: the tmpfs above
# would otherwise hide a checkout that lives under /tmp (as CI's may).
for m in "src $(arg root) ro" "bld $(arg build) ro" "out $out rw"; do
    set -- $m
    mkdir -p "/host$2" 2>/dev/null || [ -d "/host$2" ] || die "no mount point /host$2"
    mount -t 9p -o "$opts,$3" "$1" "/host$2" || die "mount $2 over 9p"
done

say "running $(arg run) at $(cut -d' ' -f1 /proc/uptime) s"
chroot /host /bin/bash "$(arg run)" "$out" "$(arg vmdir)" "$(arg version)" "$(arg build)" \
    "$(arg mib)" "$(arg rounds)" "$(arg l2timeout)" "$(arg uriopts)"
say "l1-run.sh exited with $? at $(cut -d' ' -f1 /proc/uptime) s"
umount "/host$out"
sync
poweroff -f
