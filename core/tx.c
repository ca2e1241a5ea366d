/* SPDX-License-Identifier: MIT */
/*
 * The transmit path: tx slots (one DMA buffer holding header and payload, one descriptor
 * each), control packets, and data moved straight from the user's socket or VMO into those
 * buffers, never beyond the peer's credit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device.h"

int tx_init(struct uvsock_dev *dev)
{
    struct virtqueue *vq = &dev->vq[VSOCK_VQ_TX];
    size_t slot_size;

    if (dev->pci->dma_max_contig < VSOCK_HDR_SIZE + 512)
        return UVSOCK_ERR_NOT_SUPPORTED;
    dev->tx_payload_max = TX_PAYLOAD_MAX;
    if (dev->pci->dma_max_contig - VSOCK_HDR_SIZE < dev->tx_payload_max)
        dev->tx_payload_max = (uint32_t)(dev->pci->dma_max_contig - VSOCK_HDR_SIZE);
    slot_size = VSOCK_HDR_SIZE + dev->tx_payload_max;

    dev->tx_count = vq->size < 128 ? vq->size : 128;
    /* A tiny ring keeps a quarter back instead, so data can still move. */
    dev->tx_reserve =
        dev->tx_count >= 4 * TX_CONTROL_RESERVE ? TX_CONTROL_RESERVE : dev->tx_count / 4;
    dev->tx = calloc(dev->tx_count, sizeof(*dev->tx));
    if (!dev->tx)
        return UVSOCK_ERR_NO_MEMORY;
    for (uint16_t i = 0; i < dev->tx_count; i++) {
        struct tx_slot *s = &dev->tx[i];
        if (dev->pci->ops->dma_alloc(dev->pci, slot_size, &s->dma) < 0) {
            dev->tx_count = i;
            tx_fini(dev);
            return UVSOCK_ERR_NO_MEMORY;
        }
        s->next_free = dev->tx_free;
        dev->tx_free = s;
        dev->tx_free_count++;
    }
    return UVSOCK_OK;
}

void tx_fini(struct uvsock_dev *dev)
{
    for (uint16_t i = 0; i < dev->tx_count; i++)
        dev->pci->ops->dma_free(dev->pci, &dev->tx[i].dma);
    free(dev->tx);
    dev->tx = NULL;
    dev->tx_count = dev->tx_free_count = 0;
    dev->tx_free = NULL;
}

/* Data may not take the last TX_CONTROL_RESERVE slots: RSTs and credit updates keep moving. */
static struct tx_slot *slot_get(struct uvsock_dev *dev, bool control)
{
    struct tx_slot *s = dev->tx_free;

    if (!s || (!control && dev->tx_free_count <= dev->tx_reserve)) {
        if (!dev->tx_ring_full_since_ns)
            dev->tx_ring_full_since_ns = uvsock_now_ns();
        return NULL;
    }
    dev->tx_free = s->next_free;
    dev->tx_free_count--;
    dev->tx_ring_full_since_ns = 0;
    return s;
}

static void slot_put(struct uvsock_dev *dev, struct tx_slot *s)
{
    s->next_free = dev->tx_free;
    dev->tx_free = s;
    dev->tx_free_count++;
}

/* "All packets of a stream flow MUST carry valid buf_alloc and fwd_cnt" (virtio 5.10.6.3). */
static void fill_hdr(struct uvsock_dev *dev, struct tx_slot *s, struct uvsock_addr addr,
                     struct conn *c, uint16_t op, uint32_t flags, uint32_t len)
{
    struct virtio_vsock_hdr hdr = {
        /* "The driver MUST use guest_cid as the source CID" (via dev->cid, re-read on reset). */
        .src_cid = dev->cid,
        .dst_cid = addr.remote_cid,
        .src_port = addr.local_port,
        .dst_port = addr.remote_port,
        .len = len,
        .type = VIRTIO_VSOCK_TYPE_STREAM,
        .op = op,
        .flags = flags,
    };

