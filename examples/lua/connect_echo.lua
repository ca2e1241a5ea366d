-- Connect to the host's echo service (CID 2, port 7) and check every byte comes back.
-- Run: build/bin/uvsock-lua examples/lua/connect_echo.lua
scenario("connect and echo", function(dev)
    local addr = { local_port = 1025, remote_cid = uvsock.CID_HOST, remote_port = 7 }
    local conn = assert(dev:send_request(addr))      -- the device now owns its end
    dev:expect("response", { addr = addr, timeout = 5 })

    assert(conn:send("hello, vsock"))
    assert(conn:recv(12, 5) == "hello, vsock")

    -- Binary data, larger than one packet.
    local blob = string.rep("\0\1\2\255", 50000)
    assert(conn:send(blob))
    assert(conn:recv(#blob, 10) == blob, "echoed bytes differ")

    local info = assert(dev:conn_info(addr))
    assert(info.state == "active", info.state)
    assert(info.bytes_sent == 12 + #blob, info.bytes_sent)
    conn:close()
end)

scenario("connect helper", function(dev)
    -- dev:connect(port) = send_request from a fresh local port + expect its response.
    local conn = assert(dev:connect(7))
    assert(conn:send("ping"))
    assert(conn:recv(4) == "ping")
    assert(dev:send_rst(conn.addr))
end)
