# SPDX-License-Identifier: MIT
"""Bulk data with checksums, many concurrent connections, host-initiated connections, SendVmo."""
import hashlib
import os
import socket
import tempfile
import threading

import pytest

import uvsock
from conftest import T, expect_eof, recv_exact

MiB = 1 << 20


def _pattern(seed, n):
    """n deterministic pseudo-random bytes."""
    out = bytearray()
    h = hashlib.sha256(str(seed).encode()).digest()
    block = hashlib.shake_256(h).digest(MiB)
    while len(out) < n:
        out += block
    return bytes(out[:n])


def _send_all(sock, data, errors):
    try:
        sock.settimeout(T)
        sock.sendall(data)
    except Exception as e:  # reported by the main thread
        errors.append(e)


def _recv_digest(sock, n):
    h = hashlib.sha256()
    sock.settimeout(T)
    got = 0
    while got < n:
        b = sock.recv(min(1 << 20, n - got))
        assert b, f"EOF after {got} of {n} bytes"
        h.update(b)
        got += len(b)
    return h.hexdigest()


def test_16mib_each_way_with_checksum(dev):
    n = 16 * MiB
    dev.sim.listen(8000)
    guest = dev.connect(uvsock.CID_HOST, 8000)
    host, guest_port = dev.sim.accept(8000, timeout=T)
    assert guest_port == guest.addr.local_port
    up, down = _pattern(1, n), _pattern(2, n)
    errors = []
    t1 = threading.Thread(target=_send_all, args=(guest, up, errors))
    t2 = threading.Thread(target=_send_all, args=(host, down, errors))
    t1.start()
    t2.start()
    result = {}
    t3 = threading.Thread(target=lambda: result.update(up=_recv_digest(host, n)))
    t3.start()
    result["down"] = _recv_digest(guest, n)
    for t in (t1, t2, t3):
        t.join(60)
    assert not errors
    assert result["up"] == hashlib.sha256(up).hexdigest()
    assert result["down"] == hashlib.sha256(down).hexdigest()
    info = dev.conn_info(guest.addr)
    assert info.bytes_sent == n and info.bytes_received == n
    assert dev.sim.stats().credit_violations == 0
    guest.close()
    host.close()


def test_source_service_bytes(dev):
    s = dev.connect(2, uvsock.SOURCE_PORT)
    assert recv_exact(s, 70000) == uvsock.source_bytes(0, 70000)
    assert uvsock.capi.uvsock_sim_source_byte(300) == uvsock.source_bytes(300, 1)[0]
    s.close()


def test_64_concurrent_connections_from_threads(dev):
    errors = []

    def worker(i):
        try:
            s = dev.connect(uvsock.CID_HOST, uvsock.ECHO_PORT, timeout=T)
            data = _pattern(100 + i, 20000 + i)
            s.settimeout(T)
            s.sendall(data)
            assert recv_exact(s, len(data)) == data
            dev.send_shutdown(s.addr)
            s.close()
        except Exception as e:
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    # Each shut-down connection ends with the host's RST.
    rsts = 0
    while rsts < 64:
        ev = dev.wait_for(uvsock.Rst, timeout=T)
        rsts += 1
    assert dev.connections() == []


def test_host_initiated_connections(dev):
    hosts = []
    for port in (6100, 6101, 6102):
        host, hport = dev.sim.connect(port)
        req = dev.wait_for(uvsock.Request, timeout=T)
        assert req.addr == uvsock.Addr(port, 2, hport)
        user, dev_end = socket.socketpair()
        dev.send_response(req.addr, dev_end)
        host.sendall(b"from host %d" % port)
        assert recv_exact(user, len(b"from host 6100")) == b"from host %d" % port
        user.sendall(b"from guest")
        assert recv_exact(host, 10) == b"from guest"
        hosts.append((host, user, req.addr))
    # A refused host connection: the host end sees EOF.
    host, hport = dev.sim.connect(6103)
    req = dev.wait_for(uvsock.Request, addr=(6103, 2, hport), timeout=T)
    dev.send_rst(req.addr)
    assert expect_eof(host) == b""
    host.close()
    # Listener helper.
    with dev.listen(6200) as lst:
        h, hp = dev.sim.connect(6200)
        conn, addr = lst.accept(timeout=T)
        assert addr == conn.addr == uvsock.Addr(6200, 2, hp)
        h.sendall(b"hi")
        assert recv_exact(conn, 2) == b"hi"
        h.close()
        conn.close()
    for host, user, _ in hosts:
        host.close()
        user.close()


