/* SPDX-License-Identifier: MIT */
/*
 * Device life (open, close) and the fuchsia.hardware.vsock.Device calls. Each call checks its
 * arguments, takes the lock, changes state, queues packets and wakes the service thread; the
 * status codes follow the Fuchsia driver (reference/peers.md §1.4), deviations in docs/api.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device.h"
#include "sim/sim.h"
#include "uvsock_sim.h"

/* Virtqueue sizes we ask for; the device may offer fewer. */
#define QUEUE_SIZE_DATA  256
#define QUEUE_SIZE_EVENT 8
/* How long close waits for the device to take the final RSTs. */
#define CLOSE_DRAIN_NS (500ull * 1000 * 1000)

static _Thread_local char last_error[256];

const char *uvsock_last_error(void)
{
    return last_error;
}

int uvsock_fail(int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return status;
}

static int errno_status(int err)
{
    switch (err) {
    case -EINVAL:
        return UVSOCK_ERR_INVALID_ARGS;
    case -ENOTSUP:
        return UVSOCK_ERR_NOT_SUPPORTED;
    case -ENODEV:
    case -ENOENT:
        return UVSOCK_ERR_NOT_FOUND;
    case -EACCES:
    case -EPERM:
        return UVSOCK_ERR_ACCESS_DENIED;
    case -ENOMEM:
    case -E2BIG:
        return UVSOCK_ERR_NO_MEMORY;
    case -EBUSY:
        return UVSOCK_ERR_UNAVAILABLE;
    }
    return UVSOCK_ERR_IO;
}

bool cid_reserved(uint64_t cid)
{
    return cid <= VSOCK_CID_HOST || cid == 0xffffffffull || (cid >> 32);
}

/* Everything after the PCI function is open; on failure the caller frees what was made. */
static int device_bring_up(struct uvsock_dev *dev)
{
    const uint64_t wanted = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                            (1ull << VIRTIO_VSOCK_F_STREAM) |
                            (1ull << VIRTIO_VSOCK_F_NO_IMPLIED_STREAM);
    uint64_t features, cid = 0;
    int r;

    r = virtio_pci_init(&dev->vp, dev->pci);
    if (r == -ENODEV)
        return uvsock_fail(UVSOCK_ERR_NOT_SUPPORTED, "%s is not a modern virtio socket device",
                           dev->pci->name);
    if (r < 0)
        return uvsock_fail(errno_status(r),
                           "%s: virtio-pci setup failed (bad capabilities or reset)",
                           dev->pci->name);
    r = virtio_pci_negotiate(&dev->vp, wanted, 1ull << VIRTIO_F_VERSION_1, &features);
    if (r == -ENOTSUP)
        return uvsock_fail(UVSOCK_ERR_NOT_SUPPORTED, "%s does not offer VIRTIO_F_VERSION_1",
                           dev->pci->name);
    if (r < 0)
        return uvsock_fail(UVSOCK_ERR_NOT_SUPPORTED, "%s refused FEATURES_OK for our feature set",
                           dev->pci->name);
    /* "If no feature bit is negotiated, the device SHOULD act as if F_STREAM were"; with
     * NO_IMPLIED_STREAM stream sockets exist only if F_STREAM was negotiated too. */
    if ((features & (1ull << VIRTIO_VSOCK_F_NO_IMPLIED_STREAM)) &&
        !(features & (1ull << VIRTIO_VSOCK_F_STREAM))) {
        virtio_pci_add_status(&dev->vp, VIRTIO_STATUS_FAILED);
        return uvsock_fail(UVSOCK_ERR_NOT_SUPPORTED, "%s offers no stream sockets", dev->pci->name);
    }
    dev->stats.features = features;

    /* Initialisation order (5.10.6): read guest_cid, fill the event queue, then rx. */
    r = virtio_pci_read_config(&dev->vp, 0, &cid, sizeof(cid));
    if (r < 0)
        return uvsock_fail(UVSOCK_ERR_IO, "%s: cannot read guest_cid", dev->pci->name);
    if (cid_reserved(cid)) {
        char num[32];
        snprintf(num, sizeof(num), "%llu", (unsigned long long)cid);
        return uvsock_fail(UVSOCK_ERR_IO, "device reports reserved guest_cid %s", num);
    }
    dev->cid = (uint32_t)cid;

    for (uint16_t q = 0; q < VSOCK_VQ_COUNT; q++) {
        uint16_t size = q == VSOCK_VQ_EVENT ? QUEUE_SIZE_EVENT : QUEUE_SIZE_DATA;
        /* A ring is one DMA object: with 4 KiB objects (UIO without hugepages) halve it
         * until it fits (the used ring's alignment padding is at most 64 bytes). */
        while (size > 8 &&
               vring_desc_size(size) + vring_avail_size(size) + vring_used_size(size) + 64 >
                   dev->pci->dma_max_contig)
            size /= 2;
        r = virtio_pci_setup_queue(&dev->vp, &dev->vq[q], q, size);
        if (r < 0)
            return uvsock_fail(errno_status(r), "%s: virtqueue setup failed", dev->pci->name);
        snprintf(dev->stats.vq[q].name, sizeof(dev->stats.vq[q].name), "%s",
                 q == VSOCK_VQ_RX   ? "rx"
                 : q == VSOCK_VQ_TX ? "tx"
                                    : "event");
    }
    if ((r = rx_init(dev)) || (r = tx_init(dev)) || (r = conn_table_init(dev)))
        return uvsock_fail(r, "%s: out of DMA or heap memory", dev->pci->name);
    virtio_pci_add_status(&dev->vp, VIRTIO_STATUS_DRIVER_OK);
    if ((r = service_start(dev)))
        return uvsock_fail(r, "cannot start the service thread");
    return UVSOCK_OK;
}

