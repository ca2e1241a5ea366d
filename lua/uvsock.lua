-- SPDX-License-Identifier: MIT
-- uvsock: the idiomatic Lua layer over the SWIG module (uvsock.core, passed in as `...`).
--
-- Conventions (docs/lua.md):
--  * Device calls that can fail return a true value, or nil, message, status_name
--    ("ZX_ERR_BAD_STATE"): the Lua convention, so assert(dev:send_shutdown(a)) reports why.
--  * Programming errors (a wrong type, a negative port, a closed device or connection) raise
--    a Lua error naming the function and the argument. They never reach C as garbage: the
--    device pointer of a closed device is dropped here, so C never sees a freed pointer.
--  * Timeouts are seconds (fractions allowed); nil means uvsock.timeout (10 s), a negative
--    value or math.huge waits forever (still bounded by the runner's scenario timeout).
local core = ...

local M = { core = core, timeout = 10 }
local fmt = string.format
local mtype = math.type

----------------------------------------------------------------------------- constants --
M.status = { OK = core.UVSOCK_OK }
M.fault = {}
M.conn_state, M.blocked_on, M.log_level = {}, {}, {}
for k, v in pairs(core) do
    local name = type(k) == "string" and k:match("^UVSOCK_ERR_(.+)$")
    if name then M.status[name] = v end
    name = type(k) == "string" and k:match("^UVSOCK_SIM_FAULT_(.+)$")
    if name then M.fault[name:lower()] = v end
end
M.CID_HYPERVISOR, M.CID_LOCAL, M.CID_HOST, M.CID_ANY = 0, 1, 2, 0xffffffff

local event_types = {
    request = true, response = true, rst = true, shutdown = true,
    transport_reset = true, send_vmo_complete = true,
}

--- "ZX_ERR_BAD_STATE" for -20.
function M.status_name(code) return core.uvsock_status_str(code) end

------------------------------------------------------------------------- arg checks --
-- Raises msg at the user's line: the first frame outside this file, however deep inside
-- the module the check ran (a fixed error level would name uvsock.lua for nested checks).
local function raise(msg)
    local level = 2
    while true do
        local info = debug.getinfo(level, "S")
        if not info or info.source ~= "=uvsock.lua" then break end
        level = level + 1
    end
    error(msg, level)
end

local function argerr(fname, n, msg) raise(fmt("bad argument #%d to '%s' (%s)", n, fname, msg)) end

local function check_int(v, fname, n, what, lo, hi)
    if mtype(v) ~= "integer" then
        if mtype(v) == "float" and v == math.floor(v) and v >= lo and v <= hi then
            return math.tointeger(v)
        end
        argerr(fname, n, fmt("%s must be an integer, got %s", what, v == nil and "nil" or
            (type(v) == "number" and tostring(v) or type(v))))
    end
    if v < lo or v > hi then argerr(fname, n, fmt("%s must be in [%d, %d], got %d", what, lo, hi, v)) end
    return v
end

local function check_u32(v, fname, n, what) return check_int(v, fname, n, what, 0, 0xffffffff) end

local function check_addr(a, fname, n)
    if type(a) == "table" and a._is_conn then a = a.addr end
    if type(a) ~= "table" then
        argerr(fname, n, "address must be a table {local_port=, remote_cid=, remote_port=}, got " .. type(a))
    end
    return {
        local_port = check_u32(a.local_port, fname, n, "local_port"),
        remote_cid = check_u32(a.remote_cid, fname, n, "remote_cid"),
        remote_port = check_u32(a.remote_port, fname, n, "remote_port"),
    }
end

-- Seconds (nil: the default; <0 or huge: forever) to the milliseconds the C side takes.
local function to_ms(t, fname, n)
    if t == nil then t = M.timeout end
    if type(t) ~= "number" then argerr(fname, n, "timeout must be a number of seconds, got " .. type(t)) end
    if t < 0 or t == math.huge then return -1 end
    return math.ceil(t * 1000)
end

local function fail(what, code, detail)
    local name = type(code) == "string" and code or core.uvsock_status_str(code)
    local msg = what .. ": " .. name
    if detail and detail ~= "" then msg = msg .. " (" .. detail .. ")" end
    return nil, msg, name
end

--- "{1025, 2, 7}" for an address table.
function M.format_addr(a)
    if type(a) ~= "table" then return tostring(a) end
    return fmt("{%s, %s, %s}", tostring(a.local_port), tostring(a.remote_cid), tostring(a.remote_port))
end

--- "response{1025, 2, 7}" / "transport_reset(new_cid=9)" for an event table.
function M.format_event(ev)
    if type(ev) ~= "table" then return tostring(ev) end
    if ev.type == "transport_reset" then return fmt("transport_reset(new_cid=%s)", tostring(ev.new_cid)) end
    return tostring(ev.type) .. M.format_addr(ev.addr)
end

local function addr_eq(a, b)
    return a.local_port == b.local_port and a.remote_cid == b.remote_cid and a.remote_port == b.remote_port
end

--- Raises `message` (at the caller's line) when the first value is nil or false; else
--- returns all values. The raising twin of assert() for the (nil, message, status) convention.
function M.check(v, msg, ...)
    if not v then error(msg or "check failed", 2) end
    return v, msg, ...
end

M.now = core.now     -- monotonic seconds
M.sleep = function(s)
    if type(s) ~= "number" then argerr("sleep", 1, "seconds must be a number") end
    return core.sleep(s)
end
--- Calls cond() every 5 ms until it returns a true value (returned) or timeout passes
--- (nil, message, "ZX_ERR_TIMED_OUT"): for state the device reaches asynchronously.
function M.wait_until(cond, timeout)
    if type(cond) ~= "function" then argerr("wait_until", 1, "expected a function, got " .. type(cond)) end
    local ms = to_ms(timeout, "wait_until", 2)
    local stop = ms >= 0 and core.now() + ms / 1000 or math.huge
    while true do
        local v = cond()
        if v then return v end
        if core.now() >= stop then return nil, fmt("wait_until: condition not met within %g s", ms / 1000), "ZX_ERR_TIMED_OUT" end
        core.sleep(0.005)
    end
end
M._set_deadline = core.set_deadline -- the runner's per-scenario timeout

------------------------------------------------------------------------ connections --
-- A Connection wraps the end of a socketpair the user keeps (fd). Until the device takes
-- the other end (a successful send_request/send_response) the Connection owns it too.
local Conn = {}
Conn.__index = Conn
M.Connection = Conn

local function new_conn(fd, peer)
    return setmetatable({ fd = fd, _peer = peer, _is_conn = true }, Conn)
end

--- A fresh, unconnected Connection (a socketpair), to pass to send_request/send_response.
function M.connection()
    local a, b, status = core.socketpair()
    if not a then return nil, b, status end
    return new_conn(a, b)
end

local function C(self, fname)
    if getmetatable(self) ~= Conn then
        raise(fmt("bad self to '%s' (expected a uvsock connection, got %s)", fname, type(self)))
    end
    if not self.fd then raise(fname .. ": connection is closed") end
    return self.fd
end

function Conn:__tostring()
    return fmt("uvsock.connection%s%s", self.addr and M.format_addr(self.addr) or "",
        self.fd and "" or " (closed)")
end

--- Writes all of s (waiting up to timeout for room). #s, or nil, message, status, sent.
function Conn:send(s, timeout)
    local fd = C(self, "send")
    if type(s) ~= "string" then argerr("send", 1, "expected a string, got " .. type(s)) end
    return core.fd_send(fd, s, to_ms(timeout, "send", 2))
end

--- Exactly n bytes. nil, message, status, partial_bytes on timeout or end of stream.
function Conn:recv(n, timeout)
    local fd = C(self, "recv")
    n = check_int(n, "recv", 1, "byte count", 0, math.maxinteger)
    return core.fd_recv(fd, n, to_ms(timeout, "recv", 2), true)
end

--- What one read gives, at most max (default 64 KiB) bytes; waits up to timeout for any.
function Conn:recv_some(max, timeout)
    local fd = C(self, "recv_some")
    max = check_int(max or 65536, "recv_some", 1, "byte count", 1, math.maxinteger)
    return core.fd_recv(fd, max, to_ms(timeout, "recv_some", 2), false)
end

--- Reads until end of stream: the bytes that came before it, or nil, message, status.
function Conn:read_to_eof(timeout)
    local fd = C(self, "read_to_eof")
    local parts, ms = {}, to_ms(timeout, "read_to_eof", 1)
    local stop = ms >= 0 and M.now() + ms / 1000 or math.huge
    while true do
        local left = stop == math.huge and -1 or math.max(0, math.ceil((stop - M.now()) * 1000))
        local data, msg, status = core.fd_recv(fd, 65536, left, false)
        if not data then
            if status == "ZX_ERR_PEER_CLOSED" then return table.concat(parts) end
            return nil, fmt("read_to_eof: %s after %d bytes", msg, #table.concat(parts)), status
        end
        parts[#parts + 1] = data
    end
end

--- True when the end of stream (or a reset) arrives within timeout with no data before it.
function Conn:expect_eof(timeout)
    C(self, "expect_eof")
    local data, msg, status = self:read_to_eof(timeout)
    if not data then return nil, msg, status end
    if #data > 0 then return nil, fmt("expect_eof: %d unexpected bytes before the end of stream", #data), "ZX_ERR_BAD_STATE" end
    return true
end

--- True when readable (data or end of stream) within timeout, false otherwise.
function Conn:readable(timeout)
    return core.fd_wait(C(self, "readable"), "r", to_ms(timeout, "readable", 1))
end

--- Half-close our side: "w" (default, the peer's device sees nothing until SendShutdown), "r", "rw".
function Conn:shutdown(how)
    local fd = C(self, "shutdown")
    if how ~= nil and how ~= "r" and how ~= "w" and how ~= "rw" then argerr("shutdown", 1, "expected 'r', 'w' or 'rw'") end
    return core.fd_shutdown(fd, how or "w")
end

function Conn:fileno() return C(self, "fileno") end

--- Closes our end (and the device's end if the device never took it). Idempotent.
function Conn:close()
    if getmetatable(self) ~= Conn then raise("bad self to 'close' (expected a uvsock connection)") end
    if self.fd then core.fd_close(self.fd); self.fd = nil end
    if self._peer then core.fd_close(self._peer); self._peer = nil end
    return true
end
Conn.__gc = Conn.close
Conn.__close = Conn.close

----------------------------------------------------------------------------- device --
local Device = {}
Device.__index = Device
M.Device = Device

local HISTORY = 32 -- events remembered for failure reports (Device:last_events)

local function D(self, fname)
    if getmetatable(self) ~= Device then
        raise(fmt("bad self to '%s' (expected a uvsock device, got %s; use dev:%s(...))", fname, type(self), fname))
    end
    if not self._dev then raise(fname .. ": device is closed") end
    return self._dev
end

--- Opens a device: "sim" (default), "sim:cid=5,credit=4096", "uio:0000:00:04.0".
--- Returns a Device (not started), or nil, message, status.
function M.open(uri)
    if uri == nil then uri = "sim" end
    if type(uri) ~= "string" then argerr("open", 1, "URI must be a string, got " .. type(uri)) end
    local r, dev = core.uvsock_open(uri)
    if r ~= 0 then return fail(fmt("open(%q)", uri), r, core.uvsock_last_error()) end
    local rq, q = core.uvsock_event_queue_new()
    if rq ~= 0 then
        core.uvsock_close(dev)
        return fail("open: event queue", rq)
    end
    local self = setmetatable({ _dev = dev, _q = q, uri = uri, _history = {}, _next_port = 49152 }, Device)
    local sim = core.uvsock_sim(dev)
    if sim then self.sim = setmetatable({ _sim = sim, _owner = self }, M.Sim) end
    return self
end

function Device:__tostring()
    return fmt("uvsock.device(%q%s)", self.uri, self._dev and "" or ", closed")
end

--- Start(): installs the event-queue Callbacks and starts receiving. A second start resets
--- every connection (as Fuchsia does).
function Device:start()
    local r = core.uvsock_start_event_queue(D(self, "start"), self._q)
    if r ~= 0 then return fail("start", r) end
    self.started = true
    return true
end

--- Closes the device (RST to every connection). Idempotent; also run by __gc and __close.
function Device:close()
    if getmetatable(self) ~= Device then raise("bad self to 'close' (expected a uvsock device)") end
    if self._dev then
        local dev, q = self._dev, self._q
        -- Forget the pointers first: whatever happens next, no call can reach a freed device.
        self._dev, self._q = nil, nil
        core.uvsock_close(dev)
        core.uvsock_event_queue_free(q)
    end
    return true
end
Device.__gc = Device.close
Device.__close = Device.close

function Device:closed() return self._dev == nil end

-- The socket argument of send_request/send_response: nil (a new Connection), a Connection
-- whose device end is still ours, or a raw fd the caller owns.
local function socket_arg(conn, fname)
    if conn == nil then
        local c, msg, status = M.connection()
        if not c then return nil, msg, status end
        return c, c._peer, true
    elseif getmetatable(conn) == Conn then
        if not conn.fd then argerr(fname, 2, "connection is closed") end
        if not conn._peer then argerr(fname, 2, "connection has no device end to give (already given to the device, or a host-side end)") end
        return conn, conn._peer, false
    elseif mtype(conn) == "integer" or mtype(conn) == "float" then
        return nil, check_int(conn, fname, 2, "fd", 0, 0x7fffffff), false
    end
    argerr(fname, 2, "expected a connection, an fd or nil, got " .. type(conn))
end

local function give_socket(self, fname, cfn, addr, conn)
    local dev = D(self, fname)
    local a = check_addr(addr, fname, 1)
    local c, fd, fresh = socket_arg(conn, fname)
    if fd == nil then return nil, c, fresh end -- (nil, msg, status) from socketpair
    local r = cfn(dev, a, fd)
    if r ~= 0 then
        if fresh then c:close() end
        return fail(fmt("%s(%s)", fname, M.format_addr(a)), r)
    end
    if not c then return true end
    c._peer = nil -- the device owns it now and closes it when the connection ends
    c.addr, c.device = a, self
    return c
end

--- SendRequest(addr, socket): the Connection (a new one when conn is nil), or nil, msg, status.
function Device:send_request(addr, conn)
    return give_socket(self, "send_request", core.uvsock_send_request, addr, conn)
end

--- SendResponse(addr, socket): accepts a Request; same forms as send_request.
function Device:send_response(addr, conn)
    return give_socket(self, "send_response", core.uvsock_send_response, addr, conn)
end

--- SendShutdown(addr): true, or nil, msg, status. addr may be a Connection.
function Device:send_shutdown(addr)
    local dev = D(self, "send_shutdown")
    local a = check_addr(addr, "send_shutdown", 1)
    local r = core.uvsock_send_shutdown(dev, a)
    if r ~= 0 then return fail("send_shutdown" .. M.format_addr(a), r) end
    return true
end

--- SendRst(addr): always true on a open device (a bare RST goes out for unknown addresses).
function Device:send_rst(addr)
    local dev = D(self, "send_rst")
    local a = check_addr(addr, "send_rst", 1)
    local r = core.uvsock_send_rst(dev, a)
    if r ~= 0 then return fail("send_rst" .. M.format_addr(a), r) end
    return true
end

--- GetCid(): the device's CID (an integer).
function Device:get_cid() return core.uvsock_get_cid(D(self, "get_cid")) end

--- SendVmo(addr, data, off, len): data is a string (its bytes), an open Lua file, or an fd.
--- off defaults to 0, len to the rest of the data. true, or nil, msg, status.
function Device:send_vmo(addr, data, off, len)
    local dev = D(self, "send_vmo")
    local a = check_addr(addr, "send_vmo", 1)
    off = check_int(off or 0, "send_vmo", 3, "offset", 0, math.maxinteger)
    local fd, own
    if type(data) == "string" then
        local msg, status
        fd, msg, status = core.memfd(data)
        if not fd then return nil, "send_vmo: " .. msg, status end
        own = true
    elseif io.type(data) == "file" then
        fd = core.file_fd(data)
    elseif io.type(data) == "closed file" then
        argerr("send_vmo", 2, "attempt to use a closed file")
    elseif mtype(data) then
        fd = check_int(data, "send_vmo", 2, "fd", 0, 0x7fffffff)
    else
        argerr("send_vmo", 2, "expected a string, a file or an fd, got " .. type(data))
    end
    if len == nil then
        local size = core.fd_size(fd)
        len = size and math.max(0, size - off) or 0
    end
    len = check_int(len, "send_vmo", 4, "length", 0, math.maxinteger)
    local r = core.uvsock_send_vmo(dev, a, fd, off, len)
    if own then core.fd_close(fd) end -- the device keeps its own duplicate
    if r ~= 0 then return fail(fmt("send_vmo(%s, off=%d, len=%d)", M.format_addr(a), off, len), r) end
    return true
end

--- Convenience: SendRequest to (CID 2, port) from a fresh local port (or to a full address),
--- then wait for its Response. The Connection, or nil, msg, status (what arrived instead).
function Device:connect(target, timeout)
    D(self, "connect")
    local a
    if type(target) == "table" and not target._is_conn then
        a = check_addr(target, "connect", 1)
    else
        local port = check_u32(target, "connect", 1, "port")
        a = { local_port = self._next_port, remote_cid = M.CID_HOST, remote_port = port }
        self._next_port = self._next_port < 65535 and self._next_port + 1 or 49152
    end
    local ms = to_ms(timeout, "connect", 2)
    local c, msg, status = self:send_request(a)
    if not c then return nil, msg, status end
    local ev, emsg, estatus = self:_pop(ms)
    if not ev then
        c:close()
        return nil, fmt("connect%s: no response: %s", M.format_addr(a), emsg), estatus
    end
    if ev.type ~= "response" or not addr_eq(ev.addr, a) then
        c:close()
        return nil, fmt("connect%s: expected response, got %s", M.format_addr(a), M.format_event(ev)),
            ev.type == "rst" and "ZX_ERR_PEER_CLOSED" or "ZX_ERR_BAD_STATE"
    end
    return c
end

------------------------------------------------------------------------------ events --
function Device:_pop(ms)
    local ev, msg, status = core.event_pop(self._q, ms)
    if ev then
        local h = self._history
        h[#h + 1] = ev
        if #h > HISTORY then table.remove(h, 1) end
    end
    return ev, msg, status
end

--- The next Callback as a table {type=, addr=, new_cid=, seq=, time_ns=}, or nil, msg, status.
function Device:next_event(timeout)
    D(self, "next_event")
    local ev, msg, status = self:_pop(to_ms(timeout, "next_event", 1))
    if not ev then return nil, "next_event: " .. msg, status end
    return ev
end

--- Every event queued now, oldest first (no waiting).
function Device:events()
    D(self, "events")
    local list = {}
    while true do
        local ev = self:_pop(0)
        if not ev then return list end
        list[#list + 1] = ev
    end
end

--- The next event must be `etype` (with opts.addr, a table or Connection, and opts.new_cid
--- when given) within opts.timeout. Returns it; otherwise raises an error naming what
--- arrived instead, at the caller's line.
function Device:expect(etype, opts)
    D(self, "expect")
    if type(etype) ~= "string" or not event_types[etype] then
        argerr("expect", 1, "unknown event type " .. (type(etype) == "string" and fmt("%q", etype) or type(etype)) ..
            " (request, response, rst, shutdown, transport_reset, send_vmo_complete)")
    end
    if opts ~= nil and type(opts) ~= "table" then argerr("expect", 2, "options must be a table {addr=, timeout=}") end
    opts = opts or {}
    local a = opts.addr ~= nil and check_addr(opts.addr, "expect", 2) or nil
    local ms = to_ms(opts.timeout, "expect", 2)
    local want = a and etype .. M.format_addr(a) or etype
    if opts.new_cid ~= nil then want = fmt("%s(new_cid=%d)", etype, check_u32(opts.new_cid, "expect", 2, "new_cid")) end
    local ev, msg = self:_pop(ms)
    if not ev then
        raise(fmt("expected %s within %g s, got nothing (%s)", want, ms < 0 and math.huge or ms / 1000, msg))
    end
    if ev.type ~= etype or (a and not addr_eq(ev.addr, a)) or (opts.new_cid and ev.new_cid ~= opts.new_cid) then
        raise(fmt("expected %s, got %s", want, M.format_event(ev)))
    end
    return ev
end

--- No event may arrive within timeout (default 0.1 s); raises naming the one that did.
function Device:expect_no_event(timeout)
    D(self, "expect_no_event")
    local ev = self:_pop(to_ms(timeout or 0.1, "expect_no_event", 1))
    if ev then raise("expected no event, got " .. M.format_event(ev)) end
    return true
end

--- The last events taken from the queue (up to 32), oldest first: what a failure report shows.
function Device:last_events()
    local out = {}
    for i, ev in ipairs(self._history) do out[i] = ev end
    return out
end

--- The event queue's fd (readable while events are queued), for an outside poll loop.
function Device:event_fd() D(self, "event_fd"); return core.uvsock_event_queue_fd(self._q) end

----------------------------------------------------------------------- introspection --
local function struct_to_table(s, fields)
    local t = {}
    for _, f in ipairs(fields) do t[f] = s[f] end
    return t
end

local function addr_from_struct(s)
    return { local_port = s.local_port, remote_cid = s.remote_cid, remote_port = s.remote_port }
end

local conn_fields = {
    "buf_alloc", "fwd_cnt", "rx_cnt", "last_fwd_cnt_sent", "held", "sock_unread", "peer_buf_alloc",
    "peer_fwd_cnt", "tx_cnt", "in_flight", "peer_free", "peer_shutdown", "bytes_sent", "bytes_received",
    "vmo_remaining", "credit_update_sent_ns", "credit_update_recv_ns", "credit_request_sent_ns",
    "credit_request_recv_ns", "blocked_since_ns", "created_ns",
}
local vq_fields = { "name", "size", "num_free", "avail_idx", "used_idx", "last_used_idx", "used_event",
    "avail_event", "kicks", "kicks_suppressed", "interrupts", "bad_used" }
local dev_fields = { "uri", "cid", "features", "connections", "interrupts", "config_changes",
    "transport_resets", "packets_sent", "packets_received", "rst_sent", "malformed_dropped",
    "unknown_conn_rst" }

--- The connections' addresses.
function Device:conns()
    local list, msg, status = core.conn_list(D(self, "conns"))
    if not list then return nil, msg, status end
    return list
end

--- A connection's state and credit as a table (state/blocked_on as names), or nil, msg, status.
function Device:conn_info(addr)
    local dev = D(self, "conn_info")
    local a = check_addr(addr, "conn_info", 1)
    local info = core.ConnInfo()
    local r = core.uvsock_conn_info(dev, a, info)
    if r ~= 0 then return fail("conn_info" .. M.format_addr(a), r) end
    local t = struct_to_table(info, conn_fields)
    t.addr = addr_from_struct(info.addr)
    t.state = core.uvsock_conn_state_str(info.state)
    t.blocked_on = core.uvsock_blocked_on_str(info.blocked_on)
    return t
end

--- Device counters and per-virtqueue state as a table.
function Device:info()
    local dev = D(self, "info")
    local info = core.DevInfo()
    local r = core.uvsock_dev_info(dev, info)
    if r ~= 0 then return fail("info", r) end
    local t = struct_to_table(info, dev_fields)
    t.started = info.started ~= 0
    t.vq = {}
    for i, vq in ipairs(info.vq) do t.vq[i] = struct_to_table(vq, vq_fields) end
    return t
end

----------------------------------------------------------------------------- capture --
--- Starts a pcap capture (LINKTYPE_VSOCK) of every packet into path. true, or nil, msg, status.
function Device:capture(path)
    local dev = D(self, "capture")
    if type(path) ~= "string" then argerr("capture", 1, "path must be a string, got " .. type(path)) end
    local r = core.uvsock_capture_start(dev, path)
    if r ~= 0 then return fail(fmt("capture(%q)", path), r, core.uvsock_last_error()) end
    return true
end

function Device:capture_stop()
    local r = core.uvsock_capture_stop(D(self, "capture_stop"))
    if r ~= 0 then return fail("capture_stop", r, core.uvsock_last_error()) end
    return true
end

function Device:capture_stats()
    local dev = D(self, "capture_stats")
    local st = core.CaptureStats()
    local r = core.uvsock_capture_stats(dev, st)
    if r ~= 0 then return fail("capture_stats", r) end
    return { active = st.active ~= 0, packets = st.packets, bytes = st.bytes, dropped = st.dropped, error = st.error }
end

--------------------------------------------------------------------------------- sim --
-- The simulated device's host side (CID 2) and fault injection: dev.sim, nil on other devices.
local Sim = {}
Sim.__index = Sim
M.Sim = Sim

local function S(self, fname)
    if getmetatable(self) ~= Sim then
        raise(fmt("bad self to '%s' (expected dev.sim, got %s; use dev.sim:%s(...))", fname, type(self), fname))
    end
    if not self._owner._dev then raise(fname .. ": device is closed") end
    return self._sim
end

local function ok_or_fail(what, r)
    if r ~= 0 then return fail(what, r) end
    return true
end

--- Transport reset: the device takes new_cid (nil/0 keeps it) and drops every connection.
function Sim:transport_reset(new_cid)
    local sim = S(self, "transport_reset")
    new_cid = check_u32(new_cid or 0, "transport_reset", 1, "new_cid")
    return ok_or_fail(fmt("transport_reset(%d)", new_cid), core.uvsock_sim_transport_reset(sim, new_cid))
end

--- Changes the guest CID in config space (the driver treats it as a transport reset).
function Sim:set_cid(cid)
    local sim = S(self, "set_cid")
    cid = check_u32(cid, "set_cid", 1, "cid")
    return ok_or_fail(fmt("set_cid(%d)", cid), core.uvsock_sim_set_cid(sim, cid))
end

--- Host-initiated connection to guest_port (host_port nil/0: one is picked). Returns the
--- host program's end as a Connection (with .host_port, .guest_port), or nil, msg, status.
--- The driver sees a request event; answer it with dev:send_response(ev.addr).
function Sim:connect(guest_port, host_port)
    local sim = S(self, "connect")
    guest_port = check_u32(guest_port, "connect", 1, "guest_port")
    host_port = check_u32(host_port or 0, "connect", 2, "host_port")
    local r, fd, port = core.uvsock_sim_connect(sim, guest_port, host_port)
    if r ~= 0 then return fail(fmt("sim:connect(%d, %d)", guest_port, host_port), r) end
    local c = new_conn(fd)
    c.host_port, c.guest_port, c.host_side = port, guest_port, true
    return c
end

--- A host listener on host_port: the driver's requests to it are answered with Response.
function Sim:listen(host_port)
    local sim = S(self, "listen")
    host_port = check_u32(host_port, "listen", 1, "host_port")
    return ok_or_fail(fmt("sim:listen(%d)", host_port), core.uvsock_sim_listen(sim, host_port))
end

function Sim:unlisten(host_port)
    local sim = S(self, "unlisten")
    host_port = check_u32(host_port, "unlisten", 1, "host_port")
    return ok_or_fail(fmt("sim:unlisten(%d)", host_port), core.uvsock_sim_unlisten(sim, host_port))
end

--- The next connection accepted on host_port: the host's end as a Connection (.guest_port).
function Sim:accept(host_port, timeout)
    local sim = S(self, "accept")
    host_port = check_u32(host_port, "accept", 1, "host_port")
    local ms = to_ms(timeout, "accept", 2)
    local stop = ms >= 0 and M.now() + ms / 1000 or math.huge
    local r, fd, gport
    -- uvsock_sim_accept blocks inside C where the scenario deadline cannot reach: wait in
    -- short slices, and let core.sleep(0) raise once that deadline has passed.
    repeat
        local left = stop == math.huge and 100 or math.max(0, math.min(100, math.ceil((stop - M.now()) * 1000)))
        r, fd, gport = core.uvsock_sim_accept(sim, host_port, left)
        core.sleep(0)
    until r ~= M.status.TIMED_OUT or M.now() >= stop
    if r ~= 0 then return fail(fmt("sim:accept(%d)", host_port), r) end
    local c = new_conn(fd)
    c.host_port, c.guest_port, c.host_side = host_port, gport, true
    return c
end

--- The buf_alloc the host advertises from now on (cut it to starve the driver of credit).
function Sim:set_host_credit(bytes)
    local sim = S(self, "set_host_credit")
    bytes = check_u32(bytes, "set_host_credit", 1, "bytes")
    return ok_or_fail(fmt("set_host_credit(%d)", bytes), core.uvsock_sim_set_host_credit(sim, bytes))
end

--- Arms a one-shot fault ("drop", "duplicate", "bad_type", ...; see uvsock.fault) for the
--- next packet to guest_port (nil/0: any).
function Sim:inject(fault, guest_port)
    local sim = S(self, "inject")
    local code = type(fault) == "string" and M.fault[fault:lower()] or nil
    if code == nil then
        local names = {}
        for k in pairs(M.fault) do names[#names + 1] = k end
        table.sort(names)
        argerr("inject", 1, fmt("unknown fault %s (one of: %s)", tostring(fault), table.concat(names, ", ")))
    end
    guest_port = check_u32(guest_port or 0, "inject", 2, "guest_port")
    return ok_or_fail(fmt("inject(%s, %d)", fault, guest_port), core.uvsock_sim_inject(sim, code, guest_port))
end

function Sim:fault_pending() return core.uvsock_sim_fault_pending(S(self, "fault_pending")) ~= 0 end

local packet_fields = { "src_cid", "dst_cid", "src_port", "dst_port", "hdr_len", "type", "op", "flags",
    "buf_alloc", "fwd_cnt" }

--- What the host side has seen: packets by op (op_from_driver[op + 1]), credit violations,
--- the last RST from the driver, ...
function Sim:stats()
    local sim = S(self, "stats")
    local st = core.SimStats()
    local r = core.uvsock_sim_get_stats(sim, st)
    if r ~= 0 then return fail("sim:stats", r) end
    local t = struct_to_table(st, { "packets_from_driver", "packets_to_driver", "bad_from_driver",
        "credit_violations", "notifies", "interrupts", "interrupts_suppressed", "rx_waits", "host_connections" })
    t.op_from_driver = st.op_from_driver
    t.last_rst_from_driver = struct_to_table(st.last_rst_from_driver, packet_fields)
    return t
end

--- Delivers an arbitrary packet to the driver, as a hostile device would. pkt has the header
--- fields (missing ones are 0; hdr_len defaults to #payload).
function Sim:send_raw(pkt, payload)
    local sim = S(self, "send_raw")
    if type(pkt) ~= "table" then argerr("send_raw", 1, "packet must be a table") end
    payload = payload or ""
    if type(payload) ~= "string" then argerr("send_raw", 2, "payload must be a string") end
    local p = core.SimPacket()
    local limits = { src_cid = math.maxinteger, dst_cid = math.maxinteger, type = 0xffff, op = 0xffff }
    for _, f in ipairs(packet_fields) do
        local v = pkt[f]
        if v == nil and f == "hdr_len" then v = #payload end
        p[f] = check_int(v or 0, "send_raw", 1, f, 0, limits[f] or 0xffffffff)
    end
    return ok_or_fail("send_raw", core.uvsock_sim_send_raw(sim, p, payload))
end

--- n bytes of the source service (port 19) stream from offset off: what a reader must see.
function M.source_bytes(off, n)
    off = check_int(off, "source_bytes", 1, "offset", 0, math.maxinteger)
    n = check_int(n, "source_bytes", 2, "count", 0, math.maxinteger)
    local out, chunk = {}, {}
    for i = 0, n - 1 do
        local o = off + i
        chunk[#chunk + 1] = (o * 7 + (o >> 8)) & 0xff
        if #chunk == 4096 then out[#out + 1] = string.char(table.unpack(chunk)); chunk = {} end
    end
    if #chunk > 0 then out[#out + 1] = string.char(table.unpack(chunk)) end
    return table.concat(out)
end

----------------------------------------------------------------------------- logging --
local levels = { error = true, warn = true, info = true, debug = true }

--- Where the library's log goes: "stderr", "buffer" (read with uvsock.log_drain()) or "off".
function M.set_log(mode)
    if mode ~= "stderr" and mode ~= "buffer" and mode ~= "off" then
        argerr("set_log", 1, "expected 'stderr', 'buffer' or 'off'")
    end
    core.log_mode(mode)
end

--- Buffered log messages {level=, message=} since the last call, oldest first.
M.log_drain = core.log_drain

--- "error", "warn", "info" or "debug".
function M.set_log_level(level)
    if not levels[level] then argerr("set_log_level", 1, "expected 'error', 'warn', 'info' or 'debug'") end
    core.uvsock_set_log_level(core.uvsock_log_level_parse(level))
end

function M.get_log_level() return core.uvsock_log_level_str(core.uvsock_get_log_level()) end

return M
