/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci (driver/virtio_pci.c) against a fake PCI function: a config space with a
 * capability list the test shapes, and BAR 4 holding a model of the modern register layout
 * (common config with its select/reset semantics, ISR, device config, notify).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "test.h"
#include "virtio_pci.h"
#include "vsock_wire.h"

/* BAR 4 layout of the fake device. */
#define FBAR         4
#define FBAR_SIZE    0x4000u
#define F_COMMON     0x0000u
#define F_ISR        0x1000u
#define F_DEVICE     0x2000u
#define F_DEVICE_LEN 8u
#define F_NOTIFY     0x3000u
#define F_NOTIFY_LEN 0x1000u
#define F_MULT       4u
#define F_NQUEUES    4

/* Capability positions in config space. */
#define C_MSIX   0x40
#define C_COMMON 0x50
#define C_ISR    0x60
#define C_DEVICE 0x70
#define C_NOTIFY 0x80
#define C_PCICFG 0x98

struct fq {
    uint16_t max, size, msix, enable, noff;
    uint64_t desc, avail, used;
};

struct fdev {
    struct pci_func f; /* first: the ops recover the fake from it */
    uint8_t cfg[256];
    uint64_t bar_size[6];

    uint32_t dfselect, gfselect;
    uint64_t dev_features, drv_features;
    uint8_t status, gen, isr;
    uint16_t qsel;
    struct fq q[F_NQUEUES];
    uint64_t cid;

    bool refuse_features_ok; /* clears FEATURES_OK when the driver sets it */
    bool stuck_reset;        /* never completes a reset */
    int gen_bumps;           /* the next N device-config reads see the config change */

    int resets, device_reads, bad_width;
    int notifies;
    uint64_t notify_off, notify_val;
};

static struct fdev *fdev_of(struct pci_func *f)
{
    return (struct fdev *)f;
}

static int f_cfg_read(struct pci_func *f, uint32_t off, void *buf, size_t len)
{
    if (off > 256 || len > 256 - off)
        return -EINVAL;
    memcpy(buf, &fdev_of(f)->cfg[off], len);
    return 0;
}

static int f_cfg_write(struct pci_func *f, uint32_t off, const void *buf, size_t len)
{
    if (off > 256 || len > 256 - off)
        return -EINVAL;
    memcpy(&fdev_of(f)->cfg[off], buf, len);
    return 0;
}

static uint64_t f_bar_size(struct pci_func *f, int bar)
{
    return bar >= 0 && bar < 6 ? fdev_of(f)->bar_size[bar] : 0;
}

/* The natural width of each common config field (virtio 1.x, 4.1.4.3). */
static int common_width(uint64_t off)
{
    if (off < VIRTIO_PCI_COMMON_MSIX)
        return 4;
    if (off == VIRTIO_PCI_COMMON_STATUS || off == VIRTIO_PCI_COMMON_CFGGENERATION)
        return 1;
    if (off < VIRTIO_PCI_COMMON_Q_DESCLO)
        return 2;
    return 4;
}

static void reset_device(struct fdev *d)
{
    d->resets++;
    if (d->stuck_reset)
        return;
    d->status = 0;
    d->drv_features = 0;
    for (int i = 0; i < F_NQUEUES; i++) {
        struct fq *q = &d->q[i];
        q->size = q->max;
        q->enable = 0;
        q->msix = 0;
        q->desc = q->avail = q->used = 0;
    }
}

