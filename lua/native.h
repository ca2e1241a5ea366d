/* SPDX-License-Identifier: MIT */
/*
 * Hand-written Lua functions of the uvsock.core module, for what SWIG cannot express well:
 * binary-safe socket I/O with timeouts, fds from Lua strings and files, events as tables,
 * lists of addresses, and a log sink that never calls Lua.
 *
 * This header is included once, by the SWIG-generated wrapper (uvsock.i), because these
 * functions need SWIG's runtime (SWIG_ConvertPtr and the type descriptors) to accept the
 * device and queue pointers the wrapped functions return.
 *
 * Every blocking wait is a poll() with a timeout, shortened to the scenario deadline when one
 * is set (set_deadline): the runner's per-scenario timeout then also ends waits inside C,
 * where a Lua debug hook cannot reach.
 */
#ifndef UVSOCK_LUA_NATIVE_H
#define UVSOCK_LUA_NATIVE_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#define UVL_DEADLINE_KEY "uvsock.deadline_ns"
#define UVL_IO_CHUNK     65536

static int64_t uvl_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The absolute end of a wait of timeout_ms (<0: none) from now, INT64_MAX for none. */
static int64_t uvl_end_ns(int64_t timeout_ms)
{
    return timeout_ms < 0 ? INT64_MAX : uvl_now_ns() + timeout_ms * 1000000;
}

/* The scenario deadline (absolute ns), INT64_MAX when none is set. */
static int64_t uvl_deadline(lua_State *L)
{
    int64_t d;

    lua_getfield(L, LUA_REGISTRYINDEX, UVL_DEADLINE_KEY);
    d = lua_isinteger(L, -1) ? (int64_t)lua_tointeger(L, -1) : INT64_MAX;
    lua_pop(L, 1);
    return d;
}

/*
 * poll() on one fd until `end` (absolute ns) or the scenario deadline. Returns poll's result
 * (0 on timeout); raises a Lua error when the scenario deadline passed, so that a scenario that
 * waits forever still ends.
 */
static int uvl_poll1(lua_State *L, int fd, short events, int64_t end, short *revents)
{
    int64_t deadline = uvl_deadline(L);

    for (;;) {
        int64_t now = uvl_now_ns(), stop = end < deadline ? end : deadline;
        int64_t left_ms = stop == INT64_MAX ? -1 : (stop - now + 999999) / 1000000;
        struct pollfd pfd = {.fd = fd, .events = events};
        int r;

        if (left_ms < 0 && stop != INT64_MAX)
            left_ms = 0;
        if (left_ms > INT32_MAX)
            left_ms = INT32_MAX;
        r = poll(&pfd, 1, (int)left_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0)
            *revents = pfd.revents;
        if (r == 0 && deadline <= end && uvl_now_ns() >= deadline) {
            /* No "file:line:" prefix: the runner reports the scenario's own line. */
            lua_pushfstring(L, "scenario timeout reached while waiting on fd %d", fd);
            return lua_error(L);
        }
        if (r == 0 && uvl_now_ns() < stop)
            continue; /* poll's rounding woke us early */
        return r;
    }
}

/* Lua's error convention: nil, message, status name [, extra]. */
static int uvl_fail(lua_State *L, const char *status, const char *fmt, ...)
{
    va_list ap;

    lua_pushnil(L);
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_pushstring(L, status);
    return 3;
}

static const char *uvl_errno_status(int e)
{
    switch (e) {
    case EPIPE:
    case ECONNRESET:
        return "ZX_ERR_PEER_CLOSED";
    case EBADF:
        return "ZX_ERR_BAD_HANDLE";
    case ENOTSOCK:
        return "ZX_ERR_WRONG_TYPE";
    case ENOMEM:
        return "ZX_ERR_NO_MEMORY";
    default:
        return "ZX_ERR_IO";
    }
}

static int uvl_checkfd(lua_State *L, int idx)
{
    lua_Integer fd = luaL_checkinteger(L, idx);

    luaL_argcheck(L, fd >= 0 && fd <= INT32_MAX, idx, "not a valid fd");
    return (int)fd;
}

/* socketpair() -> user_fd, device_fd (close-on-exec: scripts may spawn programs). */
static int uvl_socketpair(lua_State *L)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return uvl_fail(L, uvl_errno_status(errno), "socketpair: %s", strerror(errno));
    lua_pushinteger(L, sv[0]);
    lua_pushinteger(L, sv[1]);
    return 2;
}

static int uvl_fd_close(lua_State *L)
{
    close(uvl_checkfd(L, 1));
    return 0;
}

