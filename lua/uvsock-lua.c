/* SPDX-License-Identifier: MIT */
/*
 * uvsock-lua: runs scenario files (`uvsock-lua [--device URI] [--tap] file.lua...`).
 *
 * A Lua 5.4 interpreter with the uvsock module linked in (package.preload), so the runner
 * works from build/bin without installing anything; the runner's logic is lua/runner.lua,
 * compiled in by lua/embed.cmake. This file only adds what Lua cannot do itself: a watchdog
 * that ends the process if a scenario hangs inside C code beyond every timeout.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "uvsock_lua.h"

extern const unsigned char uvsock_runner_src[];
extern const size_t uvsock_runner_src_len;

static char watchdog_msg[256] = "uvsock-lua: watchdog: a scenario hung\n";

static void on_alarm(int sig)
{
    (void)sig;
    /* Only async-signal-safe calls here: the process may be stuck anywhere. */
    if (write(STDERR_FILENO, watchdog_msg, strlen(watchdog_msg)) < 0) {
        /* nothing left to report it to */
    }
    _exit(3);
}

/* watchdog(seconds, message): alarm(seconds) with a message for when it fires; 0 disarms. */
static int l_watchdog(lua_State *L)
{
    lua_Integer s = luaL_checkinteger(L, 1);
    const char *msg = luaL_optstring(L, 2, "a scenario hung");

    luaL_argcheck(L, s >= 0 && s < 1000000, 1, "seconds out of range");
    /* Written before alarm() is armed, so the handler never sees a half-written message. */
    alarm(0);
    snprintf(watchdog_msg, sizeof(watchdog_msg), "uvsock-lua: watchdog: %s\n", msg);
    alarm((unsigned)s);
    return 0;
}

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, luaL_tolstring(L, 1, NULL), 1);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    int status;

    if (!L) {
        fputs("uvsock-lua: cannot create a Lua state\n", stderr);
        return 2;
    }
    /* Writes into sockets the device already closed must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_uvsock);
    lua_setfield(L, -2, "uvsock");
    lua_pop(L, 1);

    lua_pushcfunction(L, traceback);
    if (luaL_loadbufferx(L, (const char *)uvsock_runner_src, uvsock_runner_src_len, "=uvsock-lua",
                         "t") != LUA_OK) {
        fprintf(stderr, "uvsock-lua: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 2;
    }
    /* runner(native, argv[0], argv[1], ...) returns the exit status. */
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_watchdog);
    lua_setfield(L, -2, "watchdog");
    luaL_checkstack(L, argc + 2, "too many arguments");
    for (int i = 0; i < argc; i++)
        lua_pushstring(L, argv[i]);
    if (lua_pcall(L, argc + 1, 1, 1) != LUA_OK) {
        fprintf(stderr, "uvsock-lua: internal error: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 2;
    }
    status = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 2;
    lua_close(L);
    return status;
}
