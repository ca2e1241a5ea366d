/* SPDX-License-Identifier: MIT */
/*
 * The receive path: rx and event buffers, validation of every packet the device hands us,
 * the per-op protocol rules, delivery of payload into the user's socket (holding what it
 * cannot take yet, up to the credit we advertised), and transport resets.
 *
 * The device is untrusted: a packet is copied out of DMA memory before it is checked, so the
 * device cannot change a header between the check and its use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "device.h"

/* Receive buffers of 16 KiB (4 KiB where DMA objects must be page sized): the spec wants
 * at least 4 KiB; bigger buffers mean fewer packets for bulk data. */
#define RX_BUF_SIZE_MAX (16u * 1024u)

int rx_init(struct uvsock_dev *dev)
{
    struct virtqueue *vq = &dev->vq[VSOCK_VQ_RX];

    dev->rx_buf_size = RX_BUF_SIZE_MAX;
    if (dev->pci->dma_max_contig < dev->rx_buf_size)
        dev->rx_buf_size = (uint32_t)dev->pci->dma_max_contig;
    dev->rx_count = vq->size;
    dev->rx = calloc(dev->rx_count, sizeof(*dev->rx));
    if (!dev->rx)
        return UVSOCK_ERR_NO_MEMORY;
    for (uint16_t i = 0; i < dev->rx_count; i++) {
        if (dev->pci->ops->dma_alloc(dev->pci, dev->rx_buf_size, &dev->rx[i].dma) < 0) {
            dev->rx_count = i;
            rx_fini(dev);
            return UVSOCK_ERR_NO_MEMORY;
        }
    }
    if (dev->pci->ops->dma_alloc(dev->pci, 4096, &dev->event_dma) < 0) {
        rx_fini(dev);
        return UVSOCK_ERR_NO_MEMORY;
    }
    /* "The driver SHOULD replenish event buffers quickly": all of them, now and after use. */
    for (unsigned i = 0; i < EVENT_BUFS && i < dev->vq[VSOCK_VQ_EVENT].size; i++) {
        struct vq_buf b = {.iova = dev->event_dma.iova + i * sizeof(struct virtio_vsock_event),
                           .len = sizeof(struct virtio_vsock_event),
                           .device_writable = true};
        virtqueue_add(&dev->vq[VSOCK_VQ_EVENT], &b, 1, (void *)(uintptr_t)(i + 1));
    }
    if (virtqueue_kick_prepare(&dev->vq[VSOCK_VQ_EVENT]))
        virtio_pci_notify(&dev->vp, &dev->vq[VSOCK_VQ_EVENT]);
    return UVSOCK_OK;
}

void rx_fini(struct uvsock_dev *dev)
{
    for (uint16_t i = 0; i < dev->rx_count; i++)
        dev->pci->ops->dma_free(dev->pci, &dev->rx[i].dma);
    free(dev->rx);
    dev->rx = NULL;
    dev->rx_count = 0;
    if (dev->event_dma.cpu)
        dev->pci->ops->dma_free(dev->pci, &dev->event_dma);
    dev->event_dma.cpu = NULL;
}

static void rx_post(struct uvsock_dev *dev, struct rx_buf *b)
{
    struct vq_buf vb = {.iova = b->dma.iova, .len = dev->rx_buf_size, .device_writable = true};

    b->repost = false;
    virtqueue_add(&dev->vq[VSOCK_VQ_RX], &vb, 1, b);
}

void rx_post_all(struct uvsock_dev *dev)
{
    for (uint16_t i = 0; i < dev->rx_count; i++)
        rx_post(dev, &dev->rx[i]);
    dev->rx_posted = true;
    if (virtqueue_kick_prepare(&dev->vq[VSOCK_VQ_RX]))
        virtio_pci_notify(&dev->vp, &dev->vq[VSOCK_VQ_RX]);
}

/* ================================================================== delivery == */

static void hold_append(struct conn *c, const uint8_t *p, uint32_t n)
{
    uint32_t tail = (c->hold.head + c->hold.len) % CONN_BUF_ALLOC;
    uint32_t first = CONN_BUF_ALLOC - tail < n ? CONN_BUF_ALLOC - tail : n;

    if (c->hold.len == 0)
        c->hold_since_ns = uvsock_now_ns();
    memcpy(c->hold.data + tail, p, first);
    memcpy(c->hold.data, p + first, n - first);
    c->hold.len += n;
}

