-- Credit starvation: the host's buffer is cut to 4 KiB, yet 8 MiB still arrive intact and
-- the driver never sends beyond the host's credit.
scenario("credit starvation: 4 KiB host credit, 8 MiB intact", { sim = true, timeout = 120 }, function(dev)
    assert(dev.sim:set_host_credit(4096))
    local conn = assert(dev:connect(7))
    local chunk = 65536
    local base = {}
    for i = 1, chunk // 16 do base[i] = string.format("%015d\n", i * 7919) end
    base = table.concat(base)

    for i = 1, (8 * 1024 * 1024) // chunk do
        local block = string.format("%08d", i) .. base:sub(9)   -- every block distinct
        assert(conn:send(block, 10))
        local back, err = conn:recv(#block, 10)
        assert(back, err)
        assert(back == block, "block " .. i .. " differs")
    end
    local info = assert(dev:conn_info(conn.addr))
    assert(info.peer_buf_alloc == 4096, info.peer_buf_alloc)
    assert(info.bytes_sent == 8 * 1024 * 1024, info.bytes_sent)
    assert(dev.sim:stats().credit_violations == 0, "the driver overran the host's credit")
end)
