/* SPDX-License-Identifier: MIT */
/*
 * vm-scenarios: the real-device scenarios, run in level 2 on a virtio-vsock PCI function bound
 * to uio_pci_generic, against the host peers of vm-host.c in level 1 (CID 2).
 *
 *   vm-scenarios URI MIB ROUNDS       e.g. vm-scenarios uio:0000:00:02.0 32 1000
 *
 * Prints one "PASS name" or "FAIL name: why" line per scenario, "PERF uvsock ..." lines for the
 * same workload vm-linux-perf measures on the Linux driver (MIB each way, ROUNDS round trips),
 * "PERF uvsock-poll ..." for it again with the transport's busy-poll mode (URI option poll=1),
 * and "SCENARIOS DONE" last. The CIDs are the ones level 1 gives the device (l1-run.sh): 3 at
 * boot, 4 after the migration that makes the TRANSPORT_RESET.
 *
 * Each scenario uses its own range of local ports, so an event a failed scenario left behind
 * is reported and skipped by the next one instead of failing it too.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>

#include "uvsock.h"
#include "vm-proto.h"

#define CID_BOOT      3u
#define CID_MIGRATED  4u
#define EVENT_MS      30000  /* one callback under nested TCG */
#define MIGRATE_MS    240000 /* level 1 migrates level 2 and restarts it */
#define CONTROL_LPORT 9000u

static struct uvsock_dev *dev;
static struct uvsock_event_queue *q;
static int ctl_fd = -1;
static uint32_t ctl_lport = CONTROL_LPORT;

static struct uvsock_addr host_addr(uint32_t local_port, uint32_t remote_port)
{
    struct uvsock_addr a = {
        .local_port = local_port, .remote_cid = UVSOCK_CID_HOST, .remote_port = remote_port};

    return a;
}

static const char *ev_desc(const struct uvsock_event *ev)
{
    static char buf[96];

    if (ev->type == UVSOCK_EVENT_TRANSPORT_RESET)
        snprintf(buf, sizeof(buf), "transport_reset(new_cid=%u)", ev->new_cid);
    else
        snprintf(buf, sizeof(buf), "%s{%u, %u, %u}", uvsock_event_type_str(ev->type),
                 ev->addr.local_port, ev->addr.remote_cid, ev->addr.remote_port);
    return buf;
}

/*
 * The next event for local_port must be `type`. Events for other local ports are strays from
 * an earlier scenario: reported on stderr and skipped.
 */
static int wait_event(enum uvsock_event_type type, uint32_t local_port, int ms,
                      struct uvsock_event *out)
{
    double end = vm_now() + ms / 1000.0;

    for (;;) {
        struct uvsock_event ev;
        int left = (int)((end - vm_now()) * 1000.0);
        int r = uvsock_event_queue_pop(q, &ev, left > 0 ? left : 0);

        if (r != UVSOCK_OK)
            return vm_fail("no %s for local port %u within %d ms", uvsock_event_type_str(type),
                           local_port, ms);
        if (ev.type != UVSOCK_EVENT_TRANSPORT_RESET && ev.addr.local_port != local_port) {
            fprintf(stderr, "vm-scenarios: (skipped a stray %s)\n", ev_desc(&ev));
            continue;
        }
        if (ev.type != type)
            return vm_fail("expected %s for local port %u, got %s", uvsock_event_type_str(type),
                           local_port, ev_desc(&ev));
        if (out)
            *out = ev;
        return 0;
    }
}

/* SendRequest to the host's port and wait for the Response; returns the user's fd. */
static int connect_host(uint32_t local_port, uint32_t remote_port)
{
    int sv[2], r;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return vm_fail("socketpair: %s", strerror(errno));
    if ((r = uvsock_send_request(dev, host_addr(local_port, remote_port), sv[1])) != UVSOCK_OK) {
        close(sv[0]);
        close(sv[1]);
        return vm_fail("send_request(%u -> 2:%u) = %s", local_port, remote_port,
                       uvsock_status_str(r));
    }
    if (wait_event(UVSOCK_EVENT_RESPONSE, local_port, EVENT_MS, NULL) < 0) {
        close(sv[0]);
        return -1;
    }
    return sv[0];
}