static uint64_t common_read(struct fdev *d, uint64_t off)
{
    struct fq *q = d->qsel < F_NQUEUES ? &d->q[d->qsel] : NULL;
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        return d->dfselect;
    case VIRTIO_PCI_COMMON_DF:
        return d->dfselect < 2 ? (uint32_t)(d->dev_features >> (32 * d->dfselect)) : 0;
    case VIRTIO_PCI_COMMON_GFSELECT:
        return d->gfselect;
    case VIRTIO_PCI_COMMON_GF:
        return d->gfselect < 2 ? (uint32_t)(d->drv_features >> (32 * d->gfselect)) : 0;
    case VIRTIO_PCI_COMMON_MSIX:
        return VIRTIO_MSI_NO_VECTOR;
    case VIRTIO_PCI_COMMON_NUMQ:
        return F_NQUEUES;
    case VIRTIO_PCI_COMMON_STATUS:
        return d->status;
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        return d->gen;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        return d->qsel;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        return q ? q->size : 0;
    case VIRTIO_PCI_COMMON_Q_MSIX:
        return q ? q->msix : VIRTIO_MSI_NO_VECTOR;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        return q ? q->enable : 0;
    case VIRTIO_PCI_COMMON_Q_NOFF:
        return q ? q->noff : 0;
    }
    return 0;
}

static void set_half(uint64_t *v, bool hi, uint64_t half)
{
    if (hi)
        *v = (*v & 0xffffffffull) | half << 32;
    else
        *v = (*v & ~0xffffffffull) | (half & 0xffffffffull);
}

static void common_write(struct fdev *d, uint64_t off, uint64_t val)
{
    struct fq *q = d->qsel < F_NQUEUES ? &d->q[d->qsel] : NULL;
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        d->dfselect = (uint32_t)val;
        return;
    case VIRTIO_PCI_COMMON_GFSELECT:
        d->gfselect = (uint32_t)val;
        return;
    case VIRTIO_PCI_COMMON_GF:
        if (d->gfselect < 2)
            set_half(&d->drv_features, d->gfselect == 1, val);
        return;
    case VIRTIO_PCI_COMMON_STATUS:
        if (val == 0) {
            reset_device(d);
            return;
        }
        if ((val & VIRTIO_STATUS_FEATURES_OK) && d->refuse_features_ok)
            val &= ~(uint64_t)VIRTIO_STATUS_FEATURES_OK;
        d->status = (uint8_t)val;
        return;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        d->qsel = (uint16_t)val;
        return;
    }
    if (!q)
        return;
    switch (off) {
    case VIRTIO_PCI_COMMON_Q_SIZE:
        q->size = (uint16_t)val;
        break;
    case VIRTIO_PCI_COMMON_Q_MSIX:
        q->msix = (uint16_t)val;
        break;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        q->enable = (uint16_t)val;
        break;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
    case VIRTIO_PCI_COMMON_Q_DESCHI:
        set_half(&q->desc, off == VIRTIO_PCI_COMMON_Q_DESCHI, val);
        break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
    case VIRTIO_PCI_COMMON_Q_AVAILHI:
        set_half(&q->avail, off == VIRTIO_PCI_COMMON_Q_AVAILHI, val);
        break;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
    case VIRTIO_PCI_COMMON_Q_USEDHI:
        set_half(&q->used, off == VIRTIO_PCI_COMMON_Q_USEDHI, val);
        break;
    }
}

static uint64_t f_bar_read(struct pci_func *f, int bar, uint64_t off, int width)
{
    struct fdev *d = fdev_of(f);
    if (bar != FBAR || off + (uint64_t)width > FBAR_SIZE) {
        d->bad_width++; /* the driver must only touch validated regions */
        return ~0ull;
    }
    if (off < F_COMMON + VIRTIO_PCI_COMMON_CFG_SIZE) {
        if (width != common_width(off))
            d->bad_width++;
        return common_read(d, off);
    }
    if (off == F_ISR) {
        uint8_t v = d->isr;
        d->isr = 0;
        return v;
    }
    if (off >= F_DEVICE && off < F_DEVICE + F_DEVICE_LEN) {
        uint64_t at = off - F_DEVICE;
        if (at % (uint64_t)width != 0)
            d->bad_width++;
        d->device_reads++;
        if (at == 0 && d->gen_bumps > 0) {
            /* The config changes under the driver's feet: a new generation. */
            d->gen_bumps--;
            d->gen++;
            d->cid++;
        }
        uint64_t v = 0;
        memcpy(&v, (uint8_t *)&d->cid + at, (size_t)width);
        return v;
    }
    return 0;
}

