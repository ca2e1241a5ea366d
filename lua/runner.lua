-- SPDX-License-Identifier: MIT
-- uvsock-lua's logic (compiled into build/bin/uvsock-lua, see lua/uvsock-lua.c).
--
-- A scenario file declares named scenarios:
--     scenario("connect and echo", function(dev) ... end)
--     scenario("slow one", { timeout = 60, sim = true }, function(dev) ... end)
-- (or returns a table { [name] = function(dev) ... end }). Each scenario gets a fresh device,
-- opened from --device (default: $UVSOCK_DEVICE or "sim") and started, and a timeout; it
-- passes when its function returns, fails when it raises. A failure report names the
-- scenario file's line that failed, shows it, and lists the last events the device delivered.
local native = ...
local argv = { select(2, ...) }
local uvsock = require "uvsock"

local USAGE = [[
usage: uvsock-lua [--device URI] [--tap] [--timeout SECONDS] [--verbose] file.lua...
  --device URI    device for every scenario (default $UVSOCK_DEVICE or "sim")
  --tap           TAP version 13 output
  --timeout S     default per-scenario timeout (default 60 s; a scenario may set its own)
  --verbose       print the library's log (warn and above) while scenarios run
A scenario file calls scenario(name, [opts,] function(dev) ... end) for each scenario.
opts: timeout (seconds), sim (true: skipped unless the device is "sim"), device (URI).
Exit status: 0 all passed (or skipped), 1 a scenario failed, 2 usage or load error.]]

local SKIP = {} -- metatable marking skip() errors

