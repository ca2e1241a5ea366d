# SPDX-License-Identifier: MIT
"""Every Device call, and every event with the right Addr."""
import socket

import pytest

import uvsock
from conftest import T, expect_eof, recv_exact


def test_import_and_version():
    assert uvsock.capi.uvsock_status_str(0) == "ZX_OK"
    assert "Device" in uvsock.__all__
    assert uvsock.Device.__doc__ and "send_request" in uvsock.Device.__doc__


def test_get_cid_and_uri_options():
    with uvsock.open("sim:cid=5") as d:
        assert d.get_cid() == 5 == d.cid
        assert d.info().cid == 5
        assert d.info().started
    with uvsock.open() as d:
        assert d.get_cid() == 3


def test_send_request_response_echo(dev):
    a = uvsock.Addr(1100, uvsock.CID_HOST, uvsock.ECHO_PORT)
    user, dev_end = socket.socketpair()
    dev.send_request(a, dev_end)
    assert dev_end.fileno() == -1, "a socket handed to the device is closed in Python"
    ev = dev.wait_for(uvsock.Response, timeout=T)
    assert ev == uvsock.Response(a) and ev.addr == a and ev.seq >= 1
    user.sendall(b"hello")
    assert recv_exact(user, 5) == b"hello"
    user.close()


def test_send_request_with_raw_fd(dev):
    a = uvsock.Addr(1101, 2, 7)
    user, dev_end = socket.socketpair()
    fd = dev_end.detach()
    dev.send_request(a, fd)  # the device owns fd now
    dev.wait_for(uvsock.Response, addr=a, timeout=T)
    user.sendall(b"x")
    assert recv_exact(user, 1) == b"x"
    user.close()


def test_rst_refused_event(dev):
    a = uvsock.Addr(1102, 2, 4444)  # nothing listens there
    user, dev_end = socket.socketpair()
    dev.send_request(a, dev_end)
    assert dev.wait_for(uvsock.Rst, timeout=T).addr == a
    with pytest.raises(ConnectionRefusedError):
        dev.connect(2, 4444)
    user.close()


def test_shutdown_event_and_send_rst(dev):
    host, hport = dev.sim.connect(6000)
    req = dev.wait_for(uvsock.Request, timeout=T)
    assert req.addr == uvsock.Addr(6000, uvsock.CID_HOST, hport)
    user, dev_end = socket.socketpair()
    dev.send_response(req.addr, dev_end)
    host.sendall(b"bye!")
    host.close()
    sd = dev.wait_for(uvsock.Shutdown, timeout=T)
    assert sd.addr == req.addr
    assert recv_exact(user, 4) == b"bye!"
    assert expect_eof(user) == b""
    dev.send_rst(req.addr)
    user.close()


def test_send_shutdown_then_rst_from_host(dev):
    s = dev.connect(2, 7, local_port=1103)
    dev.send_shutdown(s.addr)
    assert dev.wait_for(uvsock.Rst, timeout=T).addr == s.addr
    assert expect_eof(s) == b""
    s.close()


def test_send_rst_always_ok(dev, unstarted):
    dev.send_rst(uvsock.Addr(1, 2, 3))
    unstarted.send_rst((1, 2, 3))


def test_start_twice_resets(dev):
    s = dev.connect(2, 7)
    dev.start()
    assert expect_eof(s) == b""
    assert dev.connections() == []
    s2 = dev.connect(2, 7)
    s2.sendall(b"ok")
    assert recv_exact(s2, 2) == b"ok"
    s.close()
    s2.close()


def test_addr_value_semantics():
    a = uvsock.Addr(1, 2, 3)
    assert a == uvsock.Addr(1, 2, 3) and hash(a) == hash(uvsock.Addr(1, 2, 3))
    assert len({a, uvsock.Addr(1, 2, 3), uvsock.Addr(1, 2, 4)}) == 2
    assert str(a) == "{1, 2, 3}" and "local_port=1" in repr(a)
    assert uvsock.Addr(0xFFFFFFFF, 0, 0).local_port == 2**32 - 1


def test_introspection(dev):
    s = dev.connect(2, 7)
    s.sendall(b"x" * 1000)
    recv_exact(s, 1000)
    info = dev.conn_info(s.addr)
    assert info.addr == s.addr and info.state == "active"
    assert info.bytes_sent == 1000 and info.bytes_received == 1000
    assert dev.stats()[s.addr].state == "active"
    di = dev.info()
    assert [q.name for q in di.vq] == ["rx", "tx", "event"]
    assert di.packets_sent > 0 and di.connections == 1
    st = dev.sim.stats()
    assert st.op_from_driver[1] >= 1  # REQUEST
    assert st.bad_from_driver == 0 and st.credit_violations == 0
    with pytest.raises(uvsock.NotFound):
        dev.conn_info((1, 2, 3))
    s.close()


def test_repr_and_help():
    with uvsock.open() as d:
        assert "cid=3" in repr(d)
    assert "closed" in repr(d)
    import pydoc
    text = pydoc.render_doc(uvsock.Device, renderer=pydoc.plaintext)
    assert "send_vmo" in text and "SendVmoComplete" in text
