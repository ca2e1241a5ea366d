-- SendVmo of a file through the echo service: the bytes come back in order, then
-- SendVmoComplete.
scenario("SendVmo of a file", function(dev)
    local path = os.tmpname()
    local parts = {}
    for i = 1, 4096 do parts[i] = string.format("%07d:", i) .. string.rep(string.char(i % 256), 248) end
    local content = table.concat(parts)                 -- 1 MiB
    local f = assert(io.open(path, "w+b"))
    assert(f:write(content))

    local conn = assert(dev:connect(7))
    assert(dev:send_vmo(conn.addr, f))                  -- the whole file
    assert(conn:recv(#content, 20) == content, "echoed VMO differs")
    dev:expect("send_vmo_complete", { addr = conn.addr, timeout = 10 })

    -- A window of the file: 4000 bytes from offset 12345.
    assert(dev:send_vmo(conn.addr, f, 12345, 4000))
    assert(conn:recv(4000) == content:sub(12346, 12345 + 4000))
    dev:expect("send_vmo_complete", { addr = conn.addr })
    f:close()
    os.remove(path)

    -- A Lua string works as a VMO too; a window past its end is OUT_OF_RANGE.
    assert(dev:send_vmo(conn.addr, "in-memory vmo"))
    assert(conn:recv(13) == "in-memory vmo")
    dev:expect("send_vmo_complete")
    local ok, msg, status = dev:send_vmo(conn.addr, "short", 0, 100)
    assert(not ok and status == "ZX_ERR_OUT_OF_RANGE", msg)
end)
