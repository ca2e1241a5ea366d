/* SPDX-License-Identifier: MIT */
/*
 * The driver side of a split virtqueue, with VIRTIO_RING_F_EVENT_IDX.
 *
 * Not thread-safe: one owner (the core's service thread, under the device lock) drives a
 * queue. Everything the device writes (used ids and lengths) is treated as untrusted.
 */
#ifndef UVSOCK_VIRTQUEUE_H
#define UVSOCK_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "pci_func.h"
#include "virtio_ring.h"

struct virtqueue {
    uint16_t index; /* queue number in the device */
    uint16_t size;  /* entries, a power of two */
    bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */

    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    struct pci_dma mem; /* one allocation for all three parts */
    uint64_t desc_iova, avail_iova, used_iova;
    uint64_t notify_offset; /* the transport's: where this queue's notify register is */

    uint16_t free_head;      /* first free descriptor (chained through .next) */
    uint16_t num_free;       /* free descriptors */
    uint16_t avail_idx;      /* shadow of avail->idx: next slot we publish */
    uint16_t kicked_idx;     /* avail_idx when the device was last told */
    uint16_t last_used_idx;  /* next used entry to consume */
    uint16_t last_seen_used; /* device's used->idx at the last get_used */

    /* Per head descriptor: the caller's cookie (NULL if the head is not in flight), how many
     * descriptors the chain has, and how many bytes the device may write into it. */
    void **cookie;
    uint16_t *chain_len;
    uint32_t *writable;
    /* The free list and chain links, kept privately: desc[].next is device-visible memory a
     * hostile device could rewrite to make us hand out a descriptor still in flight. */
    uint16_t *next;

    uint64_t kicks, kicks_suppressed, interrupts, bad_used;
};

/* One buffer of a chain. */
struct vq_buf {
    uint64_t iova;
    uint32_t len;
    bool device_writable;
};

/*
 * Allocates the rings (one DMA object from `f`) and the bookkeeping for `size` entries.
 * -EINVAL if size is not a power of two in [1, 32768]; -ENOMEM / the DMA error otherwise.
 */
int virtqueue_init(struct virtqueue *vq, struct pci_func *f, uint16_t index, uint16_t size,
                   bool event_idx);
void virtqueue_fini(struct virtqueue *vq, struct pci_func *f);

/*
 * Chains bufs[0..n) (device-readable ones first, then device-writable, as the spec requires)
 * and makes the chain available. cookie must not be NULL; virtqueue_get_used hands it back.
 * -ENOSPC if fewer than n descriptors are free, -EINVAL for n == 0 or a bad order.
 * The device is not told: call virtqueue_kick_prepare after a batch.
 */
int virtqueue_add(struct virtqueue *vq, const struct vq_buf *bufs, unsigned n, void *cookie);

/*
 * True if the device must be notified of the buffers added since the last call (EVENT_IDX:
 * avail_event passed; otherwise VRING_USED_F_NO_NOTIFY clear). Counts kicks / suppressed.
 */
bool virtqueue_kick_prepare(struct virtqueue *vq);

/*
 * Takes the next used entry.
 *   1        *cookie and *len set (len = bytes the device wrote, <= the chain's writable size)
 *   0        nothing used
 *   -EBADMSG the entry's id is not a head in flight (out of range or reported twice): skipped,
 *            *cookie = NULL
 *   -EMSGSIZE the entry's length exceeds what the chain can hold: the chain is reclaimed,
 *            *cookie set, *len = 0 (treat the buffer as holding nothing valid)
 * Rejected entries count in bad_used.
 */
int virtqueue_get_used(struct virtqueue *vq, void **cookie, uint32_t *len);

/* True if the device has published used entries we have not consumed. */
bool virtqueue_has_used(struct virtqueue *vq);

/*
 * Asks for an interrupt once the next used entry arrives (EVENT_IDX: used_event =
 * last_used_idx; otherwise clears VRING_AVAIL_F_NO_INTERRUPT). Returns true if entries are
 * already pending, so the caller must process again rather than wait (the race the spec
 * warns about).
 */
bool virtqueue_enable_interrupts(struct virtqueue *vq);
/* Asks for no interrupts (a hint only; the device may still send some). */
void virtqueue_disable_interrupts(struct virtqueue *vq);

/* Descriptors in flight (made available, not yet used). */
static inline uint16_t virtqueue_in_flight(const struct virtqueue *vq)
{
    return (uint16_t)(vq->size - vq->num_free);
}

#endif /* UVSOCK_VIRTQUEUE_H */
