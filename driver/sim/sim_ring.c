/* SPDX-License-Identifier: MIT */
/*
 * The device side of a split virtqueue (virtio 1.x, 2.7).
 *
 * Everything the driver put in the rings is untrusted: descriptor indexes, chain lengths,
 * addresses and flags are checked before use, and memory is reached only by translating
 * device addresses (IOVAs) through the sim's DMA map. A broken chain is returned to the driver
 * with used length 0 and counted; it never crashes the device.
 *
 * The index fields (avail->idx, used->idx, used_event, avail_event) are shared with the driver
 * thread and accessed only through vring_load/vring_store; ring contents are ordered by them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

void sim_vq_reset(struct sim_vq *q, uint16_t max_size)
{
    free(q->segs);
    memset(q, 0, sizeof(*q));
    /* "queue_size: On reset, specifies the maximum queue size supported by the device." */
    q->size = max_size;
}

bool sim_vq_overlaps(const struct sim_vq *q, uint64_t iova, uint64_t size)
{
    const uint64_t start[3] = {q->desc_iova, q->avail_iova, q->used_iova};
    const uint64_t len[3] = {vring_desc_size(q->size), vring_avail_size(q->size),
                             vring_used_size(q->size)};

    for (int i = 0; i < 3; i++) {
        if (start[i] < iova + size && iova < start[i] + len[i])
            return true;
    }
    return false;
}

int sim_vq_enable(struct uvsock_sim *s, struct sim_vq *q)
{
    /* Alignment requirements of the three parts (virtio 1.x, 2.7: 16, 2 and 4 bytes). */
    if ((q->desc_iova & 15) || (q->avail_iova & 1) || (q->used_iova & 3) || q->size == 0)
        return -EINVAL;
    q->desc = sim_dma_translate(s, q->desc_iova, vring_desc_size(q->size));
    q->avail = sim_dma_translate(s, q->avail_iova, vring_avail_size(q->size));
    q->used = sim_dma_translate(s, q->used_iova, vring_used_size(q->size));
    if (!q->desc || !q->avail || !q->used)
        return -EFAULT;
    q->segs = calloc(q->size, sizeof(*q->segs));
    if (!q->segs)
        return -ENOMEM;
    q->last_avail = q->used_idx = q->published = 0;
    q->enabled = true;
    return 0;
}

/*
 * True if the driver has made a buffer available. When the ring looks empty and EVENT_IDX is
 * negotiated, avail_event is set to the next index the device will read so that the driver
 * notifies when it adds one, and avail->idx is read again after a full barrier: a buffer added
 * between the first read and the avail_event store would otherwise never be noticed.
 */
bool sim_vq_has_avail(struct uvsock_sim *s, struct sim_vq *q)
{
    uint16_t idx;

    if (!q->enabled)
        return false;
    idx = vring_load(&q->avail->idx);
    if (idx == q->last_avail && sim_event_idx(s)) {
        vring_store(vring_avail_event(q->used, q->size), q->last_avail);
        vring_full_barrier();
        idx = vring_load(&q->avail->idx);
    }
    if ((uint16_t)(idx - q->last_avail) > q->size) {
        /* The driver claims more buffers than the ring holds: it is broken. */
        s->st.bad_from_driver++;
        sim_needs_reset(s);
        return false;
    }
    return idx != q->last_avail;
}

/*
 * Takes the next available chain and translates it into q->segs.
 * 0: a good chain. -EAGAIN: none available. -ENOENT: the head index itself is out of range
 * (nothing can be returned). Other negative values: a bad chain whose head (c->head) must be
 * returned to the driver with used length 0.
 */
int sim_vq_pop(struct uvsock_sim *s, struct sim_vq *q, struct sim_chain *c)
{
    uint16_t i;

    memset(c, 0, sizeof(*c));
    if (!sim_vq_has_avail(s, q))
        return -EAGAIN;
    c->head = q->avail->ring[q->last_avail & (q->size - 1)];
    q->last_avail++;
    if (c->head >= q->size)
        return -ENOENT;
    i = c->head;
    /* A chain cannot be longer than the queue: more descriptors than that is a loop. */
    for (unsigned n = 0;; n++) {
        struct vring_desc d;

        if (n >= q->size)
            return -ELOOP;
        memcpy(&d, &q->desc[i], sizeof(d)); /* read once: the driver may be hostile */
        if (d.flags & VRING_DESC_F_INDIRECT)
            return -EINVAL; /* VIRTIO_F_INDIRECT_DESC is not offered */
        if (d.flags & VRING_DESC_F_WRITE) {
            c->has_write = true;
            c->wlen += d.len;
        } else {
            /* "The driver MUST place any device-writable descriptor elements after any
             * device-readable descriptor elements." */
            if (c->has_write)
                return -EINVAL;
            c->has_read = true;
            c->rlen += d.len;
        }
        if (d.len) {
            uint8_t *p = sim_dma_translate(s, d.addr, d.len);
            if (!p)
                return -EFAULT;
            q->segs[c->nseg].p = p;
            q->segs[c->nseg].len = d.len;
            c->nseg++;
        }
        if (!(d.flags & VRING_DESC_F_NEXT))
            return 0;
        if (d.next >= q->size)
            return -EINVAL;
        i = d.next;
    }
}

/* Gives back the chain just popped, untouched (nothing to put in it after all). */
void sim_vq_unpop(struct sim_vq *q)
{
    q->last_avail--;
}

void sim_vq_add_used(struct sim_vq *q, uint32_t id, uint32_t len)
{
    struct vring_used_elem *e = &q->used->ring[q->used_idx & (q->size - 1)];

    e->id = id;
    e->len = len;
    q->used_idx++;
}

/*
 * Publishes the used entries added since the last call and interrupts the driver unless it
 * asked not to be:
 * with EVENT_IDX, "if the idx field in the used ring was equal to used_event, the device MUST
 * send a notification" (and otherwise need not); without it, the device SHOULD NOT send one
 * while VRING_AVAIL_F_NO_INTERRUPT is set.
 */
void sim_vq_publish(struct uvsock_sim *s, struct sim_vq *q)
{
    uint16_t old = q->published, now = q->used_idx;
    bool need;

    if (old == now || !q->enabled)
        return;
    vring_store(&q->used->idx, now);
    q->published = now;
    /* The used->idx store must be visible before we look at what the driver asked for. */
    vring_full_barrier();
    if (sim_event_idx(s))
        need = vring_need_event(vring_load(vring_used_event(q->avail, q->size)), now, old);
    else
        need = !(vring_load(&q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
    if (need)
        sim_raise_irq(s, VIRTIO_ISR_QUEUE);
    else
        s->st.interrupts_suppressed++;
}

size_t sim_chain_gather(const struct sim_vq *q, const struct sim_chain *c, void *buf, size_t len)
{
    uint8_t *out = buf;
    size_t done = 0;

    for (uint32_t i = 0; i < c->nseg && done < len; i++) {
        size_t n = q->segs[i].len < len - done ? q->segs[i].len : len - done;
        memcpy(out + done, q->segs[i].p, n);
        done += n;
    }
    return done;
}

size_t sim_chain_scatter(const struct sim_vq *q, const struct sim_chain *c, const void *buf,
                         size_t len)
{
    const uint8_t *in = buf;
    size_t done = 0;

    for (uint32_t i = 0; i < c->nseg && done < len; i++) {
        size_t n = q->segs[i].len < len - done ? q->segs[i].len : len - done;
        memcpy(q->segs[i].p, in + done, n);
        done += n;
    }
    return done;
}
