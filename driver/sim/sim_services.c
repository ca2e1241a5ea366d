/* SPDX-License-Identifier: MIT */
/*
 * What sits behind the host's ports: the classic services (echo 7, discard 9, source 19),
 * host programs on AF_UNIX sockets (uvsock_sim_connect/listen/accept), and the
 * Firecracker/cloud-hypervisor hybrid vsock convention on a unix socket:
 *   host -> driver: a program connects to PATH and writes "CONNECT <port>\n"; once the driver
 *                   answers it reads "OK <hostport>\n" and the socket carries the stream.
 *   driver -> host: a REQUEST to host port P connects to the unix socket "PATH_P".
 * All host fds are nonblocking; the device thread never waits on one.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim_internal.h"

#define SIM_PORT_ECHO    7u
#define SIM_PORT_DISCARD 9u
#define SIM_PORT_SOURCE  19u

/* ----------------------------------------------------------------- held bytes -- */

int sim_held_append(struct sim_conn *c, const uint8_t *p, size_t n)
{
    if (c->held_len + n > SIM_HELD_MAX)
        return -ENOBUFS;
    if (c->held_off && c->held_off + c->held_len + n > c->held_cap) {
        memmove(c->held, c->held + c->held_off, c->held_len);
        c->held_off = 0;
    }
    if (c->held_len + n > c->held_cap) {
        size_t cap = c->held_cap ? c->held_cap : 4096;
        uint8_t *bigger;
        while (cap < c->held_len + n)
            cap *= 2;
        bigger = realloc(c->held, cap);
        if (!bigger)
            return -ENOMEM;
        c->held = bigger;
        c->held_cap = cap;
    }
    memcpy(c->held + c->held_off + c->held_len, p, n);
    c->held_len += n;
    return 0;
}

static void held_take(struct sim_conn *c, size_t n)
{
    c->held_off += n;
    c->held_len -= n;
    if (!c->held_len)
        c->held_off = 0;
}

/* Writes held bytes to the host fd; what it takes is consumed (fwd_cnt moves). */
static void held_flush(struct uvsock_sim *s, struct sim_conn *c)
{
    while (c->held_len && !c->fd_broken) {
        ssize_t w = send(c->fd, c->held + c->held_off, c->held_len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            held_take(c, (size_t)w);
            sim_conn_consumed(s, c, (uint32_t)w);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                c->fd_broken = true; /* the host program is gone */
            return;
        }
    }
}

void sim_fd_shutdown_send(struct uvsock_sim *s, struct sim_conn *c)
{
    (void)s;
    if (c->fd >= 0 && !c->held_len && !c->shut_wr_done) {
        shutdown(c->fd, SHUT_WR);
        c->shut_wr_done = true;
    }
}

/* -------------------------------------------------------------------- services -- */

struct sim_listener *sim_listener_find(struct uvsock_sim *s, uint32_t port)
{
    for (struct sim_listener *l = s->listeners; l; l = l->next) {
        if (l->port == port)
            return l;
    }
    return NULL;
}

/* Closes the connections nobody accepted: their host programs never existed. */
void sim_listener_free(struct sim_listener *l)
{
    while (l->head) {
        struct sim_accepted *a = l->head;
        l->head = a->next;
        close(a->fd);
        free(a);
    }
    free(l);
}

int sim_socketpair(int sv[2])
{
    int fl;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    /* Only the sim's end is nonblocking; the host program's end behaves as it expects. */
    fl = fcntl(sv[0], F_GETFL);
    if (fl < 0 || fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) < 0) {
        close(sv[0]);
        close(sv[1]);
        return -EIO;
    }
    return 0;
}

static int uds_connect_port(struct uvsock_sim *s, uint32_t port)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, n;

    n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", s->uds_path, port);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* A unix connect completes at once or fails (EAGAIN: backlog full, also a refusal). */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

/*
 * A driver REQUEST to host_port: creates the connection (*out) or refuses (<0, the caller
 * replies RST).
 */
int sim_service_request(struct uvsock_sim *s, struct sim_conn **out, uint32_t host_port,
                        uint32_t guest_port)
{
    enum sim_conn_kind kind = SIM_FD;
    struct sim_listener *l = NULL;
    struct sim_accepted *a = NULL;
    int fd = -1, sv[2];

    if (host_port == SIM_PORT_ECHO) {
        kind = SIM_ECHO;
    } else if (host_port == SIM_PORT_DISCARD) {
        kind = SIM_DISCARD;
    } else if (host_port == SIM_PORT_SOURCE) {
        kind = SIM_SOURCE;
    } else if ((l = sim_listener_find(s, host_port))) {
        a = calloc(1, sizeof(*a));
        if (!a || sim_socketpair(sv) < 0) {
            free(a);
            return -ENOMEM;
        }
        fd = sv[0];
        a->fd = sv[1];
        a->guest_port = guest_port;
    } else if (s->uds_path) {
        fd = uds_connect_port(s, host_port);
        if (fd < 0)
            return fd;
    } else {
        return -ECONNREFUSED;
    }
    *out = sim_conn_new(s, host_port, guest_port, kind, fd);
    if (!*out) {
        if (fd >= 0)
            close(fd);
        if (a) {
            close(a->fd);
            free(a);
        }
        return -ENOMEM;
    }
    if (a) {
        *l->tail = a;
        l->tail = &a->next;
        pthread_cond_broadcast(&s->accept_cv);
    }
    return 0;
}

