# SPDX-License-Identifier: MIT
"""Every status code the Device calls return, as the matching exception."""
import os
import socket
import tempfile

import pytest

import uvsock
from conftest import T


def test_every_status_has_an_exception():
    for st in uvsock.Status:
        if st == uvsock.Status.OK:
            continue
        cls = uvsock.ERRORS[int(st)]
        e = cls("why")
        assert isinstance(e, uvsock.Error) and e.status == int(st)
        assert e.name == st.zx_name == uvsock.status_str(st)
        assert e.name.startswith("ZX_ERR_")
    assert uvsock.status_str(-12345) == "ZX_ERR_<unknown>"
    assert issubclass(uvsock.TimedOut, TimeoutError)
    assert issubclass(uvsock.InvalidArgs, ValueError)


def test_bad_state_before_start(unstarted):
    a = uvsock.Addr(1200, 2, 7)
    user, dev_end = socket.socketpair()
    with pytest.raises(uvsock.BadState) as ei:
        unstarted.send_request(a, dev_end)
    assert ei.value.status == -20 and ei.value.name == "ZX_ERR_BAD_STATE"
    assert dev_end.fileno() >= 0, "the caller keeps its socket on error"
    with pytest.raises(uvsock.BadState):
        unstarted.send_response(a, dev_end)
    with pytest.raises(uvsock.BadState):
        unstarted.send_shutdown(a)
    with pytest.raises(uvsock.BadState):
        unstarted.send_vmo(a, b"data")
    unstarted.start()
    unstarted.send_request(a, dev_end)
    unstarted.wait_for(uvsock.Response, addr=a, timeout=T)
    user.close()


def test_already_bound(dev):
    s = dev.connect(2, 7, local_port=1201)
    user, dev_end = socket.socketpair()
    with pytest.raises(uvsock.AlreadyBound):
        dev.send_request(s.addr, dev_end)
    with pytest.raises(uvsock.AlreadyBound):
        dev.send_response(s.addr, dev_end)
    # The existing connection is untouched and the rejected socket still ours.
    assert dev_end.fileno() >= 0
    s.sendall(b"abc")
    s.settimeout(T)
    assert s.recv(3) == b"abc"
    for x in (s, user, dev_end):
        x.close()


def test_bad_handle_and_wrong_type(dev):
    a = uvsock.Addr(1202, 2, 7)
    r, w = os.pipe()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dgram = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        with pytest.raises(uvsock.BadHandle):
            dev.send_request(a, 999999)
        with pytest.raises(uvsock.BadHandle):
            dev.send_request(a, -1)
        with pytest.raises(uvsock.WrongType):
            dev.send_request(a, r)
        with pytest.raises(uvsock.WrongType):
            dev.send_request(a, udp)
        with pytest.raises(uvsock.WrongType):
            dev.send_response(a, dgram[0])
        assert udp.fileno() >= 0 and dgram[0].fileno() >= 0
        os.fstat(r)  # still open: ours on error
    finally:
        os.close(r)
        os.close(w)
        udp.close()
        dgram[0].close()
        dgram[1].close()


def test_vmo_status_codes(dev):
    s = dev.connect(2, 9)  # discard
    with pytest.raises(uvsock.NotFound):
        dev.send_vmo((1, 2, 3), b"abc")
    with pytest.raises(uvsock.InvalidArgs):
        dev.send_vmo(s.addr, b"abc", 0, 0)
    with pytest.raises(uvsock.InvalidArgs):
        dev.send_vmo(s.addr, b"abc", 2**64 - 1, 2)  # off+len overflows
    with pytest.raises(uvsock.BadHandle):
        dev.send_vmo(s.addr, 999999, 0, 10)
    r, w = os.pipe()
    try:
        with pytest.raises(uvsock.WrongType):
            dev.send_vmo(s.addr, r, 0, 10)
    finally:
        os.close(r)
        os.close(w)
    with tempfile.TemporaryFile() as f:
        f.write(b"x" * 100)
        with pytest.raises(uvsock.OutOfRange):
            dev.send_vmo(s.addr, f, 50, 100)
    # A VMO already pending: BAD_STATE (the credit-starved host keeps the first one pending).
    dev.sim.set_host_credit(1)
    big = dev.connect(2, 9)
    dev.send_vmo(big.addr, b"y" * 100000)
    with pytest.raises(uvsock.BadState):
        dev.send_vmo(big.addr, b"z")
    dev.sim.set_host_credit(256 * 1024)
    dev.wait_for(uvsock.SendVmoComplete, addr=big.addr, timeout=T)
    s.close()
    big.close()


def test_open_errors():
    with pytest.raises(uvsock.NotSupported) as ei:
        uvsock.open("bogus:")
    assert "bogus" in str(ei.value)
    with pytest.raises(uvsock.InvalidArgs):
        uvsock.open("sim:cid=notanumber")
    with pytest.raises(uvsock.NotSupported):
        uvsock.open("sim:no_version_1=1")


def test_sim_status_codes(dev):
    with pytest.raises(uvsock.InvalidArgs):
        dev.sim.transport_reset(1)
    with pytest.raises(uvsock.InvalidArgs):
        dev.sim.set_host_credit(0)
    with pytest.raises(uvsock.NotFound):
        dev.sim.accept(7777, timeout=0.1)
    dev.sim.listen(7777)
    with pytest.raises(uvsock.TimedOut):
        dev.sim.accept(7777, timeout=0.2)
    dev.sim.unlisten(7777)
    with pytest.raises(uvsock.NotFound):
        dev.sim.unlisten(7777)
    with pytest.raises(uvsock.InvalidArgs):
        dev.sim.inject(999)
    with pytest.raises(uvsock.BadState):
        dev.capture_stop()
