#!/usr/bin/env bash
# Decodes a capture of a known session (capture-session.c) with tshark and checks what it
# reports: ops, ports, lengths and payload bytes, also for packets hostile faults produced.
# Usage: check-capture.sh CAPTURE-SESSION-BINARY
set -euo pipefail
session=$1
tshark=$(command -v tshark) || { echo "FAIL: tshark is not installed (tests/deps.sh installs it)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pcap="$dir/session.pcap"
"$session" "$pcap"

# One line per packet: op src_port dst_port len trans_len payload-hex
fields() {
    "$tshark" -r "$pcap" -T fields -E separator=' ' -E occurrence=f \
        -e vsock.virtio.op -e vsock.virtio.src_prot -e vsock.virtio.dst_prot \
        -e vsock.virtio.len -e vsock.trans_len -e vsock.payload "$@" 2>/dev/null
}
fields > "$dir/all.txt"
failures=0
expect() { # description, grep pattern (extended)
    if grep -Eq "$2" "$dir/all.txt"; then
        echo "ok   $1"
    else
        echo "FAIL $1 (no line matching '$2')"
        failures=$((failures + 1))
    fi
}

linktype=$("$tshark" -r "$pcap" -T fields -e frame.protocols -c 1 2>/dev/null)
[[ $linktype == vsock* ]] && echo "ok   frames decode as vsock ($linktype)" || {
    echo "FAIL frames decode as '$linktype', not vsock"; failures=$((failures + 1)); }
hello=$(printf 'hello capture' | od -An -tx1 | tr -d ' \n')
hello_colons=$(printf 'hello capture' | od -An -tx1 | tr -s ' ' | sed 's/^ //; s/ $//; s/ /:/g')
expect "REQUEST 1200 -> 7"         "^1 1200 7 0 44 *$"
expect "RESPONSE 7 -> 1200"        "^2 7 1200 0 44 *$"
expect "RW 1200 -> 7, 13 bytes of payload" "^5 1200 7 13 44 ($hello|$hello_colons)$"
expect "RW echo 7 -> 1200"         "^5 7 1200 13 44 ($hello|$hello_colons)$"
expect "SHUTDOWN 1200 -> 7"        "^4 1200 7 0 44 *$"
expect "RST 7 -> 1200"             "^3 7 1200 0 44 *$"
expect "CREDIT_UPDATE 1201 -> 19"  "^6 1201 19 0 44 *$"
expect "RW 19 -> 1201"             "^5 19 1201 [0-9]+ 44 "
expect "BAD_LEN echo: hdr.len 4099, 3 payload bytes" "^5 7 1300 4099 44 (626164|62:61:64)$"
expect "SHORT echo: 20-byte transport header"  " 20 *$"
expect "BAD_TYPE echo recorded"    "^5 7 1302 4 44 "
expect "our RST answering BAD_TYPE" "^3 1302 7 0 44 *$"

packets=$(wc -l < "$dir/all.txt")
echo "$packets packets decoded"
if [ "$failures" -ne 0 ]; then
    echo "--- tshark's view:"; head -40 "$dir/all.txt"
    exit 1
fi
