-- LuaUnit tests of the uvsock module: the API surface, integer types, and every error path
-- (Lua's nil, message, status convention for device errors; a raised Lua error, never a crash,
-- for wrong types, bad values and closed objects).
-- Run: LUA_CPATH='build/lua/?.so' lua5.4 tests/lua/test_api.lua -v
local lu = require "luaunit"
local uvsock = require "uvsock"
local core = uvsock.core

local HOST = uvsock.CID_HOST

local function addr(l, p) return { local_port = l, remote_cid = HOST, remote_port = p or 7 } end

-- The value returned in Lua's error convention: nil, message, status name.
local function assert_fails(status, ok, msg, st)
    lu.assertNil(ok, "expected a failure, got " .. tostring(ok))
    lu.assertEquals(st, status, msg)
    lu.assertStrContains(msg, status)
    return msg
end

local function assert_raises(pattern, fn, ...)
    local ok, err = pcall(fn, ...)
    lu.assertFalse(ok, "expected an error matching " .. pattern)
    lu.assertStrMatches(tostring(err), ".*" .. pattern .. ".*")
    return err
end

local function started()
    local dev = assert(uvsock.open("sim"))
    assert(dev:start())
    return dev
end

------------------------------------------------------------------------ module level --
TestModule = {}

function TestModule:test_integers_are_integers()
    lu.assertEquals(math.type(uvsock.status.BAD_STATE), "integer")
    lu.assertEquals(uvsock.status.BAD_STATE, -20)
    lu.assertEquals(uvsock.status.OK, 0)
    lu.assertEquals(uvsock.status.ALREADY_BOUND, -27)
    lu.assertEquals(math.type(core.UVSOCK_EVENT_RESPONSE), "integer")
    lu.assertEquals(math.type(core.uvsock_log_level_parse("debug")), "integer")
    lu.assertEquals(tostring(uvsock.status.NOT_FOUND), "-25") -- not "-25.0"
    lu.assertEquals(uvsock.fault.drop, 1)
    lu.assertEquals(math.type(uvsock.fault.used_dup_id), "integer")
end

function TestModule:test_status_names()
    lu.assertEquals(uvsock.status_name(0), "ZX_OK")
    lu.assertEquals(uvsock.status_name(-20), "ZX_ERR_BAD_STATE")
    lu.assertStrContains(uvsock.status_name(-999), "ZX_ERR_")
    assert_raises("expected 'int' got 'string'", uvsock.status_name, "x")
    assert_raises("must be an integer", uvsock.status_name, 1.5)
end

function TestModule:test_format()
    lu.assertEquals(uvsock.format_addr(addr(1, 7)), "{1, 2, 7}")
    lu.assertEquals(uvsock.format_event({ type = "rst", addr = addr(5, 9) }), "rst{5, 2, 9}")
    lu.assertEquals(uvsock.format_event({ type = "transport_reset", new_cid = 9 }), "transport_reset(new_cid=9)")
end

function TestModule:test_check()
    lu.assertEquals(uvsock.check(5, "unused"), 5)
    local err = assert_raises("boom", uvsock.check, nil, "boom", "ZX_ERR_IO")
    lu.assertStrContains(err, "boom")
end

