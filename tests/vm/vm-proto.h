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
 *   SINK     reads a 16-byte header (little-endian length N, flags), then N bytes; answers N
 *            and, with VM_CHECK, their vm_sum (16 bytes), then waits for EOF and closes.
 *   SOURCE   reads a 16-byte header (length N, flags) and sends N bytes of pattern stream
 *            VM_SOURCE_SEED, then closes.
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

/*
 * The byte streams: 64 KiB chunks of a per-seed base pattern whose first 8 bytes are replaced by
 * the chunk's number (xor the seed), so every chunk differs and a lost, repeated or reordered
 * chunk shows. Making and checking a chunk is a memcpy and a memcmp: under nested TCG a
 * per-byte generator or checksum costs more than the transfer it should check.
 */
static inline uint8_t vm_pattern(uint64_t seed, uint64_t off)
{
    uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull + seed * 0xbf58476d1ce4e5b9ull;

    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (off & 7)));
}

static inline void vm_put64(uint8_t *p, uint64_t v);

/* Chunk k of stream `seed` (VM_CHUNK bytes) into buf. */
static inline void vm_chunk(uint8_t *buf, uint64_t seed, uint64_t k)
{
    static _Thread_local uint8_t base[VM_CHUNK];
    static _Thread_local uint64_t base_seed = ~0ull;

    if (base_seed != seed) {
        for (size_t i = 0; i < VM_CHUNK; i++)
            base[i] = vm_pattern(seed, i);
        base_seed = seed;
    }
    memcpy(buf, base, VM_CHUNK);
    vm_put64(buf, k ^ seed);
}

/* Stream bytes [off, off+n) of `seed` into buf. */
static inline void vm_fill(uint8_t *buf, size_t n, uint64_t seed, uint64_t off)
{
    static _Thread_local uint8_t chunk[VM_CHUNK];

    while (n) {
        size_t in = (size_t)(off % VM_CHUNK), c = VM_CHUNK - in < n ? VM_CHUNK - in : n;

        vm_chunk(chunk, seed, off / VM_CHUNK);
        memcpy(buf, chunk + in, c);
        buf += c;
        off += c;
        n -= c;
    }
}

/* First stream offset in buf (starting at off) that differs from the pattern, or -1. */
static inline long long vm_mismatch(const uint8_t *buf, size_t n, uint64_t seed, uint64_t off)
{
    static _Thread_local uint8_t chunk[VM_CHUNK];

    while (n) {
        size_t in = (size_t)(off % VM_CHUNK), c = VM_CHUNK - in < n ? VM_CHUNK - in : n;

        vm_chunk(chunk, seed, off / VM_CHUNK);
        if (memcmp(buf, chunk + in, c) != 0) {
            for (size_t i = 0; i < c; i++)
                if (buf[i] != chunk[in + i])
                    return (long long)(off + i);
        }
        buf += c;
        off += c;
        n -= c;
    }
    return -1;
}

/*
 * The checksum: FNV-1a over little-endian 64-bit words (a byte-wise tail for n % 8), fed the
 * stream in VM_CHUNK pieces from offset 0 on both sides so the words line up.
 */
#define VM_FNV_INIT 0xcbf29ce484222325ull

static inline uint64_t vm_sum(uint64_t h, const uint8_t *p, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < n; i++)
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

/* The 16-byte request header of SINK and SOURCE: the length, then flags. */
#define VM_CHECK 1u /* SINK: checksum what arrives; SOURCE: the guest checks the pattern */

/*
 * Guest -> host through SINK on a connected fd: n bytes in VM_CHUNK writes; done when the host
 * has answered their count (so the time covers delivery, not just queueing). With `check` the
 * bytes are stream `seed` and the host's checksum must be ours; without it the same chunk is
 * sent again and again, so the guest spends its time on the transfer alone.
 */
static inline int vm_sink_send(int fd, uint64_t n, uint64_t seed, int check, double *secs)
{
    static uint8_t buf[VM_CHUNK];
    uint8_t hdr[16];
    uint64_t h = VM_FNV_INIT;
    double t0 = vm_now();

    vm_put64(hdr, n);
    vm_put64(hdr + 8, check ? VM_CHECK : 0);
    if (vm_write_all(fd, hdr, 16) < 0)
        return -1;
    if (!check)
        vm_chunk(buf, seed, 0);
    for (uint64_t off = 0; off < n; off += VM_CHUNK) {
        size_t c = n - off < VM_CHUNK ? (size_t)(n - off) : VM_CHUNK;

        if (check) {
            vm_chunk(buf, seed, off / VM_CHUNK);
            h = vm_sum(h, buf, c);
        }
        if (vm_write_all(fd, buf, c) < 0)
            return -1;
    }
    if (vm_read_exact(fd, hdr, 16) < 0)
        return -1;
    if (secs)
        *secs = vm_now() - t0;
    if (vm_get64(hdr) != n || (check && vm_get64(hdr + 8) != h))
        return vm_fail("sink: host got %llu bytes with checksum %016llx, sent %llu with %016llx",
                       (unsigned long long)vm_get64(hdr), (unsigned long long)vm_get64(hdr + 8),
                       (unsigned long long)n, (unsigned long long)h);
    return 0;
}

/* Host -> guest through SOURCE: asks for n bytes; with `check` compares each with the pattern. */
static inline int vm_source_recv(int fd, uint64_t n, int check, double *secs)
{
    static uint8_t buf[VM_CHUNK];
    uint8_t hdr[16];
    uint64_t got = 0;
    double t0 = vm_now();

    vm_put64(hdr, n);
    vm_put64(hdr + 8, 0);
    if (vm_write_all(fd, hdr, 16) < 0)
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
        if (check && (bad = vm_mismatch(buf, (size_t)r, VM_SOURCE_SEED, got)) >= 0)
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