-------------------------------------------------------------------------- arguments --
local opts = { device = os.getenv("UVSOCK_DEVICE") or "sim", tap = false, timeout = 60, files = {} }
do
    local i = 2 -- argv[1] is the program name
    while i <= #argv do
        local a = argv[i]
        if a == "--device" or a == "--timeout" then
            if not argv[i + 1] then io.stderr:write(a, " needs a value\n", USAGE, "\n"); return 2 end
            if a == "--device" then
                opts.device = argv[i + 1]
            else
                opts.timeout = tonumber(argv[i + 1])
                if not opts.timeout or opts.timeout <= 0 then
                    io.stderr:write("--timeout needs a positive number of seconds\n"); return 2
                end
            end
            i = i + 1
        elseif a:match("^%-%-device=") then
            opts.device = a:sub(10)
        elseif a == "--tap" then
            opts.tap = true
        elseif a == "--verbose" or a == "-v" then
            opts.verbose = true
        elseif a == "--help" or a == "-h" then
            print(USAGE); return 0
        elseif a:sub(1, 1) == "-" and a ~= "-" then
            io.stderr:write("unknown option ", a, "\n", USAGE, "\n"); return 2
        else
            opts.files[#opts.files + 1] = a
        end
        i = i + 1
    end
end
if #opts.files == 0 then io.stderr:write(USAGE, "\n"); return 2 end
if opts.verbose then uvsock.set_log("stderr") end

---------------------------------------------------------------------------- loading --
local scenarios, load_errors = {}, {}

local function load_file(path)
    local declared = {}
    local env = setmetatable({}, { __index = _G })
    env.uvsock = uvsock
    env.scenario = function(name, o, fn)
        if fn == nil then o, fn = nil, o end
        if type(name) ~= "string" or type(fn) ~= "function" or (o ~= nil and type(o) ~= "table") then
            error("scenario(name, [options,] function(dev) ... end) expected", 2)
        end
        local line = debug.getinfo(2, "l").currentline
        declared[#declared + 1] = { name = name, fn = fn, opts = o or {}, file = path, line = line }
    end
    env.skip = function(reason) error(setmetatable({ reason = reason or "skipped" }, SKIP), 2) end
    -- Helpers next to the scenario file can be required by name.
    local dir = path:match("^(.*)/[^/]*$") or "."
    if not package.path:find(dir .. "/?.lua;", 1, true) then
        package.path = dir .. "/?.lua;" .. package.path
    end
    local chunk, err = loadfile(path, "t", env)
    if not chunk then return nil, err end
    local ok, ret = pcall(chunk)
    if not ok then return nil, tostring(ret) end
    if type(ret) == "table" then -- the other form: the file returns { name = fn }
        local names = {}
        for k, v in pairs(ret) do
            if type(k) == "string" and type(v) == "function" then names[#names + 1] = k end
        end
        table.sort(names)
        for _, k in ipairs(names) do
            declared[#declared + 1] = { name = k, fn = ret[k], opts = {}, file = path, line = debug.getinfo(ret[k], "S").linedefined }
        end
    end
    if #declared == 0 then return nil, path .. ": declares no scenario (call scenario(name, function(dev) ... end))" end
    return declared
end

for _, path in ipairs(opts.files) do
    local list, err = load_file(path)
    if not list then
        load_errors[#load_errors + 1] = { file = path, message = err }
    else
        for _, s in ipairs(list) do scenarios[#scenarios + 1] = s end
    end
end

---------------------------------------------------------------------------- running --
local source_cache = {}
local function source_line(file, line)
    if not source_cache[file] then
        local lines, f = {}, io.open(file, "r")
        if f then
            for l in f:lines() do lines[#lines + 1] = l end
            f:close()
        end
        source_cache[file] = lines
    end
    local l = source_cache[file][line]
    return l and (l:gsub("^%s+", ""))
end

-- Runs one scenario; returns a result table {status="pass"|"fail"|"skip", ...}.
local function run(s)
    local result = { scenario = s }
    local uri = s.opts.device or opts.device
    if s.opts.sim and not uri:match("^sim") then
        result.status, result.reason = "skip", "needs the simulated device (sim)"
        return result
    end
    local timeout = s.opts.timeout or opts.timeout
    local t0 = uvsock.now()
    local dev, msg = uvsock.open(uri)
    if not dev then
        result.status, result.message = "fail", msg
        return result
    end
    local ok_start, smsg = dev:start()
    if not ok_start then
        dev:close()
        result.status, result.message = "fail", smsg
        return result
    end

    -- The deadline ends waits inside C (every uvsock wait honours it), the hook ends pure Lua
    -- loops, the watchdog ends the process if something is stuck where neither reaches.
    local deadline = uvsock.now() + timeout
    uvsock._set_deadline(timeout)
    debug.sethook(function()
        if uvsock.now() > deadline then
            debug.sethook()
            error(string.format("scenario timeout (%g s) reached", timeout), 2)
        end
    end, "", 10000)
    native.watchdog(math.ceil(timeout) + 30,
        string.format("scenario %q (%s) hung past its %g s timeout", s.name, s.file, timeout))

    local where
    local ok, err = xpcall(s.fn, function(e)
        if getmetatable(e) == SKIP then return e end
        -- The innermost frame in the scenario file is the failing line.
        for level = 2, 200 do
            local info = debug.getinfo(level, "Sl")
            if not info then break end
            if info.source == "@" .. s.file and info.currentline > 0 then
                where = info.currentline
                break
            end
        end
        return { message = tostring(e), traceback = debug.traceback(nil, 2) }
    end, dev)

    debug.sethook()
    native.watchdog(0)
    uvsock._set_deadline(nil)
    result.seconds = uvsock.now() - t0
    if ok then
        result.status = "pass"
    elseif getmetatable(err) == SKIP then
        result.status, result.reason = "skip", err.reason
    else
        result.status = "fail"
        result.message = err.message
        result.traceback = err.traceback
        result.line = where
        result.source = where and source_line(s.file, where)
        result.events = dev:last_events() -- kept even if the scenario closed the device
        result.pending = dev:closed() and {} or dev:events()
    end
    dev:close()
    -- Connections the scenario left open are closed now, not in some later scenario.
    collectgarbage()
    collectgarbage()
    return result
end

--------------------------------------------------------------------------- reporting --
local function details(r)
    local out = {}
    local s = r.scenario
    out[#out + 1] = "message: " .. (r.message or "?")
    if r.line then
        out[#out + 1] = string.format("at: %s:%d", s.file, r.line)
        if r.source then out[#out + 1] = "line: " .. r.source end
    else
        out[#out + 1] = string.format("in: scenario declared at %s:%d", s.file, s.line or 0)
    end
    if r.events then
        if #r.events == 0 then
            out[#out + 1] = "last events: (none)"
        else
            out[#out + 1] = "last events (oldest first):"
            for _, ev in ipairs(r.events) do out[#out + 1] = "  - " .. uvsock.format_event(ev) end
        end
    end
    if r.pending and #r.pending > 0 then
        out[#out + 1] = "events not yet taken:"
        for _, ev in ipairs(r.pending) do out[#out + 1] = "  - " .. uvsock.format_event(ev) end
    end
    return out
end

local function title(s)
    return string.format("%s: %s", s.file, s.name)
end

local failed, passed, skipped = 0, 0, 0
local total = #scenarios + #load_errors
if opts.tap then
    print("TAP version 13")
    print("1.." .. total)
end
local n = 0
for _, le in ipairs(load_errors) do
    n = n + 1
    failed = failed + 1
    if opts.tap then
        print(string.format("not ok %d - %s: (loading)", n, le.file))
        print("  ---")
        print("  message: " .. string.format("%q", le.message))
        print("  ...")
    else
        print(string.format("FAIL  %s: cannot load", le.file))
        print("      " .. le.message)
    end
    io.stdout:flush()
end
for _, s in ipairs(scenarios) do
    n = n + 1
    local r = run(s)
    if r.status == "pass" then
        passed = passed + 1
        if opts.tap then
            print(string.format("ok %d - %s # %.2f s", n, title(s), r.seconds))
        else
            print(string.format("PASS  %s (%.2f s)", title(s), r.seconds))
        end
    elseif r.status == "skip" then
        skipped = skipped + 1
        if opts.tap then
            print(string.format("ok %d - %s # SKIP %s", n, title(s), r.reason))
        else
            print(string.format("SKIP  %s: %s", title(s), r.reason))
        end
    else
        failed = failed + 1
        if opts.tap then
            print(string.format("not ok %d - %s", n, title(s)))
            print("  ---")
            for _, l in ipairs(details(r)) do
                local k, v = l:match("^(%w[%w ()]*): (.*)$")
                if k and not l:match("^  ") then
                    print(string.format("  %s: %q", k:gsub(" ", "_"):gsub("[()]", ""), v))
                else
                    print("  " .. l)
                end
            end
            print("  ...")
        else
            print(string.format("FAIL  %s", title(s)))
            for _, l in ipairs(details(r)) do print("      " .. l) end
        end
        if os.getenv("UVSOCK_LUA_TRACEBACK") and r.traceback then io.stderr:write(r.traceback, "\n") end
    end
    io.stdout:flush()
end
local summary = string.format("%d passed, %d failed, %d skipped", passed, failed, skipped)
print(opts.tap and ("# " .. summary) or summary)
return failed == 0 and 0 or 1
