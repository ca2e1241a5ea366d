#!/usr/bin/env bash
# The real-device suite: boots level 1 (TCG) with vhost-vsock, level 2 inside it with a
# vhost-vsock-pci function, and runs the Linux-driver yardstick and every uvsock scenario on
# that function in one boot. Passes only if every scenario printed PASS; never skips: a missing
# qemu, busybox or guest kernel is a failure that says what is missing.
#   tests/vm/run.sh [BUILD_DIR]       (default: build; the ctest test passes its own)
# Environment: UVSOCK_VM_MIB (MiB each way for the throughput figures, default 8),
# UVSOCK_VM_ROUNDS (round trips, default 50), UVSOCK_VM_TIMEOUT (seconds for the whole boot,
# default 900), UVSOCK_VM_HUGEPAGES (2 MiB pages to reserve in level 2, default 0),
# UVSOCK_VM_URI_OPTS (appended to uvsock's device URI, e.g. ",poll=1").
# Logs: BUILD_DIR/vm/out/{l1-serial,l2-serial,vm-host,l2-qemu}.log
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
vmdir=$build/vm
out=$vmdir/out
mib=${UVSOCK_VM_MIB:-8}
rounds=${UVSOCK_VM_ROUNDS:-50}
uriopts=${UVSOCK_VM_URI_OPTS:-}
timeout_s=${UVSOCK_VM_TIMEOUT:-900}
scenarios="get-cid bulk-16mib host-connect shutdown host-close rst host-reset no-listener
           send-vmo-8mib many-64 perf-uvsock transport-reset perf-uvsock-poll"

say() { echo "vm: $*"; }
fail() {
    say "FAILED: $*"
    exit 1
}

# What the suite needs from Debian (tests/deps.sh installs them); name the missing ones.
"$root/tests/deps.sh" || fail "tests/deps.sh could not install the packages"
for tool in qemu-system-x86_64 busybox cpio modprobe depmod socat apt-get dpkg; do
    command -v "$tool" >/dev/null || fail "$tool is missing (tests/deps.sh should have installed it)"
done

cmake --build "$build" --target vm-host vm-linux-perf vm-scenarios >/dev/null ||
    fail "building the static programs in $build failed"
mkdir -p "$vmdir"
version=$("$here/fetch-kernel.sh" "$vmdir") || fail "no guest kernel (see the lines above)"
say "guest kernel $version"
"$here/build-initramfs.sh" "$vmdir" "$version" 1 "$vmdir/l1.cpio" ||
    fail "building level 1's initramfs"
"$here/build-initramfs.sh" "$vmdir" "$version" 2 "$vmdir/l2.cpio" \
    "$build/tests/vm/vm-scenarios" "$build/tests/vm/vm-linux-perf" ||
    fail "building level 2's initramfs"

rm -rf "$out"
mkdir -p "$out"
: >"$out/l2-serial.log"
case "$root$build$out$uriopts" in *[[:space:]]*) fail "the paths must not contain spaces (kernel command line)" ;; esac

# mitigations=off: page-table isolation and retpolines cost TLB flushes, which TCG makes dear.
append="console=ttyS0 panic=-1 quiet mitigations=off uvsock_out=$out uvsock_run=$here/l1-run.sh"
append+=" uvsock_vmdir=$vmdir uvsock_version=$version uvsock_build=$build"
append+=" uvsock_mib=$mib uvsock_rounds=$rounds uvsock_l2timeout=$((timeout_s - 60))"
append+=" uvsock_uriopts=$uriopts uvsock_root=$root"
say "booting level 1 (TCG; logs in $out)"
start=$SECONDS
rc=0
UVSOCK_VM_HUGEPAGES=${UVSOCK_VM_HUGEPAGES:-0} \
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -accel tcg -m 2048 -smp 2 \
    -nodefaults -display none -no-reboot \
    -kernel "$vmdir/kernel/$version/boot/vmlinuz-$version" -initrd "$vmdir/l1.cpio" \
    -append "$append" -serial "file:$out/l1-serial.log" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$root,mount_tag=src,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$build,mount_tag=bld,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$out,mount_tag=out,security_model=none" \
    >"$out/l1-qemu.log" 2>&1 || rc=$?
say "level 1 exited ($rc) after $((SECONDS - start)) s"

show_logs() {
    for f in l1-qemu l1-serial vm-host l2-qemu l2-serial; do
        [ -s "$out/$f.log" ] || continue
        echo "---- last lines of $out/$f.log"
        tail -n 40 "$out/$f.log" | tr -d '\r'
    done
}

log=$out/l2-serial.log
echo "---- results"
grep -a -E '^(PASS|FAIL|PERF) ' "$log" | tr -d '\r' || true
failed=0
for s in $scenarios; do
    if ! grep -a -q -E "^PASS $s( |$)" "$log"; then
        grep -a -q "^FAIL $s:" "$log" || say "no result for $s"
        failed=$((failed + 1))
    fi
done
grep -a -q '^FAIL ' "$log" && [ $failed -eq 0 ] && failed=1

# The yardstick: uvsock / Linux for each workload (higher is better for tx and rx, lower for
# rtt), for uvsock with interrupts (its default) and with the transport's busy-poll mode.
awk '/^PERF [a-z-]+ (tx|rx) / { v[$2 " " $3] = $4 }
     /^PERF [a-z-]+ rtt / { v[$2 " rtt"] = $4 }
     END {
        if (!length(v)) exit
        printf "---- uvsock against the Linux driver (same device, same boot)\n"
        split("tx rx rtt", ws, " ")
        split("uvsock uvsock-poll", ds, " ")
        for (i = 1; i <= 3; i++) for (j = 1; j <= 2; j++) {
            w = ws[i]; d = ds[j]; l = v["linux " w]; u = v[d " " w]
            unit = w == "rtt" ? "us median" : "MB/s"
            printf "%-4s %-9s linux %10s  %-11s %10s", w, unit, l == "" ? "-" : l, d, u == "" ? "-" : u
            if (l > 0 && u > 0) printf "  ratio %.2f", u / l
            printf "\n"
        }
     }' <(tr -d '\r' <"$log")

if [ $failed -ne 0 ] || [ $rc -ne 0 ]; then
    show_logs
    [ $rc -eq 124 ] && fail "level 1 did not finish within $timeout_s s"
    fail "$failed of $(wc -w <<<"$scenarios") scenarios did not pass"
fi
say "all $(wc -w <<<"$scenarios") scenarios passed in $((SECONDS - start)) s"
