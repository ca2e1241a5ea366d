/* SPDX-License-Identifier: MIT */
/*
 * The split virtqueue layout (virtio 1.x, 2.7 "Split Virtqueues"), shared by the driver side
 * (virtqueue.c) and the simulated device's side (sim/). Little-endian host assumed (see
 * core/vsock_wire.h).
 *
 * The index fields are shared with another agent (the device, or the simulator's thread), so
 * they are read and written only through the atomic helpers below.
 */
#ifndef UVSOCK_VIRTIO_RING_H
#define UVSOCK_VIRTIO_RING_H

#include <stddef.h>
#include <stdint.h>

#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4

#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY     1

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

#define VIRTQUEUE_MAX_SIZE 32768

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct vring_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[]; /* [size], then uint16_t used_event */
};

struct vring_used_elem {
    uint32_t id;
    uint32_t len;
};

struct vring_used {
    uint16_t flags;
    uint16_t idx;
    struct vring_used_elem ring[]; /* [size], then uint16_t avail_event */
};

/* Sizes of the three parts for a queue of `size` entries (EVENT_IDX fields included). */
static inline size_t vring_desc_size(unsigned size)
{
    return 16u * size;
}
static inline size_t vring_avail_size(unsigned size)
{
    return 6u + 2u * size;
}
static inline size_t vring_used_size(unsigned size)
{
    return 6u + 8u * size;
}

static inline uint16_t *vring_used_event(struct vring_avail *avail, unsigned size)
{
    return &avail->ring[size];
}
static inline uint16_t *vring_avail_event(struct vring_used *used, unsigned size)
{
    return (uint16_t *)&used->ring[size];
}

/*
 * The EVENT_IDX rule: notify (or interrupt) if event_idx lies in (old_idx, new_idx], i.e. the
 * other side asked to be told once this index was passed.
 */
static inline int vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/* Shared 16-bit fields: acquire loads and release stores order the ring contents around them. */
static inline uint16_t vring_load(const uint16_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void vring_store(uint16_t *p, uint16_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
/* Orders a prior index store before a later load of the other side's event field. */
static inline void vring_full_barrier(void)
{
#if defined(__SANITIZE_THREAD__)
    /* GCC's ThreadSanitizer rejects fences; a locked read-modify-write is a full barrier. */
    static int fence_word;
    __atomic_fetch_add(&fence_word, 0, __ATOMIC_SEQ_CST);
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

#endif /* UVSOCK_VIRTIO_RING_H */
