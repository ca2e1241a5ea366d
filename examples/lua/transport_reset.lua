-- Transport reset: every connection is dropped (no per-connection callbacks), the device has a
-- new CID, and new connections work.
scenario("transport reset drops connections and brings a new CID", { sim = true }, function(dev)
    assert(dev:get_cid() == 3)
    local conns = {}
    for i = 1, 3 do
        conns[i] = assert(dev:connect(7))
        assert(conns[i]:send("before"))
        assert(conns[i]:recv(6) == "before")
    end
    assert(dev.sim:transport_reset(42))
    local ev = dev:expect("transport_reset", { new_cid = 42, timeout = 5 })
    assert(math.type(ev.new_cid) == "integer")
    assert(dev:get_cid() == 42)
    assert(#dev:conns() == 0, "connections survived the reset")
    for _, c in ipairs(conns) do assert(c:read_to_eof(5)) end  -- their sockets end
    dev:expect_no_event(0.2)                            -- no Rst/Shutdown for them

    local c = assert(dev:connect(7))
    assert(c:send("after"))
    assert(c:recv(5) == "after")
end)