/* Sends n pattern bytes through ECHO (in pieces) and checks what comes back. */
static int echo_check(int fd, size_t n, uint64_t seed)
{
    uint8_t out[16384], in[16384];

    for (size_t off = 0; off < n; off += sizeof(out)) {
        size_t c = n - off < sizeof(out) ? n - off : sizeof(out);
        long long bad;

        vm_fill(out, c, seed, off);
        if (vm_write_all(fd, out, c) < 0 || vm_read_exact(fd, in, c) < 0)
            return -1;
        if ((bad = vm_mismatch(in, c, seed, off)) >= 0)
            return vm_fail("echo: byte %lld differs", bad);
    }
    return 0;
}

/* The user's socket must reach EOF (the device closed its end) within ms. */
static int expect_eof(int fd, int ms)
{
    double end = vm_now() + ms / 1000.0;
    uint8_t buf[4096];

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int left = (int)((end - vm_now()) * 1000.0);
        ssize_t r;

        if (left <= 0 || poll(&pfd, 1, left) == 0)
            return vm_fail("the user's socket did not reach EOF within %d ms", ms);
        r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return 0;
    }
}

/* One request line on the control connection, one reply line back. */
static int control(const char *cmd, char *reply, size_t n)
{
    size_t len = 0;

    if (ctl_fd < 0) {
        if ((ctl_fd = connect_host(ctl_lport, VM_PORT_CONTROL)) < 0)
            return vm_fail("control connection: %s", vm_why);
    }
    if (vm_write_all(ctl_fd, cmd, strlen(cmd)) < 0 || vm_write_all(ctl_fd, "\n", 1) < 0)
        return -1;
    for (;;) {
        if (vm_read_exact(ctl_fd, reply + len, 1) < 0)
            return vm_fail("control reply to '%s': %s", cmd, vm_why);
        if (reply[len] == '\n' || len == n - 2)
            break;
        len++;
    }
    reply[len] = 0;
    return 0;
}

/* How the host's side of the connection from local_port ended, once it is no longer open. */
static int host_result(uint32_t local_port, char *reply, size_t n, int ms)
{
    char cmd[32];
    double end = vm_now() + ms / 1000.0;

    snprintf(cmd, sizeof(cmd), "RESULT %u", local_port);
    for (;;) {
        if (control(cmd, reply, n) < 0)
            return -1;
        if (strcmp(reply, "OPEN") != 0 && strcmp(reply, "CONNECTING") != 0)
            return 0;
        if (vm_now() > end)
            return vm_fail("the host still has port %u open after %d ms", local_port, ms);
        usleep(100000);
    }
}

/* SendShutdown, then the host (seeing EOF) closes, and Linux answers a full shutdown with RST. */
static int shutdown_until_rst(uint32_t local_port, uint32_t remote_port)
{
    int r = uvsock_send_shutdown(dev, host_addr(local_port, remote_port));

    if (r != UVSOCK_OK)
        return vm_fail("send_shutdown(%u) = %s", local_port, uvsock_status_str(r));
    return wait_event(UVSOCK_EVENT_RST, local_port, EVENT_MS, NULL);
}

/* ------------------------------------------------------------------ scenarios -- */

static int sc_get_cid(void)
{
    uint32_t cid = uvsock_get_cid(dev);

    return cid == CID_BOOT ? 0 : vm_fail("GetCid = %u, want %u", cid, CID_BOOT);
}