static void device_free(struct uvsock_dev *dev)
{
    service_stop(dev);
    if (dev->pci) {
        virtio_pci_reset(&dev->vp);
        if (dev->table)
            conn_table_fini(dev);
        tx_fini(dev);
        rx_fini(dev);
        for (int q = 0; q < VSOCK_VQ_COUNT; q++)
            if (dev->vq[q].desc)
                virtqueue_fini(&dev->vq[q], dev->pci);
        pci_func_destroy(dev->pci);
    }
    if (dev->wake_fd >= 0)
        close(dev->wake_fd);
    free(dev->cbq);
    pthread_mutex_destroy(&dev->lock);
    free(dev);
}

int uvsock_open(const char *uri, struct uvsock_dev **out)
{
    struct uvsock_dev *dev;
    const char *why = NULL;
    int r;

    last_error[0] = 0;
    if (!out)
        return uvsock_fail(UVSOCK_ERR_INVALID_ARGS, "no place for the device");
    *out = NULL;
    if (!uri || !*uri)
        uri = "sim";
    if (strlen(uri) >= sizeof(dev->uri))
        return uvsock_fail(UVSOCK_ERR_INVALID_ARGS, "device URI too long");
    dev = calloc(1, sizeof(*dev));
    if (!dev)
        return uvsock_fail(UVSOCK_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_init(&dev->lock, NULL);
    dev->wake_fd = -1;
    snprintf(dev->uri, sizeof(dev->uri), "%s", uri);

    r = pci_func_open(uri, &dev->pci, &why);
    if (r < 0) {
        int status = uvsock_fail(errno_status(r), "%s", why ? why : strerror(-r));
        device_free(dev);
        return status;
    }
    r = device_bring_up(dev);
    if (r) {
        if (dev->pci)
            virtio_pci_add_status(&dev->vp, VIRTIO_STATUS_FAILED);
        device_free(dev);
        return r;
    }
    *out = dev;
    return UVSOCK_OK;
}

static void rst_conn(struct uvsock_dev *dev, struct conn *c, void *arg)
{
    (void)arg;
    conn_abort(dev, c, false);
}

void uvsock_close(struct uvsock_dev *dev)
{
    uint64_t deadline;

    if (!dev)
        return;
    if (dev->thread_running && pthread_equal(pthread_self(), dev->thread)) {
        /* From a callback: joining our own thread would hang. Refuse loudly instead. */
        uvsock_log(UVSOCK_LOG_ERROR, "uvsock_close called from a callback: ignored");
        return;
    }
    service_stop(dev);
    capture_close(dev);
    /* Tell the peer every connection is gone, and give the device a moment to take it. */
    pthread_mutex_lock(&dev->lock);
    conn_for_each(dev, rst_conn, NULL);
    tx_pump(dev);
    tx_kick(dev);
    deadline = uvsock_now_ns() + CLOSE_DRAIN_NS;
    /* More RSTs than tx slots wait in the RST queue: keep feeding the ring as it drains. */
    while ((virtqueue_in_flight(&dev->vq[VSOCK_VQ_TX]) || dev->raw_rst_len) &&
           uvsock_now_ns() < deadline) {
        pthread_mutex_unlock(&dev->lock);
        usleep(1000);
        pthread_mutex_lock(&dev->lock);
        tx_reap(dev);
        tx_pump(dev);
        tx_kick(dev);
    }
    conn_close_deferred(dev);
    pthread_mutex_unlock(&dev->lock);
    device_free(dev);
}

/* ===================================================================== calls == */

/* The FIDL socket: an open AF_UNIX SOCK_STREAM socket. */
static int check_socket(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int type = 0;
    socklen_t tlen = sizeof(type);

    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
        return UVSOCK_ERR_BAD_HANDLE;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM)
        return UVSOCK_ERR_WRONG_TYPE;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 || ss.ss_family != AF_UNIX)
        return UVSOCK_ERR_WRONG_TYPE;
    return UVSOCK_OK;
}