function TestModule:test_source_bytes()
    local b = uvsock.source_bytes(0, 300)
    lu.assertEquals(#b, 300)
    lu.assertEquals(b:byte(1), 0)
    lu.assertEquals(b:byte(2), 7)
    lu.assertEquals(b:byte(257), (256 * 7 + 1) & 0xff)
    assert_raises("offset", uvsock.source_bytes, -1, 3)
end

function TestModule:test_time_and_deadline()
    local t0 = uvsock.now()
    uvsock.sleep(0.02)
    lu.assertTrue(uvsock.now() - t0 >= 0.02)
    assert_raises("seconds must be a number", uvsock.sleep, "1")
    assert_raises("must not be negative", uvsock.sleep, -1)
    -- The runner's deadline ends a wait that would last forever, with a Lua error.
    local dev = started()
    uvsock._set_deadline(0.05)
    local ok, err = pcall(dev.next_event, dev, -1)
    uvsock._set_deadline(nil)
    lu.assertFalse(ok)
    lu.assertStrContains(err, "scenario timeout reached")
    lu.assertNil(dev:next_event(0)) -- and normal waits work again after
    dev:close()
end

function TestModule:test_open_errors()
    assert_fails("ZX_ERR_NOT_SUPPORTED", uvsock.open("nosuch:thing"))
    local msg = assert_fails("ZX_ERR_INVALID_ARGS", uvsock.open("sim:cid=banana"))
    lu.assertStrContains(msg, "open(\"sim:cid=banana\")")
    assert_fails("ZX_ERR_NOT_SUPPORTED", uvsock.open("sim:no_version_1=1"))
    assert_raises("URI must be a string", uvsock.open, 42)
    assert_raises("URI must be a string", uvsock.open, {})
end

function TestModule:test_open_default_and_options()
    local dev = assert(uvsock.open())
    lu.assertEquals(dev.uri, "sim")
    lu.assertEquals(dev:get_cid(), 3)
    dev:close()
    dev = assert(uvsock.open("sim:cid=7"))
    lu.assertEquals(dev:get_cid(), 7)
    lu.assertEquals(math.type(dev:get_cid()), "integer")
    dev:close()
end

function TestModule:test_logging()
    uvsock.set_log("buffer")
    uvsock.set_log_level("debug")
    lu.assertEquals(uvsock.get_log_level(), "debug")
    local dev = started()
    local c = assert(dev:connect(7))
    assert(c:send("x"))
    assert(c:recv(1))
    dev:close()
    local log = uvsock.log_drain()
    lu.assertTrue(#log > 0)
    lu.assertEquals(log[1].level, "debug")
    lu.assertEquals(type(log[1].message), "string")
    lu.assertEquals(#uvsock.log_drain(), 0)
    uvsock.set_log_level("warn")
    uvsock.set_log("off")
    assert_raises("expected 'stderr'", uvsock.set_log, "loud")
    assert_raises("expected 'error'", uvsock.set_log_level, "chatty")
    assert_raises("expected 'error'", uvsock.set_log_level, 3)
end

---------------------------------------------------------------------- device calls --
TestDevice = {}

function TestDevice:setUp() self.dev = started() end
function TestDevice:tearDown() self.dev:close() end

function TestDevice:test_calls_before_start()
    local dev = assert(uvsock.open("sim"))
    assert_fails("ZX_ERR_BAD_STATE", dev:send_request(addr(1)))
    assert_fails("ZX_ERR_BAD_STATE", dev:send_response(addr(1)))
    assert_fails("ZX_ERR_BAD_STATE", dev:send_shutdown(addr(1)))
    assert_fails("ZX_ERR_BAD_STATE", dev:send_vmo(addr(1), "data"))
    lu.assertTrue(dev:send_rst(addr(1))) -- a bare RST always goes out
    lu.assertFalse(dev:info().started)
    dev:close()
end

function TestDevice:test_send_request_forms()
    local dev = self.dev
    -- nil: a new Connection; a Connection; a raw fd.
    local c1 = assert(dev:send_request(addr(1100)))
    lu.assertEquals(getmetatable(c1), uvsock.Connection)
    lu.assertEquals(c1.addr, addr(1100))
    dev:expect("response", { addr = addr(1100) })
    local c2 = assert(uvsock.connection())
    lu.assertIs(dev:send_request(addr(1101), c2), c2)
    dev:expect("response", { addr = c2 })
    local a, b = core.socketpair()
    lu.assertTrue(dev:send_request(addr(1102), b))
    dev:expect("response", { addr = addr(1102) })
    lu.assertEquals(core.fd_send(a, "raw", 1000), 3)
    lu.assertEquals(core.fd_recv(a, 3, 1000, true), "raw")
    core.fd_close(a)
    -- A connection's device end goes only once.
    assert_raises("no device end to give", dev.send_request, dev, addr(1103), c2)
end

function TestDevice:test_status_codes()
    local dev = self.dev
    local c = assert(dev:connect(addr(1200)))
    -- ALREADY_BOUND: the caller keeps its socket and can use it for another address.
    local spare = assert(uvsock.connection())
    assert_fails("ZX_ERR_ALREADY_BOUND", dev:send_request(addr(1200), spare))
    lu.assertNotNil(spare._peer)
    assert(dev:send_request(addr(1201), spare))
    dev:expect("response", { addr = addr(1201) })
    -- BAD_HANDLE and WRONG_TYPE for raw fds.
    assert_fails("ZX_ERR_BAD_HANDLE", dev:send_request(addr(1202), 100000))
    local f = io.tmpfile()
    assert_fails("ZX_ERR_WRONG_TYPE", dev:send_request(addr(1202), core.file_fd(f)))
    f:close()
    -- SendShutdown: unknown address.
    assert_fails("ZX_ERR_BAD_STATE", dev:send_shutdown(addr(9999)))
    -- SendVmo: unknown address, len 0, past the end, bad fd, not readable at an offset.
    assert_fails("ZX_ERR_NOT_FOUND", dev:send_vmo(addr(9999), "x"))
    assert_fails("ZX_ERR_INVALID_ARGS", dev:send_vmo(c.addr, "abc", 0, 0))
    assert_fails("ZX_ERR_INVALID_ARGS", dev:send_vmo(c.addr, ""))
    assert_fails("ZX_ERR_OUT_OF_RANGE", dev:send_vmo(c.addr, "abc", 2, 5))
    assert_fails("ZX_ERR_BAD_HANDLE", dev:send_vmo(c.addr, 100000, 0, 4))
    local p1 = assert(uvsock.connection())
    assert_fails("ZX_ERR_WRONG_TYPE", dev:send_vmo(c.addr, p1.fd, 0, 4))
    p1:close()
    -- A second VMO while one is pending: BAD_STATE. The host reads nothing, so 1 MiB cannot
    -- get past its 256 KiB buffer and the first VMO stays pending.
    assert(dev.sim:listen(6600))
    local slow = assert(dev:connect(6600))
    local host = assert(dev.sim:accept(6600))
    assert(dev:send_vmo(slow, string.rep("v", 1 << 20)))
    assert_fails("ZX_ERR_BAD_STATE", dev:send_vmo(slow, "second"))
    lu.assertTrue(dev:conn_info(slow).vmo_remaining > 0)
    host:close()
end

function TestDevice:test_wrong_types_raise()
    local dev = self.dev
    assert_raises("address must be a table", dev.send_request, dev, "1025")
    assert_raises("address must be a table", dev.send_request, dev, nil)
    assert_raises("local_port must be in", dev.send_request, dev, addr(-1))
    assert_raises("remote_port must be in", dev.send_rst, dev, addr(1, 0x100000000))
    assert_raises("local_port must be an integer", dev.send_shutdown, dev, addr(1.5))
    assert_raises("remote_cid must be an integer", dev.send_rst, dev, { local_port = 1, remote_port = 7 })
    assert_raises("expected a connection, an fd or nil", dev.send_request, dev, addr(1), "sock")
    assert_raises("fd must be in", dev.send_request, dev, addr(1), -3)
    assert_raises("expected a string, a file or an fd", dev.send_vmo, dev, addr(1), {})
    assert_raises("offset must be in", dev.send_vmo, dev, addr(1), "x", -1)
    assert_raises("length must be in", dev.send_vmo, dev, addr(1), "x", 0, -5)
    assert_raises("timeout must be a number", dev.next_event, dev, "soon")
    assert_raises("unknown event type \"respnse\"", dev.expect, dev, "respnse")
    assert_raises("unknown event type", dev.expect, dev, nil)
    assert_raises("options must be a table", dev.expect, dev, "rst", 5)
    assert_raises("expected a uvsock device", dev.get_cid, {})
    assert_raises("expected a uvsock device", dev.get_cid, nil)
    assert_raises("expected a uvsock device", dev.start, "sim")
    local f = io.tmpfile()
    f:close()
    assert_raises("closed file", dev.send_vmo, dev, addr(1), f)
    -- Errors name the caller's line, however deep in the module the check ran.
    for _, f in ipairs({
        function() dev:send_request("x") end,
        function() dev:send_shutdown({ local_port = -1 }) end,
        function() dev.sim:listen(-5) end,
        function() dev:next_event("x") end,
    }) do
        local ok, err = pcall(f)
        lu.assertFalse(ok)
        lu.assertStrMatches(err, ".*test_api%.lua:%d+: bad argument.*")
    end
    -- Floats with an integer value are accepted, as Lua's own library does.
    lu.assertTrue(dev:send_rst(addr(1.0, 7.0)))
    -- The raw SWIG layer checks too: a negative or fractional uint32_t is an error.
    assert_raises("must be an integer in %[0, 4294967295%]", core.uvsock_sim_set_host_credit, dev.sim._sim, -1)
    assert_raises("must be an integer", core.uvsock_sim_set_host_credit, dev.sim._sim, 1.5)
    assert_raises("address field local_port", core.uvsock_send_rst, dev._dev, { local_port = -1, remote_cid = 2, remote_port = 7 })
    assert_raises("expected", core.uvsock_get_cid, "not a device")
    -- nil is never passed on as a NULL pointer.
    assert_raises("must not be nil", core.uvsock_get_cid, nil)
    assert_raises("must not be nil", core.uvsock_event_queue_fd, nil)
    assert_raises("must not be nil", core.uvsock_sim_get_stats, dev.sim._sim, nil)
    assert_raises("must not be nil", core.uvsock_capture_start, dev._dev, nil)
    assert_raises("must not be nil", core.uvsock_sim_inject, nil, 1, 0)
end

function TestDevice:test_events()
    local dev = self.dev
    local ev, msg, status = dev:next_event(0)
    lu.assertNil(ev)
    lu.assertEquals(status, "ZX_ERR_TIMED_OUT")
    lu.assertStrContains(msg, "next_event")
    assert(dev:send_request(addr(1300)))
    ev = assert(dev:next_event(5))
    lu.assertEquals(ev.type, "response")
    lu.assertEquals(ev.addr, addr(1300))
    lu.assertEquals(math.type(ev.addr.local_port), "integer")
    lu.assertEquals(math.type(ev.seq), "integer")
    lu.assertEquals(math.type(ev.time_ns), "integer")
    lu.assertEquals(dev:last_events()[1].seq, ev.seq)
    lu.assertEquals(#dev:events(), 0)
    lu.assertTrue(dev:event_fd() >= 0)
end

function TestDevice:test_expect_messages()
    local dev = self.dev
    assert(dev:send_request(addr(1400, 4444))) -- refused: an rst comes
    local err = assert_raises("expected response{1400, 2, 4444}, got rst{1400, 2, 4444}",
        function() dev:expect("response", { addr = addr(1400, 4444) }) end)
    lu.assertStrContains(err, "test_api.lua") -- the caller's line, not the library's
    err = assert_raises("expected shutdown within 0.05 s, got nothing", dev.expect, dev, "shutdown", { timeout = 0.05 })
    lu.assertStrContains(err, "no event within 50 ms")
    assert(dev.sim:transport_reset(12))
    assert_raises("expected transport_reset%(new_cid=13%), got transport_reset%(new_cid=12%)",
        dev.expect, dev, "transport_reset", { new_cid = 13 })
    assert(dev:send_request(addr(1401)))
    assert_raises("expected no event, got response{1401, 2, 7}", dev.expect_no_event, dev, 5)
end

function TestDevice:test_connect_errors()
    local dev = self.dev
    local c, msg, status = dev:connect(4444)
    lu.assertNil(c)
    lu.assertEquals(status, "ZX_ERR_PEER_CLOSED")
    lu.assertStrContains(msg, "expected response, got rst")
    assert_raises("port must be in", dev.connect, dev, -7)
    assert_raises("port must be an integer", dev.connect, dev, "7")
end

function TestDevice:test_start_twice_resets_connections()
    local dev = self.dev
    local c = assert(dev:connect(7))
    lu.assertEquals(#dev:conns(), 1)
    assert(dev:start())
    lu.assertEquals(#dev:conns(), 0)
    assert(c:read_to_eof(5))
end

function TestDevice:test_introspection()
    local dev = self.dev
    local c = assert(dev:connect(7))
    local info = assert(dev:conn_info(c))
    lu.assertEquals(info.state, "active")
    lu.assertEquals(info.blocked_on, "nothing")
    lu.assertEquals(info.addr, c.addr)
    lu.assertEquals(math.type(info.buf_alloc), "integer")
    lu.assertEquals(math.type(info.created_ns), "integer")
    assert_fails("ZX_ERR_NOT_FOUND", dev:conn_info(addr(4321)))
    local d = assert(dev:info())
    lu.assertEquals(d.cid, 3)
    lu.assertEquals(d.connections, 1)
    lu.assertTrue(d.started)
    lu.assertEquals(#d.vq, 3)
    lu.assertEquals(d.vq[1].name, "rx")
    lu.assertEquals(d.vq[3].name, "event")
    lu.assertEquals(math.type(d.vq[2].size), "integer")
    lu.assertEquals(math.type(d.features), "integer")
    lu.assertEquals(dev:conns(), { c.addr })
end

function TestDevice:test_capture()
    local dev = self.dev
    local path = os.tmpname()
    assert(dev:capture(path))
    assert_fails("ZX_ERR_BAD_STATE", dev:capture(path))
    local c = assert(dev:connect(7))
    assert(c:send("captured"))
    assert(c:recv(8))
    local st = assert(dev:capture_stats())
    lu.assertTrue(st.active)
    lu.assertTrue(st.packets >= 4)
    assert(dev:capture_stop())
    assert_fails("ZX_ERR_BAD_STATE", dev:capture_stop())
    lu.assertFalse(dev:capture_stats().active)
    local f = assert(io.open(path, "rb"))
    local head = f:read(24)
    f:close()
    os.remove(path)
    lu.assertEquals(string.unpack("<I4", head), 0xa1b2c3d4) -- pcap magic
    lu.assertEquals(string.unpack("<I4", head, 21), 271)    -- LINKTYPE_VSOCK
    local msg = assert_fails("ZX_ERR_IO", dev:capture("/nonexistent-dir/x.pcap"))
    lu.assertStrContains(msg, "No such file")
    assert_raises("path must be a string", dev.capture, dev, nil)
end

---------------------------------------------------------------------- closed objects --
TestClosed = {}

function TestClosed:test_closed_device_raises()
    local dev = started()
    local sim = dev.sim
    lu.assertTrue(dev:close())
    lu.assertTrue(dev:close()) -- idempotent
    lu.assertTrue(dev:closed())
    for _, call in ipairs({
        function() return dev:start() end,
        function() return dev:send_request(addr(1)) end,
        function() return dev:send_response(addr(1)) end,
        function() return dev:send_shutdown(addr(1)) end,
        function() return dev:send_rst(addr(1)) end,
        function() return dev:get_cid() end,
        function() return dev:send_vmo(addr(1), "x") end,
        function() return dev:next_event(0) end,
        function() return dev:expect("rst") end,
        function() return dev:events() end,
        function() return dev:conns() end,
        function() return dev:conn_info(addr(1)) end,
        function() return dev:info() end,
        function() return dev:connect(7) end,
        function() return dev:capture("/tmp/x") end,
        function() return dev:event_fd() end,
        function() return sim:transport_reset(5) end,
        function() return sim:connect(5) end,
        function() return sim:stats() end,
        function() return sim:inject("drop") end,
        function() return sim:accept(5, 0) end,
    }) do
        assert_raises("device is closed", call)
    end
end

function TestClosed:test_to_be_closed_and_gc()
    local sim
    do
        local dev <close> = started()
        sim = dev.sim
        assert(dev:connect(7))
    end
    assert_raises("device is closed", sim.stats, sim)
    -- Dropped without close: the collector closes it (no leak, no crash).
    for _ = 1, 5 do
        local d = started()
        assert(d:connect(7))
    end
    collectgarbage()
    collectgarbage()
end

function TestClosed:test_connection_after_device_close()
    local dev = started()
    local c = assert(dev:connect(7))
    dev:close()
    -- The device reset the connection: the socket ends, our object stays usable.
    assert(c:read_to_eof(5))
    local ok, msg, status = c:send("late")
    lu.assertNil(ok)
    lu.assertEquals(status, "ZX_ERR_PEER_CLOSED", msg)
    c:close()
end

------------------------------------------------------------------------- connections --
TestConnection = {}

function TestConnection:setUp() self.dev = started() end
function TestConnection:tearDown() self.dev:close() end

function TestConnection:test_io_and_timeouts()
    local c = assert(self.dev:connect(7))
    lu.assertEquals(c:send("0123456789"), 10)
    lu.assertEquals(c:recv(4), "0123")
    lu.assertEquals(c:recv_some(100, 5), "456789")
    local data, msg, status, partial = c:recv(5, 0.05)
    lu.assertNil(data)
    lu.assertEquals(status, "ZX_ERR_TIMED_OUT")
    lu.assertStrContains(msg, "0 of 5")
    lu.assertEquals(partial, "")
    assert(c:send("ab"))
    data, msg, status, partial = c:recv(5, 0.2)
    lu.assertEquals(status, "ZX_ERR_TIMED_OUT", msg)
    lu.assertEquals(partial, "ab")
    lu.assertFalse(c:readable(0.05))
    lu.assertEquals(c:recv(0), "")
    lu.assertEquals(math.type(c:fileno()), "integer")
    lu.assertStrContains(tostring(c), "{49152, 2, 7}")
end

function TestConnection:test_eof()
    local dev = self.dev
    local c = assert(dev:connect(19)) -- source
    assert(c:recv(10))
    assert(dev:send_rst(c))
    assert(c:read_to_eof(5))
    local data, msg, status = c:recv(1, 1)
    lu.assertNil(data)
    lu.assertEquals(status, "ZX_ERR_PEER_CLOSED")
    lu.assertStrContains(msg, "end of stream")
    lu.assertTrue(c:readable(0))
    -- expect_eof with bytes before the end is a failure that counts them.
    local c2 = assert(dev:connect(7))
    assert(c2:send("tail"))
    assert(c2:readable(5))
    assert(dev:send_rst(c2))
    local ok, emsg = c2:expect_eof(5)
    if not ok then lu.assertStrContains(emsg, "unexpected bytes") end
end

function TestConnection:test_wrong_types_and_closed()
    local c = assert(self.dev:connect(7))
    assert_raises("expected a string, got number", c.send, c, 42)
    assert_raises("expected a string, got nil", c.send, c, nil)
    assert_raises("byte count must be in", c.recv, c, -1)
    assert_raises("byte count must be an integer", c.recv, c, "10")
    assert_raises("byte count must be an integer", c.recv, c, 2.5)
    assert_raises("timeout must be a number", c.recv, c, 1, "later")
    assert_raises("expected 'r', 'w' or 'rw'", c.shutdown, c, "x")
    assert_raises("expected a uvsock connection", c.send, {}, "x")
    assert_raises("expected a uvsock connection", c.recv, nil, 1)
    lu.assertTrue(c:close())
    lu.assertTrue(c:close())
    assert_raises("connection is closed", c.send, c, "x")
    assert_raises("connection is closed", c.recv, c, 1)
    assert_raises("connection is closed", c.fileno, c)
    assert_raises("connection is closed", self.dev.send_request, self.dev, addr(5), c)
    -- Its address still works for device calls.
    lu.assertTrue(self.dev:send_rst(c))
end

function TestConnection:test_half_close()
    local dev = self.dev
    assert(dev.sim:listen(6500))
    local c = assert(dev:connect(6500))
    local host = assert(dev.sim:accept(6500))
    assert(host:send("data"))
    assert(host:shutdown("w"))
    lu.assertEquals(c:recv(4), "data")
    dev:expect("shutdown", { addr = c })
end

os.exit(lu.LuaUnit.run())
