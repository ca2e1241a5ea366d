/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue bookkeeping (driver/virtqueue.c) against a fake PCI function whose DMA
 * memory is plain heap memory. The test plays the device by writing the used ring directly.
 */
#include <errno.h>
#include <stdint.h>

#include "test.h"
#include "virtqueue.h"

/* ---- A fake PCI function: only DMA is used by the virtqueue. ---- */

#define FAKE_IOVA_BIAS 0x100000000ull /* device addresses differ from CPU addresses */

static int fake_cfg_read(struct pci_func *f, uint32_t off, void *buf, size_t len)
{
    (void)f, (void)off, (void)buf, (void)len;
    return -EINVAL;
}
static int fake_cfg_write(struct pci_func *f, uint32_t off, const void *buf, size_t len)
{
    (void)f, (void)off, (void)buf, (void)len;
    return -EINVAL;
}
static uint64_t fake_bar_size(struct pci_func *f, int bar)
{
    (void)f, (void)bar;
    return 0;
}
static uint64_t fake_bar_read(struct pci_func *f, int bar, uint64_t off, int width)
{
    (void)f, (void)bar, (void)off, (void)width;
    return 0;
}
static void fake_bar_write(struct pci_func *f, int bar, uint64_t off, int width, uint64_t val)
{
    (void)f, (void)bar, (void)off, (void)width, (void)val;
}

static int dma_live;

static int fake_dma_alloc(struct pci_func *f, size_t size, struct pci_dma *out)
{
    if (size > f->dma_max_contig)
        return -E2BIG;
    size_t rounded = (size + 4095) & ~(size_t)4095;
    void *p = aligned_alloc(4096, rounded);
    if (!p)
        return -ENOMEM;
    memset(p, 0, rounded);
    out->cpu = p;
    out->iova = (uint64_t)(uintptr_t)p + FAKE_IOVA_BIAS;
    out->size = size;
    out->priv = NULL;
    dma_live++;
    return 0;
}
static void fake_dma_free(struct pci_func *f, struct pci_dma *dma)
{
    (void)f;
    free(dma->cpu);
    dma->cpu = NULL;
    dma_live--;
}
static int fake_irq_fd(struct pci_func *f)
{
    (void)f;
    return -1;
}
static void fake_irq_ack(struct pci_func *f)
{
    (void)f;
}
static void fake_destroy(struct pci_func *f)
{
    (void)f;
}

static const struct pci_func_ops fake_ops = {
    .cfg_read = fake_cfg_read,
    .cfg_write = fake_cfg_write,
    .bar_size = fake_bar_size,
    .bar_read = fake_bar_read,
    .bar_write = fake_bar_write,
    .dma_alloc = fake_dma_alloc,
    .dma_free = fake_dma_free,
    .irq_fd = fake_irq_fd,
    .irq_ack = fake_irq_ack,
    .destroy = fake_destroy,
};

static struct pci_func fake = {.ops = &fake_ops, .dma_max_contig = 1 << 16, .name = "fake"};

/* ---- The test's device side. ---- */

/* Publishes one used entry, as a device would: entry first, then the index (release). */
static void dev_push_used(struct virtqueue *vq, uint32_t id, uint32_t len)
{
    uint16_t idx = vq->used->idx;
    vq->used->ring[idx & (vq->size - 1)].id = id;
    vq->used->ring[idx & (vq->size - 1)].len = len;
    vring_store(&vq->used->idx, (uint16_t)(idx + 1));
}

/* The head the driver published in avail slot `i`. */
static uint16_t dev_avail_head(struct virtqueue *vq, uint16_t i)
{
    return vq->avail->ring[i & (vq->size - 1)];
}

static int tag[64]; /* cookies: &tag[k] */

/* ---- Tests. ---- */

TEST(init_rejects_bad_sizes)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 0, false), -EINVAL);
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 3, false), -EINVAL);
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 65535, false), -EINVAL);
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 32768, false), -E2BIG); /* past dma_max_contig */
    CHECK_EQ(dma_live, 0);
}

TEST(init_layout)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 2, 256, true), 0);
    CHECK_EQ(vq.index, 2);
    CHECK_EQ(vq.size, 256);
    CHECK_EQ(vq.num_free, 256);
    CHECK_EQ(virtqueue_in_flight(&vq), 0);
    CHECK_EQ(vq.desc_iova, vq.mem.iova);
    CHECK_EQ(vq.desc_iova % 16, 0);
    CHECK_EQ(vq.avail_iova, vq.desc_iova + vring_desc_size(256));
    CHECK(vq.used_iova >= vq.avail_iova + vring_avail_size(256));
    CHECK_EQ(vq.used_iova % 4, 0);
    CHECK(vq.used_iova + vring_used_size(256) <= vq.mem.iova + vq.mem.size);
    CHECK((char *)vq.used - (char *)vq.desc == (long)(vq.used_iova - vq.desc_iova));
    virtqueue_fini(&vq, &fake);
    virtqueue_fini(&vq, &fake); /* idempotent */
    CHECK_EQ(dma_live, 0);
}

