/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the scenario tests (tests/scenario/NAME.c): opening a started device with an
 * event queue, waiting for one Callback with a timeout, connecting to a host port, moving bytes
 * through a socket with timeouts. Every helper returns 0 on success and -1 after printing why,
 * so a bug in the library gives a named failure instead of a hang.
 */
#ifndef UVSOCK_SCENARIO_COMMON_H
#define UVSOCK_SCENARIO_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "uvsock.h"
#include "uvsock_sim.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SCN_SANITIZED 1
#else
#define SCN_SANITIZED 0
#endif

#define SCN_TIMEOUT_MS 10000 /* the longest any single step may take */

static inline void scn_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void scn_fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "  [%s] ", test_current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static inline uint64_t scn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void scn_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Once per test program: writes into sockets the library closed must fail, not kill us. */
static inline void scn_init(void)
{
    signal(SIGPIPE, SIG_IGN);
}

static inline struct uvsock_addr scn_addr(uint32_t local_port, uint32_t cid, uint32_t remote_port)
{
    struct uvsock_addr a = {
        .local_port = local_port, .remote_cid = cid, .remote_port = remote_port};

    return a;
}

static inline int scn_addr_eq(struct uvsock_addr a, struct uvsock_addr b)
{
    return a.local_port == b.local_port && a.remote_cid == b.remote_cid &&
           a.remote_port == b.remote_port;
}

static inline const char *scn_event_desc(const struct uvsock_event *ev, char *buf, size_t n)
{
    if (ev->type == UVSOCK_EVENT_TRANSPORT_RESET)
        snprintf(buf, n, "%s(new_cid=%u)", uvsock_event_type_str(ev->type), ev->new_cid);
    else
        snprintf(buf, n, "%s{%u, %u, %u}", uvsock_event_type_str(ev->type), ev->addr.local_port,
                 ev->addr.remote_cid, ev->addr.remote_port);
    return buf;
}

/* A device opened from `uri`, started with a fresh event queue. */
static inline int scn_open(const char *uri, struct uvsock_dev **dev, struct uvsock_event_queue **q)
{
    int r;

    *dev = NULL;
    *q = NULL;
    if ((r = uvsock_open(uri, dev)) != UVSOCK_OK) {
        scn_fail("uvsock_open(\"%s\") = %s (%s)", uri, uvsock_status_str(r), uvsock_last_error());
        return -1;
    }
    if ((r = uvsock_event_queue_new(q)) != UVSOCK_OK) {
        scn_fail("uvsock_event_queue_new = %s", uvsock_status_str(r));
        uvsock_close(*dev);
        *dev = NULL;
        return -1;
    }
    if ((r = uvsock_start_event_queue(*dev, *q)) != UVSOCK_OK) {
        scn_fail("uvsock_start_event_queue = %s", uvsock_status_str(r));
        uvsock_close(*dev);
        uvsock_event_queue_free(*q);
        *dev = NULL;
        *q = NULL;
        return -1;
    }
    return 0;
}

static inline void scn_close(struct uvsock_dev *dev, struct uvsock_event_queue *q)
{
    uvsock_close(dev);
    uvsock_event_queue_free(q);
}

/*
 * The next event must be `type` (and for addr != NULL, with that addr) within timeout_ms.
 * On mismatch names what arrived instead. `out` (may be NULL) receives the event.
 */
static inline int expect_event(struct uvsock_event_queue *q, enum uvsock_event_type type,
                               const struct uvsock_addr *addr, int timeout_ms,
                               struct uvsock_event *out)
{
    struct uvsock_event ev;
    char got[96];
    int r = uvsock_event_queue_pop(q, &ev, timeout_ms);

    if (r != UVSOCK_OK) {
        if (addr)
            scn_fail("expected %s{%u, %u, %u} within %d ms: %s", uvsock_event_type_str(type),
                     addr->local_port, addr->remote_cid, addr->remote_port, timeout_ms,
                     uvsock_status_str(r));
        else
            scn_fail("expected %s within %d ms: %s", uvsock_event_type_str(type), timeout_ms,
                     uvsock_status_str(r));
        return -1;
    }
    if (ev.type != type || (addr && !scn_addr_eq(ev.addr, *addr))) {
        if (addr)
            scn_fail("expected %s{%u, %u, %u}, got %s", uvsock_event_type_str(type),
                     addr->local_port, addr->remote_cid, addr->remote_port,
                     scn_event_desc(&ev, got, sizeof(got)));
        else
            scn_fail("expected %s, got %s", uvsock_event_type_str(type),
                     scn_event_desc(&ev, got, sizeof(got)));
        return -1;
    }
    if (out)
        *out = ev;
    return 0;
}

