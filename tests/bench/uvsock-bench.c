/* SPDX-License-Identifier: MIT */
/*
 * uvsock-bench: throughput and latency of a device through the Device protocol.
 *
 *   uvsock-bench [--device URI] [--mib N] [--rounds N] [--conns N] [--pcap FILE]
 *
 * Workloads (host side: the simulated device's services; on another device, run peers that
 * offer the same ports):
 *   tx      guest -> host, discard service (port 9), 64 KiB writes
 *   rx      host -> guest, source service (port 19), 64 KiB reads, bytes checked
 *   echo    both ways at once through echo (port 7)
 *   rtt     1-byte round trips through echo: median and p99
 *   setup   connections opened and closed per second (Request/Response, Shutdown/Rst)
 * Prints one line per workload and the process's peak RSS. Timings are wall-clock: run on a
 * quiet machine and repeat (docs/performance.md says how the published figures were made).
 */
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "uvsock.h"
#include "uvsock_sim.h"

#define CHUNK (64 * 1024)

struct bench {
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    uint32_t next_port;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fatal(const char *what, int status)
{
    fprintf(stderr, "uvsock-bench: %s: %s\n", what, uvsock_status_str(status));
    exit(1);
}

/* Waits for `type` on addr; any other event for addr is fatal. */
static void wait_for(struct bench *b, enum uvsock_event_type type, struct uvsock_addr addr)
{
    struct uvsock_event ev;

    for (;;) {
        int r = uvsock_event_queue_pop(b->q, &ev, 10000);
        if (r)
            fatal("waiting for a callback", r);
        if (ev.addr.local_port != addr.local_port)
            continue;
        if (ev.type == type)
            return;
        fprintf(stderr, "uvsock-bench: got %s while waiting for %s\n",
                uvsock_event_type_str(ev.type), uvsock_event_type_str(type));
        exit(1);
    }
}

/* Connects to host port `port`; returns our end of the socketpair. */
static int bench_connect(struct bench *b, uint32_t port, struct uvsock_addr *addr)
{
    int sv[2], r;

    *addr = (struct uvsock_addr){b->next_port++, UVSOCK_CID_HOST, port};
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("socketpair");
        exit(1);
    }
    if ((r = uvsock_send_request(b->dev, *addr, sv[1])))
        fatal("SendRequest", r);
    wait_for(b, UVSOCK_EVENT_RESPONSE, *addr);
    return sv[0];
}

static void bench_close(struct bench *b, int fd, struct uvsock_addr addr)
{
    uvsock_send_rst(b->dev, addr);
    close(fd);
}

struct writer {
    int fd;
    uint64_t bytes;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    static uint8_t buf[CHUNK];
    uint64_t left = w->bytes;

    while (left) {
        size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
        ssize_t k = write(w->fd, buf, n);
        if (k <= 0)
            break;
        left -= (uint64_t)k;
    }
    return NULL;
}

static void report(const char *name, uint64_t bytes, double secs)
{
    printf("%-6s %8.1f MiB in %6.3f s = %8.1f MiB/s\n", name, (double)bytes / (1 << 20), secs,
           (double)bytes / (1 << 20) / secs);
}

static void bench_tx(struct bench *b, uint64_t bytes)
{
    struct uvsock_addr addr;
    int fd = bench_connect(b, 9, &addr);
    struct writer w = {fd, bytes};
    double t0 = now_s();
    int r;

    writer_main(&w);
    /* Done when the host has taken everything: SHUTDOWN goes out after the last byte, and
     * the host answers it with RST. */
    if ((r = uvsock_send_shutdown(b->dev, addr)))
        fatal("SendShutdown", r);
    wait_for(b, UVSOCK_EVENT_RST, addr);
    report("tx", bytes, now_s() - t0);
    close(fd);
}

static void bench_rx(struct bench *b, uint64_t bytes)
{
    static uint8_t buf[CHUNK];
    struct uvsock_addr addr;
    int fd = bench_connect(b, 19, &addr);
    uint64_t got = 0;
    double t0 = now_s();

    while (got < bytes) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) {
            fprintf(stderr, "uvsock-bench: rx stream ended at %llu\n", (unsigned long long)got);
            exit(1);
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != uvsock_sim_source_byte(got + (uint64_t)i)) {
                fprintf(stderr, "uvsock-bench: rx byte %llu wrong\n",
                        (unsigned long long)(got + (uint64_t)i));
                exit(1);
            }
        }
        got += (uint64_t)n;
    }
    report("rx", bytes, now_s() - t0);
    bench_close(b, fd, addr);
}

