#!/usr/bin/env bash
# Level 1's work, run by l1-init.sh inside a chroot of this machine's root (so qemu and socat
# are Debian's). Starts the host peers (vm-host), boots level 2 with the vhost-vsock-pci device
# (guest CID 3) and, when the scenarios ask for it, migrates level 2 to a second qemu whose
# device has guest CID 4: QEMU's vsock device sends TRANSPORT_RESET after an incoming
# migration, which is the only way to make a real one.
#   l1-run.sh OUT VMDIR KERNEL_VERSION BUILD MIB ROUNDS L2_TIMEOUT_S [URI_OPTS]
set -euo pipefail
out=$1 vmdir=$2 version=$3 build=$4 mib=$5 rounds=$6 l2timeout=$7 uriopts=${8:-}
run=/run/uvsock-vm
mkdir -p "$run"
say() { echo "L1: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

"$build/tests/vm/vm-host" "$run/migrate.req" >"$out/vm-host.log" 2>&1 &
host_pid=$!

l2_append="console=ttyS0 panic=-1 quiet mitigations=off uvsock_mib=$mib uvsock_rounds=$rounds"
l2_append+=" uvsock_uriopts=$uriopts"
l2_append+=" uvsock_hugepages=${UVSOCK_VM_HUGEPAGES:-0}"
# Both qemus of level 2 must have the same machine; only the device's CID differs.
start_l2() { # CID MONITOR [extra qemu args]
    local cid=$1 mon=$2
    shift 2
    qemu-system-x86_64 -accel tcg -m 256 -smp 1 -nodefaults -display none -no-reboot \
        -kernel "$vmdir/kernel/$version/boot/vmlinuz-$version" -initrd "$vmdir/l2.cpio" \
        -append "$l2_append" \
        -chardev "file,id=ser,path=$out/l2-serial.log,append=on" -serial chardev:ser \
        -device "vhost-vsock-pci,guest-cid=$cid,disable-legacy=on" \
        -monitor "unix:$mon,server,nowait" "$@" >>"$out/l2-qemu.log" 2>&1 &
    l2_pid=$!
}
monitor() { # MONITOR COMMAND: one HMP command, its output on stdout
    printf '%s\n' "$2" | timeout 10 socat -t 2 - "UNIX-CONNECT:$1" 2>&1 || true
}

migrate() {
    local status="" i
    say "migrating level 2 (guest-cid 3 -> 4) at $(uptime_s) s"
    monitor "$run/mon1" "migrate -d \"exec:cat > $run/l2.state\"" >/dev/null
    for i in $(seq 240); do
        status=$(monitor "$run/mon1" "info migrate" | sed -n 's/^Migration status: *//p' | tr -d '\r')
        case $status in completed | failed | cancelled) break ;; esac
        sleep 0.5
    done
    if [ "$status" != completed ]; then
        say "FAILED: migration status '$status'"
        return 1
    fi
    monitor "$run/mon1" quit >/dev/null
    for i in $(seq 100); do kill -0 "$l2_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$l2_pid" 2>/dev/null || true
    wait "$l2_pid" 2>/dev/null || true
    say "state saved ($(stat -c %s "$run/l2.state") bytes); restarting with guest-cid=4"
    start_l2 4 "$run/mon2" -incoming "exec:cat $run/l2.state"
}

sleep 0.5
kill -0 "$host_pid" 2>/dev/null || { say "FAILED: vm-host did not start"; cat "$out/vm-host.log"; exit 1; }
say "booting level 2 at $(uptime_s) s"
start_l2 3 "$run/mon1"
deadline=$((SECONDS + l2timeout))
rc=0
while kill -0 "$l2_pid" 2>/dev/null; do
    if [ -e "$run/migrate.req" ]; then
        rm -f "$run/migrate.req"
        migrate || { rc=1; break; }
    fi
    if [ $SECONDS -ge $deadline ]; then
        say "FAILED: level 2 still running after ${l2timeout} s"
        rc=1
        break
    fi
    sleep 0.5
done
kill -9 "$l2_pid" 2>/dev/null || true
wait "$l2_pid" 2>/dev/null || true
kill "$host_pid" 2>/dev/null || true
say "level 2 finished at $(uptime_s) s"
exit $rc
