-- Deliberately failing scenarios: tests/lua/test_runner.lua checks that uvsock-lua fails them
-- with messages that say what went wrong, where, and what the device delivered.
scenario("passes", function(dev)
    assert(dev:connect(7))
end)

scenario("expects a response, gets an rst", function(dev)
    local addr = { local_port = 2222, remote_cid = 2, remote_port = 4444 }
    assert(dev:send_request(addr))
    dev:expect("response", { addr = addr, timeout = 5 }) -- FAILS HERE
end)

scenario("asserts a wrong echo", function(dev)
    local c = assert(dev:connect(7))
    assert(c:send("abc"))
    assert(c:recv(3) == "xyz", "echo came back wrong") -- FAILS HERE
end)

scenario("times out", { timeout = 1 }, function(dev)
    local c = assert(dev:connect(9)) -- discard: never answers
    c:recv(1, -1) -- waits forever, ended by the scenario timeout
end)

scenario("loops forever", { timeout = 1 }, function(dev)
    while true do end
end)

scenario("skips", function(dev)
    skip("not today")
end)
