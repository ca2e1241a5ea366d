-- Abortive reset in the middle of a transfer, from either side.
scenario("guest resets mid-transfer", { sim = true }, function(dev)
    local conn = assert(dev:connect(19))                -- the source service never stops
    assert(conn:recv(100000) == uvsock.source_bytes(0, 100000))
    assert(dev:send_rst(conn.addr))
    assert(#dev:conns() == 0)
    -- Whatever was in flight may still be read, then the stream ends.
    assert(conn:read_to_eof(5))
    dev:expect_no_event(0.2)                            -- our own RST raises no callback
end)

scenario("host resets mid-transfer", { sim = true }, function(dev)
    assert(dev.sim:listen(6100))
    local conn = assert(dev:connect(6100))
    local host = assert(dev.sim:accept(6100))
    assert(conn:send(string.rep("x", 300000)))          -- more than the host's buffer
    assert(host:recv(1000) == string.rep("x", 1000))
    -- A hostile or crashing host: a raw RST for the connection.
    assert(dev.sim:send_raw({
        src_cid = 2, dst_cid = dev:get_cid(), src_port = 6100, dst_port = conn.addr.local_port,
        type = 1, op = 3,                               -- STREAM, RST
    }))
    dev:expect("rst", { addr = conn.addr, timeout = 5 })
    assert(#dev:conns() == 0)
end)
