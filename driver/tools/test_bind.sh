#!/bin/sh
# uvsock-bind on a fake sysfs tree: listing, errors, and the writes a bind and an unbind make.
# The fake kernel does not react to the writes, so a bind ends in "did not take"; the test
# checks what was written and in which files.
set -u
bind=$1
root=$(mktemp -d /tmp/uvsock-bind-test.XXXXXX)
trap 'rm -rf "$root"' EXIT
sys=$root/sys
export UVSOCK_SYSFS_ROOT=$sys UVSOCK_STATE_DIR=$root/run
fails=0
check() { # description, command...
    d=$1; shift
    if "$@"; then echo "ok   $d"; else echo "FAIL $d"; fails=$((fails + 1)); fi
}

dev() { # bdf vendor device driver|-
    d=$sys/bus/pci/devices/$1
    mkdir -p "$d"
    echo "$2" > "$d/vendor"; echo "$3" > "$d/device"
    : > "$d/driver_override"
    if [ "$4" != - ]; then
        mkdir -p "$sys/bus/pci/drivers/$4"
        : > "$sys/bus/pci/drivers/$4/bind"; : > "$sys/bus/pci/drivers/$4/unbind"
        ln -sfn "../../drivers/$4" "$d/driver"
    fi
}
dev 0000:00:03.0 0x8086 0x100e e1000
dev 0000:00:04.0 0x1af4 0x1053 virtio-pci
dev 0000:00:05.0 0x1af4 0x1053 uio_pci_generic
mkdir -p "$sys/bus/pci/devices/0000:00:05.0/uio/uio0"
dev 0000:00:06.0 0x1af4 0x1053 -
: > "$sys/bus/pci/drivers_probe"

out=$("$bind" --list)
echo "$out"
check "list shows the device bound to virtio-pci" \
    sh -c 'echo "$1" | grep -q "^0000:00:04.0 *virtio-pci *uvsock-bind 0000:00:04.0"' - "$out"
check "list shows the uio device and its URI" \
    sh -c 'echo "$1" | grep -q "^0000:00:05.0 *uio_pci_generic *uio:0000:00:05.0 (/dev/uio0)"' - "$out"
check "list shows an unbound device" sh -c 'echo "$1" | grep -q "^0000:00:06.0 *(none)"' - "$out"
check "list leaves other devices out" sh -c '! echo "$1" | grep -q 00:03.0' - "$out"

err() { # expected-message args...
    want=$1; shift
    msg=$("$bind" "$@" 2>&1); rc=$?
    [ $rc -ne 0 ] && echo "$msg" | grep -q "$want" || { echo "  got rc $rc: $msg"; return 1; }
}
check "not a virtio socket device" err "is not a virtio socket device (8086:100e" 00:03.0
check "no such device" err "no PCI device 0000:00:09.0" 0000:00:09.0
check "bad address" err "bad PCI address" 00:04
check "usage" err "usage" --bogus
check "already bound is fine" sh -c '"$1" 00:05.0 | grep -q "already bound"' - "$bind"

# uio_pci_generic "not loaded", and modprobe fails: a clear message.
mv "$sys/bus/pci/drivers/uio_pci_generic" "$root/uio-away"
check "modprobe failure" env UVSOCK_MODPROBE=false sh -c '
    msg=$("$1" 0000:00:04.0 2>&1); [ $? -ne 0 ] && echo "$msg" | grep -q "cannot load uio_pci_generic"' - "$bind"
mv "$root/uio-away" "$sys/bus/pci/drivers/uio_pci_generic"

# A bind: previous driver remembered, unbound, driver_override set, bound to uio.
err "did not take" 0000:00:04.0 >/dev/null
check "previous driver remembered" grep -qx virtio-pci "$root/run/0000:00:04.0.driver"
check "unbound from virtio-pci" grep -qx 0000:00:04.0 "$sys/bus/pci/drivers/virtio-pci/unbind"
check "driver_override set" grep -qx uio_pci_generic "$sys/bus/pci/devices/0000:00:04.0/driver_override"
check "bound to uio_pci_generic" grep -qx 0000:00:04.0 "$sys/bus/pci/drivers/uio_pci_generic/bind"

# An unbind of a device on another driver is refused; on uio it restores the old driver.
check "unbind refuses a device not on uio" err "nothing to undo" --unbind 0000:00:04.0
ln -sfn ../../drivers/uio_pci_generic "$sys/bus/pci/devices/0000:00:04.0/driver"
check "unbind runs" sh -c '"$1" --unbind 0000:00:04.0 >/dev/null' - "$bind"
check "unbound from uio" grep -qx 0000:00:04.0 "$sys/bus/pci/drivers/uio_pci_generic/unbind"
check "driver_override cleared" sh -c '[ "$(cat "$1")" = "" ]' - "$sys/bus/pci/devices/0000:00:04.0/driver_override"
check "previous driver bound again" grep -qx 0000:00:04.0 "$sys/bus/pci/drivers/virtio-pci/bind"
check "memory of it dropped" test ! -e "$root/run/0000:00:04.0.driver"

# An unbind with nothing remembered asks the kernel to probe.
ln -sfn ../../drivers/uio_pci_generic "$sys/bus/pci/devices/0000:00:06.0/driver"
check "unbind without memory probes" sh -c '"$1" --unbind 00:06.0 | grep -q "kernel probed"' - "$bind"
check "drivers_probe written" grep -qx 0000:00:06.0 "$sys/bus/pci/drivers_probe"

echo "$fails failure(s)"
[ $fails -eq 0 ]
