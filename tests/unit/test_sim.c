/* SPDX-License-Identifier: MIT */
/*
 * The simulated device, driven only through the PCI-function interface by a small hand-rolled
 * driver (split rings written here, independent of driver/virtqueue.c): config space and
 * capabilities, register semantics and feature negotiation, the host services, host-initiated
 * connections, transport reset and fault injection.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"
#include "test.h"
#include "uvsock_sim.h"
#include "virtio_pci.h"
#include "virtio_ring.h"
#include "vsock_wire.h"

#define QSIZE    64u
#define RXBUF    4096u
#define TXSLOT   16384u
#define EVBUF    8u
#define BUFS_LEN (QSIZE * RXBUF + (QSIZE / 4) * TXSLOT + QSIZE * EVBUF)

/* ------------------------------------------------------------- a tiny driver --- */

struct tq {
    uint16_t size;
    struct pci_dma mem;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint16_t avail_idx, last_used;
};

struct drv {
    struct pci_func *f;
    struct uvsock_sim *sim;
    struct tq q[VSOCK_VQ_COUNT];
    struct pci_dma bufs;
    uint32_t common, notify, isr, device, mult;
    uint32_t cid;
};

struct rxpkt {
    uint32_t id, len;
    struct virtio_vsock_hdr h;
    uint32_t plen;
    uint8_t data[RXBUF];
};

static uint64_t rd(struct drv *d, uint32_t off, int w)
{
    return d->f->ops->bar_read(d->f, 4, off, w);
}

static void wr(struct drv *d, uint32_t off, int w, uint64_t v)
{
    d->f->ops->bar_write(d->f, 4, off, w, v);
}

static uint8_t *rx_buf(struct drv *d, uint16_t i)
{
    return (uint8_t *)d->bufs.cpu + (size_t)i * RXBUF;
}

static uint64_t rx_iova(struct drv *d, uint16_t i)
{
    return d->bufs.iova + (uint64_t)i * RXBUF;
}

static size_t tx_off(uint16_t slot)
{
    return QSIZE * RXBUF + (size_t)slot * TXSLOT;
}

static size_t ev_off(uint16_t i)
{
    return QSIZE * RXBUF + (QSIZE / 4) * TXSLOT + (size_t)i * EVBUF;
}

static void now_plus(struct timespec *t, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static bool past(const struct timespec *t)
{
    struct timespec n;
    clock_gettime(CLOCK_MONOTONIC, &n);
    return n.tv_sec > t->tv_sec || (n.tv_sec == t->tv_sec && n.tv_nsec >= t->tv_nsec);
}

/* Walks the capability list; returns how many virtio capabilities were found. */
static int find_caps(struct drv *d)
{
    uint8_t cfg[256];
    int found = 0;

    if (d->f->ops->cfg_read(d->f, 0, cfg, sizeof(cfg)))
        return -1;
    for (uint8_t at = cfg[PCI_CAPABILITY_LIST], n = 0; at && n < 48; at = cfg[at + 1], n++) {
        uint32_t off;
        if (cfg[at] != PCI_CAP_ID_VNDR || cfg[at + 4] != 4)
            continue;
        memcpy(&off, cfg + at + 8, 4);
        switch (cfg[at + 3]) {
        case VIRTIO_PCI_CAP_COMMON_CFG:
            d->common = off;
            break;
        case VIRTIO_PCI_CAP_NOTIFY_CFG:
            d->notify = off;
            memcpy(&d->mult, cfg + at + 16, 4);
            break;
        case VIRTIO_PCI_CAP_ISR_CFG:
            d->isr = off;
            break;
        case VIRTIO_PCI_CAP_DEVICE_CFG:
            d->device = off;
            break;
        }
        found++;
    }
    return found;
}

static int tq_setup(struct drv *d, uint16_t idx, uint16_t size)
{
    struct tq *q = &d->q[idx];
    size_t avail_off = 16u * size, used_off = (avail_off + vring_avail_size(size) + 3) & ~3u;
    uint64_t a;

    wr(d, d->common + VIRTIO_PCI_COMMON_Q_SELECT, 2, idx);
    if (rd(d, d->common + VIRTIO_PCI_COMMON_Q_SIZE, 2) < size)
        return -1;
    wr(d, d->common + VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
    if (d->f->ops->dma_alloc(d->f, used_off + vring_used_size(size), &q->mem))
        return -1;
    q->size = size;
    q->desc = q->mem.cpu;
    q->avail = (struct vring_avail *)((uint8_t *)q->mem.cpu + avail_off);
    q->used = (struct vring_used *)((uint8_t *)q->mem.cpu + used_off);
    a = q->mem.iova;
    wr(d, d->common + VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)a);
    wr(d, d->common + VIRTIO_PCI_COMMON_Q_DESCHI, 4, a >> 32);
    wr(d, d->common + VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)(a + avail_off));
    wr(d, d->common + VIRTIO_PCI_COMMON_Q_AVAILHI, 4, (a + avail_off) >> 32);
    wr(d, d->common + VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)(a + used_off));
    wr(d, d->common + VIRTIO_PCI_COMMON_Q_USEDHI, 4, (a + used_off) >> 32);
    wr(d, d->common + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    return rd(d, d->common + VIRTIO_PCI_COMMON_Q_ENABLE, 2) == 1 ? 0 : -1;
}

static void kick(struct drv *d, uint16_t idx)
{
    uint16_t noff;

    wr(d, d->common + VIRTIO_PCI_COMMON_Q_SELECT, 2, idx);
    noff = (uint16_t)rd(d, d->common + VIRTIO_PCI_COMMON_Q_NOFF, 2);
    wr(d, d->notify + noff * d->mult, 2, idx);
}