/* The driver answered a host-initiated REQUEST. */
void sim_service_established(struct uvsock_sim *s, struct sim_conn *c)
{
    char line[24];
    int n;

    (void)s;
    if (!c->hybrid)
        return;
    /* A fresh socket's buffer always takes these few bytes, ahead of any stream data. */
    n = snprintf(line, sizeof(line), "OK %u\n", c->host_port);
    if (send(c->fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
        c->fd_broken = true;
}

/* RW payload from the driver. */
void sim_service_data(struct uvsock_sim *s, struct sim_conn *c, const uint8_t *p, uint32_t n)
{
    switch (c->kind) {
    case SIM_ECHO:
        /* Consumed only when echoed back, so a small host credit throttles the driver. */
        if (sim_held_append(c, p, n) < 0)
            c->fd_broken = true;
        break;
    case SIM_DISCARD:
    case SIM_SOURCE:
        sim_conn_consumed(s, c, n);
        break;
    case SIM_FD:
        if (c->shut_wr_done) {
            sim_conn_consumed(s, c, n); /* after SHUTDOWN(SEND): nowhere to go */
        } else if (sim_held_append(c, p, n) < 0) {
            c->fd_broken = true;
        } else {
            held_flush(s, c);
        }
        break;
    }
}

bool sim_service_has_data(const struct sim_conn *c)
{
    if (c->state != SIM_ESTABLISHED || (c->drv_shutdown & VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE) ||
        c->fd_broken || sim_conn_drv_credit(c) <= 0)
        return false;
    switch (c->kind) {
    case SIM_ECHO:
        return c->held_len > 0;
    case SIM_SOURCE:
        return true;
    case SIM_FD:
        return c->fd_maybe_readable && !c->fd_eof;
    default:
        return false;
    }
}

/* Up to `max` bytes for the driver (max is within its credit); 0 if there are none now. */
uint32_t sim_service_produce(struct uvsock_sim *s, struct sim_conn *c, uint8_t *buf, uint32_t max)
{
    uint32_t n = 0;
    ssize_t r;

    switch (c->kind) {
    case SIM_ECHO:
        n = c->held_len < max ? (uint32_t)c->held_len : max;
        memcpy(buf, c->held + c->held_off, n);
        held_take(c, n);
        c->fwd_cnt += n; /* the echo carries the new fwd_cnt itself */
        break;
    case SIM_SOURCE:
        for (uint32_t i = 0; i < max; i++)
            buf[i] = uvsock_sim_source_byte(c->source_off + i);
        c->source_off += max;
        n = max;
        break;
    case SIM_FD:
        r = recv(c->fd, buf, max, MSG_DONTWAIT);
        if (r > 0) {
            n = (uint32_t)r;
        } else if (r == 0) {
            /* The host program is done sending: tell the driver, both directions. */
            c->fd_eof = true;
            c->state = SIM_CLOSING;
            sim_send_ctrl(s, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_SHUTDOWN,
                          VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            c->fd_maybe_readable = false;
        } else {
            c->fd_broken = true;
        }
        break;
    default:
        break;
    }
    c->tx_cnt += n;
    return n;
}

/* -------------------------------------------------------------- hybrid socket --- */

int sim_uds_listen(struct uvsock_sim *s)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd;

    /* Room for the path and for "PATH_4294967295" (guest connections to host ports). */
    if (strlen(s->uds_path) + 12 > sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, s->uds_path);
    if (lstat(s->uds_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return -EEXIST; /* never remove anything but a stale socket */
        unlink(s->uds_path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    s->uds_fd = fd;
    return 0;
}

/* Parses "CONNECT <port>" (case-insensitive, the line without its '\n'). */
static int parse_connect(const char *line, uint32_t *port)
{
    unsigned long v;
    char *end;

    if (strncasecmp(line, "connect", 7) || !isspace((unsigned char)line[7]))
        return -EINVAL;
    line += 7;
    while (*line == ' ' || *line == '\t')
        line++;
    if (!isdigit((unsigned char)*line))
        return -EINVAL;
    errno = 0;
    v = strtoul(line, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r')
        end++;
    if (errno || *end || v > UINT32_MAX)
        return -EINVAL;
    *port = (uint32_t)v;
    return 0;
}

/*
 * 1: the client became a connection or was closed; 0: keep waiting for its line.
 * The line is read one byte at a time, as Firecracker does: bytes after the '\n' belong to the
 * stream and must stay in the socket, and consuming what has arrived keeps poll() from
 * reporting the same partial line forever.
 */
static int uds_client_read(struct uvsock_sim *s, struct sim_uds_client *u)
{
    struct sim_conn *c;
    uint32_t port;

    for (;;) {
        char ch;
        ssize_t r = recv(u->fd, &ch, 1, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (r <= 0)
            goto refuse; /* EOF or error before the line was complete */
        if (ch == '\n')
            break;
        if (u->len >= SIM_CONNECT_MAX - 1)
            goto refuse; /* "CONNECT <port>\n" is at most 32 bytes */
        u->line[u->len++] = ch;
    }
    u->line[u->len] = '\0';
    if (parse_connect(u->line, &port) < 0)
        goto refuse;
    c = sim_conn_new(s, sim_pick_host_port(s, port), port, SIM_FD, u->fd);
    if (!c)
        goto refuse;
    c->hybrid = true;
    c->state = SIM_REQUEST_SENT;
    if (sim_send_ctrl(s, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_REQUEST, 0) < 0)
        sim_conn_forget(s, c); /* closes the fd */
    return 1;
refuse:
    /* As Firecracker: a malformed or failed CONNECT just closes the host's socket. */
    close(u->fd);
    return 1;
}

static void uds_io(struct uvsock_sim *s)
{
    if (s->uds_fd >= 0) {
        for (;;) {
            struct sim_uds_client *u;
            int fd = accept4(s->uds_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                break;
            u = calloc(1, sizeof(*u));
            if (!u) {
                close(fd);
                break;
            }
            u->fd = fd;
            u->next = s->uds_clients;
            s->uds_clients = u;
        }
    }
    for (struct sim_uds_client **pp = &s->uds_clients; *pp;) {
        struct sim_uds_client *u = *pp;
        if (uds_client_read(s, u)) {
            *pp = u->next;
            free(u);
        } else {
            pp = &u->next;
        }
    }
}

/* ----------------------------------------------------------------- fd I/O pass -- */

/* Flushes held bytes, half-closes, and reaps connections whose host program went away. */
void sim_service_io(struct uvsock_sim *s)
{
    struct sim_conn *c, *next;

    uds_io(s);
    for (c = s->conns; c; c = next) {
        next = c->next;
        if (c->fd < 0) {
            if (c->fd_broken) { /* an echo backlog beyond SIM_HELD_MAX */
                sim_send_ctrl(s, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_RST, 0);
                sim_conn_forget(s, c);
            }
            continue;
        }
        held_flush(s, c);
        if (c->state == SIM_DRAINING) {
            if (!c->held_len || c->fd_broken) {
                shutdown(c->fd, SHUT_WR);
                sim_conn_forget(s, c);
            }
            continue;
        }
        if (c->fd_broken) {
            sim_send_ctrl(s, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_RST, 0);
            sim_conn_forget(s, c);
            continue;
        }
        if (c->drv_shutdown & VIRTIO_VSOCK_SHUTDOWN_F_SEND)
            sim_fd_shutdown_send(s, c);
    }
}

static void add_pfd(struct pollfd *pfd, size_t cap, size_t *n, int fd, short events)
{
    if (*n < cap) {
        pfd[*n].fd = fd;
        pfd[*n].events = events;
        pfd[*n].revents = 0;
    }
    (*n)++;
}

/*
 * The host fds worth waiting for; returns how many (fills at most cap). An fd is read only when
 * the driver has credit and an rx buffer for it, so a host program cannot make us spin.
 */
size_t sim_service_pollfds(struct uvsock_sim *s, struct pollfd *pfd, size_t cap, bool rx_space)
{
    size_t n = 0;

    if (s->uds_fd >= 0)
        add_pfd(pfd, cap, &n, s->uds_fd, POLLIN);
    for (struct sim_uds_client *u = s->uds_clients; u; u = u->next)
        add_pfd(pfd, cap, &n, u->fd, POLLIN);
    for (struct sim_conn *c = s->conns; c; c = c->next) {
        short ev = 0;
        if (c->fd < 0 || c->fd_broken)
            continue;
        if (c->held_len)
            ev |= POLLOUT;
        if (rx_space && c->state == SIM_ESTABLISHED && !c->fd_eof &&
            !(c->drv_shutdown & VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE) && sim_conn_drv_credit(c) > 0)
            ev |= POLLIN;
        if (ev)
            add_pfd(pfd, cap, &n, c->fd, ev);
    }
    return n;
}

void sim_service_mark_readable(struct uvsock_sim *s)
{
    for (struct sim_conn *c = s->conns; c; c = c->next)
        c->fd_maybe_readable = c->fd >= 0;
}

void sim_services_free(struct uvsock_sim *s)
{
    while (s->uds_clients) {
        struct sim_uds_client *u = s->uds_clients;
        s->uds_clients = u->next;
        close(u->fd);
        free(u);
    }
    if (s->uds_fd >= 0) {
        close(s->uds_fd);
        s->uds_fd = -1;
        unlink(s->uds_path);
    }
    while (s->listeners) {
        struct sim_listener *l = s->listeners;
        s->listeners = l->next;
        sim_listener_free(l);
    }
}