static int sc_bulk(void)
{
    const uint64_t n = 16u << 20;
    int fd;

    /* Guest -> host: the host's checksum of what arrived must be ours. */
    if ((fd = connect_host(10100, VM_PORT_SINK)) < 0)
        return -1;
    if (vm_sink_send(fd, n, 2, 1, NULL) < 0 || shutdown_until_rst(10100, VM_PORT_SINK) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    /* Host -> guest: every byte checked against the pattern; the host closes after them. */
    if ((fd = connect_host(10101, VM_PORT_SOURCE)) < 0)
        return -1;
    if (vm_source_recv(fd, n, 1, NULL) < 0 ||
        wait_event(UVSOCK_EVENT_SHUTDOWN, 10101, EVENT_MS, NULL) < 0) {
        close(fd);
        return -1;
    }
    uvsock_send_rst(dev, host_addr(10101, VM_PORT_SOURCE));
    close(fd);
    return 0;
}

static int sc_host_connect(void)
{
    const uint32_t port = 10200;
    struct uvsock_event ev;
    char cmd[64], reply[64];
    uint8_t buf[16384];
    size_t echoed = 0;
    int sv[2], r;

    snprintf(cmd, sizeof(cmd), "CONNECT %u %u", uvsock_get_cid(dev), port);
    if (control(cmd, reply, sizeof(reply)) < 0)
        return -1;
    if (strcmp(reply, "STARTED") != 0)
        return vm_fail("host: %s", reply);
    if (wait_event(UVSOCK_EVENT_REQUEST, port, EVENT_MS, &ev) < 0)
        return -1;
    if (ev.addr.remote_cid != UVSOCK_CID_HOST)
        return vm_fail("Request from CID %u, want 2", ev.addr.remote_cid);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return vm_fail("socketpair: %s", strerror(errno));
    if ((r = uvsock_send_response(dev, ev.addr, sv[1])) != UVSOCK_OK) {
        close(sv[0]);
        close(sv[1]);
        return vm_fail("send_response = %s", uvsock_status_str(r));
    }
    /* The host sends VM_H2G_BYTES in 16 KiB pieces and waits for each to come back. */
    while (echoed < VM_H2G_BYTES) {
        ssize_t n = recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT);

        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (vm_wait(sv[0], POLLIN, "echo to the host") < 0)
                goto fail;
            continue;
        }
        if (n <= 0) {
            vm_fail("EOF after echoing %zu of %u bytes", echoed, VM_H2G_BYTES);
            goto fail;
        }
        if (vm_write_all(sv[0], buf, (size_t)n) < 0)
            goto fail;
        echoed += (size_t)n;
    }
    /* The host closes once it has checked the echo. */
    if (wait_event(UVSOCK_EVENT_SHUTDOWN, port, EVENT_MS, NULL) < 0)
        goto fail;
    uvsock_send_rst(dev, ev.addr);
    close(sv[0]);
    if (host_result(port, reply, sizeof(reply), EVENT_MS) < 0)
        return -1;
    return strcmp(reply, "OK") == 0 ? 0 : vm_fail("host: %s", reply);
fail:
    uvsock_send_rst(dev, ev.addr);
    close(sv[0]);
    return -1;
}

