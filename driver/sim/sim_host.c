/* SPDX-License-Identifier: MIT */
/*
 * The host vsock stack on CID 2: connections keyed by (host_port, guest_port), the credit
 * accounting of both directions, the control FIFO towards the driver, and the handling of
 * every packet the driver sends (virtio 1.x, 5.10.6).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim_internal.h"

/* Linux's rule: tell the peer about freed space once its view of it drops below 64 KiB. */
#define SIM_CREDIT_LOW_WATER 65536u

/* ----------------------------------------------------------------- control FIFO -- */

struct sim_pkt *sim_pkt_new(const struct virtio_vsock_hdr *h, const void *data, uint32_t len)
{
    struct sim_pkt *p = malloc(sizeof(*p) + len);

    if (!p)
        return NULL;
    p->next = NULL;
    p->hdr = *h;
    p->stamp = false;
    p->len = len;
    if (len)
        memcpy(p->data, data, len);
    return p;
}

/* Takes ownership of `p`. -ENOBUFS (and the packet is dropped) when the FIFO is full. */
int sim_queue_pkt(struct uvsock_sim *s, struct sim_pkt *p, bool at_head)
{
    if (s->ctrl_count >= SIM_CTRL_MAX) {
        s->ctrl_overflow++;
        free(p);
        return -ENOBUFS;
    }
    if (at_head) {
        p->next = s->ctrl_head;
        s->ctrl_head = p;
        if (s->ctrl_tail == &s->ctrl_head)
            s->ctrl_tail = &p->next;
    } else {
        p->next = NULL;
        *s->ctrl_tail = p;
        s->ctrl_tail = &p->next;
    }
    s->ctrl_count++;
    return 0;
}

void sim_ctrl_clear(struct uvsock_sim *s)
{
    while (s->ctrl_head) {
        struct sim_pkt *p = s->ctrl_head;
        s->ctrl_head = p->next;
        free(p);
    }
    s->ctrl_tail = &s->ctrl_head;
    s->ctrl_count = 0;
}

/* A header-only packet from (CID 2, host_port) to (guest_cid, guest_port). */
int sim_send_ctrl(struct uvsock_sim *s, uint32_t host_port, uint32_t guest_port, uint16_t op,
                  uint32_t flags)
{
    struct virtio_vsock_hdr h;
    struct sim_pkt *p;

    memset(&h, 0, sizeof(h));
    h.src_cid = VSOCK_CID_HOST;
    h.dst_cid = s->guest_cid;
    h.src_port = host_port;
    h.dst_port = guest_port;
    h.type = VIRTIO_VSOCK_TYPE_STREAM;
    h.op = op;
    h.flags = flags;
    p = sim_pkt_new(&h, NULL, 0);
    if (!p)
        return -ENOMEM;
    p->stamp = true;
    return sim_queue_pkt(s, p, false);
}

/*
 * Fills buf_alloc and fwd_cnt as the packet leaves for the driver, so they are current:
 * "all packets of a stream flow carry valid buf_alloc and fwd_cnt". What the driver was last
 * told is what the credit checks below measure against.
 */
