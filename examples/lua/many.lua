-- 64 connections opened in a loop, all alive at once, each echoing its own bytes.
scenario("64 connections in a loop", function(dev)
    local conns = {}
    for i = 1, 64 do
        local addr = { local_port = 3000 + i, remote_cid = uvsock.CID_HOST, remote_port = 7 }
        conns[i] = assert(dev:send_request(addr))
        dev:expect("response", { addr = addr })
    end
    assert(#dev:conns() == 64)
    for i, c in ipairs(conns) do assert(c:send("conn " .. i .. ";")) end
    for i, c in ipairs(conns) do
        local want = "conn " .. i .. ";"
        assert(c:recv(#want) == want, "connection " .. i .. " mixed up")
    end
    for _, c in ipairs(conns) do assert(dev:send_rst(c.addr)) end
    assert(#dev:conns() == 0)
end)