TEST(add_chain_order_and_get)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 8, false), 0);

    struct vq_buf bufs[3] = {
        {0x1000, 44, false},
        {0x2000, 100, true},
        {0x3000, 200, true},
    };
    CHECK_EQ(virtqueue_add(&vq, bufs, 3, &tag[0]), 0);
    CHECK_EQ(vq.num_free, 5);
    CHECK_EQ(vring_load(&vq.avail->idx), 1);

    uint16_t head = dev_avail_head(&vq, 0);
    struct vring_desc *d = &vq.desc[head];
    CHECK_EQ(d->addr, 0x1000);
    CHECK_EQ(d->len, 44);
    CHECK_EQ(d->flags, VRING_DESC_F_NEXT);
    d = &vq.desc[d->next];
    CHECK_EQ(d->addr, 0x2000);
    CHECK_EQ(d->flags, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
    d = &vq.desc[d->next];
    CHECK_EQ(d->addr, 0x3000);
    CHECK_EQ(d->len, 200);
    CHECK_EQ(d->flags, VRING_DESC_F_WRITE);
    CHECK_EQ(vq.writable[head], 300);
    CHECK_EQ(vq.chain_len[head], 3);

    void *cookie;
    uint32_t len;
    CHECK(!virtqueue_has_used(&vq));
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 0);

    dev_push_used(&vq, head, 300);
    CHECK(virtqueue_has_used(&vq));
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 1);
    CHECK(cookie == &tag[0]);
    CHECK_EQ(len, 300);
    CHECK_EQ(vq.num_free, 8);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 0);
    CHECK_EQ(vq.bad_used, 0);
    virtqueue_fini(&vq, &fake);
}

TEST(add_rejects_bad_input)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 8, false), 0);
    struct vq_buf wr_then_rd[2] = {{0x1000, 8, true}, {0x2000, 8, false}};
    struct vq_buf one = {0x1000, 8, false};
    struct vq_buf huge[2] = {{0x1000, UINT32_MAX, false}, {0x2000, 1, true}};

    CHECK_EQ(virtqueue_add(&vq, wr_then_rd, 2, &tag[0]), -EINVAL);
    CHECK_EQ(virtqueue_add(&vq, &one, 0, &tag[0]), -EINVAL);
    CHECK_EQ(virtqueue_add(&vq, &one, 1, NULL), -EINVAL);
    CHECK_EQ(virtqueue_add(&vq, huge, 2, &tag[0]), -EINVAL);
    /* Nothing changed. */
    CHECK_EQ(vq.num_free, 8);
    CHECK_EQ(vq.avail_idx, 0);
    CHECK_EQ(vring_load(&vq.avail->idx), 0);
    virtqueue_fini(&vq, &fake);
}

TEST(add_enospc)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 4, false), 0);
    struct vq_buf bufs[5] = {
        {0x1000, 1, false}, {0x2000, 1, false}, {0x3000, 1, true},
        {0x4000, 1, true},  {0x5000, 1, true},
    };
    CHECK_EQ(virtqueue_add(&vq, bufs, 5, &tag[0]), -ENOSPC);
    CHECK_EQ(virtqueue_add(&vq, bufs, 3, &tag[0]), 0);
    CHECK_EQ(virtqueue_add(&vq, bufs, 2, &tag[1]), -ENOSPC);
    CHECK_EQ(virtqueue_add(&vq, bufs, 1, &tag[1]), 0);
    CHECK_EQ(virtqueue_add(&vq, bufs, 1, &tag[2]), -ENOSPC);
    CHECK_EQ(virtqueue_in_flight(&vq), 4);

    /* Completing the 3-chain makes room for a 3-chain again. */
    void *cookie;
    uint32_t len;
    dev_push_used(&vq, dev_avail_head(&vq, 0), 1);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 1);
    CHECK(cookie == &tag[0]);
    CHECK_EQ(virtqueue_add(&vq, bufs, 3, &tag[2]), 0);
    CHECK_EQ(vq.num_free, 0);
    virtqueue_fini(&vq, &fake);
}

/* Out-of-order completions over many rounds: every descriptor returns, none is handed out
 * twice, and every cookie comes back exactly once. */
