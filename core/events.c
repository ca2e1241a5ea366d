/* SPDX-License-Identifier: MIT */
/*
 * The event-queue implementation of Callbacks: each callback appends an event; consumers
 * (bindings, shell) poll an eventfd and pop. The eventfd is readable exactly while the queue
 * is not empty, so level-triggered pollers (selectors, asyncio, libedit loops) work.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "device.h"

/* A consumer that never reads must not make us grow without bound. */
#define EVENT_QUEUE_LIMIT (1u << 20)

struct uvsock_event_queue {
    pthread_mutex_t lock;
    int fd; /* eventfd: count = 1 while non-empty */
    struct uvsock_event *ring;
    size_t cap, head, len;
    uint64_t seq;
    uint64_t overflows;
};

int uvsock_event_queue_new(struct uvsock_event_queue **out)
{
    struct uvsock_event_queue *q;

    if (!out)
        return UVSOCK_ERR_INVALID_ARGS;
    q = calloc(1, sizeof(*q));
    if (!q)
        return UVSOCK_ERR_NO_MEMORY;
    q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (q->fd < 0) {
        free(q);
        return UVSOCK_ERR_NO_RESOURCES;
    }
    pthread_mutex_init(&q->lock, NULL);
    *out = q;
    return UVSOCK_OK;
}

void uvsock_event_queue_free(struct uvsock_event_queue *q)
{
    if (!q)
        return;
    close(q->fd);
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    free(q);
}

int uvsock_event_queue_fd(const struct uvsock_event_queue *q)
{
    return q ? q->fd : -1;
}

static bool queue_grow(struct uvsock_event_queue *q)
{
    size_t cap = q->cap ? q->cap * 2 : 64;
    struct uvsock_event *ring = malloc(cap * sizeof(*ring));

    if (!ring)
        return false;
    for (size_t i = 0; i < q->len; i++)
        ring[i] = q->ring[(q->head + i) % q->cap];
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
    return true;
}

static void queue_push(struct uvsock_event_queue *q, enum uvsock_event_type type,
                       struct uvsock_addr addr, uint32_t new_cid)
{
    struct uvsock_event *ev;
    uint64_t one = 1;

    pthread_mutex_lock(&q->lock);
    if (q->len >= EVENT_QUEUE_LIMIT || (q->len == q->cap && !queue_grow(q))) {
        q->overflows++;
        pthread_mutex_unlock(&q->lock);
        uvsock_log(UVSOCK_LOG_ERROR, "event queue full: %s event lost",
                   uvsock_event_type_str(type));
        return;
    }
    ev = &q->ring[(q->head + q->len) % q->cap];
    ev->type = type;
    ev->addr = addr;
    ev->new_cid = new_cid;
    ev->seq = ++q->seq;
    ev->time_ns = uvsock_now_ns();
    if (q->len++ == 0 && write(q->fd, &one, sizeof(one)) < 0) {
        /* Cannot fail: the counter only ever holds 0 or 1. */
    }
    pthread_mutex_unlock(&q->lock);
}

static void on_request(void *ctx, struct uvsock_addr a)
{
    queue_push(ctx, UVSOCK_EVENT_REQUEST, a, 0);
}
static void on_response(void *ctx, struct uvsock_addr a)
{
    queue_push(ctx, UVSOCK_EVENT_RESPONSE, a, 0);
}
static void on_rst(void *ctx, struct uvsock_addr a)
{
    queue_push(ctx, UVSOCK_EVENT_RST, a, 0);
}
static void on_shutdown(void *ctx, struct uvsock_addr a)
{
    queue_push(ctx, UVSOCK_EVENT_SHUTDOWN, a, 0);
}
static void on_transport_reset(void *ctx, uint32_t new_cid)
{
    queue_push(ctx, UVSOCK_EVENT_TRANSPORT_RESET, (struct uvsock_addr){0}, new_cid);
}
static void on_send_vmo_complete(void *ctx, struct uvsock_addr a)
{
    queue_push(ctx, UVSOCK_EVENT_SEND_VMO_COMPLETE, a, 0);
}

const struct uvsock_callbacks uvsock_event_queue_callbacks = {
    .request = on_request,
    .response = on_response,
    .rst = on_rst,
    .shutdown = on_shutdown,
    .transport_reset = on_transport_reset,
    .send_vmo_complete = on_send_vmo_complete,
};

int uvsock_start_event_queue(struct uvsock_dev *dev, struct uvsock_event_queue *q)
{
    if (!q)
        return UVSOCK_ERR_INVALID_ARGS;
    return uvsock_start(dev, &uvsock_event_queue_callbacks, q);
}

static bool queue_try_pop(struct uvsock_event_queue *q, struct uvsock_event *ev)
{
    uint64_t count;
    bool got = false;

    pthread_mutex_lock(&q->lock);
    if (q->len) {
        *ev = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        if (--q->len == 0 && read(q->fd, &count, sizeof(count)) < 0) {
            /* EAGAIN only: the counter was already 0. */
        }
        got = true;
    }
    pthread_mutex_unlock(&q->lock);
    return got;
}

int uvsock_event_queue_pop(struct uvsock_event_queue *q, struct uvsock_event *ev, int timeout_ms)
{
    uint64_t deadline;

    if (!q || !ev)
        return UVSOCK_ERR_INVALID_ARGS;
    deadline = uvsock_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
    for (;;) {
        struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
        int wait_ms = -1;

        if (queue_try_pop(q, ev))
            return UVSOCK_OK;
        if (timeout_ms == 0)
            return UVSOCK_ERR_SHOULD_WAIT;
        if (timeout_ms > 0) {
            uint64_t now = uvsock_now_ns();
            if (now >= deadline)
                return UVSOCK_ERR_TIMED_OUT;
            wait_ms = (int)((deadline - now + 999999) / 1000000);
        }
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
            return UVSOCK_ERR_IO;
    }
}

size_t uvsock_event_queue_len(const struct uvsock_event_queue *q)
{
    size_t len;

    if (!q)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&q->lock);
    len = q->len;
    pthread_mutex_unlock((pthread_mutex_t *)&q->lock);
    return len;
}

uint64_t uvsock_event_queue_overflows(const struct uvsock_event_queue *q)
{
    uint64_t n;

    if (!q)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&q->lock);
    n = q->overflows;
    pthread_mutex_unlock((pthread_mutex_t *)&q->lock);
    return n;
}
