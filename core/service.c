/* SPDX-License-Identifier: MIT */
/*
 * The service thread: one per device. It waits (without the lock) on the interrupt fd, a
 * wake eventfd and the user sockets that can make progress, then, under the lock, drains the
 * used rings, moves data both ways and kicks the device; Callbacks run after the lock is
 * dropped. This is what keeps data moving while the caller is blocked elsewhere.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "device.h"

uint64_t uvsock_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void uvsock_wake(struct uvsock_dev *dev)
{
    uint64_t one = 1;

    if (write(dev->wake_fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is saturated, the thread is woken anyway. */
    }
}

/* What the thread polls on, rebuilt each round under the lock. */
struct poll_set {
    struct pollfd *pfd;
    struct uvsock_addr *addr; /* the connection behind pfd[i] (i >= 2) */
    uint64_t *id;
    uint32_t len, cap;
    bool starved; /* some connection waits for credit: wake up to re-ask */
};

static bool poll_set_reserve(struct poll_set *ps, uint32_t n)
{
    if (n <= ps->cap)
        return true;
    uint32_t cap = n * 2;
    struct pollfd *pfd = realloc(ps->pfd, cap * sizeof(*pfd));
    if (pfd)
        ps->pfd = pfd;
    struct uvsock_addr *addr = realloc(ps->addr, cap * sizeof(*addr));
    if (addr)
        ps->addr = addr;
    uint64_t *id = realloc(ps->id, cap * sizeof(*id));
    if (id)
        ps->id = id;
    if (!pfd || !addr || !id)
        return false;
    ps->cap = cap;
    return true;
}

static void add_conn_fd(struct uvsock_dev *dev, struct conn *c, void *arg)
{
    struct poll_set *ps = arg;
    short events = 0;

    if (c->hold.len)
        events |= POLLOUT; /* our user is reading: hand over what we hold */
    if (!c->readable && !c->credit_starved && tx_conn_wants_data(dev, c) && !c->vmo.remaining)
        events |= POLLIN;
    if (c->credit_starved && !tx_conn_wants_data(dev, c))
        c->credit_starved = false; /* the connection can no longer send: nothing to ask for */
    if (c->credit_starved)
        ps->starved = true;
    if (!events || ps->len == ps->cap)
        return;
    ps->pfd[ps->len] = (struct pollfd){.fd = c->fd, .events = events};
    ps->addr[ps->len] = c->addr;
    ps->id[ps->len] = c->id;
    ps->len++;
}

static void build_poll_set(struct uvsock_dev *dev, struct poll_set *ps)
{
    ps->len = 0;
    ps->starved = false;
    if (!poll_set_reserve(ps, 2 + dev->conn_count) && ps->cap < 2)
        return;
    ps->pfd[ps->len++] = (struct pollfd){.fd = dev->pci->ops->irq_fd(dev->pci), .events = POLLIN};
    ps->pfd[ps->len++] = (struct pollfd){.fd = dev->wake_fd, .events = POLLIN};
    conn_for_each(dev, add_conn_fd, ps);
}

/* Socket readiness found by poll, applied to connections that still exist. */
static void apply_poll_results(struct uvsock_dev *dev, struct poll_set *ps)
{
    for (uint32_t i = 2; i < ps->len; i++) {
        short re = ps->pfd[i].revents;
        struct conn *c;

        if (!re || !(c = conn_find_id(dev, ps->addr[i], ps->id[i])))
            continue;
        if (re & (POLLIN | POLLHUP | POLLERR))
            c->readable = true; /* recv will tell data from EOF or error */
        if (re & (POLLOUT | POLLHUP | POLLERR))
            rx_flush_hold(dev, c); /* may end c */
    }
}

static void retry_credit(struct uvsock_dev *dev, struct conn *c, void *arg)
{
    uint64_t now = *(uint64_t *)arg;

    if (c->credit_starved && tx_conn_wants_data(dev, c) &&
        now - c->credit_request_sent_ns >= CREDIT_RETRY_NS)
        tx_queue_op(dev, c, PENDING_CREDIT_REQUEST);
}

/* One round of work under the lock. Returns true if more work may be pending at once. */
static bool service_round(struct uvsock_dev *dev, bool irq)
{
    bool again = false;
    uint64_t now;

    if (irq) {
        uint8_t isr;

        dev->pci->ops->irq_ack(dev->pci);
        isr = virtio_pci_read_isr(&dev->vp);
        dev->stats.interrupts++;
        for (int q = 0; q < VSOCK_VQ_COUNT; q++)
            if (virtqueue_has_used(&dev->vq[q]))
                dev->vq[q].interrupts++;
        if (isr & VIRTIO_ISR_CONFIG) {
            uint64_t cid = 0;
            dev->stats.config_changes++;
            /* A CID change without an event is a transport reset too (as Fuchsia does). */
            if (virtio_pci_read_config(&dev->vp, 0, &cid, sizeof(cid)) == 0 && cid != dev->cid)
                rx_transport_reset(dev);
        }
    }
    rx_process(dev);
    rx_process_events(dev);
    tx_reap(dev);
    tx_pump(dev);
    now = uvsock_now_ns();
    conn_for_each(dev, retry_credit, &now);
    tx_kick(dev);
    capture_tick(dev);

    /* Ask for interrupts again; entries that raced in mean another round now. */
    for (int q = 0; q < VSOCK_VQ_COUNT; q++)
        again |= virtqueue_enable_interrupts(&dev->vq[q]);
    return again;
}

static void *service_main(void *arg)
{
    struct uvsock_dev *dev = arg;
    struct poll_set ps = {0};
    bool again = true, irq = false;

    pthread_mutex_lock(&dev->lock);
    while (!dev->stopping) {
        int timeout;

        again = service_round(dev, irq);
        build_poll_set(dev, &ps);
        timeout = again ? 0 : ps.starved ? 100 : 1000;
        pthread_mutex_unlock(&dev->lock);

        cb_deliver(dev);
        if (poll(ps.pfd, ps.len, timeout) < 0 && errno != EINTR) {
            /* Cannot happen with valid fds; do not spin if it does. */
            usleep(1000);
        }

        pthread_mutex_lock(&dev->lock);
        conn_close_deferred(dev);
        irq = ps.len > 0 && (ps.pfd[0].revents & POLLIN);
        if (ps.len > 1 && (ps.pfd[1].revents & POLLIN)) {
            uint64_t n;
            if (read(dev->wake_fd, &n, sizeof(n)) < 0) {
                /* EAGAIN: another reader took it; nothing lost. */
            }
        }
        apply_poll_results(dev, &ps);
    }
    pthread_mutex_unlock(&dev->lock);
    cb_deliver(dev);
    free(ps.pfd);
    free(ps.addr);
    free(ps.id);
    return NULL;
}

int service_start(struct uvsock_dev *dev)
{
    dev->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (dev->wake_fd < 0)
        return UVSOCK_ERR_NO_RESOURCES;
    if (pthread_create(&dev->thread, NULL, service_main, dev) != 0) {
        close(dev->wake_fd);
        dev->wake_fd = -1;
        return UVSOCK_ERR_NO_RESOURCES;
    }
    dev->thread_running = true;
    return UVSOCK_OK;
}

void service_stop(struct uvsock_dev *dev)
{
    if (!dev->thread_running)
        return;
    pthread_mutex_lock(&dev->lock);
    dev->stopping = true;
    pthread_mutex_unlock(&dev->lock);
    uvsock_wake(dev);
    pthread_join(dev->thread, NULL);
    dev->thread_running = false;
}