def test_transport_reset_drops_connections(dev):
    s1 = dev.connect(2, 7)
    s2 = dev.connect(2, 19)
    host, hport = dev.sim.connect(4200)
    req = dev.wait_for(uvsock.Request, timeout=T)
    user, dev_end = socket.socketpair()
    dev.send_response(req.addr, dev_end)
    dev.sim.transport_reset(77)
    ev = dev.wait_for(uvsock.TransportReset, timeout=T)
    assert ev.new_cid == 77 and ev == uvsock.TransportReset(77)
    assert dev.get_cid() == 77
    assert dev.connections() == []
    expect_eof(s1)
    expect_eof(s2)
    expect_eof(user)
    expect_eof(host)
    assert dev.next_event(0.1) is None, "no per-connection callback after a transport reset"
    s3 = dev.connect(2, 7, local_port=s1.addr.local_port)
    s3.sendall(b"again")
    assert recv_exact(s3, 5) == b"again"
    dev.sim.set_cid(42)
    assert dev.wait_for(uvsock.TransportReset, timeout=T).new_cid == 42
    for x in (s1, s2, s3, user, host):
        x.close()


def _vmo_roundtrip(dev, data_arg, expected, **kw):
    s = dev.connect(2, 7)
    dev.send_vmo(s.addr, data_arg, **kw)
    ev = dev.wait_for(uvsock.SendVmoComplete, addr=s.addr, timeout=T)
    assert ev.addr == s.addr
    assert recv_exact(s, len(expected)) == expected
    s.close()


def test_send_vmo_from_bytes_memoryview_and_offsets(dev):
    data = _pattern(7, 300000)
    _vmo_roundtrip(dev, data, data)
    _vmo_roundtrip(dev, memoryview(data)[1000:5000], data[1000:5000])
    _vmo_roundtrip(dev, bytearray(data), data[10:110], off=10, length=100)


def test_send_vmo_from_file_and_fd(dev):
    data = _pattern(8, 200000)
    with tempfile.TemporaryFile() as f:
        f.write(data)
        _vmo_roundtrip(dev, f, data)
        _vmo_roundtrip(dev, f.fileno(), data[5:], off=5)
        fd = os.memfd_create("t")
        os.write(fd, data[:1000])
        _vmo_roundtrip(dev, fd, data[:1000], length=1000)
        os.fstat(fd)  # the caller keeps its own fd
        os.close(fd)


def test_vmo_before_socket_data(dev):
    s = dev.connect(2, 7)
    dev.send_vmo(s.addr, b"first-")
    s.sendall(b"second")
    dev.wait_for(uvsock.SendVmoComplete, timeout=T)
    assert recv_exact(s, 12) == b"first-second"
    s.close()


def test_fault_injection_drop_and_hostile_packets(dev):
    s = dev.connect(2, 7)
    port = s.addr.local_port
    before = dev.info().malformed_dropped
    # A bad-type packet to our port: the driver answers RST and the connection ends with Rst.
    dev.sim.inject(uvsock.Fault.BAD_TYPE, port)
    assert dev.sim.fault_pending
    s.sendall(b"x")
    assert dev.wait_for(uvsock.Rst, addr=s.addr, timeout=T)
    assert not dev.sim.fault_pending
    # A foreign dst_cid is dropped and counted; the connection survives.
    s2 = dev.connect(2, 7)
    dev.sim.inject(uvsock.Fault.BAD_DST_CID, s2.addr.local_port)
    s2.sendall(b"lost")
    deadline = __import__("time").monotonic() + T
    while dev.info().malformed_dropped == before and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.01)
    assert dev.info().malformed_dropped > before
    # Raw hostile packets: a RW for a connection nobody has, a bogus op; nothing crashes.
    dev.sim.send_raw(uvsock.SimPacket(src_port=7, dst_port=60000, op=5), b"junk")
    dev.sim.send_raw(uvsock.SimPacket(src_port=7, dst_port=s2.addr.local_port, op=0x99))
    dev.sim.send_raw(uvsock.SimPacket(src_port=7, dst_port=1, op=5, hdr_len=9999), b"ab")
    s3 = dev.connect(2, 7)
    s3.sendall(b"still fine")
    assert recv_exact(s3, 10) == b"still fine"
    assert dev.sim.stats().bad_from_driver == 0
    with pytest.raises(ValueError):
        dev.sim.send_raw(uvsock.SimPacket(type=70000))
    for x in (s, s2, s3):
        x.close()


def test_host_credit_starvation_recovers(dev):
    import time
    dev.sim.listen(8100)
    # Cut the credit before connecting: the connection starts with 4 KiB of peer credit, so
    # the data below cannot slip out under the old 256 KiB before the update arrives.
    dev.sim.set_host_credit(4096)
    s = dev.connect(2, 8100)
    host, _ = dev.sim.accept(8100, timeout=T)
    data = _pattern(9, 200000)
    s.sendall(data)  # the socket buffers it; the device may send 4 KiB before the host reads
    deadline = time.monotonic() + T
    while dev.conn_info(s.addr).blocked_on != "peer_credit" and time.monotonic() < deadline:
        time.sleep(0.005)
    info = dev.conn_info(s.addr)
    assert info.blocked_on == "peer_credit", info
    assert info.peer_free == 0 and info.bytes_sent <= 4096 + 256 * 1024
    assert recv_exact(host, len(data)) == data  # reading on the host side gives credit back
    assert dev.sim.stats().credit_violations == 0
    dev.sim.set_host_credit(256 * 1024)
    s.close()
    host.close()