/* No event at all may arrive within ms. */
static inline int expect_no_event(struct uvsock_event_queue *q, int ms)
{
    struct uvsock_event ev;
    char got[96];

    if (uvsock_event_queue_pop(q, &ev, ms) == UVSOCK_OK) {
        scn_fail("expected no event, got %s", scn_event_desc(&ev, got, sizeof(got)));
        return -1;
    }
    return 0;
}

/* Drops every queued event without looking at it. */
static inline void scn_drain_events(struct uvsock_event_queue *q)
{
    struct uvsock_event ev;

    while (uvsock_event_queue_pop(q, &ev, 0) == UVSOCK_OK)
        ;
}

/* A socketpair: sv[0] for the user (the test), sv[1] for the device. */
static inline int scn_socketpair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        scn_fail("socketpair: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * SendRequest to (CID 2, remote_port) from local_port and wait for the Response with the same
 * addr. *user_fd receives the test's end of the socketpair.
 */
static inline int scn_connect(struct uvsock_dev *dev, struct uvsock_event_queue *q,
                              uint32_t local_port, uint32_t remote_port, int *user_fd)
{
    struct uvsock_addr a = scn_addr(local_port, UVSOCK_CID_HOST, remote_port);
    int sv[2], r;

    *user_fd = -1;
    if (scn_socketpair(sv) < 0)
        return -1;
    if ((r = uvsock_send_request(dev, a, sv[1])) != UVSOCK_OK) {
        scn_fail("uvsock_send_request({%u, 2, %u}) = %s", local_port, remote_port,
                 uvsock_status_str(r));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (expect_event(q, UVSOCK_EVENT_RESPONSE, &a, SCN_TIMEOUT_MS, NULL) < 0) {
        close(sv[0]);
        return -1;
    }
    *user_fd = sv[0];
    return 0;
}

/* Writes all n bytes, waiting (poll) at most timeout_ms for the socket to take each piece. */
static inline int scn_write_all(int fd, const void *buf, size_t n, int timeout_ms)
{
    const uint8_t *p = buf;

    while (n) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        ssize_t w;
        int pr = poll(&pfd, 1, timeout_ms);

        if (pr == 0) {
            scn_fail("write: fd %d not writable for %d ms (%zu bytes left)", fd, timeout_ms, n);
            return -1;
        }
        if (pr < 0 && errno != EINTR) {
            scn_fail("poll: %s", strerror(errno));
            return -1;
        }
        w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            scn_fail("write on fd %d: %s (%zu bytes left)", fd, strerror(errno), n);
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Reads exactly n bytes; each wait is at most timeout_ms. EOF or error before n is a failure
 * that says how many arrived.
 */
static inline int scn_read_exact(int fd, void *buf, size_t n, int timeout_ms)
{
    uint8_t *p = buf;
    size_t got = 0;

    while (got < n) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;
        int pr = poll(&pfd, 1, timeout_ms);

        if (pr == 0) {
            scn_fail("read: nothing on fd %d for %d ms (%zu of %zu bytes)", fd, timeout_ms, got, n);
            return -1;
        }
        if (pr < 0 && errno != EINTR) {
            scn_fail("poll: %s", strerror(errno));
            return -1;
        }
        r = recv(fd, p + got, n - got, MSG_DONTWAIT);
        if (r == 0) {
            scn_fail("read: EOF on fd %d after %zu of %zu bytes", fd, got, n);
            return -1;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            scn_fail("read on fd %d: %s after %zu of %zu bytes", fd, strerror(errno), got, n);
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/*
 * The socket must reach EOF (or an error such as ECONNRESET) within timeout_ms. Bytes before
 * it are counted into *extra (may be NULL); any are a failure when extra is NULL.
 */
static inline int scn_expect_eof(int fd, int timeout_ms, size_t *extra)
{
    uint8_t buf[4096];
    size_t more = 0;
    uint64_t end = scn_now_ms() + (uint64_t)timeout_ms;

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        uint64_t now = scn_now_ms();
        ssize_t r;

        if (now >= end || poll(&pfd, 1, (int)(end - now)) == 0) {
            scn_fail("fd %d: no EOF within %d ms (%zu bytes read)", fd, timeout_ms, more);
            return -1;
        }
        r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            break;
        if (r > 0)
            more += (size_t)r;
    }
    if (extra)
        *extra = more;
    else if (more) {
        scn_fail("fd %d: %zu unexpected bytes before EOF", fd, more);
        return -1;
    }
    return 0;
}

/* Nothing must be readable on fd for ms (neither bytes nor EOF). */
static inline int scn_expect_quiet(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    if (poll(&pfd, 1, ms) != 0) {
        scn_fail("fd %d: unexpectedly readable (revents 0x%x)", fd, pfd.revents);
        return -1;
    }
    return 0;
}

/* A deterministic test pattern, different per stream `seed`. */
static inline uint8_t scn_pattern(uint64_t seed, uint64_t off)
{
    uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull + seed * 0xbf58476d1ce4e5b9ull;

    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (off & 7)));
}

static inline void scn_fill(uint8_t *buf, size_t n, uint64_t seed, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = scn_pattern(seed, off + i);
}

/* First offset in buf (stream offset off) that differs from the pattern, or -1. */
static inline long long scn_pattern_mismatch(const uint8_t *buf, size_t n, uint64_t seed,
                                             uint64_t off)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] != scn_pattern(seed, off + i))
            return (long long)(off + i);
    }
    return -1;
}

