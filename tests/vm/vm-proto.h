/* SPDX-License-Identifier: MIT */
/*
 * What the VM suite's programs agree on: the host peers' ports in level 1 (vm-host.c), the
 * byte pattern and checksum both sides compute, and the throughput and latency workloads that
 * the Linux-driver client (vm-linux-perf.c) and uvsock (vm-scenarios.c) run on a connected fd
 * (an AF_VSOCK socket for Linux, the user's end of the socketpair for uvsock), so the two
 * drivers are measured by the very same code.
 *
 * Host services (all AF_VSOCK stream listeners on level 1, CID 2 from level 2's view):
 *   CONTROL  text lines, one reply line each: "RESULT <guest port>" -> how the host's side of
 *            that connection ended ("OPEN", "EOF <bytes>", "ERR <errno>", "OK", "NONE");
 *            "CONNECT <cid> <guest port>" -> the host connects to the guest and checks an echo
 *            of VM_H2G_BYTES ("STARTED"; the outcome later via RESULT); "MIGRATE" -> level 1
 *            migrates level 2 to a qemu with guest-cid=4 ("OK").
 *   ECHO     echoes until EOF, then closes.
 *   SINK     reads an 8-byte little-endian length N, then N bytes; answers N and their FNV-1a
 *            64 (16 bytes), then waits for EOF and closes.
 *   SOURCE   reads an 8-byte length N and sends N pattern bytes (seed VM_SOURCE_SEED), then
 *            closes.
 *   CLOSE    sends "hello" and closes at once (a host close: the guest sees SHUTDOWN; Linux
 *            follows with RST after its 8 s close timeout if the guest never answers).
 *   (NOBODY) no listener: Linux answers a REQUEST with RST.
 */
#ifndef UVSOCK_VM_PROTO_H
#define UVSOCK_VM_PROTO_H

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VM_PORT_CONTROL 5000
#define VM_PORT_ECHO    5007
#define VM_PORT_SINK    5009
#define VM_PORT_SOURCE  5019
#define VM_PORT_CLOSE   5021
#define VM_PORT_NOBODY  5999

#define VM_SOURCE_SEED 19
#define VM_H2G_BYTES   (256u * 1024u)
#define VM_CHUNK       (64u * 1024u) /* the write size of every bulk transfer */
#define VM_IO_MS       30000         /* the longest one read or write may wait (nested TCG) */

/* Byte `off` of pattern stream `seed`: cheap enough for tens of MiB under TCG. */
static inline uint8_t vm_pattern(uint64_t seed, uint64_t off)
{
    uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull + seed * 0xbf58476d1ce4e5b9ull;

    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (off & 7)));
}

static inline void vm_fill(uint8_t *buf, size_t n, uint64_t seed, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = vm_pattern(seed, off + i);
}

/* First stream offset in buf (starting at off) that differs from the pattern, or -1. */
static inline long long vm_mismatch(const uint8_t *buf, size_t n, uint64_t seed, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != vm_pattern(seed, off + i))
            return (long long)(off + i);
    return -1;
}

#define VM_FNV_INIT 0xcbf29ce484222325ull

static inline uint64_t vm_fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static inline void vm_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t vm_get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline double vm_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Why the last vm_* helper failed; the callers print it in their FAIL line. */
static char vm_why[256];

static inline int vm_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int vm_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(vm_why, sizeof(vm_why), fmt, ap);
    va_end(ap);
    return -1;
}

/* Waits at most VM_IO_MS for `events` on fd. */
static inline int vm_wait(int fd, short events, const char *what)
{
    struct pollfd pfd = {.fd = fd, .events = events};

    for (;;) {
        int r = poll(&pfd, 1, VM_IO_MS);

        if (r > 0)
            return 0;
        if (r == 0)
            return vm_fail("%s: nothing for %d ms", what, VM_IO_MS);
        if (errno != EINTR)
            return vm_fail("%s: poll: %s", what, strerror(errno));
    }
}

static inline int vm_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;

    while (n) {
        ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (vm_wait(fd, POLLOUT, "write") < 0)
                return -1;
            continue;
        }
        if (w < 0)
            return vm_fail("write: %s (%zu bytes left)", strerror(errno), n);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Exactly n bytes; EOF first is a failure. */