static int sc_shutdown(void)
{
    char reply[64];
    int fd = connect_host(10300, VM_PORT_ECHO);

    if (fd < 0)
        return -1;
    if (echo_check(fd, 4096, 3) < 0 || shutdown_until_rst(10300, VM_PORT_ECHO) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    if (host_result(10300, reply, sizeof(reply), EVENT_MS) < 0)
        return -1;
    return strcmp(reply, "EOF 4096") == 0 ? 0 : vm_fail("host saw '%s', want 'EOF 4096'", reply);
}

/* The host sends "hello" and closes: Shutdown callback, EOF on the user's socket. */
static int open_closing(uint32_t port, int *fd)
{
    char hello[5];

    if ((*fd = connect_host(port, VM_PORT_CLOSE)) < 0)
        return -1;
    if (vm_read_exact(*fd, hello, 5) < 0)
        return -1;
    if (memcmp(hello, "hello", 5) != 0)
        return vm_fail("got '%.5s', want 'hello'", hello);
    if (wait_event(UVSOCK_EVENT_SHUTDOWN, port, EVENT_MS, NULL) < 0)
        return -1;
    return expect_eof(*fd, EVENT_MS);
}

static int sc_host_close(void)
{
    int fd, r = open_closing(10310, &fd);

    uvsock_send_rst(dev, host_addr(10310, VM_PORT_CLOSE));
    if (fd >= 0)
        close(fd);
    return r;
}

static int sc_rst(void)
{
    char reply[64];
    int fd = connect_host(10400, VM_PORT_ECHO), r;

    if (fd < 0)
        return -1;
    if (echo_check(fd, 4096, 4) < 0) {
        close(fd);
        return -1;
    }
    r = uvsock_send_rst(dev, host_addr(10400, VM_PORT_ECHO));
    if (r != UVSOCK_OK) {
        close(fd);
        return vm_fail("send_rst = %s", uvsock_status_str(r));
    }
    /* The device forgets the connection: its end of the user's socket closes. */
    r = expect_eof(fd, EVENT_MS);
    close(fd);
    if (r < 0 || host_result(10400, reply, sizeof(reply), EVENT_MS) < 0)
        return -1;
    if (strncmp(reply, "EOF", 3) != 0 && strncmp(reply, "ERR", 3) != 0)
        return vm_fail("host saw '%s', want the connection ended", reply);
    return 0;
}

/* The host closes and the guest never answers: Linux resets it after its close timeout (8 s). */
static int sc_host_reset(void)
{
    int fd, r = open_closing(10410, &fd);

    if (r == 0)
        r = wait_event(UVSOCK_EVENT_RST, 10410, EVENT_MS, NULL);
    if (r < 0)
        uvsock_send_rst(dev, host_addr(10410, VM_PORT_CLOSE));
    if (fd >= 0)
        close(fd);
    return r;
}

static int sc_no_listener(void)
{
    int sv[2], r;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return vm_fail("socketpair: %s", strerror(errno));
    if ((r = uvsock_send_request(dev, host_addr(10500, VM_PORT_NOBODY), sv[1])) != UVSOCK_OK) {
        close(sv[0]);
        close(sv[1]);
        return vm_fail("send_request = %s", uvsock_status_str(r));
    }
    r = wait_event(UVSOCK_EVENT_RST, 10500, EVENT_MS, NULL);
    if (r == 0)
        r = expect_eof(sv[0], EVENT_MS);
    close(sv[0]);
    return r;
}

static int sc_send_vmo(void)
{
    const size_t n = 8u << 20; /* the VMO: SINK's 16-byte header, then the payload */
    struct uvsock_addr a = host_addr(10600, VM_PORT_SINK);
    uint8_t ans[16];
    uint64_t h;
    uint8_t *m;
    int fd, vmo, r;

    vmo = memfd_create("vm-vmo", MFD_CLOEXEC);
    if (vmo < 0 || ftruncate(vmo, (off_t)n) < 0)
        return vm_fail("memfd: %s", strerror(errno));
    m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, vmo, 0);
    if (m == MAP_FAILED) {
        close(vmo);
        return vm_fail("mmap: %s", strerror(errno));
    }
    vm_put64(m, n - 16);
    vm_put64(m + 8, VM_CHECK);
    vm_fill(m + 16, n - 16, 6, 0);
    h = vm_sum(VM_FNV_INIT, m + 16, n - 16);
    munmap(m, n);

    if ((fd = connect_host(a.local_port, a.remote_port)) < 0) {
        close(vmo);
        return -1;
    }
    r = uvsock_send_vmo(dev, a, vmo, 0, n);
    close(vmo); /* the device holds its own duplicate */
    if (r != UVSOCK_OK) {
        close(fd);
        return vm_fail("send_vmo = %s", uvsock_status_str(r));
    }
    if (wait_event(UVSOCK_EVENT_SEND_VMO_COMPLETE, a.local_port, EVENT_MS, NULL) < 0 ||
        vm_read_exact(fd, ans, 16) < 0) {
        close(fd);
        return -1;
    }
    if (vm_get64(ans) != n - 16 || vm_get64(ans + 8) != h) {
        close(fd);
        return vm_fail("host got %llu bytes with checksum %016llx, want %zu with %016llx",
                       (unsigned long long)vm_get64(ans), (unsigned long long)vm_get64(ans + 8),
                       n - 16, (unsigned long long)h);
    }
    r = shutdown_until_rst(a.local_port, a.remote_port);
    close(fd);
    return r;
}

#define MANY 64