/* Sends n pattern bytes on fd and reads back the same n from fd (echo), comparing them. */
static inline int scn_echo_check(int fd, size_t n, uint64_t seed)
{
    uint8_t out[16384], in[16384];
    size_t done = 0;

    while (done < n) {
        size_t chunk = n - done < sizeof(out) ? n - done : sizeof(out);
        long long bad;

        scn_fill(out, chunk, seed, done);
        if (scn_write_all(fd, out, chunk, SCN_TIMEOUT_MS) < 0 ||
            scn_read_exact(fd, in, chunk, SCN_TIMEOUT_MS) < 0)
            return -1;
        if ((bad = scn_pattern_mismatch(in, chunk, seed, done)) >= 0) {
            scn_fail("echo: byte %lld differs", bad);
            return -1;
        }
        done += chunk;
    }
    return 0;
}

/* A memfd of n pattern bytes (seed). */
static inline int scn_memfd_pattern(size_t n, uint64_t seed)
{
    int fd = memfd_create("uvsock-test", MFD_CLOEXEC);
    uint8_t buf[65536];
    size_t done = 0;

    if (fd < 0) {
        scn_fail("memfd_create: %s", strerror(errno));
        return -1;
    }
    while (done < n) {
        size_t chunk = n - done < sizeof(buf) ? n - done : sizeof(buf);

        scn_fill(buf, chunk, seed, done);
        if (pwrite(fd, buf, chunk, (off_t)done) != (ssize_t)chunk) {
            scn_fail("pwrite memfd: %s", strerror(errno));
            close(fd);
            return -1;
        }
        done += chunk;
    }
    return fd;
}

static inline int scn_fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static inline int scn_stats(struct uvsock_sim *sim, struct uvsock_sim_stats *st)
{
    int r = uvsock_sim_get_stats(sim, st);

    if (r != UVSOCK_OK) {
        scn_fail("uvsock_sim_get_stats = %s", uvsock_status_str(r));
        return -1;
    }
    return 0;
}

/* Polls cond-like getter until it returns non-zero or timeout_ms passes. */
#define SCN_WAIT_UNTIL(cond, timeout_ms)                                                           \
    ({                                                                                             \
        uint64_t end_ = scn_now_ms() + (uint64_t)(timeout_ms);                                     \
        int ok_ = 0;                                                                               \
        for (;;) {                                                                                 \
            if (cond) {                                                                            \
                ok_ = 1;                                                                           \
                break;                                                                             \
            }                                                                                      \
            if (scn_now_ms() >= end_)                                                              \
                break;                                                                             \
            scn_sleep_ms(5);                                                                       \
        }                                                                                          \
        ok_;                                                                                       \
    })

#endif /* UVSOCK_SCENARIO_COMMON_H */
