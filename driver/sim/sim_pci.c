/* SPDX-License-Identifier: MIT */
/*
 * The simulated device as a PCI function: config space with the virtio vendor capabilities,
 * BAR 4 with the common/notify/ISR/device regions (virtio 1.x, 4.1.4), a private DMA address
 * space, and an INTx line modelled by an eventfd.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sim_internal.h"

#define SIM_PAGE       4096u
#define SIM_IOVA_BASE  0x100000000ull
#define SIM_DMA_GUARD  0x100000ull /* unmapped gap after every allocation */
#define SIM_SUBSYS_ID  0x1100
#define SIM_CMD_WRMASK (0x1u | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)

static const struct pci_func_ops sim_ops;

static struct uvsock_sim *to_sim(struct pci_func *f)
{
    return (struct uvsock_sim *)((char *)f - offsetof(struct uvsock_sim, func));
}

struct uvsock_sim *sim_from_pci_func(struct pci_func *f)
{
    return f && f->ops == &sim_ops ? to_sim(f) : NULL;
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

/* ------------------------------------------------------------------ config space -- */

/* struct virtio_pci_cfg_cap: the cap, then pci_cfg_data[4]. */
#define PCI_CFG_CAP  0x84
#define PCI_CFG_DATA (PCI_CFG_CAP + 16)

/* One struct virtio_pci_cap (virtio 1.x, 4.1.4) at `at`; returns its length. */
static uint8_t put_cap(uint8_t *cfg, uint8_t at, uint8_t next, uint8_t type, uint32_t off,
                       uint32_t len, uint8_t cap_len)
{
    cfg[at + 0] = PCI_CAP_ID_VNDR;
    cfg[at + 1] = next;
    cfg[at + 2] = cap_len;
    cfg[at + 3] = type;
    cfg[at + 4] = SIM_BAR;
    cfg[at + 5] = 0; /* id */
    put32(cfg + at + 8, off);
    put32(cfg + at + 12, len);
    return cap_len;
}

static void build_config_space(struct uvsock_sim *s)
{
    uint8_t *c = s->cfg;

    memset(c, 0, sizeof(s->cfg));
    put16(c + PCI_VENDOR_ID, VIRTIO_PCI_VENDOR_ID);
    put16(c + PCI_DEVICE_ID, VIRTIO_PCI_VSOCK_ID);
    put16(c + PCI_STATUS, PCI_STATUS_CAP_LIST);
    /* "Non-transitional devices SHOULD have a PCI Revision ID of 1 or higher." */
    c[0x08] = 1;
    c[0x0a] = 0x80;                             /* subclass: other */
    c[0x0b] = 0x07;                             /* class: communication controller */
    put32(c + 0x10 + 4 * SIM_BAR, 0xfe000000u); /* 32-bit memory BAR, as firmware placed it */
    put16(c + 0x2c, VIRTIO_PCI_VENDOR_ID);
    put16(c + 0x2e, SIM_SUBSYS_ID);
    c[PCI_CAPABILITY_LIST] = 0x40;
    c[0x3c] = 11; /* interrupt line */
    c[0x3d] = 1;  /* INTA#: the only interrupt this function has */

    put_cap(c, 0x40, 0x50, VIRTIO_PCI_CAP_COMMON_CFG, SIM_COMMON_OFF, VIRTIO_PCI_COMMON_CFG_SIZE,
            16);
    put_cap(c, 0x50, 0x60, VIRTIO_PCI_CAP_ISR_CFG, SIM_ISR_OFF, SIM_ISR_LEN, 16);
    put_cap(c, 0x60, 0x70, VIRTIO_PCI_CAP_DEVICE_CFG, SIM_DEVICE_OFF, SIM_DEVICE_LEN, 16);
    put_cap(c, 0x70, PCI_CFG_CAP, VIRTIO_PCI_CAP_NOTIFY_CFG, SIM_NOTIFY_OFF, SIM_NOTIFY_LEN, 20);
    put32(c + 0x70 + 16, SIM_NOTIFY_MULTIPLIER);
    /* "The device MUST present at least one VIRTIO_PCI_CAP_PCI_CFG capability": a window
     * into the BARs through config space; bar, offset and length are the driver's to set. */
    put_cap(c, PCI_CFG_CAP, 0x00, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 20);
    c[PCI_CFG_CAP + 4] = 0; /* cap.bar: no window until the driver selects one */
}

static bool access_ok(int bar, uint64_t off, int width);
static uint64_t bar_read_locked(struct uvsock_sim *s, int bar, uint64_t off, int width);
static void bar_write_locked(struct uvsock_sim *s, int bar, uint64_t off, int width, uint64_t val);

static uint32_t cfg_window_off(const struct uvsock_sim *s)
{
    uint32_t v;

    memcpy(&v, s->cfg + PCI_CFG_CAP + 8, 4);
    return v;
}

/* cap.length: 1, 2 or 4; anything else makes the access invalid (access_ok refuses it). */
static uint32_t cfg_window_len(const struct uvsock_sim *s)
{
    uint32_t v;

    memcpy(&v, s->cfg + PCI_CFG_CAP + 12, 4);
    return v <= 4 ? v : 0;
}

static int sim_cfg_read(struct pci_func *f, uint32_t off, void *buf, size_t len)
{
    struct uvsock_sim *s = to_sim(f);

    if (off > sizeof(s->cfg) || len > sizeof(s->cfg) - off)
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    /* "Upon detecting driver read access to pci_cfg_data, the device MUST execute a read
     * access of length cap.length at offset cap.offset at BAR selected by cap.bar". */
    if (off < PCI_CFG_DATA + 4 && off + len > PCI_CFG_DATA) {
        uint64_t v =
            bar_read_locked(s, s->cfg[PCI_CFG_CAP + 4], cfg_window_off(s), (int)cfg_window_len(s));
        memcpy(s->cfg + PCI_CFG_DATA, &v, 4);
    }
    memcpy(buf, s->cfg + off, len);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/*
 * Writable: the command register, and the PCI_CFG window's bar, offset, length and data
 * fields; everything else is read-only here.
 */
static int sim_cfg_write(struct pci_func *f, uint32_t off, const void *buf, size_t len)
{
    struct uvsock_sim *s = to_sim(f);
    const uint8_t *b = buf;
    bool data_written = false;

    if (off > sizeof(s->cfg) || len > sizeof(s->cfg) - off)
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < len; i++) {
        uint32_t at = off + (uint32_t)i;
        if (at == PCI_COMMAND)
            s->cfg[at] = (uint8_t)(b[i] & (SIM_CMD_WRMASK & 0xff));
        else if (at == PCI_COMMAND + 1)
            s->cfg[at] = (uint8_t)(b[i] & (SIM_CMD_WRMASK >> 8));
        else if (at == PCI_CFG_CAP + 4 || (at >= PCI_CFG_CAP + 8 && at < PCI_CFG_DATA + 4)) {
            s->cfg[at] = b[i];
            data_written |= at >= PCI_CFG_DATA;
        }
    }
    /* "Upon detecting driver write access to pci_cfg_data, the device MUST execute a write
     * access at offset cap.offset at BAR selected by cap.bar using the first cap.length
     * bytes from pci_cfg_data." */
    if (data_written) {
        uint32_t v;
        memcpy(&v, s->cfg + PCI_CFG_DATA, 4);
        bar_write_locked(s, s->cfg[PCI_CFG_CAP + 4], cfg_window_off(s), (int)cfg_window_len(s), v);
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* ------------------------------------------------------------------- interrupts -- */

void sim_raise_irq(struct uvsock_sim *s, uint8_t isr_bit)
{
    uint16_t cmd;
    uint64_t one = 1;

    s->isr |= isr_bit;
    s->st.interrupts++;
    memcpy(&cmd, s->cfg + PCI_COMMAND, sizeof(cmd));
    /* With INTx disabled in the command register the ISR bit is set but the line stays low. */
    if (cmd & PCI_COMMAND_INTX_DISABLE)
        return;
    if (write(s->irq_fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is saturated, the line is asserted anyway. */
    }
}

void sim_wake(struct uvsock_sim *s)
{
    uint64_t one = 1;

    if (write(s->wake_fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: a wake-up is already pending. */
    }
}

static int sim_irq_fd(struct pci_func *f)
{
    return to_sim(f)->irq_fd;
}

static void sim_irq_ack(struct pci_func *f)
{
    uint64_t v;

    while (read(to_sim(f)->irq_fd, &v, sizeof(v)) > 0) {
    }
}

/* --------------------------------------------------------------------------- DMA -- */

void *sim_dma_translate(struct uvsock_sim *s, uint64_t iova, uint64_t len)
{
    for (struct sim_dma *d = s->dma; d; d = d->next) {
        if (iova < d->iova || iova - d->iova >= d->size)
            continue;
        /* The whole range must lie inside this one allocation. */
        if (len > d->size - (iova - d->iova))
            return NULL;
        return (uint8_t *)d->cpu + (iova - d->iova);
    }
    return NULL;
}

static int sim_dma_alloc(struct pci_func *f, size_t size, struct pci_dma *out)
{
    struct uvsock_sim *s = to_sim(f);
    struct sim_dma *d;
    size_t rounded;

    if (size == 0 || !out)
        return -EINVAL;
    if (size > f->dma_max_contig)
        return -E2BIG;
    rounded = (size + SIM_PAGE - 1) & ~(size_t)(SIM_PAGE - 1);
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    /* Anonymous mappings are page aligned and zero filled, as dma_alloc promises. */
    d->cpu = mmap(NULL, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (d->cpu == MAP_FAILED) {
        free(d);
        return -ENOMEM;
    }
    d->size = rounded;
    pthread_mutex_lock(&s->lock);
    d->iova = s->next_iova;
    s->next_iova += rounded + SIM_DMA_GUARD;
    d->next = s->dma;
    s->dma = d;
    pthread_mutex_unlock(&s->lock);
    out->cpu = d->cpu;
    out->iova = d->iova;
    out->size = size;
    out->priv = d;
    return 0;
}

static void sim_dma_free(struct pci_func *f, struct pci_dma *dma)
{
    struct uvsock_sim *s = to_sim(f);
    struct sim_dma *d = NULL;

    if (!dma || !dma->priv)
        return;
    pthread_mutex_lock(&s->lock);
    for (struct sim_dma **pp = &s->dma; *pp; pp = &(*pp)->next) {
        if (*pp == dma->priv) {
            d = *pp;
            *pp = d->next;
            break;
        }
    }
    if (d) {
        /* A driver that frees live rings has broken the device: stop using them. */
        for (int i = 0; i < VSOCK_VQ_COUNT; i++) {
            if (s->vq[i].enabled && sim_vq_overlaps(&s->vq[i], d->iova, d->size)) {
                sim_vq_reset(&s->vq[i], s->vq[i].size);
                sim_needs_reset(s);
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (d) {
        munmap(d->cpu, d->size);
        free(d);
    }
    memset(dma, 0, sizeof(*dma));
}

/* ------------------------------------------------------------- device status ----- */

bool sim_event_idx(const struct uvsock_sim *s)
{
    return (s->driver_features >> VIRTIO_F_EVENT_IDX) & 1;
}

/*
 * "The device MUST NOT consume buffers or send any used buffer notifications to the driver
 * before DRIVER_OK." (virtio 1.x, 2.1.2)
 */
bool sim_live(const struct uvsock_sim *s)
{
    return (s->status & VIRTIO_STATUS_DRIVER_OK) && !(s->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/*
 * "If DRIVER_OK is set, after it sets DEVICE_NEEDS_RESET, the device MUST send a device
 * configuration change notification to the driver." (virtio 1.x, 2.1.2)
 */
void sim_needs_reset(struct uvsock_sim *s)
{
    if (s->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
        return;
    s->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (s->status & VIRTIO_STATUS_DRIVER_OK)
        sim_raise_irq(s, VIRTIO_ISR_CONFIG);
}

void sim_set_guest_cid(struct uvsock_sim *s, uint64_t cid)
{
    s->guest_cid = cid;
    /* "The device MUST change config_generation if any device configuration field changes." */
    s->generation++;
}

static void device_reset(struct uvsock_sim *s)
{
    uint64_t v;

    s->dfselect = s->gfselect = 0;
    s->driver_features = 0;
    s->queue_select = 0;
    s->isr = 0;
    for (int i = 0; i < VSOCK_VQ_COUNT; i++)
        sim_vq_reset(&s->vq[i], s->max_queue_size);
    sim_host_reset(s);
    s->pending_events = 0;
    while (read(s->irq_fd, &v, sizeof(v)) > 0) {
    }
    /* "The device MUST reset when 0 is written to device_status, and present a 0 in
     * device_status once that is done." */
    s->status = 0;
}

static void status_write(struct uvsock_sim *s, uint8_t v)
{
    uint8_t old = s->status;

    if (v == 0) {
        device_reset(s);
        return;
    }
    if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
        /* "The device SHOULD accept any valid subset of features the driver accepts,
         * otherwise it MUST fail to set the FEATURES_OK device status bit when the driver
         * writes it." */
        if (s->refuse_features || (s->driver_features & ~s->device_features))
            v &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
    }
    s->status = (uint8_t)(v | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
    if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
        sim_wake(s);
}

/* --------------------------------------------------------------- BAR 4 registers -- */

static void common_snapshot(struct uvsock_sim *s, uint8_t *b)
{
    uint16_t sel = s->queue_select;

    memset(b, 0, VIRTIO_PCI_COMMON_CFG_SIZE);
    put32(b + VIRTIO_PCI_COMMON_DFSELECT, s->dfselect);
    if (s->dfselect < 2)
        put32(b + VIRTIO_PCI_COMMON_DF, (uint32_t)(s->device_features >> (32 * s->dfselect)));
    put32(b + VIRTIO_PCI_COMMON_GFSELECT, s->gfselect);
    if (s->gfselect < 2)
        put32(b + VIRTIO_PCI_COMMON_GF, (uint32_t)(s->driver_features >> (32 * s->gfselect)));
    /* No MSI-X: vectors read back NO_VECTOR, interrupts go through INTx and the ISR. */
    put16(b + VIRTIO_PCI_COMMON_MSIX, VIRTIO_MSI_NO_VECTOR);
    put16(b + VIRTIO_PCI_COMMON_NUMQ, VSOCK_VQ_COUNT);
    b[VIRTIO_PCI_COMMON_STATUS] = s->status;
    b[VIRTIO_PCI_COMMON_CFGGENERATION] = s->generation;
    put16(b + VIRTIO_PCI_COMMON_Q_SELECT, sel);
    put16(b + VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
    if (sel < VSOCK_VQ_COUNT) {
        const struct sim_vq *q = &s->vq[sel];
        put16(b + VIRTIO_PCI_COMMON_Q_SIZE, q->size);
        put16(b + VIRTIO_PCI_COMMON_Q_ENABLE, q->enabled);
        put16(b + VIRTIO_PCI_COMMON_Q_NOFF, sel);
        put32(b + VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)q->desc_iova);
        put32(b + VIRTIO_PCI_COMMON_Q_DESCHI, (uint32_t)(q->desc_iova >> 32));
        put32(b + VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)q->avail_iova);
        put32(b + VIRTIO_PCI_COMMON_Q_AVAILHI, (uint32_t)(q->avail_iova >> 32));
        put32(b + VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)q->used_iova);
        put32(b + VIRTIO_PCI_COMMON_Q_USEDHI, (uint32_t)(q->used_iova >> 32));
    }
    /* A queue that does not exist reads queue_size 0. */
}

static uint64_t extract(const uint8_t *b, size_t size, uint64_t off, int width)
{
    uint64_t v = 0;

    if (off >= size || (uint64_t)width > size - off)
        return 0;
    memcpy(&v, b + off, (size_t)width);
    return v;
}

static void set_half(uint64_t *reg, bool hi, uint32_t v)
{
    if (hi)
        *reg = (*reg & 0xffffffffull) | ((uint64_t)v << 32);
    else
        *reg = (*reg & ~0xffffffffull) | v;
}

static void queue_write(struct uvsock_sim *s, uint64_t off, int width, uint64_t val)
{
    struct sim_vq *q;
    uint64_t *reg;

    if (s->queue_select >= VSOCK_VQ_COUNT)
        return;
    q = &s->vq[s->queue_select];
    /* The queue registers are fixed while the queue is enabled: the driver "MUST configure
     * the other virtqueue fields before enabling the virtqueue with queue_enable". */
    if (q->enabled)
        return;
    switch (off) {
    case VIRTIO_PCI_COMMON_Q_SIZE:
        /* A smaller power of two is accepted; anything else keeps the current size. */
        if (width == 2 && val && val <= s->max_queue_size && !(val & (val - 1)))
            q->size = (uint16_t)val;
        return;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        /* "The driver MUST NOT write a 0 to queue_enable." Only 1 does anything. */
        if (width == 2 && val == 1 && sim_vq_enable(s, q) < 0)
            sim_needs_reset(s);
        return;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
    case VIRTIO_PCI_COMMON_Q_DESCHI:
        reg = &q->desc_iova;
        break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
    case VIRTIO_PCI_COMMON_Q_AVAILHI:
        reg = &q->avail_iova;
        break;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
    case VIRTIO_PCI_COMMON_Q_USEDHI:
        reg = &q->used_iova;
        break;
    default:
        return;
    }
    if (width == 8 && (off & 4) == 0)
        *reg = val;
    else if (width == 4)
        set_half(reg, off & 4, (uint32_t)val);
}

static void common_write(struct uvsock_sim *s, uint64_t off, int width, uint64_t val)
{
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        if (width == 4)
            s->dfselect = (uint32_t)val;
        return;
    case VIRTIO_PCI_COMMON_GFSELECT:
        if (width == 4)
            s->gfselect = (uint32_t)val;
        return;
    case VIRTIO_PCI_COMMON_GF:
        /* Features are frozen once FEATURES_OK is set. */
        if (width == 4 && s->gfselect < 2 && !(s->status & VIRTIO_STATUS_FEATURES_OK))
            set_half(&s->driver_features, s->gfselect == 1, (uint32_t)val);
        return;
    case VIRTIO_PCI_COMMON_STATUS:
        if (width == 1)
            status_write(s, (uint8_t)val);
        return;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        if (width == 2)
            s->queue_select = (uint16_t)val;
        return;
    case VIRTIO_PCI_COMMON_MSIX:
    case VIRTIO_PCI_COMMON_Q_MSIX:
        return; /* no MSI-X: the vector stays NO_VECTOR */
    default:
        queue_write(s, off, width, val);
    }
}

static uint64_t sim_bar_size(struct pci_func *f, int bar)
{
    (void)f;
    return bar == SIM_BAR ? SIM_BAR_SIZE : 0;
}

static bool access_ok(int bar, uint64_t off, int width)
{
    if (bar != SIM_BAR || (width != 1 && width != 2 && width != 4 && width != 8))
        return false;
    return off < SIM_BAR_SIZE && (uint64_t)width <= SIM_BAR_SIZE - off;
}

/* A BAR read with the lock held. */
static uint64_t bar_read_locked(struct uvsock_sim *s, int bar, uint64_t off, int width)
{
    uint8_t b[VIRTIO_PCI_COMMON_CFG_SIZE];
    uint64_t v = 0;

    if (!access_ok(bar, off, width))
        return ~0ull; /* what an unclaimed read returns on PCI */
    if (off < SIM_COMMON_OFF + VIRTIO_PCI_COMMON_CFG_SIZE) {
        common_snapshot(s, b);
        v = extract(b, sizeof(b), off - SIM_COMMON_OFF, width);
    } else if (off >= SIM_ISR_OFF && off < SIM_ISR_OFF + SIM_ISR_LEN) {
        /* "The device MUST reset ISR status to 0 on driver read." */
        if (off == SIM_ISR_OFF) {
            v = s->isr;
            s->isr = 0;
        }
    } else if (off >= SIM_DEVICE_OFF && off < SIM_DEVICE_OFF + SIM_DEVICE_LEN) {
        uint8_t cfg[SIM_DEVICE_LEN];
        memcpy(cfg, &s->guest_cid, sizeof(cfg));
        v = extract(cfg, sizeof(cfg), off - SIM_DEVICE_OFF, width);
    }
    return v;
}

static uint64_t sim_bar_read(struct pci_func *f, int bar, uint64_t off, int width)
{
    struct uvsock_sim *s = to_sim(f);
    uint64_t v;

    pthread_mutex_lock(&s->lock);
    v = bar_read_locked(s, bar, off, width);
    pthread_mutex_unlock(&s->lock);
    return v;
}

/* A BAR write with the lock held. */
static void bar_write_locked(struct uvsock_sim *s, int bar, uint64_t off, int width, uint64_t val)
{
    if (!access_ok(bar, off, width))
        return;
    if (off < SIM_COMMON_OFF + VIRTIO_PCI_COMMON_CFG_SIZE) {
        common_write(s, off - SIM_COMMON_OFF, width, val);
    } else if (off >= SIM_NOTIFY_OFF && off < SIM_NOTIFY_OFF + SIM_NOTIFY_LEN) {
        /* The driver writes the queue index at queue_notify_off * notify_off_multiplier. */
        uint64_t q = (off - SIM_NOTIFY_OFF) / SIM_NOTIFY_MULTIPLIER;
        if (val == q && q < VSOCK_VQ_COUNT) {
            s->st.notifies++;
            sim_wake(s);
        }
    }
    /* ISR and device config are read-only. */
}

static void sim_bar_write(struct pci_func *f, int bar, uint64_t off, int width, uint64_t val)
{
    struct uvsock_sim *s = to_sim(f);

    pthread_mutex_lock(&s->lock);
    bar_write_locked(s, bar, off, width, val);
    pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------ open/destroy -- */

static void sim_destroy(struct pci_func *f)
{
    struct uvsock_sim *s = to_sim(f);

    sim_thread_stop(s);
    sim_conn_free_all(s);
    sim_ctrl_clear(s);
    sim_services_free(s);
    for (int i = 0; i < VSOCK_VQ_COUNT; i++)
        sim_vq_reset(&s->vq[i], 0);
    while (s->dma) {
        struct sim_dma *d = s->dma;
        s->dma = d->next;
        munmap(d->cpu, d->size);
        free(d);
    }
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    if (s->irq_fd >= 0)
        close(s->irq_fd);
    free(s->uds_path);
    pthread_cond_destroy(&s->accept_cv);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int sim_pci_open(const char *args, struct pci_func **out, const char **why)
{
    static const char *unused;
    struct uvsock_sim *s;
    int rc;

    if (!why)
        why = &unused;
    *why = "";
    s = calloc(1, sizeof(*s));
    if (!s) {
        *why = "sim: out of memory";
        return -ENOMEM;
    }
    s->func.ops = &sim_ops;
    s->func.dma_max_contig = SIM_DMA_MAX;
    strcpy(s->func.name, "sim");
    s->wake_fd = s->irq_fd = s->uds_fd = -1;
    s->guest_cid = SIM_DEFAULT_CID;
    s->max_queue_size = SIM_DEFAULT_QSIZE;
    s->host_buf_alloc = SIM_DEFAULT_CREDIT;
    s->last_host_port = SIM_HOST_PORT_MIN - 1;
    s->device_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                         (1ull << VIRTIO_VSOCK_F_STREAM);
    s->next_iova = SIM_IOVA_BASE;
    s->ctrl_tail = &s->ctrl_head;
    pthread_condattr_t ca;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* uvsock_sim_accept's deadline */
    pthread_cond_init(&s->accept_cv, &ca);
    pthread_condattr_destroy(&ca);

    rc = sim_parse_options(s, args, why);
    for (int i = 0; i < VSOCK_VQ_COUNT; i++)
        sim_vq_reset(&s->vq[i], s->max_queue_size);
    build_config_space(s);
    if (!rc) {
        s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        s->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s->wake_fd < 0 || s->irq_fd < 0) {
            rc = -errno;
            *why = "sim: eventfd failed";
        }
    }
    if (!rc && s->uds_path) {
        rc = sim_uds_listen(s);
        if (rc)
            *why = "sim: cannot listen on the uds path";
    }
    if (!rc) {
        rc = sim_thread_start(s);
        if (rc)
            *why = "sim: cannot start the device thread";
    }
    if (rc) {
        sim_destroy(&s->func);
        return rc;
    }
    *out = &s->func;
    return 0;
}

static const struct pci_func_ops sim_ops = {
    .cfg_read = sim_cfg_read,
    .cfg_write = sim_cfg_write,
    .bar_size = sim_bar_size,
    .bar_read = sim_bar_read,
    .bar_write = sim_bar_write,
    .dma_alloc = sim_dma_alloc,
    .dma_free = sim_dma_free,
    .irq_fd = sim_irq_fd,
    .irq_ack = sim_irq_ack,
    .destroy = sim_destroy,
};
