-- Graceful shutdown, both ways, on a connection to a host listener.
local PORT = 6000

local function open_pair(dev)
    assert(dev.sim:listen(PORT))
    local conn = assert(dev:connect(PORT))
    local host = assert(dev.sim:accept(PORT, 5))
    assert(host.guest_port == conn.addr.local_port)
    return conn, host
end

scenario("guest shuts down: queued bytes still arrive, then EOF", { sim = true }, function(dev)
    local conn, host = open_pair(dev)
    assert(conn:send("last words"))
    assert(dev:send_shutdown(conn.addr))                -- SHUTDOWN after the queued bytes
    assert(host:recv(10, 5) == "last words")
    assert(host:expect_eof(5))
    dev:expect("rst", { addr = conn.addr })             -- the host completes the close
    -- A second shutdown of a connection that is gone is BAD_STATE, in Lua's convention.
    local ok, msg, status = dev:send_shutdown(conn.addr)
    assert(ok == nil and status == "ZX_ERR_BAD_STATE", msg)
end)

scenario("host shuts down: shutdown event, EOF after the data, then SendRst", { sim = true }, function(dev)
    local conn, host = open_pair(dev)
    assert(host:send("goodbye"))
    host:close()                                        -- the host program closes
    dev:expect("shutdown", { addr = conn.addr, timeout = 5 })
    assert(conn:recv(7) == "goodbye")
    assert(conn:expect_eof(5))
    assert(dev:conn_info(conn.addr).state == "peer_shut_down")
    assert(dev:send_rst(conn.addr))                     -- we finish it
    assert(#dev:conns() == 0)
end)
