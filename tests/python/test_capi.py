# SPDX-License-Identifier: MIT
"""The SWIG layer itself: out-parameters become return values, None handles are refused."""
import pytest

import uvsock

c = uvsock.capi


def test_out_parameters_are_returned():
    st, dev = c.uvsock_open("sim")
    assert st == c.UVSOCK_OK and dev is not None
    st, q = c.uvsock_event_queue_new()
    assert st == 0
    assert c.uvsock_start_event_queue(dev, q) == 0
    st, host_fd, host_port = c.uvsock_sim_connect(c.uvsock_sim(dev), 5000, 0)
    assert st == 0 and host_fd >= 0 and host_port >= 1 << 30
    ev = c.uvsock_event()
    assert c.uvsock_event_queue_pop(q, ev, 5000) == 0
    assert ev.type == c.UVSOCK_EVENT_REQUEST and ev.addr.local_port == 5000
    assert c.uvsock_event_type_str(ev.type) == "request"
    assert c.uvsock_event_queue_pop(q, ev, 0) == c.UVSOCK_ERR_SHOULD_WAIT
    assert c.uvsock_event_queue_pop(q, ev, 10) == c.UVSOCK_ERR_TIMED_OUT
    arr = c.uvsock_addr_array(4)
    assert c.uvsock_conn_list(dev, arr.cast(), 4) == [0, 0]
    st, dev2 = c.uvsock_open("nope:")
    assert st == c.UVSOCK_ERR_NOT_SUPPORTED and dev2 is None
    assert "nope" in c.uvsock_last_error()
    import os
    os.close(host_fd)
    c.uvsock_close(dev)
    c.uvsock_event_queue_free(q)


@pytest.mark.parametrize("call", [
    lambda: c.uvsock_send_request(None, c.uvsock_addr(), 0),
    lambda: c.uvsock_send_rst(None, c.uvsock_addr()),
    lambda: c.uvsock_start_event_queue(None, None),
    lambda: c.uvsock_event_queue_pop(None, c.uvsock_event(), 0),
    lambda: c.uvsock_event_queue_fd(None),
    lambda: c.uvsock_sim_get_stats(None, c.uvsock_sim_stats()),
    lambda: c.uvsock_sim_send_raw(None, None, b""),
    lambda: c.uvsock_dev_info_get(None, None),
    lambda: c.uvsock_close(None),
])
def test_none_handles_raise(call):
    with pytest.raises(ValueError):
        call()


def test_wrong_pointer_types_raise():
    with pytest.raises(TypeError):
        c.uvsock_get_cid(42)
    st, q = c.uvsock_event_queue_new()
    with pytest.raises(TypeError):
        c.uvsock_get_cid(q)  # a queue is not a device
    c.uvsock_event_queue_free(q)
    with pytest.raises(OverflowError):
        c.uvsock_sim_source_byte(-1)
