/* SPDX-License-Identifier: MIT */
/*
 * Callbacks are produced while the device lock is held but run after it is dropped, so a
 * callback that calls back into the device cannot deadlock. The service thread is the only
 * producer of Callbacks, so their order is the order the device produced them.
 */
#include <stdlib.h>

#include "device.h"

void cb_queue(struct uvsock_dev *dev, enum uvsock_event_type type, struct uvsock_addr addr,
              uint32_t new_cid)
{
    if (!dev->started)
        return;
    if (dev->cbq_len == dev->cbq_cap) {
        uint32_t cap = dev->cbq_cap ? dev->cbq_cap * 2 : 64;
        struct pending_cb *q = realloc(dev->cbq, cap * sizeof(*q));
        if (!q) {
            uvsock_log(UVSOCK_LOG_ERROR, "out of memory: %s callback lost",
                       uvsock_event_type_str(type));
            return;
        }
        dev->cbq = q;
        dev->cbq_cap = cap;
    }
    if (dev->cbq_len == 0) {
        dev->cbq_cb = dev->cb;
        dev->cbq_ctx = dev->cb_ctx;
    }
    dev->cbq[dev->cbq_len++] = (struct pending_cb){.type = type, .addr = addr, .new_cid = new_cid};
}

void cb_deliver(struct uvsock_dev *dev)
{
    struct pending_cb *q;
    struct uvsock_callbacks cb;
    void *ctx;
    uint32_t len;

    pthread_mutex_lock(&dev->lock);
    q = dev->cbq;
    len = dev->cbq_len;
    cb = dev->cbq_cb;
    ctx = dev->cbq_ctx;
    dev->cbq = NULL;
    dev->cbq_len = dev->cbq_cap = 0;
    pthread_mutex_unlock(&dev->lock);

    for (uint32_t i = 0; i < len; i++) {
        const struct pending_cb *p = &q[i];
        switch (p->type) {
        case UVSOCK_EVENT_REQUEST:
            if (cb.request)
                cb.request(ctx, p->addr);
            break;
        case UVSOCK_EVENT_RESPONSE:
            if (cb.response)
                cb.response(ctx, p->addr);
            break;
        case UVSOCK_EVENT_RST:
            if (cb.rst)
                cb.rst(ctx, p->addr);
            break;
        case UVSOCK_EVENT_SHUTDOWN:
            if (cb.shutdown)
                cb.shutdown(ctx, p->addr);
            break;
        case UVSOCK_EVENT_TRANSPORT_RESET:
            if (cb.transport_reset)
                cb.transport_reset(ctx, p->new_cid);
            break;
        case UVSOCK_EVENT_SEND_VMO_COMPLETE:
            if (cb.send_vmo_complete)
                cb.send_vmo_complete(ctx, p->addr);
            break;
        }
    }
    free(q);
}