/* SendRequest and SendResponse: the same checks, a new connection, one control packet. */
static int open_conn(struct uvsock_dev *dev, struct uvsock_addr addr, int sock,
                     enum uvsock_conn_state state, unsigned op)
{
    struct conn *c;
    int flags, r;

    if (!dev)
        return UVSOCK_ERR_INVALID_ARGS;
    if ((r = check_socket(sock)))
        return r;
    pthread_mutex_lock(&dev->lock);
    if (!dev->started) {
        r = UVSOCK_ERR_BAD_STATE;
    } else if (conn_find(dev, addr)) {
        r = UVSOCK_ERR_ALREADY_BOUND;
    } else if ((flags = fcntl(sock, F_GETFL)) < 0 || fcntl(sock, F_SETFL, flags | O_NONBLOCK) < 0) {
        r = UVSOCK_ERR_BAD_HANDLE;
    } else if (!(c = conn_create(dev, addr, sock, state))) {
        fcntl(sock, F_SETFL, flags); /* the caller keeps its fd as it was */
        r = UVSOCK_ERR_NO_MEMORY;
    } else {
        struct request_memo m;

        /* Credit the peer offered in its REQUEST, so data can flow before its next packet. */
        if (op == PENDING_RESPONSE && take_request(dev, addr, &m)) {
            c->peer_buf_alloc = m.buf_alloc;
            c->peer_fwd_cnt = m.fwd_cnt;
        }
        c->opened = op == PENDING_RESPONSE;
        tx_queue_op(dev, c, op);
        tx_kick(dev);
        r = UVSOCK_OK;
    }
    pthread_mutex_unlock(&dev->lock);
    if (r == UVSOCK_OK)
        uvsock_wake(dev);
    return r;
}

int uvsock_send_request(struct uvsock_dev *dev, struct uvsock_addr addr, int sock)
{
    return open_conn(dev, addr, sock, UVSOCK_CONN_WAIT_RESPONSE, PENDING_REQUEST);
}

int uvsock_send_response(struct uvsock_dev *dev, struct uvsock_addr addr, int sock)
{
    return open_conn(dev, addr, sock, UVSOCK_CONN_ACTIVE, PENDING_RESPONSE);
}

int uvsock_send_shutdown(struct uvsock_dev *dev, struct uvsock_addr addr)
{
    struct conn *c;
    int r = UVSOCK_OK;

    if (!dev)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&dev->lock);
    c = dev->started ? conn_find(dev, addr) : NULL;
    if (!c || c->state == UVSOCK_CONN_WILL_SHUT_DOWN || c->state == UVSOCK_CONN_SHUTTING_DOWN ||
        c->state == UVSOCK_CONN_PEER_SHUT_DOWN) {
        r = UVSOCK_ERR_BAD_STATE;
    } else {
        int queued = 0;

        /* Bytes our user wrote before this call still go out; later ones do not. */
        if (!c->user_eof && ioctl(c->fd, FIONREAD, &queued) < 0)
            queued = 0;
        c->shutdown_remaining = queued > 0 ? (uint64_t)queued : 0;
        if (c->shutdown_remaining || c->vmo.remaining) {
            conn_set_state(c, UVSOCK_CONN_WILL_SHUT_DOWN);
        } else {
            conn_set_state(c, UVSOCK_CONN_SHUTTING_DOWN);
            tx_queue_op(dev, c, PENDING_SHUTDOWN);
            tx_kick(dev);
        }
    }
    pthread_mutex_unlock(&dev->lock);
    if (r == UVSOCK_OK)
        uvsock_wake(dev);
    return r;
}

int uvsock_send_rst(struct uvsock_dev *dev, struct uvsock_addr addr)
{
    struct conn *c;

    if (!dev)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&dev->lock);
    c = conn_find(dev, addr);
    if (c) {
        conn_abort(dev, c, false);
    } else {
        take_request(dev, addr, NULL); /* a refused Request: its peer's RST is no news */
        tx_raw_rst(dev, addr);
    }
    tx_kick(dev);
    pthread_mutex_unlock(&dev->lock);
    uvsock_wake(dev);
    return UVSOCK_OK;
}

