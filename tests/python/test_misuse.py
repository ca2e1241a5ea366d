# SPDX-License-Identifier: MIT
"""Misuse raises TypeError/ValueError/uvsock.Error and never crashes the interpreter."""
import socket
import subprocess
import sys
import threading
import time

import pytest

import uvsock
from conftest import T


@pytest.mark.parametrize("args,exc", [
    ((-1, 2, 7), ValueError),
    ((2**32, 2, 7), ValueError),
    ((1, 2**40, 7), ValueError),
    ((None, 2, 7), TypeError),
    (("1", 2, 7), TypeError),
    ((1.5, 2, 7), TypeError),
    ((True, 2, 7), TypeError),
])
def test_bad_addr_values(args, exc):
    with pytest.raises(exc):
        uvsock.Addr(*args)


def test_wrong_types_on_calls(dev):
    a = uvsock.Addr(1400, 2, 7)
    with pytest.raises(TypeError):
        dev.send_request(a, None)
    with pytest.raises(TypeError):
        dev.send_request(a, "socket")
    with pytest.raises(TypeError):
        dev.send_request(None, 3)
    with pytest.raises(TypeError):
        dev.send_request((1, 2), 3)
    with pytest.raises(ValueError):
        dev.send_request(a, 2**40)
    with pytest.raises(ValueError):
        dev.send_shutdown((-1, 2, 7))
    with pytest.raises(TypeError):
        dev.send_vmo(a, None)
    with pytest.raises(TypeError):
        dev.send_vmo(a, 3.5)
    with pytest.raises(ValueError):
        dev.send_vmo(a, b"abc", off=-1)
    with pytest.raises(ValueError):
        dev.send_vmo(a, b"abc", off=10)
    with pytest.raises(ValueError):
        dev.send_vmo(a, b"abc", length=2**64)
    with pytest.raises(TypeError):
        dev.connect("2", 7)
    with pytest.raises(ValueError):
        dev.connect(2, -7)
    with pytest.raises(ValueError):
        dev.next_event(-1)
    with pytest.raises(TypeError):
        dev.next_event("soon")
    with pytest.raises(TypeError):
        dev.wait_for("Rst")
    with pytest.raises(TypeError):
        dev.on(int, print)
    with pytest.raises(TypeError):
        dev.on(uvsock.Rst, 42)
    with pytest.raises(ValueError):
        dev.listen(2**32)
    with pytest.raises(TypeError):
        dev.sim.connect(None)
    with pytest.raises(ValueError):
        dev.sim.listen(-1)
    with pytest.raises(TypeError):
        dev.sim.send_raw(b"not a packet")
    with pytest.raises(TypeError):
        uvsock.open(42)
    with pytest.raises(ValueError):
        uvsock.open("sim\0")
    closed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    closed.close()
    with pytest.raises(ValueError):
        dev.send_request(a, closed)


def test_closed_device_raises():
    d = uvsock.open()
    s = d.connect(2, 7)
    sim = d.sim
    d.close()
    d.close()  # twice is fine
    assert d.closed
    for call in (lambda: d.get_cid(), lambda: d.send_rst((1, 2, 3)), lambda: d.start(),
                 lambda: d.next_event(0), lambda: d.connect(2, 7), lambda: d.fileno(),
                 lambda: d.info(), lambda: d.connections(), lambda: sim.stats(),
                 lambda: sim.connect(5000), lambda: d.send_vmo((1, 2, 3), b"x"),
                 lambda: d.sim):
        with pytest.raises(uvsock.DeviceClosed):
            call()
    assert issubclass(uvsock.DeviceClosed, ValueError)
    assert issubclass(uvsock.DeviceClosed, uvsock.BadState)
    s.close()


def test_close_wakes_blocked_threads():
    d = uvsock.open()
    d.sim.listen(9999)
    results = []

    def block(fn):
        try:
            fn()
        except Exception as e:
            results.append(type(e))

    ts = [threading.Thread(target=block, args=(lambda: d.next_event(None),)),
          threading.Thread(target=block, args=(lambda: d.wait_for(uvsock.Rst, timeout=None),)),
          threading.Thread(target=block, args=(lambda: d.sim.accept(9999, timeout=None),))]
    for t in ts:
        t.start()
    time.sleep(0.3)  # they are blocked, with the GIL released
    t0 = time.monotonic()
    d.close()
    for t in ts:
        t.join(T)
    assert time.monotonic() - t0 < 5
    assert results == [uvsock.DeviceClosed] * 3


def test_gil_released_while_blocked(dev):
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    dev.next_event(0.5)  # blocks in uvsock_event_queue_pop
    before = counter[0]
    dev.sim.listen(9998)
    with pytest.raises(uvsock.TimedOut):
        dev.sim.accept(9998, timeout=0.5)
    stop.set()
    t.join()
    assert counter[0] > before > 1000


def test_socket_ownership_no_double_close(dev):
    # The fd number the device took must not be closed by Python's socket object later:
    # open many connections, drop our references, collect, and check every one still echoes.
    import gc
    users = []
    for i in range(20):
        u, d = socket.socketpair()
        a = uvsock.Addr(1500 + i, 2, 7)
        dev.send_request(a, d)
        del d
        users.append((a, u))
    gc.collect()
    for a, _ in users:
        dev.wait_for(uvsock.Response, addr=a, timeout=T)
    # Unrelated fds created now may reuse numbers only if something closed the device's fds.
    extra = [socket.socketpair() for _ in range(20)]
    for a, u in users:
        u.sendall(b"ping")
        u.settimeout(T)
        assert u.recv(4) == b"ping"
    for x, y in extra:
        x.close()
        y.close()
    for a, u in users:
        u.close()


def test_device_gc_and_exit_with_open_device():
    # An interpreter that exits with a device still open, a log function installed and threads
    # blocked must exit cleanly.
    code = (
        "import uvsock, threading\n"
        "uvsock.set_log(lambda l, m: None); uvsock.set_log_level('debug')\n"
        "d = uvsock.open(); s = d.connect(2, 7); s.sendall(b'x' * 100000)\n"
        "threading.Thread(target=d.next_event, daemon=True).start()\n"
        "d2 = uvsock.open(); del d2\n"
        "print('done')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "done"