static void f_bar_write(struct pci_func *f, int bar, uint64_t off, int width, uint64_t val)
{
    struct fdev *d = fdev_of(f);
    if (bar != FBAR || off + (uint64_t)width > FBAR_SIZE) {
        d->bad_width++;
        return;
    }
    if (off < F_COMMON + VIRTIO_PCI_COMMON_CFG_SIZE) {
        if (width != common_width(off))
            d->bad_width++;
        common_write(d, off, val);
        return;
    }
    if (off >= F_NOTIFY && off < F_NOTIFY + F_NOTIFY_LEN) {
        if (width != 2)
            d->bad_width++;
        d->notifies++;
        d->notify_off = off - F_NOTIFY;
        d->notify_val = val;
    }
}

static int f_dma_alloc(struct pci_func *f, size_t size, struct pci_dma *out)
{
    (void)f;
    size_t rounded = (size + 4095) & ~(size_t)4095;
    void *p = aligned_alloc(4096, rounded);
    if (!p)
        return -ENOMEM;
    memset(p, 0, rounded);
    out->cpu = p;
    out->iova = 0xabc00000000ull + (uint64_t)(uintptr_t)p;
    out->size = size;
    out->priv = NULL;
    return 0;
}
static void f_dma_free(struct pci_func *f, struct pci_dma *dma)
{
    (void)f;
    free(dma->cpu);
    dma->cpu = NULL;
}
static int f_irq_fd(struct pci_func *f)
{
    (void)f;
    return -1;
}
static void f_irq_ack(struct pci_func *f)
{
    (void)f;
}
static void f_destroy(struct pci_func *f)
{
    (void)f;
}

static const struct pci_func_ops fops = {
    .cfg_read = f_cfg_read,
    .cfg_write = f_cfg_write,
    .bar_size = f_bar_size,
    .bar_read = f_bar_read,
    .bar_write = f_bar_write,
    .dma_alloc = f_dma_alloc,
    .dma_free = f_dma_free,
    .irq_fd = f_irq_fd,
    .irq_ack = f_irq_ack,
    .destroy = f_destroy,
};

static void put16(struct fdev *d, unsigned off, uint16_t v)
{
    memcpy(&d->cfg[off], &v, 2);
}
static void put32(struct fdev *d, unsigned off, uint32_t v)
{
    memcpy(&d->cfg[off], &v, 4);
}

/* A struct virtio_pci_cap at `pos` (cap_len 16, or 20 with a notify multiplier). */
static void set_cap(struct fdev *d, unsigned pos, unsigned next, uint8_t type, uint8_t bar,
                    uint32_t off, uint32_t len)
{
    d->cfg[pos] = PCI_CAP_ID_VNDR;
    d->cfg[pos + 1] = (uint8_t)next;
    d->cfg[pos + 2] = type == VIRTIO_PCI_CAP_NOTIFY_CFG ? 20 : 16;
    d->cfg[pos + 3] = type;
    d->cfg[pos + 4] = bar;
    put32(d, pos + 8, off);
    put32(d, pos + 12, len);
    if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
        put32(d, pos + 16, F_MULT);
}

static struct fdev dev;

/* A well-formed modern virtio-vsock function. */
static struct fdev *fdev_new(void)
{
    struct fdev *d = &dev;
    memset(d, 0, sizeof(*d));
    d->f.ops = &fops;
    d->f.dma_max_contig = 1 << 20;
    strcpy(d->f.name, "fake");
    d->bar_size[FBAR] = FBAR_SIZE;