uint32_t uvsock_get_cid(struct uvsock_dev *dev)
{
    uint32_t cid;

    if (!dev)
        return 0;
    pthread_mutex_lock(&dev->lock);
    cid = dev->cid;
    pthread_mutex_unlock(&dev->lock);
    return cid;
}

/* The VMO: an open fd that can be read at an offset. */
static int check_vmo_handle(int fd)
{
    struct stat st;

    if (fd < 0 || fstat(fd, &st) < 0)
        return UVSOCK_ERR_BAD_HANDLE;
    if (lseek(fd, 0, SEEK_CUR) < 0 || (fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY)
        return UVSOCK_ERR_WRONG_TYPE;
    return UVSOCK_OK;
}

/* A regular file must hold [off, off+len). */
static int check_vmo_range(int fd, uint64_t off, uint64_t len)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return UVSOCK_ERR_BAD_HANDLE;
    if (S_ISREG(st.st_mode) && off + len > (uint64_t)st.st_size)
        return UVSOCK_ERR_OUT_OF_RANGE;
    return UVSOCK_OK;
}

int uvsock_send_vmo(struct uvsock_dev *dev, struct uvsock_addr addr, int vmo, uint64_t off,
                    uint64_t len)
{
    struct conn *c;
    int r, fd;

    if (!dev)
        return UVSOCK_ERR_INVALID_ARGS;
    /* The handle first, as the FIDL transport would; then state, address, arguments. */
    if ((r = check_vmo_handle(vmo)))
        return r;
    pthread_mutex_lock(&dev->lock);
    c = dev->started ? conn_find(dev, addr) : NULL;
    if (!dev->started) {
        r = UVSOCK_ERR_BAD_STATE;
    } else if (!c) {
        r = UVSOCK_ERR_NOT_FOUND;
    } else if (c->vmo.fd >= 0 ||
               (c->state != UVSOCK_CONN_ACTIVE && c->state != UVSOCK_CONN_WAIT_RESPONSE)) {
        /* One VMO at a time; and none once shutting down, where it could never complete. */
        r = UVSOCK_ERR_BAD_STATE;
    } else if (len == 0 || off + len < off) {
        r = UVSOCK_ERR_INVALID_ARGS;
    } else if ((r = check_vmo_range(vmo, off, len)) == UVSOCK_OK) {
        fd = fcntl(vmo, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            r = UVSOCK_ERR_NO_RESOURCES;
        } else {
            c->vmo = (struct vmo_tx){.fd = fd, .off = off, .remaining = len, .in_ring = 0};
        }
    }
    pthread_mutex_unlock(&dev->lock);
    if (r == UVSOCK_OK)
        uvsock_wake(dev);
    return r;
}

static void reset_conn_quietly(struct uvsock_dev *dev, struct conn *c, void *arg)
{
    (void)arg;
    conn_abort(dev, c, false);
}

int uvsock_start(struct uvsock_dev *dev, const struct uvsock_callbacks *cb, void *ctx)
{
    if (!dev || !cb)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&dev->lock);
    if (dev->started) {
        /* As the Fuchsia driver's RemoveCallbacksLocked: the old client's connections end. */
        conn_for_each(dev, reset_conn_quietly, NULL);
        dev->cbq_len = 0;
    }
    dev->cb = *cb;
    dev->cb_ctx = ctx;
    dev->started = true;
    if (!dev->rx_posted)
        rx_post_all(dev);
    tx_kick(dev);
    pthread_mutex_unlock(&dev->lock);
    uvsock_wake(dev);
    return UVSOCK_OK;
}

/* ============================================================= introspection == */

struct list_ctx {
    struct uvsock_addr *addrs;
    size_t max, n;
};

static void list_one(struct uvsock_dev *dev, struct conn *c, void *arg)
{
    struct list_ctx *l = arg;

    (void)dev;
    if (l->n < l->max)
        l->addrs[l->n] = c->addr;
    l->n++;
}

int uvsock_conn_list(struct uvsock_dev *dev, struct uvsock_addr *addrs, size_t max, size_t *count)
{
    struct list_ctx l = {.addrs = addrs, .max = addrs ? max : 0};

    if (!dev || !count)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&dev->lock);
    conn_for_each(dev, list_one, &l);
    pthread_mutex_unlock(&dev->lock);
    *count = l.n;
    return UVSOCK_OK;
}

