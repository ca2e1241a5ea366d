/* SPDX-License-Identifier: MIT */
/*
 * SWIG interface: the public C API (uvsock.h, uvsock_sim.h) as the Lua 5.4 C module
 * "uvsock.core". The idiomatic layer (uvsock.lua) sits on top of it; scripts use that one.
 *
 * Why the typemaps below: SWIG 4.1's Lua backend pushes every C integer with lua_pushnumber,
 * so ports, CIDs and status codes would reach Lua 5.4 as floats (7.0, -20.0), which print
 * wrongly and miss table keys. Every integer type is pushed with lua_pushinteger instead, and
 * taken only from a Lua integer (or a float with an exact integer value) within the C type's
 * range: a negative port is a Lua error, not a silent wrap to 4294967295.
 */
%module uvsock_core

%{
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include "uvsock.h"
#include "uvsock_sim.h"
%}

%include <stdint.i>

/* ------------------------------------------------------------------ integers in --- */
%{
/* Converts stack slot idx to an integer in [lo, hi]; 0 if it is not one. */
static int uvl_int_arg(lua_State *L, int idx, long long lo, unsigned long long hi, long long *out)
{
    int isnum = 0;
    lua_Integer v = lua_tointegerx(L, idx, &isnum);

    if (!isnum || lua_type(L, idx) != LUA_TNUMBER)
        return 0;
    if ((long long)v < lo || (v >= 0 && (unsigned long long)v > hi))
        return 0;
    *out = (long long)v;
    return 1;
}

/* lua_pushfstring knows no %lld: format the range with snprintf. */
static void uvl_int_error(lua_State *L, const char *fn, int argnum, long long lo,
                          unsigned long long hi)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "%s: argument %d must be an integer in [%lld, %llu]", fn, argnum,
             lo, hi);
    lua_pushstring(L, msg);
}
%}

%define UVL_INT_IN(CTYPE, LO, HI)
%typemap(in, checkfn="lua_isnumber") CTYPE (long long v_)
%{if (!uvl_int_arg(L, $input, LO, HI, &v_)) {
    uvl_int_error(L, "$symname", $argnum, LO, HI);
    SWIG_fail;
}
$1 = ($1_ltype)v_;%}
%typemap(out) CTYPE %{ lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; %}
%enddef

UVL_INT_IN(int, INT_MIN, INT_MAX)
UVL_INT_IN(unsigned int, 0, UINT_MAX)
UVL_INT_IN(short, SHRT_MIN, SHRT_MAX)
UVL_INT_IN(unsigned short, 0, USHRT_MAX)
UVL_INT_IN(unsigned char, 0, UCHAR_MAX)
UVL_INT_IN(signed char, SCHAR_MIN, SCHAR_MAX)
UVL_INT_IN(long, LONG_MIN, LONG_MAX)
UVL_INT_IN(long long, LLONG_MIN, LLONG_MAX)
/* Lua integers are 64-bit signed: 2^63 and above cannot be given from Lua. */
UVL_INT_IN(unsigned long, 0, LLONG_MAX)
UVL_INT_IN(unsigned long long, 0, LLONG_MAX)
UVL_INT_IN(uint64_t, 0, LLONG_MAX)
UVL_INT_IN(uint32_t, 0, UINT32_MAX)
UVL_INT_IN(uint16_t, 0, UINT16_MAX)
UVL_INT_IN(size_t, 0, LLONG_MAX)
UVL_INT_IN(enum SWIGTYPE, INT_MIN, INT_MAX)

/* uint64_t above 2^63 (free-running counters cannot get there) would wrap negative. */
%typemap(out) uint64_t, unsigned long, unsigned long long
%{ lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; %}

/* Arrays of counters (uvsock_sim_stats.op_from_driver) become Lua lists. */
%typemap(out) uint64_t [ANY]
%{ lua_createtable(L, $1_dim0, 0);
for (int i_ = 0; i_ < $1_dim0; i_++) {
    lua_pushinteger(L, (lua_Integer)$1[i_]);
    lua_rawseti(L, -2, i_ + 1);
}
SWIG_arg++; %}
%typemap(out) struct uvsock_vq_info [ANY]
%{ lua_createtable(L, $1_dim0, 0);
for (int i_ = 0; i_ < $1_dim0; i_++) {
    SWIG_NewPointerObj(L, &$1[i_], $descriptor(struct uvsock_vq_info *), 0);
    lua_rawseti(L, -2, i_ + 1);
}
SWIG_arg++; %}

/* ------------------------------------------------------------------ addresses --- */
/*
 * struct uvsock_addr by value <-> {local_port=, remote_cid=, remote_port=}: the form the Lua
 * layer and scripts use. A missing or out-of-range field is an error naming the field.
 */
%{
static int uvl_addr_from_table(lua_State *L, int idx, struct uvsock_addr *a)
{
    static const char *const names[3] = {"local_port", "remote_cid", "remote_port"};
    uint32_t *dst[3] = {&a->local_port, &a->remote_cid, &a->remote_port};

    if (!lua_istable(L, idx)) {
        lua_pushfstring(L, "address must be a table {local_port=, remote_cid=, remote_port=}, got %s",
                        luaL_typename(L, idx));
        return 0;
    }
    for (int i = 0; i < 3; i++) {
        long long v;

        lua_getfield(L, idx, names[i]);
        if (!uvl_int_arg(L, -1, 0, UINT32_MAX, &v)) {
            lua_pushfstring(L, "address field %s must be an integer in [0, 4294967295], got %s",
                            names[i], luaL_tolstring(L, -1, NULL));
            return 0;
        }
        lua_pop(L, 1);
        *dst[i] = (uint32_t)v;
    }
    return 1;
}

static void uvl_push_addr(lua_State *L, struct uvsock_addr a)
{
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, a.local_port);
    lua_setfield(L, -2, "local_port");
    lua_pushinteger(L, a.remote_cid);
    lua_setfield(L, -2, "remote_cid");
    lua_pushinteger(L, a.remote_port);
    lua_setfield(L, -2, "remote_port");
}
%}

