/* SPDX-License-Identifier: MIT */
/*
 * luaopen_uvsock: `require "uvsock"`. Loads the SWIG module (uvsock.core) and runs the
 * idiomatic layer (uvsock.lua, compiled into this file's library by lua/embed.cmake) on it.
 * One .so holds both, so `LUA_CPATH='build/lua/?.so'` alone is enough, and installing is one
 * file in lua5.4's C module directory.
 */
#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

#include "uvsock_lua.h"

extern const unsigned char uvsock_lua_src[];
extern const size_t uvsock_lua_src_len;

int luaopen_uvsock(lua_State *L)
{
    /* package.loaded["uvsock.core"]: the raw API, also reachable as uvsock.core. */
    luaL_requiref(L, "uvsock.core", luaopen_uvsock_core, 0);
    if (luaL_loadbufferx(L, (const char *)uvsock_lua_src, uvsock_lua_src_len, "=uvsock.lua", "t") !=
        LUA_OK)
        return lua_error(L);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    return 1;
}