/* The most important reason c is not moving, and since when. */
static enum uvsock_blocked_on blocked_on(struct uvsock_dev *dev, const struct conn *c, int unsent,
                                         uint64_t *since)
{
    bool has_data = c->vmo.remaining || unsent > 0;

    if (c->state == UVSOCK_CONN_WAIT_RESPONSE) {
        *since = c->created_ns;
        return UVSOCK_BLOCKED_RESPONSE;
    }
    if (has_data && tx_conn_wants_data(dev, c) && conn_peer_free(c) == 0) {
        *since = c->starved_since_ns ? c->starved_since_ns : c->credit_request_sent_ns;
        return UVSOCK_BLOCKED_PEER_CREDIT;
    }
    if (has_data && tx_conn_wants_data(dev, c) && dev->tx_free_count <= dev->tx_reserve) {
        *since = dev->tx_ring_full_since_ns;
        return UVSOCK_BLOCKED_TX_RING;
    }
    if (c->hold.len) {
        *since = c->hold_since_ns;
        return UVSOCK_BLOCKED_USER_READ;
    }
    *since = 0;
    return UVSOCK_BLOCKED_NOTHING;
}

int uvsock_conn_info(struct uvsock_dev *dev, struct uvsock_addr addr, struct uvsock_conn_info *info)
{
    struct conn *c;
    int unsent = 0, outq = 0;

    if (!dev || !info)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&dev->lock);
    c = conn_find(dev, addr);
    if (!c) {
        pthread_mutex_unlock(&dev->lock);
        return UVSOCK_ERR_NOT_FOUND;
    }
    if (ioctl(c->fd, FIONREAD, &unsent) < 0 || c->user_eof)
        unsent = 0;
    if (ioctl(c->fd, TIOCOUTQ, &outq) < 0)
        outq = 0;
    *info = (struct uvsock_conn_info){
        .addr = c->addr,
        .state = c->state,
        .buf_alloc = c->buf_alloc,
        .fwd_cnt = c->fwd_cnt,
        .rx_cnt = c->rx_cnt,
        .last_fwd_cnt_sent = c->last_fwd_cnt_sent,
        .held = c->hold.len,
        .sock_unread = (uint32_t)outq,
        .peer_buf_alloc = c->peer_buf_alloc,
        .peer_fwd_cnt = c->peer_fwd_cnt,
        .tx_cnt = c->tx_cnt,
        .in_flight = c->tx_cnt - c->peer_fwd_cnt,
        .peer_free = conn_peer_free(c),
        .peer_shutdown = c->peer_shutdown,
        .bytes_sent = c->bytes_sent,
        .bytes_received = c->bytes_received,
        .vmo_remaining = c->vmo.remaining,
        .credit_update_sent_ns = c->credit_update_sent_ns,
        .credit_update_recv_ns = c->credit_update_recv_ns,
        .credit_request_sent_ns = c->credit_request_sent_ns,
        .credit_request_recv_ns = c->credit_request_recv_ns,
        .created_ns = c->created_ns,
        .sock_unsent = (uint32_t)unsent,
    };
    info->blocked_on = blocked_on(dev, c, unsent, &info->blocked_since_ns);
    pthread_mutex_unlock(&dev->lock);
    return UVSOCK_OK;
}

static void vq_info(struct uvsock_vq_info *out, struct virtqueue *vq)
{
    out->size = vq->size;
    out->num_free = vq->num_free;
    out->avail_idx = vq->avail_idx;
    out->used_idx = vring_load(&vq->used->idx);
    out->last_used_idx = vq->last_used_idx;
    out->used_event = vring_load(vring_used_event(vq->avail, vq->size));
    out->avail_event = vring_load(vring_avail_event(vq->used, vq->size));
    out->kicks = vq->kicks;
    out->kicks_suppressed = vq->kicks_suppressed;
    out->interrupts = vq->interrupts;
    out->bad_used = vq->bad_used;
}

int uvsock_dev_info(struct uvsock_dev *dev, struct uvsock_dev_info *info)
{
    if (!dev || !info)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&dev->lock);
    *info = dev->stats;
    snprintf(info->uri, sizeof(info->uri), "%s", dev->uri);
    info->cid = dev->cid;
    info->started = dev->started;
    info->connections = dev->conn_count;
    for (int q = 0; q < VSOCK_VQ_COUNT; q++)
        vq_info(&info->vq[q], &dev->vq[q]);
    pthread_mutex_unlock(&dev->lock);
    return UVSOCK_OK;
}

struct uvsock_sim *uvsock_sim(struct uvsock_dev *dev)
{
    return dev ? sim_from_pci_func(dev->pci) : NULL;
}