/* fd_shutdown(fd, "w"|"r"|"rw") -> true | nil, msg, status */
static int uvl_fd_shutdown(lua_State *L)
{
    int fd = uvl_checkfd(L, 1);
    const char *how = luaL_optstring(L, 2, "w");
    int h = strcmp(how, "r") == 0 ? SHUT_RD : strcmp(how, "rw") == 0 ? SHUT_RDWR : SHUT_WR;

    if (shutdown(fd, h) < 0)
        return uvl_fail(L, uvl_errno_status(errno), "shutdown: %s", strerror(errno));
    lua_pushboolean(L, 1);
    return 1;
}

/*
 * fd_send(fd, s, timeout_ms) -> #s | nil, msg, status, bytes_sent. The timeout bounds the
 * whole call. MSG_NOSIGNAL: a peer that went away is an error to report, not a SIGPIPE.
 */
static int uvl_fd_send(lua_State *L)
{
    int fd = uvl_checkfd(L, 1);
    size_t n, done = 0;
    const char *s = luaL_checklstring(L, 2, &n);
    int64_t end = uvl_end_ns(luaL_checkinteger(L, 3));

    while (done < n) {
        short rev = 0;
        ssize_t w;

        if (uvl_poll1(L, fd, POLLOUT, end, &rev) == 0) {
            uvl_fail(L, "ZX_ERR_TIMED_OUT", "send: timed out after %d of %d bytes", (int)done,
                     (int)n);
            lua_pushinteger(L, (lua_Integer)done);
            return 4;
        }
        w = send(fd, s + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            int e = errno;

            if (e == EAGAIN || e == EINTR)
                continue;
            uvl_fail(L, uvl_errno_status(e), "send: %s after %d of %d bytes", strerror(e),
                     (int)done, (int)n);
            lua_pushinteger(L, (lua_Integer)done);
            return 4;
        }
        done += (size_t)w;
    }
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/*
 * fd_recv(fd, n, timeout_ms, exact) -> string | nil, msg, status, partial.
 * exact: wait for all n bytes; else return what the first read gives (at most n).
 * End of stream is PEER_CLOSED ("end of stream" when nothing at all arrived).
 */
static int uvl_fd_recv(lua_State *L)
{
    int fd = uvl_checkfd(L, 1);
    lua_Integer want = luaL_checkinteger(L, 2);
    int64_t end = uvl_end_ns(luaL_checkinteger(L, 3));
    int exact = lua_toboolean(L, 4);
    size_t n, got = 0;
    luaL_Buffer b;

    luaL_argcheck(L, want >= 0, 2, "byte count must not be negative");
    n = (size_t)want;
    luaL_buffinit(L, &b);
    while (got < n) {
        size_t chunk = n - got < UVL_IO_CHUNK ? n - got : UVL_IO_CHUNK;
        char *p;
        short rev = 0;
        ssize_t r;
        int e;

        if (uvl_poll1(L, fd, POLLIN, end, &rev) == 0) {
            luaL_pushresult(&b);
            uvl_fail(L, "ZX_ERR_TIMED_OUT", "recv: timed out after %d of %d bytes", (int)got,
                     (int)n);
            lua_rotate(L, -4, -1); /* partial data last */
            return 4;
        }
        p = luaL_prepbuffsize(&b, chunk);
        r = recv(fd, p, chunk, MSG_DONTWAIT);
        e = errno;
        if (r > 0) {
            luaL_addsize(&b, (size_t)r);
            got += (size_t)r;
            if (!exact)
                break;
            continue;
        }
        if (r < 0 && (e == EAGAIN || e == EINTR))
            continue;
        luaL_pushresult(&b);
        if (r == 0 && got == 0)
            uvl_fail(L, "ZX_ERR_PEER_CLOSED", "end of stream");
        else if (r == 0)
            uvl_fail(L, "ZX_ERR_PEER_CLOSED", "end of stream after %d of %d bytes", (int)got,
                     (int)n);
        else
            uvl_fail(L, uvl_errno_status(e), "recv: %s after %d of %d bytes", strerror(e), (int)got,
                     (int)n);
        lua_rotate(L, -4, -1);
        return 4;
    }
    luaL_pushresult(&b);
    return 1;
}

/* fd_wait(fd, "r"|"w"|"rw", timeout_ms) -> true (ready) | false (timed out) */
static int uvl_fd_wait(lua_State *L)
{
    int fd = uvl_checkfd(L, 1);
    const char *what = luaL_checkstring(L, 2);
    int64_t end = uvl_end_ns(luaL_checkinteger(L, 3));
    short ev = (short)((strchr(what, 'r') ? POLLIN : 0) | (strchr(what, 'w') ? POLLOUT : 0));
    short rev = 0;

    lua_pushboolean(L, uvl_poll1(L, fd, ev, end, &rev) > 0);
    return 1;
}

static int uvl_fd_size(lua_State *L)
{
    struct stat st;

    if (fstat(uvl_checkfd(L, 1), &st) < 0)
        return uvl_fail(L, uvl_errno_status(errno), "fstat: %s", strerror(errno));
    lua_pushinteger(L, (lua_Integer)st.st_size);
    return 1;
}

/* memfd(data) -> fd holding exactly `data`: how a Lua string becomes a VMO. */
static int uvl_memfd(lua_State *L)
{
    size_t n, done = 0;
    const char *s = luaL_checklstring(L, 1, &n);
    int fd = memfd_create("uvsock-lua-vmo", MFD_CLOEXEC);

    if (fd < 0)
        return uvl_fail(L, uvl_errno_status(errno), "memfd_create: %s", strerror(errno));
    while (done < n) {
        ssize_t w = pwrite(fd, s + done, n - done, (off_t)done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;

            close(fd);
            return uvl_fail(L, uvl_errno_status(e), "memfd write: %s", strerror(e));
        }
        done += (size_t)w;
    }
    lua_pushinteger(L, fd);
    return 1;
}

/*
 * file_fd(io_file) -> fd of a Lua file handle. Its stdio buffer is flushed first: the device
 * reads the fd with pread and would miss bytes still in the buffer.
 */
static int uvl_file_fd(lua_State *L)
{
    luaL_Stream *st = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);

    if (st->closef == NULL || st->f == NULL)
        return luaL_argerror(L, 1, "attempt to use a closed file");
    fflush(st->f);
    lua_pushinteger(L, fileno(st->f));
    return 1;
}

