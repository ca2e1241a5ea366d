/* SPDX-License-Identifier: MIT */
/* Entry points of the uvsock Lua module, for the runner that links it in statically. */
#ifndef UVSOCK_LUA_H
#define UVSOCK_LUA_H

#include <lua.h>

/* The SWIG-generated raw module (lua/uvsock.i). */
int luaopen_uvsock_core(lua_State *L);
/* `require "uvsock"`: the raw module wrapped by the idiomatic layer (lua/uvsock.lua). */
int luaopen_uvsock(lua_State *L);

#endif /* UVSOCK_LUA_H */
