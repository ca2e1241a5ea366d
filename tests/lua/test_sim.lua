-- LuaUnit tests of dev.sim: the simulated device's host side and fault injection, and their
-- error paths.
local lu = require "luaunit"
local uvsock = require "uvsock"

local function started(uri)
    local dev = assert(uvsock.open(uri or "sim"))
    assert(dev:start())
    return dev
end

local function assert_fails(status, ok, msg, st)
    lu.assertNil(ok)
    lu.assertEquals(st, status, msg)
    return msg
end

local function assert_raises(pattern, fn, ...)
    local ok, err = pcall(fn, ...)
    lu.assertFalse(ok, "expected an error matching " .. pattern)
    lu.assertStrMatches(tostring(err), ".*" .. pattern .. ".*")
end

TestSim = {}

function TestSim:setUp() self.dev = started() end
function TestSim:tearDown() self.dev:close() end

function TestSim:test_host_connect_and_accept()
    local dev, sim = self.dev, self.dev.sim
    local host = assert(sim:connect(5000, 12345))
    lu.assertEquals(host.host_port, 12345)
    lu.assertEquals(math.type(host.host_port), "integer")
    local ev = dev:expect("request")
    lu.assertEquals(ev.addr, { local_port = 5000, remote_cid = 2, remote_port = 12345 })
    local c = assert(dev:send_response(ev.addr))
    assert(host:send("h"))
    lu.assertEquals(c:recv(1), "h")
    -- Picked host port in [2^30, 2^31).
    local h2 = assert(sim:connect(5001))
    lu.assertTrue(h2.host_port >= 1 << 30 and h2.host_port < 1 << 31)
    dev:expect("request", { addr = { local_port = 5001, remote_cid = 2, remote_port = h2.host_port } })
end

function TestSim:test_listener_errors()
    local sim = self.dev.sim
    assert_fails("ZX_ERR_NOT_FOUND", sim:accept(7777, 0))
    assert(sim:listen(7777))
    assert_fails("ZX_ERR_TIMED_OUT", sim:accept(7777, 0.05))
    lu.assertNotNil(select(3, sim:listen(7)))           -- a built-in service port is refused
    assert(sim:unlisten(7777))
    lu.assertNotNil(select(3, sim:unlisten(7777)))
    assert_raises("host_port must be in", sim.listen, sim, -1)
    assert_raises("host_port must be an integer", sim.listen, sim, "80")
    assert_raises("timeout must be a number", sim.accept, sim, 7777, {})
end

function TestSim:test_credit_and_cid_errors()
    local sim = self.dev.sim
    assert_fails("ZX_ERR_INVALID_ARGS", sim:set_host_credit(0))
    assert_fails("ZX_ERR_INVALID_ARGS", sim:transport_reset(1))
    assert_fails("ZX_ERR_INVALID_ARGS", sim:transport_reset(uvsock.CID_ANY))
    assert_raises("bytes must be in", sim.set_host_credit, sim, -4096)
    assert_raises("new_cid must be in", sim.transport_reset, sim, 1 << 40)
    assert_raises("expected dev.sim", sim.stats, self.dev)
end

function TestSim:test_set_cid_is_a_transport_reset()
    local dev = self.dev
    assert(dev.sim:set_cid(77))
    dev:expect("transport_reset", { new_cid = 77, timeout = 5 })
    lu.assertEquals(dev:get_cid(), 77)
    -- new_cid nil keeps the CID.
    assert(dev.sim:transport_reset())
    dev:expect("transport_reset", { new_cid = 77 })
end

function TestSim:test_faults()
    local dev, sim = self.dev, self.dev.sim
    assert_raises("unknown fault nope %(one of: bad_dst_cid, bad_len", sim.inject, sim, "nope")
    assert_raises("unknown fault", sim.inject, sim, 3)
    local c = assert(dev:connect(7))
    -- bad_type: the driver answers RST and reports Rst for the victim.
    assert(sim:inject("bad_type", c.addr.local_port))
    lu.assertTrue(sim:fault_pending())
    assert(c:send("victim"))
    dev:expect("rst", { addr = c, timeout = 5 })
    lu.assertFalse(sim:fault_pending())
    -- The RST reaches the host side asynchronously.
    local st = assert(uvsock.wait_until(function()
        local s = sim:stats()
        return s.last_rst_from_driver.src_port == c.addr.local_port and s
    end, 5))
    lu.assertEquals(st.last_rst_from_driver.op, 3)
    lu.assertEquals(math.type(st.op_from_driver[1]), "integer")
    lu.assertEquals(#st.op_from_driver, 8)
    lu.assertEquals(st.bad_from_driver, 0)
    -- drop: the packet is lost, the connection lives.
    local c2 = assert(dev:connect(7))
    assert(sim:inject("DROP", c2.addr.local_port))      -- names are case-insensitive
    assert(c2:send("lost"))
    lu.assertFalse(c2:readable(0.1))
    assert(c2:send("kept"))
    lu.assertEquals(c2:recv(4), "kept")
    -- Disarm.
    assert(sim:inject("used_bad_id"))
    assert(sim:inject("none"))
    lu.assertFalse(sim:fault_pending())
end

function TestSim:test_send_raw()
    local dev, sim = self.dev, self.dev.sim
    local c = assert(dev:connect(7))
    -- An RW packet the host never sent, with payload: delivered to our socket.
    assert(sim:send_raw({ src_cid = 2, dst_cid = 3, src_port = 7, dst_port = c.addr.local_port,
        type = 1, op = 5, buf_alloc = 262144 }, "inj\0ected"))
    lu.assertEquals(c:recv(9), "inj\0ected")
    assert_raises("op must be in", sim.send_raw, sim, { op = 1 << 20 })
    assert_raises("packet must be a table", sim.send_raw, sim, "pkt")
    assert_raises("payload must be a string", sim.send_raw, sim, {}, 5)
end

function TestSim:test_wait_until()
    local n = 0
    lu.assertEquals(uvsock.wait_until(function() n = n + 1; return n >= 3 and "done" end, 1), "done")
    local ok, msg, status = uvsock.wait_until(function() return false end, 0.02)
    lu.assertNil(ok)
    lu.assertEquals(status, "ZX_ERR_TIMED_OUT", msg)
    assert_raises("expected a function", uvsock.wait_until, 5)
end

function TestSim:test_not_a_sim()
    -- Every non-sim device has dev.sim == nil; a PCI address that cannot exist fails cleanly.
    local dev, msg, status = uvsock.open("uio:00ff:ff:1f.7")
    if dev then
        lu.assertNil(dev.sim)
        dev:close()
    else
        lu.assertStrContains(msg, "uio:00ff:ff:1f.7")
        lu.assertStrMatches(status, "ZX_ERR_.*")
    end
end

os.exit(lu.LuaUnit.run())