static void uvl_push_event(lua_State *L, const struct uvsock_event *ev)
{
    lua_createtable(L, 0, 5);
    lua_pushstring(L, uvsock_event_type_str(ev->type));
    lua_setfield(L, -2, "type");
    if (ev->type == UVSOCK_EVENT_TRANSPORT_RESET) {
        lua_pushinteger(L, ev->new_cid);
        lua_setfield(L, -2, "new_cid");
    } else {
        uvl_push_addr(L, ev->addr);
        lua_setfield(L, -2, "addr");
    }
    lua_pushinteger(L, (lua_Integer)ev->seq);
    lua_setfield(L, -2, "seq");
    lua_pushinteger(L, (lua_Integer)ev->time_ns);
    lua_setfield(L, -2, "time_ns");
}

static void *uvl_checkptr(lua_State *L, int idx, swig_type_info *type, const char *what)
{
    void *p = NULL;

    if (!SWIG_IsOK(SWIG_ConvertPtr(L, idx, &p, type, 0)) || p == NULL)
        luaL_argerror(L, idx, what);
    return p;
}

/*
 * event_pop(queue, timeout_ms) -> event table | nil, msg, status. Waits with poll on the
 * queue's fd (readable while an event is queued) so the scenario deadline applies.
 */
static int uvl_event_pop(lua_State *L)
{
    struct uvsock_event_queue *q =
        uvl_checkptr(L, 1, SWIGTYPE_p_uvsock_event_queue, "expected an event queue");
    lua_Integer timeout_ms = luaL_checkinteger(L, 2);
    int64_t end = uvl_end_ns(timeout_ms);
    struct uvsock_event ev;

    for (;;) {
        short rev = 0;
        int r = uvsock_event_queue_pop(q, &ev, 0);

        if (r == UVSOCK_OK) {
            uvl_push_event(L, &ev);
            return 1;
        }
        if (r != UVSOCK_ERR_SHOULD_WAIT)
            return uvl_fail(L, uvsock_status_str(r), "event queue: %s", uvsock_status_str(r));
        if (uvl_poll1(L, uvsock_event_queue_fd(q), POLLIN, end, &rev) == 0)
            return uvl_fail(L, "ZX_ERR_TIMED_OUT", "no event within %d ms", (int)timeout_ms);
    }
}

/* conn_list(dev) -> { addr, ... } */
static int uvl_conn_list(lua_State *L)
{
    struct uvsock_dev *dev = uvl_checkptr(L, 1, SWIGTYPE_p_uvsock_dev, "expected a device");
    struct uvsock_addr *addrs = NULL;
    size_t max = 0, count = 0;
    int r;

    /* The list may grow between the two calls: retry until it fits. */
    for (;;) {
        r = uvsock_conn_list(dev, addrs, max, &count);
        if (r != UVSOCK_OK || count <= max)
            break;
        max = count + 16;
        free(addrs);
        addrs = malloc(max * sizeof(*addrs));
        if (!addrs)
            return uvl_fail(L, "ZX_ERR_NO_MEMORY", "conn_list: out of memory");
    }
    if (r != UVSOCK_OK) {
        free(addrs);
        return uvl_fail(L, uvsock_status_str(r), "conn_list: %s", uvsock_status_str(r));
    }
    lua_createtable(L, (int)count, 0);
    for (size_t i = 0; i < count; i++) {
        uvl_push_addr(L, addrs[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free(addrs);
    return 1;
}

static int uvl_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)uvl_now_ns() / 1e9);
    return 1;
}