TEST(free_list_out_of_order)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 16, false), 0);
    struct vq_buf bufs[3] = {{0x1000, 16, false}, {0x2000, 16, true}, {0x3000, 16, true}};
    uint16_t heads[5];
    int owner[16];

    for (int round = 0; round < 1000; round++) {
        memset(owner, -1, sizeof(owner));
        for (int k = 0; k < 5; k++) {
            unsigned n = (unsigned)(k % 3) + 1;
            CHECK_EQ(virtqueue_add(&vq, bufs + 3 - n, n, &tag[k]), 0);
            heads[k] = dev_avail_head(&vq, (uint16_t)(vq.avail_idx - 1));
            /* Walk the chain as the device would; no descriptor may be shared. */
            uint16_t i = heads[k];
            for (unsigned j = 0; j < n; j++) {
                CHECK_EQ(owner[i], -1);
                owner[i] = k;
                if (j + 1 < n) {
                    CHECK(vq.desc[i].flags & VRING_DESC_F_NEXT);
                    i = vq.desc[i].next;
                } else {
                    CHECK(!(vq.desc[i].flags & VRING_DESC_F_NEXT));
                }
            }
        }
        /* Complete in a round-dependent order. */
        for (int k = 0; k < 5; k++) {
            int pick = (k * 3 + round) % 5;
            dev_push_used(&vq, heads[pick], 0);
        }
        int seen = 0;
        void *cookie;
        uint32_t len;
        int rc;
        while ((rc = virtqueue_get_used(&vq, &cookie, &len)) == 1) {
            int k = (int)((int *)cookie - tag);
            CHECK(k >= 0 && k < 5);
            CHECK(!(seen & (1 << k)));
            seen |= 1 << k;
        }
        CHECK_EQ(rc, 0);
        CHECK_EQ(seen, 0x1f);
        CHECK_EQ(vq.num_free, 16);
    }
    CHECK_EQ(vq.bad_used, 0);
    virtqueue_fini(&vq, &fake);
}

static void add_one(struct virtqueue *vq, void *cookie)
{
    struct vq_buf b = {0x1000, 8, false};
    int rc = virtqueue_add(vq, &b, 1, cookie);
    if (rc != 0) {
        fprintf(stderr, "add_one: %d\n", rc);
        abort();
    }
}

/* The device consumes everything and reports it used. */
static void dev_complete_all(struct virtqueue *vq)
{
    void *cookie;
    uint32_t len;
    while (vring_load(&vq->used->idx) != vq->avail_idx) {
        uint16_t at = vq->used->idx;
        dev_push_used(vq, dev_avail_head(vq, at), 0);
    }
    while (virtqueue_get_used(vq, &cookie, &len) == 1)
        ;
}

TEST(kick_event_idx)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 4, true), 0);
    uint16_t *avail_event = vring_avail_event(vq.used, vq.size);

    CHECK(!virtqueue_kick_prepare(&vq)); /* nothing added */
    CHECK_EQ(vq.kicks + vq.kicks_suppressed, 0);

    /* avail_event = 0: the device wants to hear about slot 0. */
    add_one(&vq, &tag[0]);
    CHECK(virtqueue_kick_prepare(&vq));
    /* The device has not moved avail_event: slot 1 is not what it asked for. */
    add_one(&vq, &tag[1]);
    CHECK(!virtqueue_kick_prepare(&vq));
    /* It asks for slot 2 and we add 2 and 3 in one batch: one kick. */
    vring_store(avail_event, 2);
    add_one(&vq, &tag[2]);
    add_one(&vq, &tag[3]);
    CHECK(virtqueue_kick_prepare(&vq));
    CHECK_EQ(vq.kicks, 2);
    CHECK_EQ(vq.kicks_suppressed, 1);
    dev_complete_all(&vq);

    /* Run the index up to 65534, the device asking for every slot. */
    while (vq.avail_idx != 65534) {
        vring_store(avail_event, vq.avail_idx);
        add_one(&vq, &tag[0]);
        CHECK(virtqueue_kick_prepare(&vq));
        dev_complete_all(&vq);
    }

    /* Wraparound: the device asks for slot 0 (after 65535). */
    vring_store(avail_event, 0);
    add_one(&vq, &tag[0]); /* slot 65534 */
    CHECK(!virtqueue_kick_prepare(&vq));
    add_one(&vq, &tag[1]); /* slot 65535 */
    CHECK(!virtqueue_kick_prepare(&vq));
    add_one(&vq, &tag[2]); /* slot 0 */
    CHECK(virtqueue_kick_prepare(&vq));
    CHECK_EQ(vq.avail_idx, 1);
    dev_complete_all(&vq);

    /* A batch that straddles the wrap: slots 65535, 0, 1 with avail_event 65535. */
    while (vq.avail_idx != 65535) {
        add_one(&vq, &tag[0]);
        virtqueue_kick_prepare(&vq);
        dev_complete_all(&vq);
    }
    vring_store(avail_event, 65535);
    add_one(&vq, &tag[0]);
    add_one(&vq, &tag[1]);
    add_one(&vq, &tag[2]);
    CHECK(virtqueue_kick_prepare(&vq));
    dev_complete_all(&vq);
    /* ... and one wholly past it is suppressed. */
    add_one(&vq, &tag[0]);
    CHECK(!virtqueue_kick_prepare(&vq));
    virtqueue_fini(&vq, &fake);
}