static int sc_many(void)
{
    int fds[MANY], sv[2], r = -1, responses = 0, rsts = 0;
    uint8_t seen[MANY] = {0};
    size_t count = 0;

    for (int i = 0; i < MANY; i++)
        fds[i] = -1;
    /* All requests first, so the device really holds 64 connections at once. */
    for (int i = 0; i < MANY; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            vm_fail("socketpair: %s", strerror(errno));
            goto out;
        }
        if ((r = uvsock_send_request(dev, host_addr(10700 + (uint32_t)i, VM_PORT_ECHO), sv[1]))) {
            close(sv[0]);
            close(sv[1]);
            vm_fail("send_request #%d = %s", i, uvsock_status_str(r));
            r = -1;
            goto out;
        }
        fds[i] = sv[0];
    }
    r = -1;
    /* Responses and, later, Rsts in whatever order the device delivers them. */
    while (responses < MANY) {
        struct uvsock_event ev;
        uint32_t i;

        if (uvsock_event_queue_pop(q, &ev, EVENT_MS) != UVSOCK_OK) {
            vm_fail("%d of %d Responses within %d ms", responses, MANY, EVENT_MS);
            goto out;
        }
        i = ev.addr.local_port - 10700;
        if (ev.type != UVSOCK_EVENT_TRANSPORT_RESET && i >= MANY) {
            fprintf(stderr, "vm-scenarios: (skipped a stray %s)\n", ev_desc(&ev));
            continue;
        }
        if (ev.type != UVSOCK_EVENT_RESPONSE || seen[i]) {
            vm_fail("expected Responses, got %s", ev_desc(&ev));
            goto out;
        }
        seen[i] = 1;
        responses++;
    }
    if (uvsock_conn_list(dev, NULL, 0, &count) != UVSOCK_OK || count < MANY) {
        vm_fail("the device lists %zu connections, want at least %d", count, MANY);
        goto out;
    }
    for (int i = 0; i < MANY; i++)
        if (echo_check(fds[i], 4096, 100 + (uint64_t)i) < 0) {
            vm_fail("connection %d: %.200s", i, vm_why);
            goto out;
        }
    for (int i = 0; i < MANY; i++)
        if ((r = uvsock_send_shutdown(dev, host_addr(10700 + (uint32_t)i, VM_PORT_ECHO)))) {
            vm_fail("send_shutdown #%d = %s", i, uvsock_status_str(r));
            r = -1;
            goto out;
        }
    r = -1;
    while (rsts < MANY) {
        struct uvsock_event ev;
        uint32_t i;

        if (uvsock_event_queue_pop(q, &ev, EVENT_MS) != UVSOCK_OK) {
            vm_fail("%d of %d Rsts within %d ms", rsts, MANY, EVENT_MS);
            goto out;
        }
        i = ev.addr.local_port - 10700;
        if (ev.type != UVSOCK_EVENT_TRANSPORT_RESET && i >= MANY) {
            fprintf(stderr, "vm-scenarios: (skipped a stray %s)\n", ev_desc(&ev));
            continue;
        }
        if (ev.type == UVSOCK_EVENT_RST && seen[i] == 2) {
            /* Linux resets twice: when our SHUTDOWN arrives and when its socket closes. */
            fprintf(stderr, "vm-scenarios: (skipped a second %s)\n", ev_desc(&ev));
            continue;
        }
        if (ev.type != UVSOCK_EVENT_RST || seen[i] != 1) {
            vm_fail("expected Rsts, got %s", ev_desc(&ev));
            goto out;
        }
        seen[i] = 2;
        rsts++;
    }
    r = 0;
out:
    for (int i = 0; i < MANY; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        if (seen[i] == 1)
            uvsock_send_rst(dev, host_addr(10700 + (uint32_t)i, VM_PORT_ECHO));
    }
    return r;
}