    put16(d, PCI_VENDOR_ID, VIRTIO_PCI_VENDOR_ID);
    put16(d, PCI_DEVICE_ID, VIRTIO_PCI_VSOCK_ID);
    put16(d, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
    put16(d, PCI_STATUS, PCI_STATUS_CAP_LIST);
    d->cfg[PCI_CAPABILITY_LIST] = C_MSIX;

    /* A non-vendor capability first: the walk must step over it. */
    d->cfg[C_MSIX] = PCI_CAP_ID_MSIX;
    d->cfg[C_MSIX + 1] = C_COMMON;
    set_cap(d, C_COMMON, C_ISR, VIRTIO_PCI_CAP_COMMON_CFG, FBAR, F_COMMON,
            VIRTIO_PCI_COMMON_CFG_SIZE);
    set_cap(d, C_ISR, C_DEVICE, VIRTIO_PCI_CAP_ISR_CFG, FBAR, F_ISR, 4);
    set_cap(d, C_DEVICE, C_NOTIFY, VIRTIO_PCI_CAP_DEVICE_CFG, FBAR, F_DEVICE, F_DEVICE_LEN);
    set_cap(d, C_NOTIFY, C_PCICFG, VIRTIO_PCI_CAP_NOTIFY_CFG, FBAR, F_NOTIFY, F_NOTIFY_LEN);
    set_cap(d, C_PCICFG, 0, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);

    d->dev_features =
        1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX | 1ull << VIRTIO_VSOCK_F_STREAM;
    d->status = VIRTIO_STATUS_ACKNOWLEDGE; /* left over from a previous owner */
    d->cid = 5;
    const uint16_t max[F_NQUEUES] = {256, 256, 64, 100};
    for (int i = 0; i < F_NQUEUES; i++) {
        d->q[i].max = d->q[i].size = max[i];
        d->q[i].noff = (uint16_t)i;
    }
    return d;
}

static int init(struct fdev *d)
{
    struct virtio_pci vp;
    return virtio_pci_init(&vp, &d->f);
}

TEST(good_device)
{
    struct fdev *d = fdev_new();
    struct virtio_pci vp;
    CHECK_EQ(virtio_pci_init(&vp, &d->f), 0);
    CHECK_EQ(vp.common.bar, FBAR);
    CHECK_EQ(vp.common.off, F_COMMON);
    CHECK_EQ(vp.common.len, VIRTIO_PCI_COMMON_CFG_SIZE);
    CHECK_EQ(vp.isr.off, F_ISR);
    CHECK_EQ(vp.device.off, F_DEVICE);
    CHECK_EQ(vp.device.len, F_DEVICE_LEN);
    CHECK_EQ(vp.notify.off, F_NOTIFY);
    CHECK_EQ(vp.notify.len, F_NOTIFY_LEN);
    CHECK_EQ(vp.notify_off_multiplier, F_MULT);
    CHECK_EQ(vp.num_queues, F_NQUEUES);
    CHECK_EQ(vp.device_features, d->dev_features);

    uint16_t cmd;
    memcpy(&cmd, &d->cfg[PCI_COMMAND], 2);
    CHECK(cmd & PCI_COMMAND_MEMORY);
    CHECK(cmd & PCI_COMMAND_MASTER);
    CHECK(!(cmd & PCI_COMMAND_INTX_DISABLE));

    CHECK_EQ(d->resets, 1);
    CHECK_EQ(d->status, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    CHECK_EQ(virtio_pci_get_status(&vp), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    CHECK_EQ(d->bad_width, 0);
}

TEST(first_instance_wins)
{
    /* A second common capability after the first, pointing outside the BAR, is ignored. */
    struct fdev *d = fdev_new();
    set_cap(d, C_PCICFG, 0xb0, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
    set_cap(d, 0xb0, 0, VIRTIO_PCI_CAP_COMMON_CFG, FBAR, 0xffff0000u, 0x38);
    CHECK_EQ(init(d), 0);
    /* A reserved cfg_type is ignored too. */
    d = fdev_new();
    set_cap(d, C_PCICFG, 0xb0, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
    set_cap(d, 0xb0, 0, 42, FBAR, 0xffff0000u, 0x38);
    CHECK_EQ(init(d), 0);
}

TEST(wrong_ids)
{
    struct fdev *d = fdev_new();
    put16(d, PCI_VENDOR_ID, 0x8086);
    CHECK_EQ(init(d), -ENODEV);
    d = fdev_new();
    put16(d, PCI_DEVICE_ID, 0x1041); /* virtio-net, modern */
    CHECK_EQ(init(d), -ENODEV);
    d = fdev_new();
    put16(d, PCI_DEVICE_ID, 0x1012); /* transitional range: not a vsock id, not driven */
    CHECK_EQ(init(d), -ENODEV);
    CHECK_EQ(d->resets, 0); /* nothing touched */
}

TEST(bad_capabilities)
{
    struct fdev *d;

    d = fdev_new(); /* region past the end of the BAR */
    set_cap(d, C_COMMON, C_ISR, VIRTIO_PCI_CAP_COMMON_CFG, FBAR, FBAR_SIZE - 0x10, 0x38);
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* BAR index 6 is reserved: ignored, so no common config */
    set_cap(d, C_COMMON, C_ISR, VIRTIO_PCI_CAP_COMMON_CFG, 6, F_COMMON, 0x38);
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* offset + length overflows 32 bits */
    set_cap(d, C_ISR, C_DEVICE, VIRTIO_PCI_CAP_ISR_CFG, FBAR, 0xfffffff0u, 0x20);
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* length alone larger than the BAR */
    set_cap(d, C_DEVICE, C_NOTIFY, VIRTIO_PCI_CAP_DEVICE_CFG, FBAR, 0, 0xffffffffu);
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* missing common config */
    d->cfg[C_MSIX + 1] = C_ISR;
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* missing notify */
    d->cfg[C_DEVICE + 1] = C_PCICFG;
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* missing ISR */
    d->cfg[C_COMMON + 1] = C_DEVICE;
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* a loop back to an earlier capability */
    d->cfg[C_PCICFG + 1] = C_COMMON;
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* a capability pointing at itself */
    d->cfg[C_MSIX + 1] = C_MSIX;
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* a pointer into the standard header */
    d->cfg[C_PCICFG + 1] = 0x10;
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* a vendor capability running off the end of config space */
    set_cap(d, C_PCICFG, 0xfc, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
    d->cfg[0xfc] = PCI_CAP_ID_VNDR;
    d->cfg[0xfd] = 0;
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* common config too short */
    set_cap(d, C_COMMON, C_ISR, VIRTIO_PCI_CAP_COMMON_CFG, FBAR, F_COMMON, 0x20);
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* a BAR that does not exist */
    set_cap(d, C_ISR, C_DEVICE, VIRTIO_PCI_CAP_ISR_CFG, 2, 0, 4);
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* notify multiplier not a power of two */
    put32(d, C_NOTIFY + 16, 3);
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* notify capability without the multiplier */
    d->cfg[C_NOTIFY + 2] = 16;
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* capability shorter than struct virtio_pci_cap */
    d->cfg[C_ISR + 2] = 8;
    CHECK_EQ(init(d), -EPROTO);

    d = fdev_new(); /* no capability list at all */
    put16(d, PCI_STATUS, 0);
    CHECK_EQ(init(d), -EPROTO);

    /* None of them got as far as touching the device. */
    CHECK_EQ(d->resets, 0);
}

TEST(reset_timeout)
{
    struct fdev *d = fdev_new();
    d->stuck_reset = true;
    CHECK_EQ(init(d), -EIO);
}

TEST(negotiate_ok)
{
    struct fdev *d = fdev_new();
    struct virtio_pci vp;
    CHECK_EQ(virtio_pci_init(&vp, &d->f), 0);
    uint64_t got = 0;
    uint64_t wanted = 1ull << VIRTIO_F_EVENT_IDX | 1ull << VIRTIO_VSOCK_F_STREAM |
                      1ull << VIRTIO_VSOCK_F_SEQPACKET;
    CHECK_EQ(virtio_pci_negotiate(&vp, wanted, 1ull << VIRTIO_VSOCK_F_STREAM, &got), 0);
    uint64_t expect =
        1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX | 1ull << VIRTIO_VSOCK_F_STREAM;
    CHECK_EQ(got, expect);
    CHECK_EQ(vp.features, expect);
    CHECK_EQ(d->drv_features, expect); /* both halves written */
    CHECK_EQ(d->status,
             VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    virtio_pci_add_status(&vp, VIRTIO_STATUS_DRIVER_OK);
    CHECK_EQ(d->status, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                            VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    CHECK_EQ(d->bad_width, 0);
}

TEST(negotiate_features_ok_refused)
{
    struct fdev *d = fdev_new();
    d->refuse_features_ok = true;
    struct virtio_pci vp;
    CHECK_EQ(virtio_pci_init(&vp, &d->f), 0);
    uint64_t got = 0;
    CHECK_EQ(virtio_pci_negotiate(&vp, 1ull << VIRTIO_F_EVENT_IDX, 0, &got), -EIO);
    CHECK(d->status & VIRTIO_STATUS_FAILED);
    CHECK(!(d->status & VIRTIO_STATUS_FEATURES_OK));
}

TEST(negotiate_required_missing)
{
    struct fdev *d = fdev_new();
    struct virtio_pci vp;
    CHECK_EQ(virtio_pci_init(&vp, &d->f), 0);
    CHECK_EQ(virtio_pci_negotiate(&vp, 0, 1ull << VIRTIO_VSOCK_F_SEQPACKET, NULL), -ENOTSUP);
    CHECK(d->status & VIRTIO_STATUS_FAILED);
    CHECK(!(d->status & VIRTIO_STATUS_FEATURES_OK));

    /* A device without VIRTIO_F_VERSION_1 is not a modern device we can drive. */
    d = fdev_new();
    d->dev_features &= ~(1ull << VIRTIO_F_VERSION_1);
    CHECK_EQ(virtio_pci_init(&vp, &d->f), 0);
    CHECK_EQ(virtio_pci_negotiate(&vp, 1ull << VIRTIO_VSOCK_F_STREAM, 0, NULL), -ENOTSUP);
}

TEST(queue_setup_and_notify)
{
    struct fdev *d = fdev_new();
    struct virtio_pci vp;
    CHECK_EQ(virtio_pci_init(&vp, &d->f), 0);
    CHECK_EQ(virtio_pci_negotiate(&vp, 1ull << VIRTIO_F_EVENT_IDX, 0, NULL), 0);

    CHECK_EQ(virtio_pci_queue_max(&vp, 0), 256);
    CHECK_EQ(virtio_pci_queue_max(&vp, 2), 64);
    CHECK_EQ(virtio_pci_queue_max(&vp, F_NQUEUES), 0);

    struct virtqueue q0, q2, q3, extra;
    CHECK_EQ(virtio_pci_setup_queue(&vp, &q0, 0, 128), 0);
    CHECK_EQ(q0.size, 128);
    CHECK(q0.event_idx);
    CHECK_EQ(d->q[0].size, 128);
    CHECK_EQ(d->q[0].msix, VIRTIO_MSI_NO_VECTOR);
    CHECK_EQ(d->q[0].enable, 1);
    CHECK_EQ(d->q[0].desc, q0.desc_iova);
    CHECK_EQ(d->q[0].avail, q0.avail_iova);
    CHECK_EQ(d->q[0].used, q0.used_iova);
    CHECK(q0.desc_iova >> 32 != 0); /* the high halves were written */

    CHECK_EQ(virtio_pci_setup_queue(&vp, &q2, 2, 256), 0); /* capped at the device's 64 */
    CHECK_EQ(q2.size, 64);
    CHECK_EQ(virtio_pci_setup_queue(&vp, &q3, 3, 1000), 0); /* max 100: a power of two */
    CHECK_EQ(q3.size, 64);
    CHECK_EQ(virtio_pci_setup_queue(&vp, &extra, F_NQUEUES, 64), -ENOENT);
    CHECK_EQ(virtio_pci_setup_queue(&vp, &extra, 0, 64), -EBUSY); /* already enabled */

    virtio_pci_notify(&vp, &q2);
    CHECK_EQ(d->notifies, 1);
    CHECK_EQ(d->notify_off, 2 * F_MULT);
    CHECK_EQ(d->notify_val, 2);

    /* The offset validated at setup is used: a device changing queue_notify_off later cannot
     * move our write outside the notify region. */
    d->q[2].noff = F_NOTIFY_LEN / F_MULT;
    virtio_pci_notify(&vp, &q2);
    CHECK_EQ(d->notifies, 2);
    CHECK_EQ(d->notify_off, 2 * F_MULT);
    CHECK_EQ(d->bad_width, 0);

    virtqueue_fini(&q0, &d->f);
    virtqueue_fini(&q2, &d->f);
    virtqueue_fini(&q3, &d->f);
}

TEST(queue_notify_off_outside_region)
{
    struct fdev *d = fdev_new();
    struct virtio_pci vp;
    CHECK_EQ(virtio_pci_init(&vp, &d->f), 0);
    d->q[1].noff = 0xffff;
    struct virtqueue q;
    CHECK_EQ(virtio_pci_setup_queue(&vp, &q, 1, 64), -EPROTO);
    CHECK_EQ(d->q[1].enable, 0);
    /* The last register that fits is fine. */
    d->q[1].noff = (F_NOTIFY_LEN - 2) / F_MULT;
    CHECK_EQ(virtio_pci_setup_queue(&vp, &q, 1, 64), 0);
    virtqueue_fini(&q, &d->f);
}

TEST(config_generation)
{
    struct fdev *d = fdev_new();
    struct virtio_pci vp;
    CHECK_EQ(virtio_pci_init(&vp, &d->f), 0);

    uint64_t cid = 0;
    CHECK_EQ(virtio_pci_read_config(&vp, 0, &cid, sizeof(cid)), 0);
    CHECK_EQ(cid, 5);
    CHECK_EQ(d->device_reads, 2); /* a le64 is read as two 32-bit accesses */

    /* The config changes during the next three reads: the driver retries until stable. */
    d->device_reads = 0;
    d->gen_bumps = 3;
    CHECK_EQ(virtio_pci_read_config(&vp, 0, &cid, sizeof(cid)), 0);
    CHECK_EQ(cid, 8);
    CHECK_EQ(d->device_reads, 2 * 4);

    /* A generation that never settles is an error, not a hang. */
    d->gen_bumps = 1000000;
    CHECK_EQ(virtio_pci_read_config(&vp, 0, &cid, sizeof(cid)), -EIO);

    /* Ranges outside the device region. */
    CHECK_EQ(virtio_pci_read_config(&vp, 4, &cid, 8), -EINVAL);
    CHECK_EQ(virtio_pci_read_config(&vp, 0xfffffffcu, &cid, 8), -EINVAL);
    uint16_t half;
    d->gen_bumps = 0;
    CHECK_EQ(virtio_pci_read_config(&vp, 6, &half, 2), 0);
    CHECK_EQ(d->bad_width, 0);
}

TEST(isr)
{
    struct fdev *d = fdev_new();
    struct virtio_pci vp;
    CHECK_EQ(virtio_pci_init(&vp, &d->f), 0);
    d->isr = VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG;
    CHECK_EQ(virtio_pci_read_isr(&vp), VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG);
    CHECK_EQ(virtio_pci_read_isr(&vp), 0); /* read-to-clear */
}

int main(void)
{
    RUN(good_device);
    RUN(first_instance_wins);
    RUN(wrong_ids);
    RUN(bad_capabilities);
    RUN(reset_timeout);
    RUN(negotiate_ok);
    RUN(negotiate_features_ok_refused);
    RUN(negotiate_required_missing);
    RUN(queue_setup_and_notify);
    RUN(queue_notify_off_outside_region);
    RUN(config_generation);
    RUN(isr);
    TEST_EXIT();
}