static inline int vm_read_exact(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    size_t got = 0;

    while (got < n) {
        ssize_t r = recv(fd, p + got, n - got, MSG_DONTWAIT);

        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (vm_wait(fd, POLLIN, "read") < 0)
                return -1;
            continue;
        }
        if (r == 0)
            return vm_fail("read: EOF after %zu of %zu bytes", got, n);
        if (r < 0)
            return vm_fail("read: %s after %zu of %zu bytes", strerror(errno), got, n);
        got += (size_t)r;
    }
    return 0;
}

/* ---------------------------------------------------------------- the workloads -- */

/*
 * Guest -> host through SINK on a connected fd: n bytes in VM_CHUNK writes; done when the host
 * has answered their count and checksum (so the time covers delivery, not just queueing).
 */
static inline int vm_sink_send(int fd, uint64_t n, uint64_t seed, double *secs)
{
    static uint8_t buf[VM_CHUNK];
    uint8_t hdr[16];
    uint64_t h = VM_FNV_INIT;
    double t0 = vm_now();

    vm_put64(hdr, n);
    if (vm_write_all(fd, hdr, 8) < 0)
        return -1;
    for (uint64_t off = 0; off < n; off += VM_CHUNK) {
        size_t c = n - off < VM_CHUNK ? (size_t)(n - off) : VM_CHUNK;

        vm_fill(buf, c, seed, off);
        h = vm_fnv(h, buf, c);
        if (vm_write_all(fd, buf, c) < 0)
            return -1;
    }
    if (vm_read_exact(fd, hdr, 16) < 0)
        return -1;
    if (secs)
        *secs = vm_now() - t0;
    if (vm_get64(hdr) != n || vm_get64(hdr + 8) != h)
        return vm_fail("sink: host got %llu bytes with checksum %016llx, sent %llu with %016llx",
                       (unsigned long long)vm_get64(hdr), (unsigned long long)vm_get64(hdr + 8),
                       (unsigned long long)n, (unsigned long long)h);
    return 0;
}

/* Host -> guest through SOURCE: asks for n bytes and checks every one against the pattern. */
static inline int vm_source_recv(int fd, uint64_t n, double *secs)
{
    static uint8_t buf[VM_CHUNK];
    uint8_t hdr[8];
    uint64_t got = 0;
    double t0 = vm_now();

    vm_put64(hdr, n);
    if (vm_write_all(fd, hdr, 8) < 0)
        return -1;
    while (got < n) {
        ssize_t r = recv(fd, buf, n - got < VM_CHUNK ? (size_t)(n - got) : VM_CHUNK, MSG_DONTWAIT);
        long long bad;

        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (vm_wait(fd, POLLIN, "source read") < 0)
                return -1;
            continue;
        }
        if (r <= 0)
            return vm_fail("source: %s after %llu of %llu bytes", r ? strerror(errno) : "EOF",
                           (unsigned long long)got, (unsigned long long)n);
        if ((bad = vm_mismatch(buf, (size_t)r, VM_SOURCE_SEED, got)) >= 0)
            return vm_fail("source: byte %lld differs from the pattern", bad);
        got += (uint64_t)r;
    }
    if (secs)
        *secs = vm_now() - t0;
    return 0;
}

static int vm_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* `rounds` 1-byte round trips through ECHO: median and 99th percentile in microseconds. */
static inline int vm_rtt(int fd, int rounds, double *median_us, double *p99_us)
{
    double *t = calloc((size_t)rounds, sizeof(*t));

    if (!t)
        return vm_fail("rtt: out of memory");
    for (int i = 0; i < rounds; i++) {
        uint8_t c = (uint8_t)i, back;
        double t0 = vm_now();

        if (vm_write_all(fd, &c, 1) < 0 || vm_read_exact(fd, &back, 1) < 0) {
            free(t);
            return -1;
        }
        if (back != c) {
            free(t);
            return vm_fail("rtt: sent %u, echoed %u", c, back);
        }
        t[i] = (vm_now() - t0) * 1e6;
    }
    qsort(t, (size_t)rounds, sizeof(*t), vm_cmp_double);
    *median_us = t[rounds / 2];
    *p99_us = t[(rounds * 99) / 100 < rounds ? (rounds * 99) / 100 : rounds - 1];
    free(t);
    return 0;
}

#endif /* UVSOCK_VM_PROTO_H */