/* Writes to the user's socket; -1 if the user is gone (socket closed), else bytes written. */
static ssize_t sock_write(int fd, const uint8_t *p, size_t n)
{
    ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

    if (w >= 0)
        return w;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    return -1;
}

void rx_flush_hold(struct uvsock_dev *dev, struct conn *c)
{
    while (c->hold.len) {
        uint32_t chunk = CONN_BUF_ALLOC - c->hold.head;
        ssize_t w;

        if (chunk > c->hold.len)
            chunk = c->hold.len;
        w = sock_write(c->fd, c->hold.data + c->hold.head, chunk);
        if (w < 0) {
            conn_abort(dev, c, true);
            return;
        }
        if (w == 0)
            break;
        c->hold.head = (c->hold.head + (uint32_t)w) % CONN_BUF_ALLOC;
        c->hold.len -= (uint32_t)w;
        c->fwd_cnt += (uint32_t)w;
    }
    /* The peer will send no more: let our user read EOF once everything is delivered. */
    if (!c->hold.len && (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_F_SEND) && !c->eof_delivered) {
        shutdown(c->fd, SHUT_WR);
        c->eof_delivered = true;
    }
    tx_maybe_credit_update(dev, c);
}

/* Payload of an RW packet: straight into the socket, the rest held; nothing is dropped. */
static void deliver(struct uvsock_dev *dev, struct conn *c, const uint8_t *p, uint32_t n)
{
    uint32_t unconsumed = c->rx_cnt - c->fwd_cnt;

    if ((uint64_t)unconsumed + n > c->buf_alloc) {
        /* The peer overran the credit we gave it: we cannot hold this without loss. */
        uvsock_log(UVSOCK_LOG_ERROR,
                   "port %u: peer sent %u bytes beyond our credit (%u unconsumed of %u): reset",
                   c->addr.local_port, n, unconsumed, c->buf_alloc);
        dev->stats.malformed_dropped++;
        conn_abort(dev, c, true);
        return;
    }
    c->rx_cnt += n;
    c->bytes_received += n;
    if (c->hold.len == 0) {
        ssize_t w = sock_write(c->fd, p, n);
        if (w < 0) {
            conn_abort(dev, c, true);
            return;
        }
        c->fwd_cnt += (uint32_t)w;
        p += w;
        n -= (uint32_t)w;
    }
    if (n) {
        if (!c->hold.data && !(c->hold.data = malloc(CONN_BUF_ALLOC))) {
            uvsock_log(UVSOCK_LOG_ERROR, "port %u: out of memory holding data: reset",
                       c->addr.local_port);
            conn_abort(dev, c, true);
            return;
        }
        hold_append(c, p, n);
    }
    tx_maybe_credit_update(dev, c);
}

void conn_abort(struct uvsock_dev *dev, struct conn *c, bool callback)
{
    struct uvsock_addr addr = c->addr;

    if (!tx_control(dev, c, VIRTIO_VSOCK_OP_RST, 0))
        tx_raw_rst(dev, addr);
    conn_destroy(dev, c);
    if (callback)
        cb_queue(dev, UVSOCK_EVENT_RST, addr, 0);
}

/* ================================================================ packet rules == */

static void remember_request(struct uvsock_dev *dev, struct uvsock_addr addr,
                             const struct virtio_vsock_hdr *h)
{
    struct request_memo *m = &dev->memo[dev->memo_next++ % REQUEST_MEMO_MAX];

    *m = (struct request_memo){
        .addr = addr, .buf_alloc = h->buf_alloc, .fwd_cnt = h->fwd_cnt, .used = true};
}

/*
 * Drops the memo of an unanswered REQUEST from addr (answered or refused now); false if there
 * was none. With `out`, the memo's credit is copied there first.
 */
bool take_request(struct uvsock_dev *dev, struct uvsock_addr addr, struct request_memo *out)
{
    bool found = false;

    for (unsigned i = 0; i < REQUEST_MEMO_MAX; i++) {
        if (dev->memo[i].used && addr_eq(dev->memo[i].addr, addr)) {
            if (out)
                *out = dev->memo[i];
            dev->memo[i].used = false;
            found = true;
        }
    }
    return found;
}

