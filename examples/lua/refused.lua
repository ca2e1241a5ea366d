-- A connection to a port nobody listens on is refused: the device answers with RST.
scenario("refused connection (rst)", { sim = true }, function(dev)
    local addr = { local_port = 2000, remote_cid = uvsock.CID_HOST, remote_port = 4444 }
    local conn = assert(dev:send_request(addr))
    dev:expect("rst", { addr = addr, timeout = 5 })
    assert(conn:expect_eof(5))                          -- the device closed its end
    local _, msg, status = dev:conn_info(addr)
    assert(status == "ZX_ERR_NOT_FOUND", msg)

    -- dev:connect reports it in Lua's convention: nil, message, status.
    local c, err = dev:connect(4444)
    assert(c == nil and err:match("expected response, got rst"), err)
end)