static int uvl_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    int64_t end = uvl_now_ns() + (int64_t)(s * 1e9);
    struct timespec ts;

    luaL_argcheck(L, s >= 0, 1, "must not be negative");
    for (;;) {
        int64_t left = end - uvl_now_ns(), deadline = uvl_deadline(L);

        if (deadline != INT64_MAX && uvl_now_ns() >= deadline) {
            lua_pushstring(L, "scenario timeout reached while sleeping");
            return lua_error(L);
        }
        if (left <= 0)
            return 0;
        if (deadline != INT64_MAX && deadline - uvl_now_ns() < left)
            left = deadline - uvl_now_ns() + 1;
        ts.tv_sec = left / 1000000000;
        ts.tv_nsec = left % 1000000000;
        nanosleep(&ts, NULL);
    }
}

/* set_deadline(seconds_from_now | nil): the scenario deadline every wait honours. */
static int uvl_set_deadline(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        lua_pushnil(L);
    else
        lua_pushinteger(L, uvl_now_ns() + (lua_Integer)(luaL_checknumber(L, 1) * 1e9));
    lua_setfield(L, LUA_REGISTRYINDEX, UVL_DEADLINE_KEY);
    return 0;
}

/* ------------------------------------------------------------------------ logging --- */
/*
 * The library logs from any thread, possibly with its locks held, so the log function can
 * never call into Lua: it prints to stderr or keeps the last messages in a buffer that
 * log_drain() hands to Lua on the caller's thread.
 */
#define UVL_LOG_KEEP 1024

static pthread_mutex_t uvl_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *uvl_log_ring[UVL_LOG_KEEP];
static enum uvsock_log_level uvl_log_levels[UVL_LOG_KEEP];
static unsigned uvl_log_head, uvl_log_count;

static void uvl_log_stderr(void *ctx, enum uvsock_log_level level, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "uvsock %s: %s\n", uvsock_log_level_str(level), msg);
}

static void uvl_log_buffer(void *ctx, enum uvsock_log_level level, const char *msg)
{
    char *copy = strdup(msg);
    unsigned slot;

    (void)ctx;
    if (!copy)
        return;
    pthread_mutex_lock(&uvl_log_lock);
    slot = (uvl_log_head + uvl_log_count) % UVL_LOG_KEEP;
    if (uvl_log_count == UVL_LOG_KEEP) { /* full: the oldest goes */
        free(uvl_log_ring[uvl_log_head]);
        uvl_log_head = (uvl_log_head + 1) % UVL_LOG_KEEP;
        uvl_log_count--;
    }
    uvl_log_ring[slot] = copy;
    uvl_log_levels[slot] = level;
    uvl_log_count++;
    pthread_mutex_unlock(&uvl_log_lock);
}

/* log_mode("stderr" | "buffer" | "off") */
static int uvl_log_mode(lua_State *L)
{
    static const char *const modes[] = {"off", "stderr", "buffer", NULL};
    int m = luaL_checkoption(L, 1, NULL, modes);

    uvsock_set_log(m == 1 ? uvl_log_stderr : m == 2 ? uvl_log_buffer : NULL, NULL);
    return 0;
}

/* log_drain() -> { {level=, message=}, ... } oldest first; empties the buffer. */
static int uvl_log_drain(lua_State *L)
{
    static char *msgs[UVL_LOG_KEEP];
    static enum uvsock_log_level levels[UVL_LOG_KEEP];
    unsigned n;

    /* Taken out under the lock, given to Lua after it: a Lua error must not leave it held. */
    pthread_mutex_lock(&uvl_log_lock);
    n = uvl_log_count;
    for (unsigned i = 0; i < n; i++) {
        unsigned slot = (uvl_log_head + i) % UVL_LOG_KEEP;

        msgs[i] = uvl_log_ring[slot];
        levels[i] = uvl_log_levels[slot];
        uvl_log_ring[slot] = NULL;
    }
    uvl_log_head = 0;
    uvl_log_count = 0;
    pthread_mutex_unlock(&uvl_log_lock);

    lua_createtable(L, (int)n, 0);
    for (unsigned i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, uvsock_log_level_str(levels[i]));
        lua_setfield(L, -2, "level");
        lua_pushstring(L, msgs[i]);
        lua_setfield(L, -2, "message");
        lua_rawseti(L, -2, i + 1);
        free(msgs[i]);
        msgs[i] = NULL;
    }
    return 1;
}

#endif /* UVSOCK_LUA_NATIVE_H */
