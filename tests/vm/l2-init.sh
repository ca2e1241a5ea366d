#!/bin/sh
# Level 2's /init (busybox): the device under test is the vhost-vsock-pci function level 1's
# qemu gave this guest. First the yardstick: the Linux kernel's own virtio-vsock driver on it
# (vm-linux-perf); then the function goes to uio_pci_generic and uvsock runs the scenarios and
# the same workload (vm-scenarios). Everything goes to the serial console, which level 1 keeps
# in l2-serial.log; run.sh judges the PASS/FAIL/PERF lines.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "L2: $*"; }
die() {
    say "FAILED: $*"
    echo "SCENARIOS DONE"
    poweroff -f
}
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^uvsock_$1=//p"; }
# Polls for a condition (a shell command) for at most $1 seconds.
wait_for() {
    t=$(($1 * 10))
    shift
    while ! eval "$*"; do
        t=$((t - 1))
        [ $t -gt 0 ] || return 1
        sleep 0.1
    done
}
mib=$(arg mib)
rounds=$(arg rounds)
say "init at $(cut -d' ' -f1 /proc/uptime) s"

for m in $(cat /modules/order); do
    insmod "/modules/$m" || die "insmod $m"
done

bdf=
for d in /sys/bus/pci/devices/*; do
    if [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1053 ]; then
        bdf=$(basename "$d")
    fi
done
[ -n "$bdf" ] || die "no virtio-vsock PCI function (1af4:1053)"
dev=/sys/bus/pci/devices/$bdf
say "virtio-vsock device at $bdf"

# The yardstick: the kernel's driver claimed the device when the modules loaded.
wait_for 10 '[ -n "$(ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport 2>/dev/null | grep virtio)" ]' ||
    die "the kernel's virtio-vsock driver did not bind"
say "yardstick: the Linux driver, $mib MiB each way, $rounds round trips"
/bin/vm-linux-perf "$mib" "$rounds"

# Hand the function to uio_pci_generic (what uvsock-bind does: driver_override, then probe).
echo "$bdf" >"$dev/driver/unbind" || die "unbind $bdf from $(basename "$(readlink "$dev/driver")")"
echo uio_pci_generic >"$dev/driver_override"
echo "$bdf" >/sys/bus/pci/drivers_probe
wait_for 10 '[ -c /dev/uio0 ]' || die "no /dev/uio0 after binding $bdf to uio_pci_generic"
hp=$(arg hugepages)
if [ "${hp:-0}" -gt 0 ]; then
    echo "$hp" >/proc/sys/vm/nr_hugepages
    mkdir -p /dev/hugepages
    mount -t hugetlbfs hugetlbfs /dev/hugepages
fi
say "uvsock on uio:$bdf$(arg uriopts) at $(cut -d' ' -f1 /proc/uptime) s"
/bin/vm-scenarios "uio:$bdf$(arg uriopts)" "$mib" "$rounds"
# How many interrupts the kernel saw for the function (uio_pci_generic's INTx handler).
grep -i uio /proc/interrupts | sed 's/^/INFO irq: /'
say "done at $(cut -d' ' -f1 /proc/uptime) s"
poweroff -f