/* What the device did, to explain the figures (interrupts against kicks, per queue). */
static void print_info(const char *label)
{
    struct uvsock_dev_info info;

    if (uvsock_dev_info(dev, &info) != UVSOCK_OK)
        return;
    printf("INFO %s %s: interrupts %llu, packets sent %llu, received %llu\n", label, info.uri,
           (unsigned long long)info.interrupts, (unsigned long long)info.packets_sent,
           (unsigned long long)info.packets_received);
    for (int i = 0; i < 3; i++)
        printf("INFO %s vq %s: size %u, kicks %llu (suppressed %llu), interrupts %llu\n", label,
               info.vq[i].name, info.vq[i].size, (unsigned long long)info.vq[i].kicks,
               (unsigned long long)info.vq[i].kicks_suppressed,
               (unsigned long long)info.vq[i].interrupts);
}

/* The same workloads as vm-linux-perf, through uvsock. */
static int sc_perf(const char *label, uint64_t bytes, int rounds)
{
    double secs = 0, med = 0, p99 = 0;
    int fd;

    if ((fd = connect_host(10800, VM_PORT_SINK)) < 0)
        return -1;
    if (vm_sink_send(fd, bytes, 1, 0, &secs) < 0 || shutdown_until_rst(10800, VM_PORT_SINK) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    printf("PERF %s tx %.2f MB/s (%llu MiB in %.3f s)\n", label, (double)bytes / secs / 1e6,
           (unsigned long long)(bytes >> 20), secs);

    if ((fd = connect_host(10801, VM_PORT_SOURCE)) < 0)
        return -1;
    if (vm_source_recv(fd, bytes, 0, &secs) < 0 ||
        wait_event(UVSOCK_EVENT_SHUTDOWN, 10801, EVENT_MS, NULL) < 0) {
        close(fd);
        return -1;
    }
    uvsock_send_rst(dev, host_addr(10801, VM_PORT_SOURCE));
    close(fd);
    printf("PERF %s rx %.2f MB/s (%llu MiB in %.3f s)\n", label, (double)bytes / secs / 1e6,
           (unsigned long long)(bytes >> 20), secs);

    if ((fd = connect_host(10802, VM_PORT_ECHO)) < 0)
        return -1;
    if (vm_rtt(fd, rounds, &med, &p99) < 0 || shutdown_until_rst(10802, VM_PORT_ECHO) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    printf("PERF %s rtt %.1f %.1f us (median, p99 of %d)\n", label, med, p99, rounds);
    print_info(label);
    return 0;
}

static int sc_transport_reset(void)
{
    struct uvsock_event ev;
    char reply[64];
    size_t count = 99;
    int old, fresh, r;
    double end;

    /* A connection that must not survive the reset. */
    if ((old = connect_host(10900, VM_PORT_ECHO)) < 0)
        return -1;
    if (echo_check(old, 4096, 9) < 0 || control("MIGRATE", reply, sizeof(reply)) < 0)
        goto fail;
    if (strcmp(reply, "OK") != 0) {
        vm_fail("host: MIGRATE: %s", reply);
        goto fail;
    }
    printf("(level 1 is migrating this guest to a qemu with guest-cid=%u)\n", CID_MIGRATED);
    fflush(stdout);
    /* Connections die with the reset, without callbacks of their own: only the reset counts. */
    end = vm_now() + MIGRATE_MS / 1000.0;
    for (;;) {
        int left = (int)((end - vm_now()) * 1000.0);

        if (uvsock_event_queue_pop(q, &ev, left > 0 ? left : 0) != UVSOCK_OK) {
            vm_fail("no TransportReset within %d ms of asking for the migration", MIGRATE_MS);
            goto fail;
        }
        if (ev.type == UVSOCK_EVENT_TRANSPORT_RESET)
            break;
        if (ev.addr.local_port != 10900 && ev.addr.local_port != ctl_lport) {
            fprintf(stderr, "vm-scenarios: (skipped a stray %s)\n", ev_desc(&ev));
            continue;
        }
        vm_fail("before the TransportReset: %s", ev_desc(&ev));
        goto fail;
    }
    if (ev.new_cid != CID_MIGRATED) {
        vm_fail("TransportReset(new_cid=%u), want %u", ev.new_cid, CID_MIGRATED);
        goto fail;
    }
    if (uvsock_get_cid(dev) != CID_MIGRATED) {
        vm_fail("GetCid = %u after the reset, want %u", uvsock_get_cid(dev), CID_MIGRATED);
        goto fail;
    }
    if (uvsock_conn_list(dev, NULL, 0, &count) != UVSOCK_OK || count != 0) {
        vm_fail("%zu connections survived the reset", count);
        goto fail;
    }
    if (expect_eof(old, EVENT_MS) < 0) {
        vm_fail("the old connection's socket is still open after the reset");
        goto fail;
    }
    close(old);
    /* The control connection died too; the next control() opens a new one. */
    close(ctl_fd);
    ctl_fd = -1;
    ctl_lport++;
    if ((fresh = connect_host(10901, VM_PORT_ECHO)) < 0)
        return vm_fail("new connection after the reset: %s", vm_why);
    r = echo_check(fresh, 65536, 10);
    if (r == 0)
        r = shutdown_until_rst(10901, VM_PORT_ECHO);
    close(fresh);
    return r;
fail:
    close(old);
    return -1;
}

/* ----------------------------------------------------------------------- main -- */

struct scenario {
    const char *name;
    int (*run)(void);
};

static const struct scenario scenarios[] = {
    {"get-cid", sc_get_cid},           {"bulk-16mib", sc_bulk},
    {"host-connect", sc_host_connect}, {"shutdown", sc_shutdown},
    {"host-close", sc_host_close},     {"rst", sc_rst},
    {"host-reset", sc_host_reset},     {"no-listener", sc_no_listener},
    {"send-vmo-8mib", sc_send_vmo},    {"many-64", sc_many},
};

static void result(const char *name, int r, double t0)
{
    if (r == 0)
        printf("PASS %s (%.1f s)\n", name, vm_now() - t0);
    else
        printf("FAIL %s: %s\n", name, vm_why);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    char uri[256];
    uint64_t bytes;
    int rounds, r;
    double t0;

    if (argc != 4) {
        fprintf(stderr, "usage: vm-scenarios URI MIB ROUNDS\n");
        return 2;
    }
    bytes = strtoull(argv[2], NULL, 0) << 20;
    rounds = atoi(argv[3]);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if ((r = uvsock_open(argv[1], &dev)) != UVSOCK_OK ||
        (r = uvsock_event_queue_new(&q)) != UVSOCK_OK ||
        (r = uvsock_start_event_queue(dev, q)) != UVSOCK_OK) {
        vm_fail("cannot open %s: %s (%s)", argv[1], uvsock_status_str(r), uvsock_last_error());
        for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
            result(scenarios[i].name, -1, 0);
        result("perf-uvsock", -1, 0);
        result("transport-reset", -1, 0);
        result("perf-uvsock-poll", -1, 0);
        printf("SCENARIOS DONE\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        t0 = vm_now();
        vm_why[0] = 0;
        result(scenarios[i].name, scenarios[i].run(), t0);
    }
    t0 = vm_now();
    result("perf-uvsock", sc_perf("uvsock", bytes, rounds), t0);
    /* Last: it changes the CID and drops every connection. */
    t0 = vm_now();
    result("transport-reset", sc_transport_reset(), t0);
    /*
     * The workload once more with the transport's busy-poll mode (no interrupts): the same
     * device, reopened (it is reset on open and keeps CID 4).
     */
    uvsock_close(dev);
    dev = NULL;
    t0 = vm_now();
    snprintf(uri, sizeof(uri), "%s,poll=1", argv[1]);
    if ((r = uvsock_open(uri, &dev)) != UVSOCK_OK || (r = uvsock_start_event_queue(dev, q))) {
        vm_fail("cannot open %s: %s (%s)", uri, uvsock_status_str(r), uvsock_last_error());
        result("perf-uvsock-poll", -1, t0);
    } else {
        ctl_fd = -1;
        result("perf-uvsock-poll", sc_perf("uvsock-poll", bytes, rounds), t0);
    }
    printf("SCENARIOS DONE\n");
    uvsock_close(dev);
    uvsock_event_queue_free(q);
    return 0;
}
