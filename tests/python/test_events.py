# SPDX-License-Identifier: MIT
"""The event API: next_event, events(), wait_for keeping what it skips, handlers, fileno with
selectors and asyncio, logging and capture."""
import asyncio
import os
import selectors
import socket
import threading
import time

import pytest

import uvsock
from conftest import T


def _refused(dev, port):
    a = uvsock.Addr(port, 2, 5555)
    u, d = socket.socketpair()
    dev.send_request(a, d)
    return a, u


def test_wait_for_keeps_skipped_events(dev):
    a1, u1 = _refused(dev, 1301)
    a2, u2 = _refused(dev, 1302)
    s = dev.connect(2, 7)  # skips both Rsts while waiting for its Response
    assert dev.pending() >= 1
    assert dev.wait_for(uvsock.Rst, addr=a2, timeout=T).addr == a2
    ev = dev.next_event(T)
    assert ev == uvsock.Rst(a1)
    assert dev.next_event(0) is None
    with pytest.raises(uvsock.TimedOut) as ei:
        dev.wait_for(uvsock.Request, timeout=0.1)
    assert isinstance(ei.value, TimeoutError) and "Request" in str(ei.value)
    for x in (u1, u2, s):
        x.close()


def test_events_iterator_and_seq_order(dev):
    addrs = [_refused(dev, 1310 + i) for i in range(5)]
    got = []
    for ev in dev.events(timeout=T):
        got.append(ev)
        if len(got) == 5:
            break
    assert sorted(e.addr.local_port for e in got) == [1310, 1311, 1312, 1313, 1314]
    seqs = [e.seq for e in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert all(e.time_ns > 0 for e in got)
    assert list(dev.events(timeout=0)) == []
    for _, u in addrs:
        u.close()


def test_handlers_and_dispatch(dev):
    seen = []
    dev.on(uvsock.Rst, seen.append)
    a, u = _refused(dev, 1320)
    h, hp = dev.sim.connect(1321)
    deadline = time.monotonic() + T
    while not seen and time.monotonic() < deadline:
        dev.dispatch(timeout=0.1)
    assert seen == [uvsock.Rst(a)]
    # The Request has no handler: kept for next_event.
    req = dev.wait_for(uvsock.Request, timeout=T)
    assert req.addr.local_port == 1321
    dev.off(uvsock.Rst, seen.append)
    threads = []

    @dev.on(uvsock.Event)  # a decorator; a handler for the base class sees every event
    def record(ev):
        threads.append(threading.get_ident())

    _refused(dev, 1322)[1].close()
    assert dev.dispatch(timeout=T) >= 1
    assert threads and threads[0] == threading.get_ident()
    u.close()
    h.close()


def test_fileno_with_selectors(dev):
    sel = selectors.DefaultSelector()
    sel.register(dev, selectors.EVENT_READ)
    assert sel.select(0) == []
    a, u = _refused(dev, 1330)
    assert sel.select(T), "the event queue fd becomes readable"
    assert dev.next_event(0) == uvsock.Rst(a)
    assert sel.select(0) == []
    sel.close()
    u.close()


def test_asyncio_integration(dev):
    async def main():
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        loop.add_reader(dev.fileno(), ready.set)
        try:
            host, hport = dev.sim.connect(1340)
            await asyncio.wait_for(ready.wait(), T)
            ev = dev.next_event(0)
        finally:
            loop.remove_reader(dev.fileno())
        assert ev.addr == uvsock.Addr(1340, 2, hport)
        user, dev_end = socket.socketpair()
        dev.send_response(ev.addr, dev_end)
        reader, writer = await asyncio.open_unix_connection(sock=user)
        host.sendall(b"async!")
        assert await asyncio.wait_for(reader.readexactly(6), T) == b"async!"
        # next_event_async
        a, u = _refused(dev, 1341)
        ev2 = await dev.next_event_async(T)
        assert ev2 == uvsock.Rst(a)
        assert await dev.next_event_async(0.05) is None
        writer.close()
        host.close()
        u.close()

    asyncio.run(main())


def test_logging_callback(dev):
    msgs = []
    old = uvsock.get_log_level()
    uvsock.set_log(lambda level, msg: msgs.append((level, msg)))
    uvsock.set_log_level("debug")
    assert uvsock.get_log_level() == uvsock.LogLevel.DEBUG
    try:
        s = dev.connect(2, 7)
        s.sendall(b"x")
        s.recv(1)
        s.close()
    finally:
        uvsock.set_log(None)
        uvsock.set_log_level(old)
    assert msgs, "debug level traces packets"
    assert all(isinstance(level, uvsock.LogLevel) and isinstance(m, str) for level, m in msgs)
    with pytest.raises(ValueError):
        uvsock.set_log_level("loud")
    with pytest.raises(TypeError):
        uvsock.set_log(42)


def test_capture(dev, tmp_path):
    path = tmp_path / "c.pcap"
    with dev.capture(path):
        s = dev.connect(2, 7)
        s.sendall(b"captured")
        s.settimeout(T)
        s.recv(8)
        st = dev.capture_stats()
        assert st.active
    assert not dev.capture_stats().active
    data = path.read_bytes()
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                        b"\xa1\xb2\x3c\x4d")
    assert b"captured" in data
    with pytest.raises(uvsock.IO):
        dev.capture_start(tmp_path / "no" / "such" / "dir.pcap")
    s.close()