static void violation(struct uvsock_dev *dev, const char *what, struct uvsock_addr a)
{
    dev->stats.malformed_dropped++;
    uvsock_log(UVSOCK_LOG_WARN, "dropped %s for %u <- %u:%u", what, a.local_port, a.remote_cid,
               a.remote_port);
}

/* A packet of no connection: RST, as Linux does, unless it is itself an RST or a REQUEST. */
static void packet_no_conn(struct uvsock_dev *dev, struct uvsock_addr addr,
                           const struct virtio_vsock_hdr *h)
{
    switch (h->op) {
    case VIRTIO_VSOCK_OP_REQUEST:
        remember_request(dev, addr, h);
        cb_queue(dev, UVSOCK_EVENT_REQUEST, addr, 0);
        break;
    case VIRTIO_VSOCK_OP_RST:
        /* Tells the user a Request it has not answered was withdrawn. Any other RST of no
         * connection is a late duplicate (Linux sends a second one when its socket closes)
         * and the Fuchsia driver's Rst callback for it would report a connection twice. */
        if (take_request(dev, addr, NULL))
            cb_queue(dev, UVSOCK_EVENT_RST, addr, 0);
        break;
    default:
        dev->stats.unknown_conn_rst++;
        tx_raw_rst(dev, addr);
        break;
    }
}

/*
 * The peer ends the connection: a VMO whose last byte the device already took completes
 * first (its used entries may be published but not yet reaped: the device returned them
 * before it delivered this packet); one still unsent is abandoned without SendVmoComplete,
 * as nothing more goes out.
 */
static void settle_vmo(struct uvsock_dev *dev, struct conn *c)
{
    if (c->vmo.fd < 0)
        return;
    if (c->vmo.remaining == 0)
        tx_reap(dev);
    tx_conn_gone(dev, c);
}

/*
 * The peer's SHUTDOWN. Its two flags are independent: SEND means no more bytes will come (our
 * user reads EOF once every byte is delivered), RECEIVE means the peer takes no more (we stop
 * sending, and a deferred SHUTDOWN of ours can go at once). Our own side's state changes only
 * when the peer has shut both ways or our SendShutdown was waiting on data.
 */
static void peer_shutdown(struct uvsock_dev *dev, struct conn *c, uint32_t hdr_flags)
{
    /* "Clients MUST NOT clear bits once set"; a SHUTDOWN with no bits reads as both. */
    const uint32_t both = VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND;
    uint32_t flags = hdr_flags & both;
    bool first = c->peer_shutdown == 0;

    if (!flags)
        flags = both;
    c->peer_shutdown |= flags;
    if (first)
        cb_queue(dev, UVSOCK_EVENT_SHUTDOWN, c->addr, 0);
    if (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE) {
        settle_vmo(dev, c);
        c->credit_starved = false;
        if (c->state == UVSOCK_CONN_WILL_SHUT_DOWN) {
            conn_set_state(c, UVSOCK_CONN_SHUTTING_DOWN);
            tx_queue_op(dev, c, PENDING_SHUTDOWN);
        }
    }
    if (c->peer_shutdown == both && c->state == UVSOCK_CONN_ACTIVE)
        conn_set_state(c, UVSOCK_CONN_PEER_SHUT_DOWN);
    rx_flush_hold(dev, c); /* may end c: last use */
}