static void bench_echo(struct bench *b, uint64_t bytes)
{
    static uint8_t buf[CHUNK];
    struct uvsock_addr addr;
    int fd = bench_connect(b, 7, &addr);
    struct writer w = {fd, bytes};
    pthread_t t;
    uint64_t got = 0;
    double t0 = now_s();

    pthread_create(&t, NULL, writer_main, &w);
    while (got < bytes) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        got += (uint64_t)n;
    }
    pthread_join(t, NULL);
    report("echo", got, now_s() - t0);
    bench_close(b, fd, addr);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_rtt(struct bench *b, int rounds)
{
    struct uvsock_addr addr;
    int fd = bench_connect(b, 7, &addr);
    double *t = calloc((size_t)rounds, sizeof(*t));
    char c = 'x';

    for (int i = 0; i < rounds; i++) {
        double t0 = now_s();
        if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
            fprintf(stderr, "uvsock-bench: round trip %d failed\n", i);
            exit(1);
        }
        t[i] = now_s() - t0;
    }
    qsort(t, (size_t)rounds, sizeof(*t), cmp_double);
    printf("rtt    %d round trips of 1 byte: median %.1f us, p99 %.1f us\n", rounds,
           t[rounds / 2] * 1e6, t[rounds * 99 / 100] * 1e6);
    free(t);
    bench_close(b, fd, addr);
}

static void bench_setup(struct bench *b, int conns)
{
    double t0 = now_s();

    for (int i = 0; i < conns; i++) {
        struct uvsock_addr addr;
        int fd = bench_connect(b, 9, &addr);
        int r = uvsock_send_shutdown(b->dev, addr);
        if (r)
            fatal("SendShutdown", r);
        wait_for(b, UVSOCK_EVENT_RST, addr);
        close(fd);
    }
    printf("setup  %d connections opened and closed: %.0f per second\n", conns,
           conns / (now_s() - t0));
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"device", required_argument, NULL, 'd'},
                                         {"mib", required_argument, NULL, 'm'},
                                         {"rounds", required_argument, NULL, 'r'},
                                         {"conns", required_argument, NULL, 'c'},
                                         {"pcap", required_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *uri = "sim", *pcap = NULL;
    uint64_t mib = 256;
    int rounds = 10000, conns = 1000, opt, r;
    struct bench b = {.next_port = 40000};
    struct rusage ru;

    while ((opt = getopt_long(argc, argv, "d:m:r:c:P:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            uri = optarg;
            break;
        case 'm':
            mib = strtoull(optarg, NULL, 0);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'c':
            conns = atoi(optarg);
            break;
        case 'P':
            pcap = optarg;
            break;
        default:
            fprintf(stderr,
                    "usage: %s [--device URI] [--mib N] [--rounds N] [--conns N] [--pcap FILE]\n",
                    argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (mib == 0 || rounds < 1 || conns < 1) {
        fprintf(stderr, "uvsock-bench: --mib, --rounds and --conns must be positive\n");
        return 2;
    }
    if ((r = uvsock_open(uri, &b.dev))) {
        fprintf(stderr, "uvsock-bench: open %s: %s: %s\n", uri, uvsock_status_str(r),
                uvsock_last_error());
        return 1;
    }
    if ((r = uvsock_event_queue_new(&b.q)) || (r = uvsock_start_event_queue(b.dev, b.q)))
        fatal("start", r);
    if (pcap && (r = uvsock_capture_start(b.dev, pcap))) {
        fprintf(stderr, "uvsock-bench: %s\n", uvsock_last_error());
        return 1;
    }
    printf("device %s, CID %u%s%s\n", uri, uvsock_get_cid(b.dev), pcap ? ", capturing to " : "",
           pcap ? pcap : "");
    bench_tx(&b, mib << 20);
    bench_rx(&b, mib << 20);
    bench_echo(&b, mib << 20);
    bench_rtt(&b, rounds);
    bench_setup(&b, conns);
    if (pcap) {
        struct uvsock_capture_stats cs;
        uvsock_capture_stats(b.dev, &cs);
        if ((r = uvsock_capture_stop(b.dev)))
            fprintf(stderr, "uvsock-bench: %s\n", uvsock_last_error());
        printf("capture %llu packets, %llu bytes, %llu dropped\n", (unsigned long long)cs.packets,
               (unsigned long long)cs.bytes, (unsigned long long)cs.dropped);
    }
    uvsock_close(b.dev);
    uvsock_event_queue_free(b.q);
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %ld KiB\n", ru.ru_maxrss);
    return 0;
}
