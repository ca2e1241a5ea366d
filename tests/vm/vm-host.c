/* SPDX-License-Identifier: MIT */
/*
 * vm-host: the host peers of the VM suite, run in level 1 where the device's host side lives
 * (vhost-vsock). AF_VSOCK listeners for the services vm-proto.h describes, one thread per
 * connection, and a record of how each connection ended so the guest can ask (RESULT).
 *
 *   vm-host MIGRATE_REQUEST_FILE
 *
 * "MIGRATE" on the control port creates MIGRATE_REQUEST_FILE; level 1's script (l1-run.sh)
 * polls for it and migrates level 2, because only that script owns the qemu monitor.
 */
#include <linux/vm_sockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vm-proto.h"

static const char *migrate_file;

/* ------------------------------------------------------- outcomes, by guest port -- */

#define MAX_RESULTS 1024

static struct {
    uint32_t port;
    char what[64];
} results[MAX_RESULTS];
static size_t n_results;
static pthread_mutex_t results_lock = PTHREAD_MUTEX_INITIALIZER;

static void record(uint32_t port, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void record(uint32_t port, const char *fmt, ...)
{
    va_list ap;
    size_t i;

    pthread_mutex_lock(&results_lock);
    for (i = 0; i < n_results && results[i].port != port; i++)
        ;
    if (i == n_results) {
        if (n_results == MAX_RESULTS) /* the oldest entries are the least interesting */
            i = 0;
        else
            n_results++;
    }
    results[i].port = port;
    va_start(ap, fmt);
    vsnprintf(results[i].what, sizeof(results[i].what), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&results_lock);
}

static void lookup(uint32_t port, char *out, size_t n)
{
    snprintf(out, n, "NONE");
    pthread_mutex_lock(&results_lock);
    for (size_t i = 0; i < n_results; i++)
        if (results[i].port == port)
            snprintf(out, n, "%s", results[i].what);
    pthread_mutex_unlock(&results_lock);
}

/* ------------------------------------------------------------------- services -- */

struct conn {
    int fd;
    uint32_t peer_cid, peer_port;
    void (*serve)(struct conn *c);
};

/* Reads until EOF or error; records the outcome. Returns bytes read. */
static uint64_t drain(struct conn *c, uint64_t before)
{
    uint8_t buf[65536];
    uint64_t n = before;

    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);

        if (r > 0) {
            n += (uint64_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            record(c->peer_port, "EOF %llu", (unsigned long long)n);
        else
            record(c->peer_port, "ERR %d", errno);
        return n;
    }
}

static void serve_echo(struct conn *c)
{
    uint8_t buf[65536];
    uint64_t n = 0;

    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                record(c->peer_port, "EOF %llu", (unsigned long long)n);
            else
                record(c->peer_port, "ERR %d", errno);
            return;
        }
        n += (uint64_t)r;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = send(c->fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);

            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                record(c->peer_port, "ERR %d", errno);
                return;
            }
            off += w;
        }
    }
}

