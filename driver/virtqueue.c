/* SPDX-License-Identifier: MIT */
/*
 * The driver side of a split virtqueue (virtio 1.x, 2.7), with VIRTIO_F_EVENT_IDX.
 *
 * The three ring parts live in one DMA object. The free descriptors are chained through a
 * private next[] array (mirrored into desc.next for the device), so adding a chain is a walk
 * down that list and reclaiming one splices it back on. Everything the driver must be able
 * to trust (the links, the caller's cookie, the chain length, how many bytes the device may
 * write) is kept in private memory the device cannot reach, indexed by descriptor.
 *
 * The device is untrusted: a used entry's id and length, and used->idx itself, are checked
 * before they index anything, and nothing is ever read back from the (device-visible)
 * descriptor table, so a device scribbling over it cannot steer our bookkeeping. No
 * allocation happens after virtqueue_init.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtqueue.h"

/*
 * virtio 1.x, 2.7: the descriptor table is 16-byte aligned, the available ring 2-byte and the
 * used ring 4-byte aligned. We place the used ring on its own cache line instead: the driver
 * writes the available ring and the device writes the used ring, and keeping the two apart
 * avoids false sharing between the two agents.
 */
#define VQ_USED_ALIGN 64u

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static bool is_pow2(unsigned v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

static uint16_t vq_mask(const struct virtqueue *vq)
{
    return (uint16_t)(vq->size - 1);
}

int virtqueue_init(struct virtqueue *vq, struct pci_func *f, uint16_t index, uint16_t size,
                   bool event_idx)
{
    if (!vq || !f || !is_pow2(size) || size > VIRTQUEUE_MAX_SIZE)
        return -EINVAL;

    memset(vq, 0, sizeof(*vq));

    size_t avail_off = vring_desc_size(size);
    size_t used_off = align_up(avail_off + vring_avail_size(size), VQ_USED_ALIGN);
    size_t total = used_off + vring_used_size(size);

    /*
     * The bookkeeping arrays in one allocation, widest element first so each part is
     * naturally aligned; freed through vq->cookie.
     */
    size_t book = (size_t)size * (sizeof(void *) + sizeof(uint32_t) + 2 * sizeof(uint16_t));
    unsigned char *mem = calloc(1, book);
    if (!mem)
        return -ENOMEM;

    int rc = f->ops->dma_alloc(f, total, &vq->mem);
    if (rc < 0) {
        free(mem);
        return rc;
    }

    vq->cookie = (void **)mem;
    vq->writable = (uint32_t *)(mem + (size_t)size * sizeof(void *));
    vq->chain_len = (uint16_t *)(mem + (size_t)size * (sizeof(void *) + sizeof(uint32_t)));
    vq->next = vq->chain_len + size;

    unsigned char *base = vq->mem.cpu;
    memset(base, 0, total); /* dma_alloc zeroes, but the rings must start clean regardless */
    vq->desc = (struct vring_desc *)base;
    vq->avail = (struct vring_avail *)(base + avail_off);
    vq->used = (struct vring_used *)(base + used_off);
    vq->desc_iova = vq->mem.iova;
    vq->avail_iova = vq->mem.iova + avail_off;
    vq->used_iova = vq->mem.iova + used_off;

    vq->index = index;
    vq->size = size;
    vq->event_idx = event_idx;

    /* All descriptors free, chained in order; the last one's next is never followed. */
    for (unsigned i = 0; i < size; i++)
        vq->next[i] = (uint16_t)((i + 1) & (size - 1u));
    vq->free_head = 0;
    vq->num_free = size;
    return 0;
}

void virtqueue_fini(struct virtqueue *vq, struct pci_func *f)
{
    if (!vq)
        return;
    if (vq->mem.cpu && f)
        f->ops->dma_free(f, &vq->mem);
    free(vq->cookie); /* the bookkeeping block starts with the cookie array */
    memset(vq, 0, sizeof(*vq));
}

int virtqueue_add(struct virtqueue *vq, const struct vq_buf *bufs, unsigned n, void *cookie)
{
    if (n == 0 || !bufs || !cookie)
        return -EINVAL;

    /*
     * virtio 1.x, 2.7.4.2: "The driver MUST place any device-writable descriptor elements
     * after any device-readable descriptor elements." and "Drivers MUST NOT add a descriptor
     * chain longer than 2^32 bytes in total". Both are checked before any state changes, so a
     * rejected chain leaves the queue untouched.
     */
    uint64_t total = 0, writable = 0;
    bool seen_writable = false;
    for (unsigned i = 0; i < n; i++) {
        if (bufs[i].device_writable) {
            seen_writable = true;
            writable += bufs[i].len;
        } else if (seen_writable) {
            return -EINVAL;
        }
        total += bufs[i].len;
    }
    if (total > UINT32_MAX)
        return -EINVAL;
    if (n > vq->num_free)
        return -ENOSPC;

    uint16_t mask = vq_mask(vq);
    uint16_t head = vq->free_head;
    uint16_t i = head;
    for (unsigned k = 0; k < n; k++) {
        struct vring_desc *d = &vq->desc[i];
        d->addr = bufs[k].iova;
        d->len = bufs[k].len;
        d->flags = (uint16_t)((bufs[k].device_writable ? VRING_DESC_F_WRITE : 0) |
                              (k + 1 < n ? VRING_DESC_F_NEXT : 0));
        /*
         * next[i] names the next free descriptor: for all but the last element that is the
         * chain's next link, and for the last it is the new free head (the device ignores
         * next without VRING_DESC_F_NEXT).
         */
        d->next = vq->next[i];
        i = vq->next[i];
    }
    vq->free_head = i;
    vq->num_free = (uint16_t)(vq->num_free - n);

    vq->cookie[head] = cookie;
    vq->chain_len[head] = (uint16_t)n;
    vq->writable[head] = (uint32_t)writable;

    /*
     * virtio 1.x, 2.7.13.3.1: "The driver MUST perform a suitable memory barrier before the
     * idx update, to ensure the device sees the most up-to-date copy." The release store of
     * avail->idx is that barrier: the descriptors and the ring slot are visible before it.
     */
    vq->avail->ring[vq->avail_idx & mask] = head;
    vq->avail_idx++;
    vring_store(&vq->avail->idx, vq->avail_idx);
    return 0;
}

/*
 * Assumes fewer than 2^16 chains are made available between two calls; the core calls this
 * after every batch, and a batch is at most the ring size (<= 32768).
 */
bool virtqueue_kick_prepare(struct virtqueue *vq)
{
    uint16_t old_idx = vq->kicked_idx;
    uint16_t new_idx = vq->avail_idx;

    if (old_idx == new_idx)
        return false; /* nothing added since the last call: nothing to tell */
    vq->kicked_idx = new_idx;

    /*
     * avail->idx was published with a release store; the device's suppression field must be
     * read only after that store is visible, or the device may have gone to sleep on the old
     * index while we read its stale "don't notify" (the lost-wakeup race).
     */
    vring_full_barrier();

    bool need;
    if (vq->event_idx) {
        /*
         * virtio 1.x, 2.7.10.1: "If the idx field in the available ring (which determined
         * where that descriptor index was placed) was equal to avail_event, the driver MUST
         * send a notification." For a batch: if avail_event lies in [old_idx, new_idx).
         */
        uint16_t event = vring_load(vring_avail_event(vq->used, vq->size));
        need = vring_need_event(event, new_idx, old_idx);
    } else {
        /* "If flags is 1, the driver SHOULD NOT send a notification." */
        need = !(vring_load(&vq->used->flags) & VRING_USED_F_NO_NOTIFY);
    }

    if (need)
        vq->kicks++;
    else
        vq->kicks_suppressed++;
    return need;
}

/* Returns a chain's descriptors to the free list and forgets its bookkeeping. */
static void reclaim(struct virtqueue *vq, uint16_t head)
{
    uint16_t n = vq->chain_len[head];
    uint16_t tail = head;

    for (uint16_t k = 1; k < n; k++)
        tail = vq->next[tail];
    vq->next[tail] = vq->free_head;
    vq->free_head = head;
    vq->num_free = (uint16_t)(vq->num_free + n);

    vq->cookie[head] = NULL;
    vq->chain_len[head] = 0;
    vq->writable[head] = 0;
}

/*
 * How many used entries may be consumed: what the device published, but never more than we
 * have in flight. A device that moves used->idx further ahead is broken or hostile; counting
 * its surplus as entries would make us read ring slots it never filled.
 */
static uint16_t used_pending(struct virtqueue *vq)
{
    uint16_t used_idx = vring_load(&vq->used->idx);
    uint16_t pending = (uint16_t)(used_idx - vq->last_used_idx);
    uint16_t in_flight = virtqueue_in_flight(vq);

    if (pending > in_flight) {
        /* Counted once per used->idx value the device publishes, not once per poll. */
        if (used_idx != vq->last_seen_used)
            vq->bad_used++;
        pending = in_flight;
    }
    vq->last_seen_used = used_idx;
    return pending;
}

int virtqueue_get_used(struct virtqueue *vq, void **cookie, uint32_t *len)
{
    *cookie = NULL;
    *len = 0;

    /* The acquire load of used->idx in used_pending orders the entry reads below after it. */
    if (used_pending(vq) == 0)
        return 0;

    struct vring_used_elem *e = &vq->used->ring[vq->last_used_idx & vq_mask(vq)];
    /* Each field is read exactly once: the device may rewrite it while we look. */
    uint32_t id = __atomic_load_n(&e->id, __ATOMIC_RELAXED);
    uint32_t used_len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
    vq->last_used_idx++;

    if (id >= vq->size || !vq->cookie[id]) {
        /* Out of range, not a head, or already reported: nothing to reclaim. */
        vq->bad_used++;
        return -EBADMSG;
    }

    void *c = vq->cookie[id];
    uint32_t writable = vq->writable[id];
    reclaim(vq, (uint16_t)id);
    *cookie = c;

    /*
     * virtio 1.x, 2.7.8.2: "The driver MUST NOT make assumptions about data in device-writable
     * buffers beyond the first len bytes". A len beyond what the chain can hold is a lie; the
     * buffer comes back to the caller as holding nothing valid.
     */
    if (used_len > writable) {
        vq->bad_used++;
        return -EMSGSIZE;
    }
    *len = used_len;
    return 1;
}

bool virtqueue_has_used(struct virtqueue *vq)
{
    return used_pending(vq) != 0;
}

bool virtqueue_enable_interrupts(struct virtqueue *vq)
{
    if (vq->event_idx) {
        /* Interrupt once the device writes the used entry at index last_used_idx. */
        vring_store(vring_used_event(vq->avail, vq->size), vq->last_used_idx);
    } else {
        vring_store(&vq->avail->flags, 0);
    }
    /*
     * The request must be visible before we look at used->idx again: otherwise the device can
     * publish an entry, see the old request (no interrupt), and we sleep on an entry that is
     * already there. Hence the full barrier and the re-check the caller must act on.
     */
    vring_full_barrier();
    return virtqueue_has_used(vq);
}

void virtqueue_disable_interrupts(struct virtqueue *vq)
{
    if (vq->event_idx) {
        /*
         * virtio 1.x, 2.7.7.1: with VIRTIO_F_EVENT_IDX "The driver MUST set flags to 0", so
         * suppression goes through used_event instead: an index just behind the device's,
         * which it will not pass again until the 16-bit index wraps.
         */
        vring_store(vring_used_event(vq->avail, vq->size), (uint16_t)(vq->last_used_idx - 1));
    } else {
        vring_store(&vq->avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
    }
}
