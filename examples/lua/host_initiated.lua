-- The host connects to us (a REQUEST to guest port 5000); we answer with SendResponse.
scenario("host-initiated connection answered with SendResponse", { sim = true }, function(dev)
    local host = assert(dev.sim:connect(5000))          -- the host program's end
    local ev = dev:expect("request", { timeout = 5 })
    assert(ev.addr.local_port == 5000 and ev.addr.remote_cid == uvsock.CID_HOST)
    assert(ev.addr.remote_port == host.host_port)

    local conn = assert(dev:send_response(ev.addr))     -- accept: a new connection object
    assert(host:send("from the host"))
    assert(conn:recv(13) == "from the host")
    assert(conn:send("from the guest"))
    assert(host:recv(14) == "from the guest")
    assert(dev:conn_info(ev.addr).state == "active")
end)

scenario("host request refused with SendRst", { sim = true }, function(dev)
    local host = assert(dev.sim:connect(5001))
    local ev = dev:expect("request")
    assert(dev:send_rst(ev.addr))
    assert(host:expect_eof(5))                          -- the host sees the refusal
    assert(#dev:conns() == 0)
end)