static void packet_conn(struct uvsock_dev *dev, struct conn *c, const struct virtio_vsock_hdr *h,
                        const uint8_t *payload)
{
    uint64_t now = uvsock_now_ns();

    if (h->op == VIRTIO_VSOCK_OP_RST) {
        settle_vmo(dev, c);
        struct uvsock_addr addr = c->addr;
        conn_destroy(dev, c);
        cb_queue(dev, UVSOCK_EVENT_RST, addr, 0);
        return;
    }
    /* Every other packet of a stream carries the peer's credit. */
    if (h->buf_alloc != c->peer_buf_alloc || h->fwd_cnt != c->peer_fwd_cnt)
        c->credit_starved = false;
    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;

    switch (h->op) {
    case VIRTIO_VSOCK_OP_RESPONSE:
        if (c->opened) {
            violation(dev, "RESPONSE on an open connection", c->addr);
            return;
        }
        /* Our user may have called SendShutdown already; the stream opens all the same. */
        c->opened = true;
        if (c->state == UVSOCK_CONN_WAIT_RESPONSE)
            conn_set_state(c, UVSOCK_CONN_ACTIVE);
        cb_queue(dev, UVSOCK_EVENT_RESPONSE, c->addr, 0);
        return;
    case VIRTIO_VSOCK_OP_RW:
        if (!c->opened) {
            /* Linux in SYN_SENT: anything but RESPONSE is answered with RST. */
            violation(dev, "RW before RESPONSE", c->addr);
            conn_abort(dev, c, true);
            return;
        }
        if (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_F_SEND) {
            violation(dev, "RW after the peer's SHUTDOWN(SEND)", c->addr);
            return;
        }
        if (h->len)
            deliver(dev, c, payload, h->len);
        return;
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
        c->credit_update_recv_ns = now;
        return;
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
        c->credit_request_recv_ns = now;
        tx_queue_op(dev, c, PENDING_CREDIT_UPDATE);
        return;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
        peer_shutdown(dev, c, h->flags);
        return;
    case VIRTIO_VSOCK_OP_REQUEST:
        /* Linux ignores a REQUEST on an established socket; answering would be a guess. */
        violation(dev, "REQUEST on an open connection", c->addr);
        return;
    default:
        violation(dev, "unknown op", c->addr);
        return;
    }
}

/* Validates one received packet and applies it. buf/len: what the device wrote. */
static void rx_packet(struct uvsock_dev *dev, const uint8_t *buf, uint32_t len)
{
    struct virtio_vsock_hdr h;
    struct uvsock_addr addr;
    struct conn *c;

    if (len < VSOCK_HDR_SIZE) {
        dev->stats.malformed_dropped++;
        uvsock_log(UVSOCK_LOG_WARN, "dropped a %u-byte packet: shorter than a header", len);
        return;
    }
    memcpy(&h, buf, sizeof(h));
    if (h.len > len - VSOCK_HDR_SIZE) {
        dev->stats.malformed_dropped++;
        uvsock_log(UVSOCK_LOG_WARN, "dropped a packet claiming %u payload bytes in %u", h.len,
                   len - VSOCK_HDR_SIZE);
        return;
    }
    dev->stats.packets_received++;
    addr = (struct uvsock_addr){
        .local_port = h.dst_port, .remote_cid = (uint32_t)h.src_cid, .remote_port = h.src_port};
    /* The upper 32 bits of both CIDs are reserved and zero; a packet for another CID is not
     * ours to answer (the Fuchsia driver drops these too). */
    if (h.dst_cid != dev->cid || (h.src_cid >> 32)) {
        dev->stats.malformed_dropped++;
        uvsock_log(UVSOCK_LOG_WARN, "dropped a packet for CID %llu (ours is %u)",
                   (unsigned long long)h.dst_cid, dev->cid);
        return;
    }
    c = conn_find(dev, addr);
    /* "The driver MUST send a RST reply for a packet with an unknown type" (5.10.6.6);
     * the connection that packet names cannot go on after it. */
    if (h.type != VIRTIO_VSOCK_TYPE_STREAM) {
        dev->stats.malformed_dropped++;
        uvsock_log(UVSOCK_LOG_WARN, "packet of unknown type %u from %u:%u: RST", h.type,
                   addr.remote_cid, addr.remote_port);
        if (c) {
            conn_abort(dev, c, true);
        } else if (h.op != VIRTIO_VSOCK_OP_RST) {
            tx_raw_rst(dev, addr);
        }
        return;
    }
    if (c)
        packet_conn(dev, c, &h, buf + VSOCK_HDR_SIZE);
    else
        packet_no_conn(dev, addr, &h);
}