TEST(kick_no_event_idx)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 4, false), 0);
    add_one(&vq, &tag[0]);
    CHECK(virtqueue_kick_prepare(&vq));
    vring_store(&vq.used->flags, VRING_USED_F_NO_NOTIFY);
    add_one(&vq, &tag[1]);
    CHECK(!virtqueue_kick_prepare(&vq));
    vring_store(&vq.used->flags, 0);
    add_one(&vq, &tag[2]);
    CHECK(virtqueue_kick_prepare(&vq));
    CHECK(!virtqueue_kick_prepare(&vq));
    /* The avail_event field is ignored without EVENT_IDX. */
    vring_store(vring_avail_event(vq.used, vq.size), 100);
    add_one(&vq, &tag[3]);
    CHECK(virtqueue_kick_prepare(&vq));
    CHECK_EQ(vq.kicks, 3);
    CHECK_EQ(vq.kicks_suppressed, 1);
    virtqueue_fini(&vq, &fake);
}

TEST(hostile_bad_id)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 8, false), 0);
    struct vq_buf b[2] = {{0x1000, 8, false}, {0x2000, 64, true}};
    CHECK_EQ(virtqueue_add(&vq, b, 2, &tag[0]), 0);
    uint16_t head = dev_avail_head(&vq, 0);
    uint16_t second = vq.desc[head].next;

    void *cookie = &tag[9];
    uint32_t len = 77;
    dev_push_used(&vq, 8, 0); /* out of range */
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), -EBADMSG);
    CHECK(cookie == NULL);
    CHECK_EQ(len, 0);
    dev_push_used(&vq, 0xffffffffu, 0); /* far out of range */
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), -EBADMSG);
    dev_push_used(&vq, second, 0); /* in range, but not a head */
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), -EBADMSG);
    dev_push_used(&vq, (head + 3) & 7, 0); /* a free descriptor */
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), -EBADMSG);
    CHECK_EQ(vq.bad_used, 4);
    CHECK_EQ(vq.num_free, 6); /* the real chain is still in flight */

    /* The real completion still works afterwards. */
    dev_push_used(&vq, head, 64);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 1);
    CHECK(cookie == &tag[0]);
    CHECK_EQ(len, 64);
    CHECK_EQ(vq.num_free, 8);
    virtqueue_fini(&vq, &fake);
}

TEST(hostile_duplicate_id)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 8, false), 0);
    add_one(&vq, &tag[0]);
    add_one(&vq, &tag[1]);
    uint16_t h0 = dev_avail_head(&vq, 0);

    void *cookie;
    uint32_t len;
    dev_push_used(&vq, h0, 0);
    dev_push_used(&vq, h0, 0); /* reported twice */
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 1);
    CHECK(cookie == &tag[0]);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), -EBADMSG);
    CHECK(cookie == NULL);
    CHECK_EQ(vq.bad_used, 1);
    CHECK_EQ(vq.num_free, 7); /* the duplicate did not free anything twice */
    virtqueue_fini(&vq, &fake);
}

TEST(hostile_bad_len)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 8, false), 0);
    struct vq_buf rx[2] = {{0x1000, 44, true}, {0x2000, 4096, true}};
    CHECK_EQ(virtqueue_add(&vq, rx, 2, &tag[0]), 0);
    add_one(&vq, &tag[1]); /* device-readable only: may report 0 bytes written, no more */

    void *cookie;
    uint32_t len = 5;
    dev_push_used(&vq, dev_avail_head(&vq, 0), 44 + 4096 + 1);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), -EMSGSIZE);
    CHECK(cookie == &tag[0]); /* handed back so the caller can recycle the buffer */
    CHECK_EQ(len, 0);
    CHECK_EQ(vq.num_free, 7);

    dev_push_used(&vq, dev_avail_head(&vq, 1), 1);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), -EMSGSIZE);
    CHECK(cookie == &tag[1]);
    CHECK_EQ(vq.num_free, 8);
    CHECK_EQ(vq.bad_used, 2);

    /* Exactly the writable size is fine. */
    CHECK_EQ(virtqueue_add(&vq, rx, 2, &tag[2]), 0);
    dev_push_used(&vq, dev_avail_head(&vq, 2), 44 + 4096);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 1);
    CHECK_EQ(len, 44 + 4096);
    virtqueue_fini(&vq, &fake);
}

