-- LuaUnit tests of build/bin/uvsock-lua (path in $UVSOCK_LUA): exit codes, per-scenario
-- reports, TAP, and that a failing scenario says what went wrong, where, and what arrived.
local lu = require "luaunit"

local RUNNER = os.getenv("UVSOCK_LUA") or "build/bin/uvsock-lua"
local SRC = os.getenv("UVSOCK_SOURCE_DIR") or "."
local FAILING = SRC .. "/tests/lua/scenarios/failing.lua"

-- Runs the runner; returns its exit status and output (stdout and stderr).
local function run(args)
    local p = assert(io.popen(RUNNER .. " " .. args .. " 2>&1"))
    local out = p:read("a")
    local _, _, code = p:close()
    return code, out
end

local function tmpfile(text)
    local path = os.tmpname() .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
end

TestRunner = {}

function TestRunner:test_examples_pass()
    local code, out = run(SRC .. "/examples/lua/connect_echo.lua " .. SRC .. "/examples/lua/many.lua")
    lu.assertEquals(code, 0, out)
    lu.assertStrContains(out, "PASS  " .. SRC .. "/examples/lua/connect_echo.lua: connect and echo")
    lu.assertStrContains(out, "3 passed, 0 failed, 0 skipped")
end

function TestRunner:test_failing_scenarios_say_why()
    local code, out = run(FAILING)
    lu.assertEquals(code, 1, out)
    lu.assertStrContains(out, "PASS  " .. FAILING .. ": passes")
    -- What was expected, what arrived, the line and its text, the events seen.
    lu.assertStrContains(out, "FAIL  " .. FAILING .. ": expects a response, gets an rst")
    lu.assertStrContains(out, "expected response{2222, 2, 4444}, got rst{2222, 2, 4444}")
    lu.assertStrContains(out, "at: " .. FAILING .. ":10")
    lu.assertStrContains(out, "line: dev:expect(\"response\", { addr = addr, timeout = 5 }) -- FAILS HERE")
    lu.assertStrContains(out, "last events (oldest first):\n        - rst{2222, 2, 4444}")
    lu.assertStrContains(out, "echo came back wrong")
    lu.assertStrContains(out, "at: " .. FAILING .. ":16")
    -- Timeouts end waits in C and pure Lua loops alike.
    lu.assertStrContains(out, "scenario timeout reached while waiting on fd")
    lu.assertStrContains(out, "at: " .. FAILING .. ":21")
    lu.assertStrContains(out, "scenario timeout (1 s) reached")
    lu.assertStrContains(out, "SKIP  " .. FAILING .. ": skips: not today")
    lu.assertStrContains(out, "1 passed, 4 failed, 1 skipped")
end

function TestRunner:test_tap()
    local code, out = run("--tap " .. FAILING)
    lu.assertEquals(code, 1, out)
    lu.assertStrMatches(out, "TAP version 13\n1%.%.6\nok 1 %- .*")
    lu.assertStrContains(out, "not ok 2 - " .. FAILING .. ": expects a response, gets an rst\n  ---\n  message: ")
    lu.assertStrContains(out, "ok 6 - " .. FAILING .. ": skips # SKIP not today")
    lu.assertStrContains(out, "# 1 passed, 4 failed, 1 skipped")
end

function TestRunner:test_fresh_device_per_scenario()
    local path = tmpfile([[
        scenario("one", function(dev)
            assert(dev.started and #dev:conns() == 0)
            assert(dev:connect(7))
            assert(dev.sim:transport_reset(50))
        end)
        scenario("two", function(dev)
            assert(dev:get_cid() == 3, "CID leaked from the previous scenario")
            assert(#dev:conns() == 0)
            assert(dev:connect(7))
        end)
    ]])
    local code, out = run(path)
    os.remove(path)
    lu.assertEquals(code, 0, out)
end

function TestRunner:test_table_form_and_device_option()
    local path = tmpfile([[
        return {
            cid = function(dev) assert(dev:get_cid() == 9) end,
        }
    ]])
    local code, out = run("--device sim:cid=9 " .. path)
    lu.assertEquals(code, 0, out)
    lu.assertStrContains(out, ": cid")
    -- A device that cannot be opened fails every scenario, with the reason; sim-only ones skip.
    code, out = run("--device nosuch:x " .. path .. " " .. SRC .. "/examples/lua/refused.lua")
    os.remove(path)
    lu.assertEquals(code, 1, out)
    lu.assertStrContains(out, 'open("nosuch:x"): ZX_ERR_NOT_SUPPORTED')
    lu.assertStrContains(out, "SKIP  " .. SRC .. "/examples/lua/refused.lua")
end

function TestRunner:test_load_errors()
    local bad = tmpfile("scenario('x', function(dev) end\n")
    local empty = tmpfile("local x = 1\n")
    local code, out = run(bad .. " " .. empty)
    os.remove(bad)
    os.remove(empty)
    lu.assertEquals(code, 1, out)
    lu.assertStrContains(out, "cannot load")
    lu.assertStrContains(out, "declares no scenario")
    code, out = run("/nonexistent/file.lua")
    lu.assertEquals(code, 1, out)
    lu.assertStrContains(out, "/nonexistent/file.lua")
end

function TestRunner:test_usage()
    local code, out = run("")
    lu.assertEquals(code, 2)
    lu.assertStrContains(out, "usage: uvsock-lua")
    code, out = run("--bogus x.lua")
    lu.assertEquals(code, 2)
    lu.assertStrContains(out, "unknown option --bogus")
    code = run("--timeout -3 x.lua")
    lu.assertEquals(code, 2)
    code, out = run("--help")
    lu.assertEquals(code, 0)
    lu.assertStrContains(out, "--device URI")
end

os.exit(lu.LuaUnit.run())
