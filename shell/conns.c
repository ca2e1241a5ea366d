/* SPDX-License-Identifier: MIT */
/*
 * Connections by short id: c1, c2, ... for the driver's side (our end of the socketpair the
 * device owns the other end of) and h1, h2, ... for the sim's host side (the host program's
 * fd from uvsock_sim_connect / uvsock_sim_accept). Ids are never reused, so a closed c1 in
 * `list` is never confused with a new connection.
 *
 * Sockets are non-blocking and driven by the main loop: received bytes go to the rx buffer
 * (printed as they arrive, or held for `recv`), bytes to send wait in the tx buffer until the
 * socket takes them, so a large `send` never blocks the prompt.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shell.h"

#define SHOW_KEEP (64u * 1024)        /* in show mode, the last bytes kept for expect/recv */
#define HOLD_MAX  (16u * 1024 * 1024) /* in hold mode, stop reading past this */

static struct conn *head, **tail = &head;
static int next_id[2] = {1, 1};

void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        uint8_t *np;

        while (cap < b->len + n)
            cap *= 2;
        np = realloc(b->p, cap);
        if (!np) {
            fail(NULL, UVSOCK_ERR_NO_MEMORY, "%zu bytes dropped", n);
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void buf_drop(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

struct conn *cn_new(enum conn_kind kind, struct uvsock_addr addr, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->kind = kind;
    c->id = next_id[kind]++;
    c->addr = addr;
    c->fd = fd;
    *tail = c;
    tail = &c->next;
    return c;
}

struct conn *cn_first(void)
{
    return head;
}

const char *cn_phase_str(enum conn_phase p)
{
    switch (p) {
    case PH_CONNECTING:
        return "connecting";
    case PH_INCOMING:
        return "incoming";
    case PH_OPEN:
        return "open";
    case PH_CLOSED:
        return "closed";
    }
    return "?";
}

const char *cn_name(const struct conn *c)
{
    static char names[4][16];
    static int k;
    char *s = names[k++ % 4];

    snprintf(s, 16, "%c%d", c->kind == CONN_HOST ? 'h' : 'c', c->id);
    return s;
}

const char *addr_str(struct uvsock_addr a)
{
    static char names[4][48];
    static int k;
    char *s = names[k++ % 4];

    snprintf(s, 48, "%u -> %u:%u", a.local_port, a.remote_cid, a.remote_port);
    return s;
}

static int addr_eq(struct uvsock_addr a, struct uvsock_addr b)
{
    return a.local_port == b.local_port && a.remote_cid == b.remote_cid &&
           a.remote_port == b.remote_port;
}

struct conn *cn_by_addr(struct uvsock_addr addr)
{
    for (struct conn *c = head; c; c = c->next)
        if (c->kind == CONN_GUEST && c->phase != PH_CLOSED && addr_eq(c->addr, addr))
            return c;
    return NULL;
}

uint32_t cn_free_port(void)
{
    static uint32_t next = 1024;

    for (;;) {
        int used = 0;

        next = next >= 60000 ? 1024 : next + 1;
        for (struct conn *c = head; c && !used; c = c->next)
            used = c->kind == CONN_GUEST && c->phase != PH_CLOSED && c->addr.local_port == next;
        if (!used)
            return next;
    }
}

/* Reads what is left in the socket, so bytes that arrived before the end are not lost. */
static void drain(struct conn *c)
{
    if (c->fd >= 0 && sh.data != DATA_OFF && !c->eof)
        cn_io(c, POLLIN);
}

void cn_close(struct conn *c, const char *why)
{
    if (c->phase == PH_CLOSED)
        return;
    c->phase = PH_CLOSED; /* first: the drain's end of stream is no news then */
    drain(c);
    c->closed_by = why;
    c->gen_active = 0;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->tx.len = 0;
}

void cn_forget_all(const char *why)
{
    for (struct conn *c = head; c; c = c->next)
        if (c->kind == CONN_GUEST)
            cn_close(c, why);
}

struct conn *cn_find(const char *ref, enum conn_kind kind, int *status, char *err, size_t errlen)
{
    const char *p = ref;
    char *end;
    unsigned long id;

    if ((*p == 'c' && kind == CONN_GUEST) || (*p == 'h' && kind == CONN_HOST))
        p++;
    id = strtoul(p, &end, 10);
    if (p[0] >= '0' && p[0] <= '9' && *end == '\0') {
        for (struct conn *c = head; c; c = c->next)
            if (c->kind == kind && (unsigned long)c->id == id)
                return c;
        *status = UVSOCK_ERR_NOT_FOUND;
        snprintf(err, errlen, "no connection %c%lu (see list)", kind == CONN_HOST ? 'h' : 'c', id);
        return NULL;
    }
    if (kind == CONN_GUEST && strchr(ref, ':')) {
        struct conn *found = NULL;
        int n = 0, lp = 0;
        unsigned cid, port, lport = 0;
        char junk;

        if (sscanf(ref, "%u:%u/%u%c", &cid, &port, &lport, &junk) == 3)
            lp = 1;
        else if (sscanf(ref, "%u:%u%c", &cid, &port, &junk) != 2) {
            *status = UVSOCK_ERR_INVALID_ARGS;
            snprintf(err, errlen, "'%s' is not CID:PORT or CID:PORT/LOCALPORT", ref);
            return NULL;
        }
        for (struct conn *c = head; c; c = c->next) {
            if (c->kind != CONN_GUEST || c->phase == PH_CLOSED || c->addr.remote_cid != cid ||
                c->addr.remote_port != port || (lp && c->addr.local_port != lport))
                continue;
            found = c;
            n++;
        }
        if (n == 1)
            return found;
        *status = n ? UVSOCK_ERR_INVALID_ARGS : UVSOCK_ERR_NOT_FOUND;
        if (n)
            snprintf(err, errlen, "%s matches %d connections: use an id or CID:PORT/LOCALPORT", ref,
                     n);
        else
            snprintf(err, errlen, "no open connection to %s (see list)", ref);
        return NULL;
    }
    *status = UVSOCK_ERR_INVALID_ARGS;
    snprintf(err, errlen, "'%s' is not a connection (%s)", ref,
             kind == CONN_HOST ? "h1, h2, ..." : "c1, c2, ... or CID:PORT");
    return NULL;
}

void cn_queue(struct conn *c, const void *p, size_t n)
{
    buf_add(&c->tx, p, n);
    cn_io(c, POLLOUT);
}

int cn_pollfds(struct pollfd *pfd, struct conn **who, int max)
{
    int n = 0;

    for (struct conn *c = head; c && n < max; c = c->next) {
        short ev = 0;

        if (c->fd < 0)
            continue;
        if (!c->eof && (sh.data != DATA_OFF || c->gen_active) &&
            (sh.data != DATA_HOLD || c->rx.len < HOLD_MAX))
            ev |= POLLIN;
        if (c->tx.len)
            ev |= POLLOUT;
        if (!ev)
            continue;
        pfd[n].fd = c->fd;
        pfd[n].events = ev;
        pfd[n].revents = 0;
        who[n++] = c;
    }
    return n;
}

/* Compares echoed bytes with the generated stream; extra bytes go to rx. */
static size_t gen_check(struct conn *c, const uint8_t *p, size_t n)
{
    size_t take = n;

    if (take > c->gen_want - c->gen_got)
        take = (size_t)(c->gen_want - c->gen_got);
    for (size_t i = 0; i < take && !c->gen_error[0]; i++) {
        uint8_t want = uvsock_sim_source_byte(c->gen_got + i);

        if (p[i] != want)
            snprintf(c->gen_error, sizeof(c->gen_error),
                     "echo differs at byte %llu: got 0x%02x, want 0x%02x",
                     (unsigned long long)(c->gen_got + i), p[i], want);
    }
    c->gen_got += take;
    if (c->gen_got == c->gen_want)
        c->gen_active = 0;
    return take;
}

static void on_bytes(struct conn *c, const uint8_t *p, size_t n)
{
    size_t used = c->gen_active ? gen_check(c, p, n) : 0;

    p += used;
    n -= used;
    if (!n)
        return;
    buf_add(&c->rx, p, n);
    if (sh.data == DATA_SHOW) {
        print_data(cn_name(c), p, n, 0);
        if (c->rx.len > SHOW_KEEP)
            buf_drop(&c->rx, c->rx.len - SHOW_KEEP);
    }
}

void cn_io(struct conn *c, short revents)
{
    if (c->fd < 0)
        return;
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        uint8_t b[65536];
        ssize_t n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);

        if (n > 0) {
            c->bytes_in += (uint64_t)n;
            on_bytes(c, b, (size_t)n);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            c->eof = 1;
            if (c->phase != PH_CLOSED)
                note(c->kind == CONN_HOST ? C_HOST : C_DIM, "%s: end of stream%s", cn_name(c),
                     c->kind == CONN_HOST ? " (the driver's side closed)" : "");
        }
    }
    while (c->tx.len && c->fd >= 0) {
        ssize_t n = send(c->fd, c->tx.p, c->tx.len, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n > 0) {
            c->bytes_out += (uint64_t)n;
            buf_drop(&c->tx, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        note(C_ERROR, "%s: %zu bytes not sent: %s", cn_name(c), c->tx.len,
             n < 0 ? strerror(errno) : "socket closed");
        c->tx.len = 0;
        c->gen_active = 0;
    }
}

void cn_free_all(void)
{
    struct conn *c = head;

    while (c) {
        struct conn *next = c->next;

        if (c->fd >= 0)
            close(c->fd);
        free(c->rx.p);
        free(c->tx.p);
        free(c);
        c = next;
    }
    head = NULL;
    tail = &head;
}