static void post(struct drv *d, uint16_t qi, uint16_t head)
{
    struct tq *q = &d->q[qi];

    q->avail->ring[q->avail_idx % q->size] = head;
    vring_store(&q->avail->idx, ++q->avail_idx);
}

static void rx_repost(struct drv *d, uint16_t i)
{
    struct tq *q = &d->q[VSOCK_VQ_RX];

    q->desc[i] = (struct vring_desc){rx_iova(d, i), RXBUF, VRING_DESC_F_WRITE, 0};
    post(d, VSOCK_VQ_RX, i);
    kick(d, VSOCK_VQ_RX);
}

static void drv_close(struct drv *d)
{
    if (!d->f)
        return;
    for (int i = 0; i < VSOCK_VQ_COUNT; i++) {
        if (d->q[i].mem.cpu)
            d->f->ops->dma_free(d->f, &d->q[i].mem);
    }
    if (d->bufs.cpu)
        d->f->ops->dma_free(d->f, &d->bufs);
    pci_func_destroy(d->f);
    memset(d, 0, sizeof(*d));
}

/* Opens the sim and brings it up to DRIVER_OK with all buffers posted. 0 or a step number. */
static int drv_open(struct drv *d, const char *args)
{
    const char *why = NULL;
    uint64_t feats;

    memset(d, 0, sizeof(*d));
    if (sim_pci_open(args, &d->f, &why))
        return 1;
    d->sim = sim_from_pci_func(d->f);
    if (find_caps(d) != 4)
        return 2;
    wr(d, d->common + VIRTIO_PCI_COMMON_STATUS, 1, 0);
    wr(d, d->common + VIRTIO_PCI_COMMON_STATUS, 1,
       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    wr(d, d->common + VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    feats = rd(d, d->common + VIRTIO_PCI_COMMON_DF, 4);
    wr(d, d->common + VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    feats |= rd(d, d->common + VIRTIO_PCI_COMMON_DF, 4) << 32;
    wr(d, d->common + VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    wr(d, d->common + VIRTIO_PCI_COMMON_GF, 4, (uint32_t)feats);
    wr(d, d->common + VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    wr(d, d->common + VIRTIO_PCI_COMMON_GF, 4, feats >> 32);
    wr(d, d->common + VIRTIO_PCI_COMMON_STATUS, 1,
       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    if (!(rd(d, d->common + VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_FEATURES_OK))
        return 3;
    d->cid = (uint32_t)rd(d, d->device, 8);
    for (uint16_t i = 0; i < VSOCK_VQ_COUNT; i++) {
        if (tq_setup(d, i, QSIZE))
            return 4;
    }
    if (d->f->ops->dma_alloc(d->f, BUFS_LEN, &d->bufs))
        return 5;
    for (uint16_t i = 0; i < QSIZE; i++) {
        struct tq *e = &d->q[VSOCK_VQ_EVENT];
        e->desc[i] = (struct vring_desc){d->bufs.iova + ev_off(i), EVBUF, VRING_DESC_F_WRITE, 0};
        post(d, VSOCK_VQ_EVENT, i);
        d->q[VSOCK_VQ_RX].desc[i] =
            (struct vring_desc){rx_iova(d, i), RXBUF, VRING_DESC_F_WRITE, 0};
        post(d, VSOCK_VQ_RX, i);
    }
    wr(d, d->common + VIRTIO_PCI_COMMON_STATUS, 1,
       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
           VIRTIO_STATUS_DRIVER_OK);
    kick(d, VSOCK_VQ_RX);
    kick(d, VSOCK_VQ_EVENT);
    return 0;
}

/* Next used entry of queue qi (raw). -1 on timeout. */
static int used_next(struct drv *d, uint16_t qi, struct vring_used_elem *e, int ms)
{
    struct tq *q = &d->q[qi];
    struct timespec end;

    now_plus(&end, ms);
    while (vring_load(&q->used->idx) == q->last_used) {
        if (past(&end))
            return -1;
        usleep(500);
    }
    *e = q->used->ring[q->last_used % q->size];
    q->last_used++;
    vring_store(vring_used_event(q->avail, q->size), q->last_used);
    return 0;
}

/* Next rx packet, parsed; the buffer is reposted. -1 on timeout. */
static int rx_next(struct drv *d, struct rxpkt *p, int ms)
{
    struct vring_used_elem e;

    if (used_next(d, VSOCK_VQ_RX, &e, ms))
        return -1;
    memset(p, 0, sizeof(*p));
    p->id = e.id;
    p->len = e.len;
    if (e.id >= QSIZE)
        return 0;
    if (e.len >= VSOCK_HDR_SIZE && e.len <= RXBUF) {
        memcpy(&p->h, rx_buf(d, (uint16_t)e.id), VSOCK_HDR_SIZE);
        p->plen = e.len - VSOCK_HDR_SIZE;
        memcpy(p->data, rx_buf(d, (uint16_t)e.id) + VSOCK_HDR_SIZE, p->plen);
    }
    rx_repost(d, (uint16_t)e.id);
    return 0;
}

static struct virtio_vsock_hdr mkhdr(struct drv *d, uint32_t src_port, uint32_t dst_port,
                                     uint16_t op, uint32_t len)
{
    struct virtio_vsock_hdr h = {
        .src_cid = d->cid,
        .dst_cid = VSOCK_CID_HOST,
        .src_port = src_port,
        .dst_port = dst_port,
        .len = len,
        .type = VIRTIO_VSOCK_TYPE_STREAM,
        .op = op,
        .buf_alloc = 262144,
        .fwd_cnt = 0, /* the tests' connections never receive more than 256 KiB */
    };
    return h;
}

/*
 * Sends one packet as a chain: the header in one descriptor (or split 20 + 24 bytes when
 * `split`), the payload in another. Waits until the device returned it. 0, or -1 on timeout.
 */
static int tx_send(struct drv *d, const struct virtio_vsock_hdr *h, const void *payload,
                   uint32_t len, bool split)
{
    struct tq *q = &d->q[VSOCK_VQ_TX];
    uint16_t slot = q->avail_idx % (QSIZE / 4), first = (uint16_t)(slot * 4), n = 0;
    uint8_t *mem = (uint8_t *)d->bufs.cpu + tx_off(slot);
    uint64_t iova = d->bufs.iova + tx_off(slot);
    struct vring_used_elem e;

    memcpy(mem, h, VSOCK_HDR_SIZE);
    if (len)
        memcpy(mem + VSOCK_HDR_SIZE, payload, len);
    if (split) {
        q->desc[first + n++] = (struct vring_desc){iova, 20, VRING_DESC_F_NEXT, 0};
        q->desc[first + n++] = (struct vring_desc){iova + 20, 24, VRING_DESC_F_NEXT, 0};
    } else {
        q->desc[first + n++] = (struct vring_desc){iova, VSOCK_HDR_SIZE, VRING_DESC_F_NEXT, 0};
    }
    q->desc[first + n++] = (struct vring_desc){iova + VSOCK_HDR_SIZE, len, 0, 0};
    for (uint16_t i = 0; i + 1 < n; i++)
        q->desc[first + i].next = (uint16_t)(first + i + 1);
    post(d, VSOCK_VQ_TX, first);
    kick(d, VSOCK_VQ_TX);
    if (used_next(d, VSOCK_VQ_TX, &e, 2000) || e.id != first || e.len != 0)
        return -1;
    return 0;
}

static int tx_op(struct drv *d, uint32_t src_port, uint32_t dst_port, uint16_t op)
{
    struct virtio_vsock_hdr h = mkhdr(d, src_port, dst_port, op, 0);
    return tx_send(d, &h, NULL, 0, false);
}

static struct uvsock_sim_stats stats(struct drv *d)
{
    struct uvsock_sim_stats st;
    uvsock_sim_get_stats(d->sim, &st);
    return st;
}

/* ----------------------------------------------------------------------- tests --- */

TEST(test_config_space)
{
    struct pci_func *f = NULL;
    const char *why = NULL;
    uint8_t cfg[256], b[4] = {0xff, 0xff, 0xff, 0xff};
    struct drv d;
    uint16_t v;

    CHECK_EQ(sim_pci_open("", &f, &why), 0);
    CHECK(sim_from_pci_func(f) != NULL);
    CHECK_EQ(f->ops->cfg_read(f, 0, cfg, sizeof(cfg)), 0);
    memcpy(&v, cfg + PCI_VENDOR_ID, 2);
    CHECK_EQ(v, 0x1af4);
    memcpy(&v, cfg + PCI_DEVICE_ID, 2);
    CHECK_EQ(v, 0x1053);
    CHECK_EQ(cfg[0x08], 1);
    CHECK_EQ(cfg[0x0b], 0x07);
    CHECK_EQ(cfg[0x0a], 0x80);
    memcpy(&v, cfg + 0x2c, 2);
    CHECK_EQ(v, 0x1af4);
    memcpy(&v, cfg + PCI_STATUS, 2);
    CHECK(v & PCI_STATUS_CAP_LIST);
    CHECK_EQ(f->ops->cfg_read(f, 250, cfg, 8), -EINVAL);
    CHECK_EQ(f->ops->cfg_read(f, 257, cfg, 0), -EINVAL);
    CHECK_EQ(f->ops->cfg_write(f, 255, b, 2), -EINVAL);
    /* Only the command register takes writes. */
    CHECK_EQ(f->ops->cfg_write(f, PCI_VENDOR_ID, b, 4), 0);
    CHECK_EQ(f->ops->cfg_write(f, PCI_COMMAND, b, 2), 0);
    CHECK_EQ(f->ops->cfg_read(f, 0, cfg, 8), 0);
    memcpy(&v, cfg + PCI_VENDOR_ID, 2);
    CHECK_EQ(v, 0x1af4);
    memcpy(&v, cfg + PCI_COMMAND, 2);
    CHECK_EQ(v, 0x1 | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    CHECK_EQ(f->ops->bar_size(f, 4), 0x4000);
    CHECK_EQ(f->ops->bar_size(f, 0), 0);
    CHECK(f->dma_max_contig >= (1u << 20));

    memset(&d, 0, sizeof(d));
    d.f = f;
    CHECK_EQ(find_caps(&d), 4);
    CHECK_EQ(d.common, 0x0000);
    CHECK_EQ(d.isr, 0x1000);
    CHECK_EQ(d.device, 0x2000);
    CHECK_EQ(d.notify, 0x3000);
    CHECK_EQ(d.mult, 4);
    /* Device config: le64 guest_cid at any width. */
    CHECK_EQ(rd(&d, d.device, 8), 3);
    CHECK_EQ(rd(&d, d.device, 4), 3);
    CHECK_EQ(rd(&d, d.device, 1), 3);
    CHECK_EQ(rd(&d, d.device + 4, 4), 0);

    /* The VIRTIO_PCI_CAP_PCI_CFG window reaches the BAR through config space. */
    {
        uint8_t all[256], at, bar = 4, two = 2;
        uint32_t off = 0x2000, len = 4, data = 0;

        CHECK_EQ(f->ops->cfg_read(f, 0, all, sizeof(all)), 0);
        for (at = all[PCI_CAPABILITY_LIST]; at && all[at + 3] != VIRTIO_PCI_CAP_PCI_CFG;)
            at = all[at + 1];
        CHECK(at != 0);
        CHECK_EQ(all[at + 2], 20);
        CHECK_EQ(f->ops->cfg_write(f, at + 4, &bar, 1), 0);
        CHECK_EQ(f->ops->cfg_write(f, at + 8, &off, 4), 0);
        CHECK_EQ(f->ops->cfg_write(f, at + 12, &len, 4), 0);
        CHECK_EQ(f->ops->cfg_read(f, at + 16, &data, 4), 0);
        CHECK_EQ(data, 3); /* guest_cid */
        off = VIRTIO_PCI_COMMON_Q_SELECT;
        len = 2;
        data = two;
        CHECK_EQ(f->ops->cfg_write(f, at + 8, &off, 4), 0);
        CHECK_EQ(f->ops->cfg_write(f, at + 12, &len, 4), 0);
        CHECK_EQ(f->ops->cfg_write(f, at + 16, &data, 4), 0);
        CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_SELECT, 2), 2);
    }
    pci_func_destroy(f);

    CHECK_EQ(sim_pci_open("cid=2", &f, &why), -EINVAL);
    CHECK(why && *why);
    CHECK_EQ(sim_pci_open("bogus=1", &f, &why), -EINVAL);
    CHECK_EQ(sim_pci_open("queue_size=100", &f, &why), -EINVAL);
    CHECK_EQ(sim_pci_open("cid=77,queue_size=128,credit=4096", &f, &why), 0);
    d.f = f;
    CHECK_EQ(rd(&d, 0x2000, 8), 77);
    wr(&d, VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 128);
    pci_func_destroy(f);
}

TEST(test_registers_and_features)
{
    struct pci_func *f = NULL;
    const char *why;
    struct drv d;
    uint64_t feats;

    CHECK_EQ(sim_pci_open(NULL, &f, &why), 0);
    memset(&d, 0, sizeof(d));
    d.f = f;
    find_caps(&d);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_NUMQ, 2), 3);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_MSIX, 2), 0xffff);
    wr(&d, VIRTIO_PCI_COMMON_MSIX, 2, 0);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_MSIX, 2), 0xffff);
    for (uint16_t i = 0; i < 3; i++) {
        wr(&d, VIRTIO_PCI_COMMON_Q_SELECT, 2, i);
        CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
        CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_NOFF, 2), i);
        CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0xffff);
        CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    }
    wr(&d, VIRTIO_PCI_COMMON_Q_SELECT, 2, 3);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
    /* Queue size: a smaller power of two sticks, anything else is ignored. */
    wr(&d, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
    wr(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2, 100);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
    wr(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 32);
    /* Rings at addresses that are not DMA memory: the device needs a reset. */
    wr(&d, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1000);
    wr(&d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    CHECK(rd(&d, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    wr(&d, VIRTIO_PCI_COMMON_STATUS, 1, 0);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);

    wr(&d, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    feats = rd(&d, VIRTIO_PCI_COMMON_DF, 4);
    wr(&d, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    feats |= rd(&d, VIRTIO_PCI_COMMON_DF, 4) << 32;
    CHECK_EQ(feats, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                        (1ull << VIRTIO_VSOCK_F_STREAM));
    /* Accepting a feature that was not offered: FEATURES_OK does not stick. */
    wr(&d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    wr(&d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    wr(&d, VIRTIO_PCI_COMMON_GF, 4, (1u << VIRTIO_VSOCK_F_SEQPACKET));
    wr(&d, VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_STATUS, 1), 0x03);
    wr(&d, VIRTIO_PCI_COMMON_STATUS, 1, 0);
    /* A valid subset is accepted. */
    wr(&d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    wr(&d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    wr(&d, VIRTIO_PCI_COMMON_GF, 4, 1);
    wr(&d, VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_STATUS, 1), 0x0b);
    /* ISR reads clear it; BAR accesses outside the BAR are harmless. */
    CHECK_EQ(rd(&d, d.isr, 1), 0);
    CHECK_EQ(f->ops->bar_read(f, 4, 0x4000, 4), 0xffffffffffffffffull);
    f->ops->bar_write(f, 2, 0, 4, 1);
    pci_func_destroy(f);

    CHECK_EQ(sim_pci_open("refuse_features=1", &f, &why), 0);
    d.f = f;
    wr(&d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    wr(&d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    wr(&d, VIRTIO_PCI_COMMON_GF, 4, 1);
    wr(&d, VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_STATUS, 1), 0x03);
    pci_func_destroy(f);

    CHECK_EQ(sim_pci_open("no_event_idx=1,no_version_1=1", &f, &why), 0);
    d.f = f;
    wr(&d, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_DF, 4), 1);
    wr(&d, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    CHECK_EQ(rd(&d, VIRTIO_PCI_COMMON_DF, 4), 0);
    pci_func_destroy(f);
}

TEST(test_echo)
{
    struct drv d;
    struct rxpkt p;
    struct virtio_vsock_hdr h;
    uint8_t msg[3000], got[3000];
    uint32_t have = 0;
    struct pollfd pfd;

    CHECK_EQ(drv_open(&d, ""), 0);
    CHECK_EQ(tx_op(&d, 5000, 7, VIRTIO_VSOCK_OP_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.len, VSOCK_HDR_SIZE);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RESPONSE);
    CHECK_EQ(p.h.src_cid, 2);
    CHECK_EQ(p.h.dst_cid, 3);
    CHECK_EQ(p.h.src_port, 7);
    CHECK_EQ(p.h.dst_port, 5000);
    CHECK_EQ(p.h.type, VIRTIO_VSOCK_TYPE_STREAM);
    CHECK_EQ(p.h.buf_alloc, 262144);
    /* The RESPONSE raised INTx. */
    pfd = (struct pollfd){.fd = d.f->ops->irq_fd(d.f), .events = POLLIN};
    CHECK_EQ(poll(&pfd, 1, 1000), 1);
    d.f->ops->irq_ack(d.f);
    CHECK(rd(&d, d.isr, 1) & VIRTIO_ISR_QUEUE);

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 13 + 1);
    h = mkhdr(&d, 5000, 7, VIRTIO_VSOCK_OP_RW, sizeof(msg));
    CHECK_EQ(tx_send(&d, &h, msg, sizeof(msg), true), 0);
    while (have < sizeof(msg)) {
        CHECK_EQ(rx_next(&d, &p, 2000), 0);
        CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RW);
        CHECK_EQ(p.h.len, p.plen);
        CHECK(have + p.plen <= sizeof(msg));
        memcpy(got + have, p.data, p.plen);
        have += p.plen;
    }
    CHECK(!memcmp(msg, got, sizeof(msg)));
    CHECK_EQ(p.h.fwd_cnt, sizeof(msg)); /* the echo consumed what it sent back */

    CHECK_EQ(tx_op(&d, 5000, 7, VIRTIO_VSOCK_OP_CREDIT_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
    CHECK_EQ(p.h.fwd_cnt, sizeof(msg));

    /* A full SHUTDOWN is answered with RST and the connection is gone. */
    h = mkhdr(&d, 5000, 7, VIRTIO_VSOCK_OP_SHUTDOWN, 0);
    h.flags = VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND;
    CHECK_EQ(tx_send(&d, &h, NULL, 0, false), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RST);

    struct uvsock_sim_stats st = stats(&d);
    CHECK_EQ(st.bad_from_driver, 0);
    CHECK_EQ(st.credit_violations, 0);
    CHECK_EQ(st.op_from_driver[VIRTIO_VSOCK_OP_REQUEST], 1);
    CHECK_EQ(st.op_from_driver[VIRTIO_VSOCK_OP_RW], 1);
    CHECK_EQ(st.host_connections, 0);
    CHECK(st.interrupts >= 1);
    drv_close(&d);
}

TEST(test_services_and_refusals)
{
    struct drv d;
    struct rxpkt p;
    struct virtio_vsock_hdr h;
    uint64_t off = 0;
    uint8_t x = 1;

    CHECK_EQ(drv_open(&d, ""), 0);
    /* Source: a REQUEST, then the byte stream until our 8 KiB credit is used up. */
    h = mkhdr(&d, 6000, 19, VIRTIO_VSOCK_OP_REQUEST, 0);
    h.buf_alloc = 8192;
    CHECK_EQ(tx_send(&d, &h, NULL, 0, false), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RESPONSE);
    while (off < 8192) {
        CHECK_EQ(rx_next(&d, &p, 2000), 0);
        CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RW);
        for (uint32_t i = 0; i < p.plen; i++)
            CHECK_EQ(p.data[i], uvsock_sim_source_byte(off + i));
        off += p.plen;
    }
    CHECK_EQ(off, 8192);
    CHECK_EQ(rx_next(&d, &p, 100), -1); /* credit exhausted: the source waits */

    /* Nobody on port 4444; RW for an unknown connection; REQUEST for a key in use. */
    CHECK_EQ(tx_op(&d, 6001, 4444, VIRTIO_VSOCK_OP_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RST);
    CHECK_EQ(p.h.dst_port, 6001);
    h = mkhdr(&d, 6002, 9, VIRTIO_VSOCK_OP_RW, 1);
    CHECK_EQ(tx_send(&d, &h, &x, 1, false), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RST);
    CHECK_EQ(tx_op(&d, 6000, 19, VIRTIO_VSOCK_OP_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RST);
    CHECK_EQ(stats(&d).bad_from_driver, 0);

    /* Malformed packets are counted, not obeyed: wrong source CID, hdr.len mismatch. */
    h = mkhdr(&d, 6003, 9, VIRTIO_VSOCK_OP_REQUEST, 0);
    h.src_cid = 99;
    CHECK_EQ(tx_send(&d, &h, NULL, 0, false), 0);
    h = mkhdr(&d, 6003, 9, VIRTIO_VSOCK_OP_REQUEST, 5);
    CHECK_EQ(tx_send(&d, &h, NULL, 0, false), 0);
    CHECK_EQ(stats(&d).bad_from_driver, 2);
    /* An unknown type is answered with RST. */
    h = mkhdr(&d, 6004, 9, VIRTIO_VSOCK_OP_REQUEST, 0);
    h.type = 9;
    CHECK_EQ(tx_send(&d, &h, NULL, 0, false), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RST);
    CHECK_EQ(p.h.dst_port, 6004);
    /* A descriptor pointing outside DMA memory: returned with len 0, counted. */
    {
        struct tq *q = &d.q[VSOCK_VQ_TX];
        struct vring_used_elem e;
        q->desc[0] = (struct vring_desc){0xdead0000ull, 44, 0, 0};
        post(&d, VSOCK_VQ_TX, 0);
        kick(&d, VSOCK_VQ_TX);
        CHECK_EQ(used_next(&d, VSOCK_VQ_TX, &e, 2000), 0);
        CHECK_EQ(e.id, 0);
        CHECK_EQ(e.len, 0);
        /* A descriptor loop. */
        q->desc[0] = (struct vring_desc){d.bufs.iova, 44, VRING_DESC_F_NEXT, 1};
        q->desc[1] = (struct vring_desc){d.bufs.iova, 44, VRING_DESC_F_NEXT, 0};
        post(&d, VSOCK_VQ_TX, 0);
        kick(&d, VSOCK_VQ_TX);
        CHECK_EQ(used_next(&d, VSOCK_VQ_TX, &e, 2000), 0);
        CHECK_EQ(e.len, 0);
    }
    CHECK_EQ(stats(&d).bad_from_driver, 5);
    drv_close(&d);
}

TEST(test_host_connect)
{
    struct drv d;
    struct rxpkt p;
    struct virtio_vsock_hdr h;
    uint32_t hp = 0;
    int fd = -1;
    char buf[16];

    CHECK_EQ(drv_open(&d, ""), 0);
    CHECK_EQ(uvsock_sim_connect(d.sim, 1234, 0, &fd, &hp), UVSOCK_OK);
    CHECK(hp >= (1u << 30) && hp < (1u << 31));
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
    CHECK_EQ(p.h.src_port, hp);
    CHECK_EQ(p.h.dst_port, 1234);
    CHECK_EQ(tx_op(&d, 1234, hp, VIRTIO_VSOCK_OP_RESPONSE), 0);
    CHECK_EQ(write(fd, "hello", 5), 5);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RW);
    CHECK_EQ(p.plen, 5);
    CHECK(!memcmp(p.data, "hello", 5));
    h = mkhdr(&d, 1234, hp, VIRTIO_VSOCK_OP_RW, 5);
    CHECK_EQ(tx_send(&d, &h, "world", 5, false), 0);
    CHECK_EQ(read(fd, buf, sizeof(buf)), 5);
    CHECK(!memcmp(buf, "world", 5));
    CHECK_EQ(stats(&d).host_connections, 1);
    /* The host closes: the driver gets SHUTDOWN(RCV|SEND); its RST ends the connection. */
    shutdown(fd, SHUT_WR);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
    CHECK_EQ(p.h.flags, 3);
    CHECK_EQ(tx_op(&d, 1234, hp, VIRTIO_VSOCK_OP_RST), 0);
    CHECK_EQ(read(fd, buf, sizeof(buf)), 0);
    CHECK_EQ(stats(&d).host_connections, 0);
    CHECK_EQ(stats(&d).last_rst_from_driver.src_port, 1234);
    close(fd);

    /* A listener: the driver connects, the host accepts. */
    CHECK_EQ(uvsock_sim_listen(d.sim, 7), UVSOCK_ERR_INVALID_ARGS);
    CHECK_EQ(uvsock_sim_listen(d.sim, 5555), UVSOCK_OK);
    CHECK_EQ(uvsock_sim_listen(d.sim, 5555), UVSOCK_ERR_ALREADY_BOUND);
    CHECK_EQ(uvsock_sim_accept(d.sim, 5555, 0, &fd, NULL), UVSOCK_ERR_TIMED_OUT);
    CHECK_EQ(uvsock_sim_accept(d.sim, 5556, 0, &fd, NULL), UVSOCK_ERR_NOT_FOUND);
    CHECK_EQ(tx_op(&d, 777, 5555, VIRTIO_VSOCK_OP_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RESPONSE);
    uint32_t gp = 0;
    CHECK_EQ(uvsock_sim_accept(d.sim, 5555, 1000, &fd, &gp), UVSOCK_OK);
    CHECK_EQ(gp, 777);
    h = mkhdr(&d, 777, 5555, VIRTIO_VSOCK_OP_RW, 3);
    CHECK_EQ(tx_send(&d, &h, "abc", 3, false), 0);
    CHECK_EQ(read(fd, buf, sizeof(buf)), 3);
    close(fd);
    CHECK_EQ(uvsock_sim_unlisten(d.sim, 5555), UVSOCK_OK);
    drv_close(&d);
}

TEST(test_hybrid_uds)
{
    char path[64], ppath[80], buf[64];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct drv d;
    struct rxpkt p;
    char args[96];
    int fd, lfd, cfd;
    unsigned hp = 0;
    ssize_t n;

    snprintf(path, sizeof(path), "/tmp/uvsock_test_sim_%d.sock", (int)getpid());
    snprintf(args, sizeof(args), "uds=%s", path);
    CHECK_EQ(drv_open(&d, args), 0);
    /* host -> driver: CONNECT <port>, answered once the driver sends RESPONSE. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    strcpy(sa.sun_path, path);
    CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    CHECK_EQ(write(fd, "connect 52\nxyz", 14), 14);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
    CHECK_EQ(p.h.dst_port, 52);
    CHECK_EQ(tx_op(&d, 52, p.h.src_port, VIRTIO_VSOCK_OP_RESPONSE), 0);
    n = read(fd, buf, sizeof(buf) - 1);
    CHECK(n > 0);
    buf[n] = '\0';
    CHECK_EQ(sscanf(buf, "OK %u\n", &hp), 1);
    CHECK_EQ(hp, p.h.src_port);
    CHECK_EQ(rx_next(&d, &p, 2000), 0); /* the bytes after the line are stream data */
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RW);
    CHECK_EQ(p.plen, 3);
    CHECK(!memcmp(p.data, "xyz", 3));
    close(fd);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_SHUTDOWN);

    /* A line that arrives in pieces; a malformed one is closed without a REQUEST. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    CHECK_EQ(write(fd, "CoNN", 4), 4);
    usleep(100 * 1000);
    CHECK_EQ(write(fd, "ECT 53\n", 7), 7);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
    CHECK_EQ(p.h.dst_port, 53);
    CHECK_EQ(tx_op(&d, 53, p.h.src_port, VIRTIO_VSOCK_OP_RST), 0);
    CHECK_EQ(read(fd, buf, sizeof(buf)), 0); /* refused: closed without "OK" */
    close(fd);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    CHECK_EQ(write(fd, "LISTEN 5\n", 9), 9);
    CHECK_EQ(read(fd, buf, sizeof(buf)), 0);
    close(fd);
    CHECK_EQ(rx_next(&d, &p, 200), -1);

    /* driver -> host: REQUEST to port 61 connects to PATH_61; 62 has nobody: RST. */
    snprintf(ppath, sizeof(ppath), "%s_61", path);
    unlink(ppath);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    strcpy(sa.sun_path, ppath);
    CHECK_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    CHECK_EQ(listen(lfd, 4), 0);
    CHECK_EQ(tx_op(&d, 900, 61, VIRTIO_VSOCK_OP_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RESPONSE);
    cfd = accept(lfd, NULL, NULL);
    CHECK(cfd >= 0);
    CHECK_EQ(write(cfd, "hi", 2), 2);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.plen, 2);
    CHECK_EQ(tx_op(&d, 901, 62, VIRTIO_VSOCK_OP_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RST);
    close(cfd);
    close(lfd);
    unlink(ppath);
    drv_close(&d);
    CHECK(access(path, F_OK) != 0); /* removed on destroy */
}

TEST(test_transport_reset)
{
    struct drv d;
    struct rxpkt p;
    struct vring_used_elem e;
    struct virtio_vsock_event ev;
    uint8_t gen;

    CHECK_EQ(drv_open(&d, ""), 0);
    CHECK_EQ(tx_op(&d, 5000, 7, VIRTIO_VSOCK_OP_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(stats(&d).host_connections, 1);
    gen = (uint8_t)rd(&d, VIRTIO_PCI_COMMON_CFGGENERATION, 1);

    CHECK_EQ(uvsock_sim_transport_reset(d.sim, 2), UVSOCK_ERR_INVALID_ARGS);
    CHECK_EQ(uvsock_sim_transport_reset(d.sim, 0xffffffffu), UVSOCK_ERR_INVALID_ARGS);
    CHECK_EQ(uvsock_sim_transport_reset(d.sim, 42), UVSOCK_OK);
    CHECK_EQ(used_next(&d, VSOCK_VQ_EVENT, &e, 2000), 0);
    CHECK_EQ(e.len, 4);
    memcpy(&ev, (uint8_t *)d.bufs.cpu + ev_off((uint16_t)e.id), sizeof(ev));
    CHECK_EQ(ev.id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
    CHECK_EQ(rd(&d, d.device, 8), 42);
    CHECK_EQ((uint8_t)rd(&d, VIRTIO_PCI_COMMON_CFGGENERATION, 1), (uint8_t)(gen + 1));
    CHECK_EQ(stats(&d).host_connections, 0);

    /* set_cid: config change interrupt, no event. */
    CHECK_EQ(uvsock_sim_set_cid(d.sim, 0), UVSOCK_ERR_INVALID_ARGS);
    CHECK_EQ(uvsock_sim_set_cid(d.sim, 1), UVSOCK_ERR_INVALID_ARGS);
    rd(&d, d.isr, 1);
    CHECK_EQ(uvsock_sim_set_cid(d.sim, 43), UVSOCK_OK);
    CHECK(rd(&d, d.isr, 1) & VIRTIO_ISR_CONFIG);
    CHECK_EQ(rd(&d, d.device, 8), 43);
    CHECK_EQ((uint8_t)rd(&d, VIRTIO_PCI_COMMON_CFGGENERATION, 1), (uint8_t)(gen + 2));
    CHECK_EQ(used_next(&d, VSOCK_VQ_EVENT, &e, 100), -1);

    /* The old connection is gone: RW to it is refused; the new CID is required. */
    d.cid = 43;
    CHECK_EQ(tx_op(&d, 5000, 7, VIRTIO_VSOCK_OP_CREDIT_UPDATE), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_RST);
    CHECK_EQ(p.h.dst_cid, 43);
    CHECK_EQ(stats(&d).bad_from_driver, 0);
    drv_close(&d);
}

TEST(test_faults)
{
    struct drv d;
    struct rxpkt p;
    struct vring_used_elem e1, e2;
    struct tq *rq;

    CHECK_EQ(drv_open(&d, ""), 0);
    rq = &d.q[VSOCK_VQ_RX];
    CHECK_EQ(uvsock_sim_inject(d.sim, (enum uvsock_sim_fault)99, 0), UVSOCK_ERR_INVALID_ARGS);
    CHECK(!strcmp(uvsock_sim_fault_str(UVSOCK_SIM_FAULT_USED_DUP_ID), "USED_DUP_ID"));

    /* Targeted: armed for port 8001, the RESPONSE to 8000 passes untouched. */
    CHECK_EQ(uvsock_sim_inject(d.sim, UVSOCK_SIM_FAULT_BAD_TYPE, 8001), UVSOCK_OK);
    CHECK_EQ(tx_op(&d, 8000, 7, VIRTIO_VSOCK_OP_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.type, VIRTIO_VSOCK_TYPE_STREAM);
    CHECK(uvsock_sim_fault_pending(d.sim));
    CHECK_EQ(tx_op(&d, 8001, 7, VIRTIO_VSOCK_OP_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.type, 0x7777);
    CHECK(!uvsock_sim_fault_pending(d.sim));

    /* SHORT: used length 20. */
    CHECK_EQ(uvsock_sim_inject(d.sim, UVSOCK_SIM_FAULT_SHORT, 0), UVSOCK_OK);
    CHECK_EQ(tx_op(&d, 8000, 7, VIRTIO_VSOCK_OP_CREDIT_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.len, 20);

    /* DROP: the packet never arrives. */
    CHECK_EQ(uvsock_sim_inject(d.sim, UVSOCK_SIM_FAULT_DROP, 0), UVSOCK_OK);
    CHECK_EQ(tx_op(&d, 8000, 7, VIRTIO_VSOCK_OP_CREDIT_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 200), -1);

    /* DUPLICATE: it arrives twice. */
    CHECK_EQ(uvsock_sim_inject(d.sim, UVSOCK_SIM_FAULT_DUPLICATE, 0), UVSOCK_OK);
    CHECK_EQ(tx_op(&d, 8000, 7, VIRTIO_VSOCK_OP_CREDIT_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);

    /* USED_DUP_ID: two used entries with the same id, published together. */
    CHECK_EQ(uvsock_sim_inject(d.sim, UVSOCK_SIM_FAULT_USED_DUP_ID, 8000), UVSOCK_OK);
    CHECK_EQ(tx_op(&d, 8000, 7, VIRTIO_VSOCK_OP_CREDIT_REQUEST), 0);
    CHECK_EQ(used_next(&d, VSOCK_VQ_RX, &e1, 2000), 0);
    CHECK_EQ((uint16_t)(vring_load(&rq->used->idx) - rq->last_used), 1);
    CHECK_EQ(used_next(&d, VSOCK_VQ_RX, &e2, 2000), 0);
    CHECK_EQ(e1.id, e2.id);
    CHECK_EQ(e1.len, VSOCK_HDR_SIZE);
    rx_repost(&d, (uint16_t)e1.id);

    /* USED_BAD_ID: the real entry, then one with an id outside the ring. */
    CHECK_EQ(uvsock_sim_inject(d.sim, UVSOCK_SIM_FAULT_USED_BAD_ID, 0), UVSOCK_OK);
    CHECK_EQ(tx_op(&d, 8000, 7, VIRTIO_VSOCK_OP_CREDIT_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK(p.id >= QSIZE);

    /* USED_BAD_LEN and raw packets. */
    CHECK_EQ(uvsock_sim_inject(d.sim, UVSOCK_SIM_FAULT_USED_BAD_LEN, 0), UVSOCK_OK);
    struct uvsock_sim_packet raw = {.src_cid = 2,
                                    .dst_cid = 3,
                                    .src_port = 1,
                                    .dst_port = 2,
                                    .hdr_len = 4,
                                    .type = 1,
                                    .op = VIRTIO_VSOCK_OP_RW};
    CHECK_EQ(uvsock_sim_send_raw(d.sim, &raw, "abcd", 4), UVSOCK_OK);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.len, RXBUF + 1000);
    raw.op = 0x55;
    CHECK_EQ(uvsock_sim_send_raw(d.sim, &raw, "abcd", 4), UVSOCK_OK);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, 0x55);
    CHECK_EQ(p.plen, 4);
    drv_close(&d);
}

TEST(test_credit)
{
    struct drv d;
    struct rxpkt p;
    struct virtio_vsock_hdr h;
    static uint8_t big[12000];
    uint32_t got = 0, violations;

    CHECK_EQ(drv_open(&d, "credit=8192"), 0);
    CHECK_EQ(tx_op(&d, 5000, 9, VIRTIO_VSOCK_OP_REQUEST), 0);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.buf_alloc, 8192);
    /* 12000 bytes into 8192 of credit: 3808 bytes of violation, still accepted. */
    h = mkhdr(&d, 5000, 9, VIRTIO_VSOCK_OP_RW, sizeof(big));
    CHECK_EQ(tx_send(&d, &h, big, sizeof(big), false), 0);
    violations = (uint32_t)stats(&d).credit_violations;
    CHECK_EQ(violations, sizeof(big) - 8192);
    /* Discard consumed it at once: an unsolicited CREDIT_UPDATE follows. */
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
    CHECK_EQ(p.h.fwd_cnt, sizeof(big));
    /* Changing the host credit tells existing connections. */
    CHECK_EQ(uvsock_sim_set_host_credit(d.sim, 0), UVSOCK_ERR_INVALID_ARGS);
    CHECK_EQ(uvsock_sim_set_host_credit(d.sim, 100000), UVSOCK_OK);
    CHECK_EQ(rx_next(&d, &p, 2000), 0);
    CHECK_EQ(p.h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
    CHECK_EQ(p.h.buf_alloc, 100000);
    (void)got;
    drv_close(&d);
}

int main(void)
{
    RUN(test_config_space);
    RUN(test_registers_and_features);
    RUN(test_echo);
    RUN(test_services_and_refusals);
    RUN(test_host_connect);
    RUN(test_hybrid_uds);
    RUN(test_transport_reset);
    RUN(test_faults);
    RUN(test_credit);
    TEST_EXIT();
}