    if (c) {
        hdr.buf_alloc = c->buf_alloc;
        hdr.fwd_cnt = c->fwd_cnt;
        c->last_fwd_cnt_sent = c->fwd_cnt;
    }
    memcpy(s->dma.cpu, &hdr, sizeof(hdr));
    s->addr = addr;
    s->conn_id = c ? c->id : 0;
    s->payload = len;
    s->vmo_chunk = false;
}

static void slot_submit(struct uvsock_dev *dev, struct tx_slot *s)
{
    struct vq_buf buf = {
        .iova = s->dma.iova, .len = VSOCK_HDR_SIZE + s->payload, .device_writable = false};

    /* Cannot fail: there are never more slots than descriptors. */
    if (virtqueue_add(&dev->vq[VSOCK_VQ_TX], &buf, 1, s) < 0) {
        uvsock_log(UVSOCK_LOG_ERROR, "tx ring refused a slot: packet dropped");
        slot_put(dev, s);
        return;
    }
    dev->tx_dirty = true;
    dev->stats.packets_sent++;
    capture_packet(dev, true, s->dma.cpu, buf.len);
}

bool tx_control(struct uvsock_dev *dev, struct conn *c, uint16_t op, uint32_t flags)
{
    struct tx_slot *s = slot_get(dev, true);

    if (!s)
        return false;
    fill_hdr(dev, s, c->addr, c, op, flags, 0);
    slot_submit(dev, s);
    if (op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
        c->credit_update_sent_ns = uvsock_now_ns();
    else if (op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
        c->credit_request_sent_ns = uvsock_now_ns();
    else if (op == VIRTIO_VSOCK_OP_RST)
        dev->stats.rst_sent++;
    return true;
}

/* Order matters: REQUEST/RESPONSE open the stream, SHUTDOWN is queued only once data drained. */
static const struct {
    unsigned bit;
    uint16_t op;
    uint32_t flags;
} op_order[] = {
    {PENDING_REQUEST, VIRTIO_VSOCK_OP_REQUEST, 0},
    {PENDING_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE, 0},
    {PENDING_CREDIT_REQUEST, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0},
    {PENDING_CREDIT_UPDATE, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0},
    {PENDING_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN,
     VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND},
};

static void send_pending_ops(struct uvsock_dev *dev, struct conn *c)
{
    for (size_t i = 0; i < sizeof(op_order) / sizeof(op_order[0]) && c->pending; i++) {
        if (!(c->pending & op_order[i].bit))
            continue;
        if (!tx_control(dev, c, op_order[i].op, op_order[i].flags))
            return;
        c->pending &= ~op_order[i].bit;
    }
}

void tx_queue_op(struct uvsock_dev *dev, struct conn *c, unsigned ops)
{
    c->pending |= ops;
    send_pending_ops(dev, c);
}

static void raw_rst_send(struct uvsock_dev *dev, struct uvsock_addr addr, struct tx_slot *s)
{
    fill_hdr(dev, s, addr, NULL, VIRTIO_VSOCK_OP_RST, 0, 0);
    slot_submit(dev, s);
    dev->stats.rst_sent++;
}

void tx_raw_rst(struct uvsock_dev *dev, struct uvsock_addr addr)
{
    struct tx_slot *s;

    if (dev->raw_rst_len == 0 && (s = slot_get(dev, true))) {
        raw_rst_send(dev, addr, s);
        return;
    }
    if (dev->raw_rst_len == RAW_RST_MAX) {
        /* A device flooding us with stray packets; the answers are best effort. */
        uvsock_log(UVSOCK_LOG_WARN, "RST queue full: no RST for %u:%u", addr.remote_cid,
                   addr.remote_port);
        return;
    }
    dev->raw_rst[(dev->raw_rst_head + dev->raw_rst_len++) % RAW_RST_MAX] = addr;
}

static void flush_raw_rst(struct uvsock_dev *dev)
{
    struct tx_slot *s;

    while (dev->raw_rst_len && (s = slot_get(dev, true))) {
        raw_rst_send(dev, dev->raw_rst[dev->raw_rst_head], s);
        dev->raw_rst_head = (dev->raw_rst_head + 1) % RAW_RST_MAX;
        dev->raw_rst_len--;
    }
}

bool tx_conn_wants_data(struct uvsock_dev *dev, const struct conn *c)
{
    (void)dev;
    if (c->state != UVSOCK_CONN_ACTIVE && c->state != UVSOCK_CONN_WILL_SHUT_DOWN)
        return false;
    if (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE)
        return false; /* the peer will not receive any more */
    if (!c->opened || (c->pending & (PENDING_REQUEST | PENDING_RESPONSE)))
        return false; /* no data before the handshake */
    if (c->vmo.remaining)
        return true;
    if (c->state == UVSOCK_CONN_WILL_SHUT_DOWN && c->shutdown_remaining == 0)
        return false;
    return !c->user_eof;
}

/* The bytes c could put in one packet now: credit, packet size and the shutdown mark. */
static uint32_t sendable(struct uvsock_dev *dev, const struct conn *c)
{
    uint32_t n = conn_peer_free(c);

    if (n > dev->tx_payload_max)
        n = dev->tx_payload_max;
    if (c->state == UVSOCK_CONN_WILL_SHUT_DOWN && !c->vmo.remaining && c->shutdown_remaining < n)
        n = (uint32_t)c->shutdown_remaining;
    return n;
}

/* Notes that c has bytes but no credit, and asks the peer for some (once per starvation). */
static void starve(struct uvsock_dev *dev, struct conn *c)
{
    if (c->credit_starved)
        return;
    c->credit_starved = true;
    c->starved_since_ns = uvsock_now_ns();
    tx_queue_op(dev, c, PENDING_CREDIT_REQUEST);
}

enum tx_result { TX_SENT, TX_IDLE, TX_GONE };

/* Puts one RW packet of c's VMO or socket bytes in the ring. */
static enum tx_result tx_data_once(struct uvsock_dev *dev, struct conn *c)
{
    uint32_t max = sendable(dev, c);
    struct tx_slot *s;
    uint8_t *payload;
    bool from_vmo = c->vmo.remaining != 0;
    ssize_t n;

    if (max == 0) {
        if (conn_peer_free(c) == 0 && (c->vmo.remaining || c->readable))
            starve(dev, c);
        return TX_IDLE;
    }
    s = slot_get(dev, false);
    if (!s)
        return TX_IDLE;
    payload = (uint8_t *)s->dma.cpu + VSOCK_HDR_SIZE;

    if (from_vmo) {
        if (max > c->vmo.remaining)
            max = (uint32_t)c->vmo.remaining;
        n = pread(c->vmo.fd, payload, max, (off_t)c->vmo.off);
        if (n != (ssize_t)max) {
            /* The file shrank under us: the promised bytes cannot be sent. */
            uvsock_log(UVSOCK_LOG_ERROR, "SendVmo on port %u: read failed at offset %llu",
                       c->addr.local_port, (unsigned long long)c->vmo.off);
            slot_put(dev, s);
            conn_abort(dev, c, true);
            return TX_GONE;
        }
        c->vmo.off += (uint64_t)n;
        c->vmo.remaining -= (uint64_t)n;
        c->vmo.in_ring++;
    } else {
        n = recv(c->fd, payload, max, MSG_DONTWAIT);
        if (n <= 0) {
            slot_put(dev, s);
            if (n == 0) {
                c->user_eof = true;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                c->readable = false;
            } else {
                conn_abort(dev, c, true);
                return TX_GONE;
            }
            return TX_IDLE;
        }
        if (c->state == UVSOCK_CONN_WILL_SHUT_DOWN)
            c->shutdown_remaining -= (uint64_t)n;
    }
    fill_hdr(dev, s, c->addr, c, VIRTIO_VSOCK_OP_RW, 0, (uint32_t)n);
    s->vmo_chunk = from_vmo;
    slot_submit(dev, s);
    c->tx_cnt += (uint32_t)n;
    c->bytes_sent += (uint64_t)n;
    return TX_SENT;
}

/* WILL_SHUT_DOWN ends once the bytes queued before SendShutdown (and any VMO) are out. */
static void check_shutdown_drained(struct uvsock_dev *dev, struct conn *c)
{
    if (c->state != UVSOCK_CONN_WILL_SHUT_DOWN || c->vmo.remaining)
        return;
    if (c->shutdown_remaining && !c->user_eof)
        return;
    conn_set_state(c, UVSOCK_CONN_SHUTTING_DOWN);
    tx_queue_op(dev, c, PENDING_SHUTDOWN);
}

struct pump_pass {
    bool progress;
};

/* Up to this many packets per connection per pass, so one bulk sender cannot starve others. */
#define TX_BURST 4

static void pump_conn(struct uvsock_dev *dev, struct conn *c, void *arg)
{
    struct pump_pass *pass = arg;

    if (c->pending)
        send_pending_ops(dev, c);
    check_shutdown_drained(dev, c);
    if (!tx_conn_wants_data(dev, c) || (!c->vmo.remaining && !c->readable))
        return;
    for (int i = 0; i < TX_BURST; i++) {
        enum tx_result r = tx_data_once(dev, c);
        if (r == TX_GONE)
            return;
        if (r == TX_IDLE)
            break;
        pass->progress = true;
    }
    check_shutdown_drained(dev, c);
}

void tx_pump(struct uvsock_dev *dev)
{
    struct pump_pass pass;

    flush_raw_rst(dev);
    do {
        pass.progress = false;
        conn_for_each(dev, pump_conn, &pass);
    } while (pass.progress && dev->tx_free_count > dev->tx_reserve);
}

void tx_reap(struct uvsock_dev *dev)
{
    struct virtqueue *vq = &dev->vq[VSOCK_VQ_TX];
    void *cookie;
    uint32_t len;
    int r;

    while ((r = virtqueue_get_used(vq, &cookie, &len)) != 0) {
        struct tx_slot *s = cookie;
        struct conn *c;

        if (r == -EBADMSG)
            continue; /* counted in the queue's bad_used */
        /* -EMSGSIZE: the device reported writing into a read-only chain; the slot is ours. */
        if (s->vmo_chunk && (c = conn_find_id(dev, s->addr, s->conn_id)) && c->vmo.fd >= 0) {
            c->vmo.in_ring--;
            if (c->vmo.remaining == 0 && c->vmo.in_ring == 0) {
                close(c->vmo.fd);
                c->vmo.fd = -1;
                cb_queue(dev, UVSOCK_EVENT_SEND_VMO_COMPLETE, c->addr, 0);
            }
        }
        slot_put(dev, s);
    }
}

void tx_kick(struct uvsock_dev *dev)
{
    struct virtqueue *vq = &dev->vq[VSOCK_VQ_TX];

    if (!dev->tx_dirty)
        return;
    dev->tx_dirty = false;
    if (virtqueue_kick_prepare(vq))
        virtio_pci_notify(&dev->vp, vq);
}

void tx_conn_gone(struct uvsock_dev *dev, struct conn *c)
{
    (void)dev;
    if (c->vmo.fd >= 0)
        close(c->vmo.fd);
    c->vmo.fd = -1;
    c->vmo.remaining = 0;
    c->vmo.in_ring = 0;
}

/*
 * Linux's rule, stated in our terms: once the peer's view of our free space
 * (buf_alloc - (rx_cnt - last fwd_cnt we sent)) is below the low-water mark and our user has
 * consumed more since, tell the peer, or a peer that waits for credit stalls forever (the
 * Fuchsia driver never does this; see peers.md §9).
 */
void tx_maybe_credit_update(struct uvsock_dev *dev, struct conn *c)
{
    uint32_t low = c->buf_alloc / 2 < CREDIT_LOW_WATER ? c->buf_alloc / 2 : CREDIT_LOW_WATER;
    int64_t peer_view =
        (int64_t)c->buf_alloc - (int64_t)(uint32_t)(c->rx_cnt - c->last_fwd_cnt_sent);

    if (c->fwd_cnt != c->last_fwd_cnt_sent && peer_view < (int64_t)low)
        tx_queue_op(dev, c, PENDING_CREDIT_UPDATE);
}