TEST(hostile_used_idx_jump)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 8, false), 0);
    add_one(&vq, &tag[0]);
    add_one(&vq, &tag[1]);
    uint16_t h0 = dev_avail_head(&vq, 0);
    uint16_t h1 = dev_avail_head(&vq, 1);

    /* Two genuine entries, then used->idx leaps 1000 ahead. */
    vq.used->ring[0].id = h1;
    vq.used->ring[1].id = h0;
    vring_store(&vq.used->idx, 1000);

    void *cookie;
    uint32_t len;
    CHECK(virtqueue_has_used(&vq));
    CHECK_EQ(vq.bad_used, 1);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 1);
    CHECK(cookie == &tag[1]);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 1);
    CHECK(cookie == &tag[0]);
    /* Nothing is in flight, so nothing more is consumed, however far ahead the index is. */
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 0);
    CHECK(!virtqueue_has_used(&vq));
    CHECK_EQ(vq.last_used_idx, 2);
    CHECK_EQ(vq.bad_used, 1); /* counted once for that used->idx, not once per poll */
    CHECK_EQ(vq.num_free, 8);

    /* With one chain in flight, only as many entries as are in flight may be taken from the
     * bogus range: a junk slot is rejected, and once the chain is back nothing more is read. */
    add_one(&vq, &tag[2]);
    uint16_t h2 = dev_avail_head(&vq, 2);
    vq.used->ring[2].id = 7; /* junk slot: descriptor 7 is free */
    vq.used->ring[3].id = h2;
    CHECK(h2 != 7);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), -EBADMSG);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 1);
    CHECK(cookie == &tag[2]);
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 0);
    CHECK_EQ(virtqueue_in_flight(&vq), 0);
    CHECK(!virtqueue_enable_interrupts(&vq));
    virtqueue_fini(&vq, &fake);
}

TEST(interrupt_suppression)
{
    struct virtqueue vq;
    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 8, true), 0);
    uint16_t *used_event = vring_used_event(vq.avail, vq.size);

    add_one(&vq, &tag[0]);
    add_one(&vq, &tag[1]);
    virtqueue_disable_interrupts(&vq);
    CHECK_EQ(vq.avail->flags, 0); /* EVENT_IDX: the driver MUST set flags to 0 */
    CHECK_EQ(*used_event, 0xffff);
    CHECK(!virtqueue_enable_interrupts(&vq));
    CHECK_EQ(*used_event, 0);

    void *cookie;
    uint32_t len;
    dev_push_used(&vq, dev_avail_head(&vq, 0), 0);
    /* Already pending: the caller must not sleep. */
    CHECK(virtqueue_enable_interrupts(&vq));
    CHECK_EQ(virtqueue_get_used(&vq, &cookie, &len), 1);
    CHECK(!virtqueue_enable_interrupts(&vq));
    CHECK_EQ(*used_event, 1);
    /* The device interrupts exactly when it publishes entry 1. */
    CHECK(vring_need_event(*used_event, 2, 1));
    CHECK(!vring_need_event((uint16_t)(vq.last_used_idx - 1), 2, 1));
    virtqueue_fini(&vq, &fake);

    CHECK_EQ(virtqueue_init(&vq, &fake, 0, 8, false), 0);
    virtqueue_disable_interrupts(&vq);
    CHECK_EQ(vq.avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
    CHECK(!virtqueue_enable_interrupts(&vq));
    CHECK_EQ(vq.avail->flags, 0);
    virtqueue_fini(&vq, &fake);
}

int main(void)
{
    RUN(init_rejects_bad_sizes);
    RUN(init_layout);
    RUN(add_chain_order_and_get);
    RUN(add_rejects_bad_input);
    RUN(add_enospc);
    RUN(free_list_out_of_order);
    RUN(kick_event_idx);
    RUN(kick_no_event_idx);
    RUN(hostile_bad_id);
    RUN(hostile_duplicate_id);
    RUN(hostile_bad_len);
    RUN(hostile_used_idx_jump);
    RUN(interrupt_suppression);
    TEST_EXIT();
}