static int read_full(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = recv(fd, p, n, 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void serve_sink(struct conn *c)
{
    uint8_t buf[VM_CHUNK], hdr[16];
    uint64_t want, got = 0, h = VM_FNV_INIT;
    int check;

    if (read_full(c->fd, hdr, 16) < 0) {
        record(c->peer_port, "ERR %d (no header)", errno);
        return;
    }
    want = vm_get64(hdr);
    check = (vm_get64(hdr + 8) & VM_CHECK) != 0;
    /* Whole chunks from offset 0, as vm_sum's words must line up with the sender's. */
    while (got < want) {
        size_t n = want - got < VM_CHUNK ? (size_t)(want - got) : VM_CHUNK;

        if (read_full(c->fd, buf, n) < 0)
            break;
        if (check)
            h = vm_sum(h, buf, n);
        got += n;
    }
    vm_put64(hdr, got);
    vm_put64(hdr + 8, h);
    if (got == want && write_full(c->fd, hdr, 16) < 0) {
        record(c->peer_port, "ERR %d (answer)", errno);
        return;
    }
    drain(c, got);
}

static void serve_source(struct conn *c)
{
    uint8_t buf[VM_CHUNK], hdr[16];
    uint64_t want;

    if (read_full(c->fd, hdr, 16) < 0) {
        record(c->peer_port, "ERR %d (no header)", errno);
        return;
    }
    want = vm_get64(hdr);
    for (uint64_t off = 0; off < want; off += VM_CHUNK) {
        size_t n = want - off < VM_CHUNK ? (size_t)(want - off) : VM_CHUNK;

        vm_chunk(buf, VM_SOURCE_SEED, off / VM_CHUNK);
        if (write_full(c->fd, buf, n) < 0) {
            record(c->peer_port, "ERR %d after %llu bytes", errno, (unsigned long long)off);
            return;
        }
    }
    record(c->peer_port, "OK");
}

static void serve_close(struct conn *c)
{
    record(c->peer_port, write_full(c->fd, (const uint8_t *)"hello", 5) ? "ERR" : "OK");
}

/* The host connects to the guest and checks an echo of VM_H2G_BYTES; runs on its own thread. */
struct h2g {
    uint32_t cid, port;
};

static void *host_to_guest(void *arg)
{
    struct h2g job = *(struct h2g *)arg;
    struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = job.cid, .svm_port = job.port};
    struct timeval tv = {.tv_sec = VM_IO_MS / 1000};
    uint8_t *out = malloc(VM_H2G_BYTES), *in = malloc(VM_H2G_BYTES);
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

    free(arg);
    if (!out || !in) {
        record(job.port, "ERR no memory");
        goto out;
    }
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        record(job.port, "ERR %d (connect to %u:%u)", errno, job.cid, job.port);
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    record(job.port, "OPEN");
    vm_fill(out, VM_H2G_BYTES, job.port, 0);
    /* The guest echoes; write and read in pieces so neither side's buffer must hold it all. */
    for (size_t off = 0; off < VM_H2G_BYTES; off += 16384) {
        if (write_full(fd, out + off, 16384) < 0 || read_full(fd, in + off, 16384) < 0) {
            record(job.port, "ERR %d at byte %zu", errno, off);
            goto out;
        }
    }
    record(job.port, memcmp(in, out, VM_H2G_BYTES) ? "ERR echo differs" : "OK");
out:
    if (fd >= 0)
        close(fd);
    free(out);
    free(in);
    return NULL;
}

static void serve_control(struct conn *c)
{
    char line[128];
    size_t len = 0;

    for (;;) {
        char reply[96];
        uint32_t a, b;
        ssize_t r = recv(c->fd, line + len, 1, 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        if (line[len] != '\n') {
            if (len < sizeof(line) - 2)
                len++;
            continue;
        }
        line[len] = 0;
        len = 0;
        fprintf(stderr, "vm-host: control: %s\n", line);
        if (sscanf(line, "RESULT %u", &a) == 1) {
            lookup(a, reply, sizeof(reply) - 1);
        } else if (sscanf(line, "CONNECT %u %u", &a, &b) == 2) {
            struct h2g *job = malloc(sizeof(*job));
            pthread_t t;

            snprintf(reply, sizeof(reply), "STARTED");
            if (!job)
                snprintf(reply, sizeof(reply), "ERR no memory");
            else {
                job->cid = a;
                job->port = b;
                record(b, "CONNECTING");
                if (pthread_create(&t, NULL, host_to_guest, job) != 0) {
                    free(job);
                    snprintf(reply, sizeof(reply), "ERR no thread");
                } else
                    pthread_detach(t);
            }
        } else if (strcmp(line, "MIGRATE") == 0) {
            FILE *f = fopen(migrate_file, "w");

            snprintf(reply, sizeof(reply), f ? "OK" : "ERR cannot create the request file");
            if (f)
                fclose(f);
        } else
            snprintf(reply, sizeof(reply), "ERR unknown command");
        strcat(reply, "\n");
        if (write_full(c->fd, (const uint8_t *)reply, strlen(reply)) < 0)
            return;
    }
}

/* ------------------------------------------------------------------ listeners -- */

static void *conn_thread(void *arg)
{
    struct conn *c = arg;

    c->serve(c);
    close(c->fd);
    free(c);
    return NULL;
}

struct listener {
    uint32_t port;
    void (*serve)(struct conn *c);
    const char *name;
};

static void *listen_thread(void *arg)
{
    const struct listener *l = arg;
    struct sockaddr_vm sa = {
        .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = l->port};
    int lfd = socket(AF_VSOCK, SOCK_STREAM, 0);

    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0) {
        fprintf(stderr, "vm-host: FAILED: %s listener on port %u: %s\n", l->name, l->port,
                strerror(errno));
        exit(1);
    }
    for (;;) {
        socklen_t sl = sizeof(sa);
        int fd = accept(lfd, (struct sockaddr *)&sa, &sl);
        struct conn *c;
        pthread_t t;

        if (fd < 0) {
            if (errno != EINTR)
                fprintf(stderr, "vm-host: accept on %u: %s\n", l->port, strerror(errno));
            continue;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->peer_cid = sa.svm_cid;
        c->peer_port = sa.svm_port;
        c->serve = l->serve;
        record(c->peer_port, "OPEN");
        if (pthread_create(&t, NULL, conn_thread, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct listener listeners[] = {
        {VM_PORT_CONTROL, serve_control, "control"}, {VM_PORT_ECHO, serve_echo, "echo"},
        {VM_PORT_SINK, serve_sink, "sink"},          {VM_PORT_SOURCE, serve_source, "source"},
        {VM_PORT_CLOSE, serve_close, "close"},
    };
    pthread_t t;

    if (argc != 2) {
        fprintf(stderr, "usage: vm-host MIGRATE_REQUEST_FILE\n");
        return 2;
    }
    migrate_file = argv[1];
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof(listeners) / sizeof(listeners[0]); i++)
        if (pthread_create(&t, NULL, listen_thread, (void *)&listeners[i]) != 0) {
            fprintf(stderr, "vm-host: FAILED: no thread\n");
            return 1;
        }
    fprintf(stderr, "vm-host: listening\n");
    pause();
    return 0;
}