void rx_process(struct uvsock_dev *dev)
{
    struct virtqueue *vq = &dev->vq[VSOCK_VQ_RX];
    struct rx_buf *reposts[256];
    unsigned nrepost = 0;
    void *cookie;
    uint32_t len;
    int r;

    /* Buffers go back only after the batch: a used entry naming a buffer twice must find it
     * not in flight, not freshly posted (see virtqueue_get_used). */
    while (nrepost < sizeof(reposts) / sizeof(reposts[0]) &&
           (r = virtqueue_get_used(vq, &cookie, &len)) != 0) {
        struct rx_buf *b = cookie;

        if (r == -EBADMSG) {
            dev->stats.malformed_dropped++;
            continue;
        }
        if (r == -EMSGSIZE) {
            dev->stats.malformed_dropped++;
        } else {
            capture_packet(dev, false, b->dma.cpu, len);
            rx_packet(dev, b->dma.cpu, len);
        }
        reposts[nrepost++] = b;
    }
    for (unsigned i = 0; i < nrepost; i++)
        rx_post(dev, reposts[i]);
    if (nrepost && virtqueue_kick_prepare(vq))
        virtio_pci_notify(&dev->vp, vq);
}

/* ============================================================== transport reset == */

static void drop_conn(struct uvsock_dev *dev, struct conn *c, void *arg)
{
    (void)arg;
    conn_destroy(dev, c);
}

/*
 * "the driver MUST re-read guest_cid ... existing connections MUST be shut down" (5.10.6.7).
 * Like the Fuchsia driver, no RST goes out (the peer that knew them is gone) and no per
 * connection callback: TransportReset says it for all of them.
 */
void rx_transport_reset(struct uvsock_dev *dev)
{
    uint64_t cid = 0;

    /* "The device MUST NOT use a reserved CID": a broken device's value is not adopted. */
    if (virtio_pci_read_config(&dev->vp, 0, &cid, sizeof(cid)) < 0)
        uvsock_log(UVSOCK_LOG_ERROR, "transport reset: cannot read guest_cid; keeping %u",
                   dev->cid);
    else if (cid_reserved(cid))
        uvsock_log(UVSOCK_LOG_ERROR,
                   "transport reset: device reports reserved guest_cid "
                   "0x%llx; keeping %u",
                   (unsigned long long)cid, dev->cid);
    else
        dev->cid = (uint32_t)cid;
    conn_for_each(dev, drop_conn, NULL);
    dev->raw_rst_len = 0;
    memset(dev->memo, 0, sizeof(dev->memo));
    dev->stats.transport_resets++;
    uvsock_log(UVSOCK_LOG_INFO, "transport reset: CID now %u", dev->cid);
    cb_queue(dev, UVSOCK_EVENT_TRANSPORT_RESET, (struct uvsock_addr){0}, dev->cid);
}

void rx_process_events(struct uvsock_dev *dev)
{
    struct virtqueue *vq = &dev->vq[VSOCK_VQ_EVENT];
    void *reposts[EVENT_BUFS];
    unsigned nrepost = 0;
    bool reset = false;
    void *cookie;
    uint32_t len;
    int r;

    /* As for rx: buffers go back after the batch, so an id reported twice is caught. */
    while (nrepost < EVENT_BUFS && (r = virtqueue_get_used(vq, &cookie, &len)) != 0) {
        unsigned i;
        struct virtio_vsock_event ev;

        if (r == -EBADMSG)
            continue;
        i = (unsigned)(uintptr_t)cookie - 1;
        memcpy(&ev, (uint8_t *)dev->event_dma.cpu + i * sizeof(ev), sizeof(ev));
        if (r == 1 && len == sizeof(ev) && ev.id == VIRTIO_VSOCK_EVENT_TRANSPORT_RESET)
            reset = true;
        else
            uvsock_log(UVSOCK_LOG_WARN, "ignored event id %u (length %u)", ev.id, len);
        reposts[nrepost++] = cookie;
    }
    for (unsigned k = 0; k < nrepost; k++) {
        unsigned i = (unsigned)(uintptr_t)reposts[k] - 1;
        struct vq_buf b = {.iova = dev->event_dma.iova + i * sizeof(struct virtio_vsock_event),
                           .len = sizeof(struct virtio_vsock_event),
                           .device_writable = true};
        virtqueue_add(vq, &b, 1, reposts[k]);
    }
    if (nrepost && virtqueue_kick_prepare(vq))
        virtio_pci_notify(&dev->vp, vq);
    if (reset)
        rx_transport_reset(dev);
}