%typemap(in, checkfn="lua_istable") struct uvsock_addr
%{if (!uvl_addr_from_table(L, $input, &$1)) {
    SWIG_Lua_pushferrstring(L, "%s: %s", "$symname", lua_tostring(L, -1));
    SWIG_fail;
}%}
%typemap(out) struct uvsock_addr %{ uvl_push_addr(L, $1); SWIG_arg++; %}

/* ----------------------------------------------------------------- out pointers --- */
%typemap(in, numinputs=0) struct uvsock_dev **out (struct uvsock_dev *tmp = NULL) "$1 = &tmp;"
%typemap(argout) struct uvsock_dev **out
%{ if (*$1) SWIG_NewPointerObj(L, *$1, $*descriptor, 0); else lua_pushnil(L); SWIG_arg++; %}
%typemap(in, numinputs=0) struct uvsock_event_queue **out (struct uvsock_event_queue *tmp = NULL)
    "$1 = &tmp;"
%typemap(argout) struct uvsock_event_queue **out
%{ if (*$1) SWIG_NewPointerObj(L, *$1, $*descriptor, 0); else lua_pushnil(L); SWIG_arg++; %}

%typemap(in, numinputs=0) int *host_fd (int tmp = -1) "$1 = &tmp;"
%typemap(argout) int *host_fd %{ lua_pushinteger(L, *$1); SWIG_arg++; %}
%typemap(in, numinputs=0) uint32_t *host_port_out (uint32_t tmp = 0), uint32_t *guest_port (uint32_t tmp = 0)
    "$1 = &tmp;"
%typemap(argout) uint32_t *host_port_out, uint32_t *guest_port
%{ lua_pushinteger(L, *$1); SWIG_arg++; %}

/*
 * SWIG passes nil as a NULL pointer. The C API dereferences most of these, so even the raw
 * layer refuses nil: a Lua error, not a crash.
 */
%typemap(check) struct uvsock_dev *, struct uvsock_event_queue *,
                const struct uvsock_event_queue *, struct uvsock_sim *,
                struct uvsock_conn_info *, struct uvsock_dev_info *,
                struct uvsock_capture_stats *, struct uvsock_sim_stats *,
                const struct uvsock_sim_packet *, const char *path
%{if (!$1) {
    SWIG_Lua_pushferrstring(L, "%s: argument %d must not be nil", "$symname", $argnum);
    SWIG_fail;
}%}

/* ---------------------------------------------------- what Lua cannot call safely --- */
/*
 * Callbacks run on the device's service thread, where no Lua state may run: Lua gets the
 * event queue instead (uvsock_start_event_queue), and log messages through the buffered log
 * sink in native.h.
 */
%ignore uvsock_callbacks;
%ignore uvsock_start;
%ignore uvsock_event_queue_callbacks;
%ignore uvsock_set_log;
/* Raw arrays the natives below replace with Lua lists. */
%ignore uvsock_conn_list;
/* Ownership lives in the Lua layer (Device:close, __gc); nothing else may free these. */
%ignore uvsock_event_queue_pop;

/* uvsock_sim_send_raw's payload: a Lua string, binary-safe (embedded zeros kept). */
%typemap(in, checkfn="lua_isstring") (const void *payload, size_t len) (size_t n_)
%{ $1 = (void *)lua_tolstring(L, $input, &n_); $2 = n_; %}

/*
 * uvsock_conn_info, uvsock_dev_info and uvsock_capture_stats are each a struct and a function:
 * the structs get other Lua names (constructors core.ConnInfo() ...), the functions keep theirs.
 */
%rename("ConnInfo", %$isclass) uvsock_conn_info;
%rename("DevInfo", %$isclass) uvsock_dev_info;
%rename("CaptureStats", %$isclass) uvsock_capture_stats;
%rename("SimStats", %$isclass) uvsock_sim_stats;
%rename("SimPacket", %$isclass) uvsock_sim_packet;

%include "uvsock.h"
%include "uvsock_sim.h"

/* ---------------------------------------------------------------------- natives --- */
%{
#include "native.h"
%}
%native(socketpair) int uvl_socketpair(lua_State *L);
%native(fd_close) int uvl_fd_close(lua_State *L);
%native(fd_send) int uvl_fd_send(lua_State *L);
%native(fd_recv) int uvl_fd_recv(lua_State *L);
%native(fd_shutdown) int uvl_fd_shutdown(lua_State *L);
%native(fd_wait) int uvl_fd_wait(lua_State *L);
%native(fd_size) int uvl_fd_size(lua_State *L);
%native(memfd) int uvl_memfd(lua_State *L);
%native(file_fd) int uvl_file_fd(lua_State *L);
%native(event_pop) int uvl_event_pop(lua_State *L);
%native(conn_list) int uvl_conn_list(lua_State *L);
%native(now) int uvl_now(lua_State *L);
%native(sleep) int uvl_sleep(lua_State *L);
%native(set_deadline) int uvl_set_deadline(lua_State *L);
%native(log_mode) int uvl_log_mode(lua_State *L);
%native(log_drain) int uvl_log_drain(lua_State *L);