void sim_stamp(struct uvsock_sim *s, struct virtio_vsock_hdr *h)
{
    struct sim_conn *c = sim_conn_find(s, h->src_port, h->dst_port);

    if (!c)
        return;
    h->buf_alloc = s->host_buf_alloc;
    h->fwd_cnt = c->fwd_cnt;
    c->last_alloc_sent = h->buf_alloc;
    c->last_fwd_sent = h->fwd_cnt;
    if (h->op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
        c->credit_update_queued = false;
}

/* ------------------------------------------------------------------ connections -- */

struct sim_conn *sim_conn_find(struct uvsock_sim *s, uint32_t host_port, uint32_t guest_port)
{
    for (struct sim_conn *c = s->conns; c; c = c->next) {
        if (c->host_port == host_port && c->guest_port == guest_port && c->state != SIM_DRAINING)
            return c;
    }
    return NULL;
}

struct sim_conn *sim_conn_new(struct uvsock_sim *s, uint32_t host_port, uint32_t guest_port,
                              enum sim_conn_kind kind, int fd)
{
    struct sim_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->host_port = host_port;
    c->guest_port = guest_port;
    c->kind = kind;
    c->fd = fd;
    c->state = SIM_ESTABLISHED;
    c->last_alloc_sent = s->host_buf_alloc;
    c->next = s->conns;
    s->conns = c;
    return c;
}

/* Removes the connection and closes its host fd. */
void sim_conn_forget(struct uvsock_sim *s, struct sim_conn *c)
{
    for (struct sim_conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (s->rr_next == c)
        s->rr_next = c->next;
    if (c->fd >= 0)
        close(c->fd);
    free(c->held);
    free(c);
}

void sim_conn_free_all(struct uvsock_sim *s)
{
    while (s->conns)
        sim_conn_forget(s, s->conns);
    s->rr_next = NULL;
}

/* Drops every connection without telling the driver (device reset, transport reset). */
void sim_host_reset(struct uvsock_sim *s)
{
    sim_conn_free_all(s);
    sim_ctrl_clear(s);
}

/* Free-running host ports in [1<<30, 1<<31), round robin as Firecracker does. */
uint32_t sim_pick_host_port(struct uvsock_sim *s, uint32_t guest_port)
{
    for (unsigned tries = 0; tries < 4096; tries++) {
        s->last_host_port++;
        if (s->last_host_port < SIM_HOST_PORT_MIN || s->last_host_port >= SIM_HOST_PORT_END)
            s->last_host_port = SIM_HOST_PORT_MIN;
        if (!sim_conn_find(s, s->last_host_port, guest_port))
            break;
    }
    return s->last_host_port;
}

/* The driver's free receive space for this connection, in 64-bit and clamped. */
int64_t sim_conn_drv_credit(const struct sim_conn *c)
{
    int64_t space = (int64_t)c->drv_buf_alloc - (int64_t)(uint32_t)(c->tx_cnt - c->drv_fwd_cnt);

    if (space < 0)
        return 0;
    return space;
}

/* The host's free space as the driver last heard of it. */
static int64_t host_space_seen(const struct sim_conn *c)
{
    return (int64_t)c->last_alloc_sent - (int64_t)(uint32_t)(c->rx_cnt - c->last_fwd_sent);
}

/*
 * The host consumed `n` bytes of the driver's data. An unsolicited CREDIT_UPDATE goes out when
 * the driver's view of our free space has dropped below min(64 KiB, buf_alloc / 2) and there is
 * news for it (fwd_cnt moved since the last one it saw).
 */
void sim_conn_consumed(struct uvsock_sim *s, struct sim_conn *c, uint32_t n)
{
    uint32_t low =
        s->host_buf_alloc / 2 < SIM_CREDIT_LOW_WATER ? s->host_buf_alloc / 2 : SIM_CREDIT_LOW_WATER;

    c->fwd_cnt += n;
    if (c->state == SIM_DRAINING || c->state == SIM_REQUEST_SENT || c->credit_update_queued)
        return;
    if (host_space_seen(c) < (int64_t)low && c->fwd_cnt != c->last_fwd_sent) {
        if (sim_send_ctrl(s, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0) == 0)
            c->credit_update_queued = true;
    }
}

/* ---------------------------------------------------------- packets from driver -- */

static void reply_rst(struct uvsock_sim *s, const struct virtio_vsock_hdr *h)
{
    sim_send_ctrl(s, h->dst_port, h->src_port, VIRTIO_VSOCK_OP_RST, 0);
}

static void driver_request(struct uvsock_sim *s, const struct virtio_vsock_hdr *h)
{
    struct sim_conn *c = NULL;

    /* A REQUEST for a connection that exists is refused; the existing one is not touched. */
    if (sim_conn_find(s, h->dst_port, h->src_port) ||
        sim_service_request(s, &c, h->dst_port, h->src_port) < 0) {
        reply_rst(s, h);
        return;
    }
    c->drv_buf_alloc = h->buf_alloc;
    c->drv_fwd_cnt = h->fwd_cnt;
    c->state = SIM_ESTABLISHED;
    sim_send_ctrl(s, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_RESPONSE, 0);
}

/*
 * SHUTDOWN from the driver. SEND: the host program gets EOF once the bytes held for it are
 * written. Both flags: like Linux, reply RST and forget the connection (the port is free
 * again); the held bytes still drain to the host program first.
 */
static void driver_shutdown(struct uvsock_sim *s, struct sim_conn *c, uint32_t flags)
{
    c->drv_shutdown |= flags & (VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND);
    if (c->drv_shutdown & VIRTIO_VSOCK_SHUTDOWN_F_SEND)
        sim_fd_shutdown_send(s, c);
    if (c->drv_shutdown != (VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND))
        return;
    sim_send_ctrl(s, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_RST, 0);
    if (c->fd >= 0 && c->held_len) {
        c->state = SIM_DRAINING; /* sim_service_io closes it once flushed */
        if (s->rr_next == c)
            s->rr_next = c->next;
    } else {
        sim_conn_forget(s, c);
    }
}

static void driver_rw(struct uvsock_sim *s, struct sim_conn *c, const uint8_t *payload,
                      uint32_t len)
{
    int64_t space = host_space_seen(c);

    /* "VIRTIO_VSOCK_OP_RW data packets MUST only be transmitted when the peer has sufficient
     * free buffer space for the payload." The excess is counted and still accepted. */
    if ((int64_t)len > space)
        s->st.credit_violations += (uint64_t)((int64_t)len - (space > 0 ? space : 0));
    c->rx_cnt += len;
    if (len)
        sim_service_data(s, c, payload, len);
}

void sim_host_from_driver(struct uvsock_sim *s, const struct virtio_vsock_hdr *h,
                          const uint8_t *payload)
{
    struct sim_conn *c;

    if (h->op == VIRTIO_VSOCK_OP_REQUEST) {
        driver_request(s, h);
        return;
    }
    c = sim_conn_find(s, h->dst_port, h->src_port);
    if (!c) {
        /* No such connection: RST, unless the packet is itself an RST. */
        if (h->op != VIRTIO_VSOCK_OP_RST)
            reply_rst(s, h);
        return;
    }
    /* Every packet carries the driver's current buf_alloc and fwd_cnt. */
    c->drv_buf_alloc = h->buf_alloc;
    c->drv_fwd_cnt = h->fwd_cnt;

    switch (h->op) {
    case VIRTIO_VSOCK_OP_RESPONSE:
        if (c->state == SIM_REQUEST_SENT) {
            c->state = SIM_ESTABLISHED;
            sim_service_established(s, c);
        }
        break;
    case VIRTIO_VSOCK_OP_RST:
        sim_conn_forget(s, c);
        break;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
        if (c->state == SIM_REQUEST_SENT) {
            reply_rst(s, h);
            sim_conn_forget(s, c);
        } else {
            driver_shutdown(s, c, h->flags);
        }
        break;
    case VIRTIO_VSOCK_OP_RW:
        if (c->state == SIM_REQUEST_SENT) {
            /* Data before the handshake completed: a protocol error, as Linux treats it. */
            reply_rst(s, h);
            sim_conn_forget(s, c);
        } else {
            driver_rw(s, c, payload, h->len);
        }
        break;
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
        /* "VIRTIO_VSOCK_OP_CREDIT_REQUEST: the peer replies with VIRTIO_VSOCK_OP_CREDIT_UPDATE" */
        if (sim_send_ctrl(s, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0) == 0)
            c->credit_update_queued = true;
        break;
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
    default:
        break; /* the credit fields above were the news */
    }
}
