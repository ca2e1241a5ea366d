/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci for modern (virtio 1.x) devices, written once over the PCI-function interface so
 * that the simulated device exercises the same code as hardware behind UIO.
 *
 * Legacy and transitional interfaces are not supported: the socket device has no transitional
 * PCI id, so a virtio-vsock function is always 1af4:1053 with the capability layout of
 * virtio 1.x, 4.1.4.
 *
 * The device is untrusted input. Every capability region goes through one validator before
 * any register in it is touched, and everything the device reports later (notify offsets,
 * config ranges) is checked against those validated regions.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "virtio_pci.h"
#include "vsock_wire.h"

/* struct virtio_pci_cap (virtio 1.x, 4.1.4), as laid out in config space. */
#define CAP_VNDR     0  /* u8: PCI_CAP_ID_VNDR */
#define CAP_NEXT     1  /* u8 */
#define CAP_LEN      2  /* u8: length of this capability, incl. the header */
#define CAP_CFG_TYPE 3  /* u8: VIRTIO_PCI_CAP_* */
#define CAP_BAR      4  /* u8 */
#define CAP_OFFSET   8  /* le32 */
#define CAP_LENGTH   12 /* le32 */
#define CAP_SIZE     16
/* struct virtio_pci_notify_cap: the cap followed by le32 notify_off_multiplier. */
#define CAP_NOTIFY_MULT 16
#define CAP_NOTIFY_SIZE 20

/* The standard capability list lives in config space [0x40, 0x100), dword aligned. */
#define CAP_AREA_START 0x40u
#define CAP_AREA_END   0x100u
#define CAP_SLOTS      ((CAP_AREA_END - CAP_AREA_START) / 4u)

/* Minimum sizes of the regions we use (virtio 1.x, 4.1.4.3 to 4.1.4.5). */
#define ISR_MIN_LEN    1u
#define NOTIFY_MIN_LEN 2u /* one le16 queue index */

/* Reset: how long a device may take to read back status 0, and how often we look. */
#define RESET_TIMEOUT_NS 1000000000LL
#define RESET_POLL_NS    100000L
/* Consistent config reads: a device whose generation never settles is broken. */
#define CONFIG_GEN_RETRIES 100

static int cfg_read(struct virtio_pci *vp, uint32_t off, void *buf, size_t len)
{
    int rc = vp->func->ops->cfg_read(vp->func, off, buf, len);
    return rc < 0 ? rc : 0;
}

static int cfg_write(struct virtio_pci *vp, uint32_t off, const void *buf, size_t len)
{
    int rc = vp->func->ops->cfg_write(vp->func, off, buf, len);
    return rc < 0 ? rc : 0;
}

/* Register access inside a validated region; `off` is relative to the region. */
static uint64_t reg_read(struct virtio_pci *vp, const struct virtio_pci_region *r, uint64_t off,
                         int width)
{
    return vp->func->ops->bar_read(vp->func, r->bar, r->off + off, width);
}

static void reg_write(struct virtio_pci *vp, const struct virtio_pci_region *r, uint64_t off,
                      int width, uint64_t val)
{
    vp->func->ops->bar_write(vp->func, r->bar, r->off + off, width, val);
}

/*
 * virtio 1.x, 4.1.3.1: "The driver MUST access each field using the “natural” access method,
 * i.e. 32-bit accesses for 32-bit fields, 16-bit accesses for 16-bit fields and 8-bit accesses
 * for 8-bit fields." Hence one helper per width for the common configuration.
 */
static uint8_t common_read8(struct virtio_pci *vp, uint64_t off)
{
    return (uint8_t)reg_read(vp, &vp->common, off, 1);
}
static uint16_t common_read16(struct virtio_pci *vp, uint64_t off)
{
    return (uint16_t)reg_read(vp, &vp->common, off, 2);
}
static uint32_t common_read32(struct virtio_pci *vp, uint64_t off)
{
    return (uint32_t)reg_read(vp, &vp->common, off, 4);
}
static void common_write8(struct virtio_pci *vp, uint64_t off, uint8_t val)
{
    reg_write(vp, &vp->common, off, 1, val);
}
static void common_write16(struct virtio_pci *vp, uint64_t off, uint16_t val)
{
    reg_write(vp, &vp->common, off, 2, val);
}
static void common_write32(struct virtio_pci *vp, uint64_t off, uint32_t val)
{
    reg_write(vp, &vp->common, off, 4, val);
}

/* "For 64-bit fields, the driver MAY access each of the high and low 32-bit parts of the field
 * independently." Queue addresses are written as lo/hi pairs. */
static void common_write64(struct virtio_pci *vp, uint64_t lo_off, uint64_t hi_off, uint64_t val)
{
    common_write32(vp, lo_off, (uint32_t)val);
    common_write32(vp, hi_off, (uint32_t)(val >> 32));
}

/* The 64 feature bits are exposed 32 at a time through a select register. */
static uint64_t read_device_features(struct virtio_pci *vp)
{
    common_write32(vp, VIRTIO_PCI_COMMON_DFSELECT, 0);
    uint64_t lo = common_read32(vp, VIRTIO_PCI_COMMON_DF);
    common_write32(vp, VIRTIO_PCI_COMMON_DFSELECT, 1);
    uint64_t hi = common_read32(vp, VIRTIO_PCI_COMMON_DF);
    return lo | hi << 32;
}

static void write_driver_features(struct virtio_pci *vp, uint64_t features)
{
    common_write32(vp, VIRTIO_PCI_COMMON_GFSELECT, 0);
    common_write32(vp, VIRTIO_PCI_COMMON_GF, (uint32_t)features);
    common_write32(vp, VIRTIO_PCI_COMMON_GFSELECT, 1);
    common_write32(vp, VIRTIO_PCI_COMMON_GF, (uint32_t)(features >> 32));
}

/*
 * The one validator of capability regions: the BAR exists and is a mapped memory BAR, the
 * region does not overflow and lies entirely inside it, and it is at least `min_len` long.
 * Every region is checked here once; later accesses only add offsets already checked against
 * region->len.
 */
static int region_validate(struct virtio_pci *vp, uint8_t bar, uint32_t off, uint32_t len,
                           uint32_t min_len, struct virtio_pci_region *out)
{
    if (bar > 5)
        return -EPROTO;
    uint64_t bar_size = vp->func->ops->bar_size(vp->func, bar);
    if (bar_size == 0)
        return -EPROTO; /* missing, unmapped, or an I/O BAR */
    /* Written so that no sum can wrap: off + len <= bar_size. */
    if (len > bar_size || off > bar_size - len)
        return -EPROTO;
    /*
     * virtio 1.x, 4.1.4.1: "The driver MUST handle an unexpectedly large length, but MAY check
     * that length is large enough for device operation." Large is fine; too small is not.
     */
    if (len < min_len)
        return -EPROTO;
    out->bar = bar;
    out->off = off;
    out->len = len;
    return 0;
}

/* Parses one vendor-specific capability at `pos`; fills the first region of each type. */
static int parse_virtio_cap(struct virtio_pci *vp, uint32_t pos, bool seen[5])
{
    uint8_t cap[CAP_NOTIFY_SIZE];
    int rc = cfg_read(vp, pos, cap, CAP_SIZE);
    if (rc < 0)
        return -EPROTO; /* runs off the end of config space */

    uint8_t type = cap[CAP_CFG_TYPE];
    uint8_t bar = cap[CAP_BAR];

    /*
     * virtio 1.x, 4.1.4.1: "The driver MUST ignore any vendor-specific capability structure
     * which has a reserved cfg_type value." and "The driver MUST ignore any vendor-specific
     * capability structure which has a reserved bar value." PCI_CFG (the config-space access
     * window) is not needed since we map the BARs.
     */
    if (type < VIRTIO_PCI_CAP_COMMON_CFG || type > VIRTIO_PCI_CAP_DEVICE_CFG || bar > 5)
        return 0;
    /* "The driver SHOULD use the first instance of each virtio structure type they can
     * support." */
    if (seen[type])
        return 0;
    seen[type] = true;

    if (cap[CAP_LEN] < CAP_SIZE)
        return -EPROTO;
    uint32_t off, len;
    memcpy(&off, &cap[CAP_OFFSET], sizeof(off));
    memcpy(&len, &cap[CAP_LENGTH], sizeof(len));

    switch (type) {
    case VIRTIO_PCI_CAP_COMMON_CFG:
        return region_validate(vp, bar, off, len, VIRTIO_PCI_COMMON_CFG_SIZE, &vp->common);
    case VIRTIO_PCI_CAP_ISR_CFG:
        return region_validate(vp, bar, off, len, ISR_MIN_LEN, &vp->isr);
    case VIRTIO_PCI_CAP_DEVICE_CFG:
        /* The device's own minimum (8 bytes for vsock) is the core's business. */
        return region_validate(vp, bar, off, len, 0, &vp->device);
    case VIRTIO_PCI_CAP_NOTIFY_CFG:
        if (cap[CAP_LEN] < CAP_NOTIFY_SIZE)
            return -EPROTO;
        if (cfg_read(vp, pos + CAP_NOTIFY_MULT, &cap[CAP_NOTIFY_MULT], 4) < 0)
            return -EPROTO;
        uint32_t mult;
        memcpy(&mult, &cap[CAP_NOTIFY_MULT], sizeof(mult));
        /*
         * virtio 1.x, 4.1.4.4.1: "The device MUST either present notify_off_multiplier as an
         * even power of 2, or present notify_off_multiplier as 0." Anything else would put
         * le16 notify registers at odd addresses.
         */
        if (mult != 0 && (mult < 2 || (mult & (mult - 1)) != 0))
            return -EPROTO;
        vp->notify_off_multiplier = mult;
        /* "the value cap.length presented by the device MUST be at least 2" */
        return region_validate(vp, bar, off, len, NOTIFY_MIN_LEN, &vp->notify);
    }
    return 0;
}

/*
 * Walks the capability list from PCI_CAPABILITY_LIST. A hostile or broken device can chain the
 * list into a loop or point into the header; each dword slot of the capability area may be
 * visited once, so the walk ends after at most CAP_SLOTS steps whatever the chain says.
 */
static int walk_capabilities(struct virtio_pci *vp)
{
    uint16_t status;
    uint8_t ptr;
    uint64_t visited = 0;
    bool seen[5] = {false};

    if (cfg_read(vp, PCI_STATUS, &status, sizeof(status)) < 0 || !(status & PCI_STATUS_CAP_LIST))
        return -EPROTO;
    if (cfg_read(vp, PCI_CAPABILITY_LIST, &ptr, 1) < 0)
        return -EPROTO;

    uint32_t pos = ptr & ~3u; /* the low two bits are reserved */
    while (pos != 0) {
        if (pos < CAP_AREA_START || pos >= CAP_AREA_END)
            return -EPROTO;
        uint64_t bit = 1ull << ((pos - CAP_AREA_START) / 4u);
        if (visited & bit)
            return -EPROTO; /* the chain loops */
        visited |= bit;

        uint8_t hdr[2];
        if (cfg_read(vp, pos, hdr, sizeof(hdr)) < 0)
            return -EPROTO;
        if (hdr[0] == PCI_CAP_ID_VNDR) {
            int rc = parse_virtio_cap(vp, pos, seen);
            if (rc < 0)
                return rc;
        }
        pos = hdr[1] & ~3u;
    }
    _Static_assert(CAP_SLOTS <= 64, "visited bitmap covers every capability slot");

    /*
     * virtio 1.x, 4.1.4.3 / 4.1.4.4 / 4.1.4.5: the device MUST present at least one common,
     * notify and ISR capability. The device-specific one is optional in general (its length
     * stays 0 and config reads fail with -EINVAL); the core requires it for vsock.
     */
    if (!seen[VIRTIO_PCI_CAP_COMMON_CFG] || !seen[VIRTIO_PCI_CAP_NOTIFY_CFG] ||
        !seen[VIRTIO_PCI_CAP_ISR_CFG])
        return -EPROTO;
    return 0;
}

/*
 * Turns on memory decoding and bus mastering (the device DMAs the rings), and makes sure
 * INTx is not masked: UIO's uio_pci_generic gives us INTx only.
 */
static int enable_function(struct virtio_pci *vp)
{
    uint16_t cmd;
    int rc = cfg_read(vp, PCI_COMMAND, &cmd, sizeof(cmd));
    if (rc < 0)
        return rc;
    cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    cmd &= (uint16_t)~PCI_COMMAND_INTX_DISABLE;
    return cfg_write(vp, PCI_COMMAND, &cmd, sizeof(cmd));
}

int virtio_pci_init(struct virtio_pci *vp, struct pci_func *f)
{
    if (!vp || !f)
        return -EINVAL;
    memset(vp, 0, sizeof(*vp));
    vp->func = f;

    uint16_t ids[2];
    int rc = cfg_read(vp, PCI_VENDOR_ID, ids, sizeof(ids));
    if (rc < 0)
        return rc;
    /*
     * virtio 1.x, 4.1.2.2: "Drivers MUST match devices with the PCI Vendor ID 0x1AF4 and the
     * PCI Device ID in the range 0x1040 through 0x107f inclusive." The modern id is 0x1040 +
     * the virtio device id, 19 for the socket device; it has no transitional id, and we drive
     * no legacy interface. "Drivers MUST match any PCI Revision ID value", so it is not read.
     */
    if (ids[0] != VIRTIO_PCI_VENDOR_ID || ids[1] != VIRTIO_PCI_VSOCK_ID)
        return -ENODEV;

    rc = walk_capabilities(vp);
    if (rc < 0)
        return rc;
    rc = enable_function(vp);
    if (rc < 0)
        return rc;

    /*
     * virtio 1.x, 3.1.1: "The driver MUST follow this sequence to initialize a device:
     * 1. Reset the device. 2. Set the ACKNOWLEDGE status bit: the guest OS has noticed the
     * device. 3. Set the DRIVER status bit: the guest OS knows how to drive the device."
     * Steps 4 to 6 are virtio_pci_negotiate, 7 is queue setup, 8 (DRIVER_OK) the caller's.
     */
    rc = virtio_pci_reset(vp);
    if (rc < 0)
        return rc;
    virtio_pci_add_status(vp, VIRTIO_STATUS_ACKNOWLEDGE);
    virtio_pci_add_status(vp, VIRTIO_STATUS_DRIVER);

    vp->num_queues = common_read16(vp, VIRTIO_PCI_COMMON_NUMQ);
    vp->device_features = read_device_features(vp);
    return 0;
}

int virtio_pci_negotiate(struct virtio_pci *vp, uint64_t wanted, uint64_t required,
                         uint64_t *negotiated)
{
    /*
     * virtio 1.x, 6.1: "A driver MUST accept VIRTIO_F_VERSION_1 if it is offered." We drive
     * only the modern interface, so a device that does not offer it is not one we can drive.
     */
    const uint64_t version_1 = 1ull << VIRTIO_F_VERSION_1;
    wanted |= required | version_1;
    required |= version_1;

    vp->device_features = read_device_features(vp);
    if ((vp->device_features & required) != required) {
        /* "If any of these steps go irrecoverably wrong, the driver SHOULD set the FAILED
         * status bit to indicate that it has given up on the device" */
        virtio_pci_add_status(vp, VIRTIO_STATUS_FAILED);
        return -ENOTSUP;
    }

    uint64_t accepted = vp->device_features & wanted;
    write_driver_features(vp, accepted);

    /* "5. Set the FEATURES_OK status bit. The driver MUST NOT accept new feature bits after
     * this step." */
    virtio_pci_add_status(vp, VIRTIO_STATUS_FEATURES_OK);
    /*
     * "6. Re-read device status to ensure the FEATURES_OK bit is still set: otherwise, the
     * device does not support our subset of features and the device is unusable."
     */
    if (!(virtio_pci_get_status(vp) & VIRTIO_STATUS_FEATURES_OK)) {
        virtio_pci_add_status(vp, VIRTIO_STATUS_FAILED);
        return -EIO;
    }

    vp->features = accepted;
    if (negotiated)
        *negotiated = accepted;
    return 0;
}

/*
 * virtio 1.x, 2.5.1: "For device configuration access, the driver MUST use 8-bit wide accesses
 * for 8-bit wide fields, 16-bit wide and aligned accesses for 16-bit wide fields and 32-bit
 * wide and aligned accesses for 32-bit and 64-bit wide fields." Without knowing the field
 * layout, the widest naturally aligned access up to 32 bits that fits satisfies this for any
 * range made of whole fields.
 */
static void read_config_once(struct virtio_pci *vp, uint32_t off, uint8_t *buf, size_t len)
{
    while (len > 0) {
        int width = (off % 4 == 0 && len >= 4) ? 4 : (off % 2 == 0 && len >= 2) ? 2 : 1;
        uint64_t v = reg_read(vp, &vp->device, off, width);
        memcpy(buf, &v, (size_t)width); /* little-endian host: the low bytes */
        buf += width;
        off += (uint32_t)width;
        len -= (size_t)width;
    }
}

int virtio_pci_read_config(struct virtio_pci *vp, uint32_t off, void *buf, size_t len)
{
    if (len > vp->device.len || off > vp->device.len - len)
        return -EINVAL;

    /*
     * virtio 1.x, 2.5.1: "Drivers MUST NOT assume reads from fields greater than 32 bits wide
     * are atomic, nor are reads from multiple fields: drivers SHOULD read device configuration
     * space fields like so: do { before = get_config_generation(device); ... after =
     * get_config_generation(device); } while (after != before);" Bounded: a device whose
     * generation never settles must not hang us.
     */
    for (int tries = 0; tries < CONFIG_GEN_RETRIES; tries++) {
        uint8_t before = common_read8(vp, VIRTIO_PCI_COMMON_CFGGENERATION);
        read_config_once(vp, off, buf, len);
        uint8_t after = common_read8(vp, VIRTIO_PCI_COMMON_CFGGENERATION);
        if (before == after)
            return 0;
    }
    return -EIO;
}

uint16_t virtio_pci_queue_max(struct virtio_pci *vp, uint16_t index)
{
    if (index >= vp->num_queues)
        return 0;
    common_write16(vp, VIRTIO_PCI_COMMON_Q_SELECT, index);
    /* "queue_size ... A 0 means the queue is unavailable." */
    return common_read16(vp, VIRTIO_PCI_COMMON_Q_SIZE);
}

/*
 * The byte offset of the queue's notify register inside the notify region, or -EPROTO if the
 * device's queue_notify_off puts it outside. The queue must be selected.
 */
static int64_t notify_offset(struct virtio_pci *vp)
{
    uint64_t noff = common_read16(vp, VIRTIO_PCI_COMMON_Q_NOFF);
    /* virtio 1.x, 4.1.4.4: "cap.offset + queue_notify_off * notify_off_multiplier" */
    uint64_t at = noff * vp->notify_off_multiplier; /* < 2^48: cannot wrap */
    if (at > vp->notify.len || vp->notify.len - at < NOTIFY_MIN_LEN)
        return -EPROTO;
    return (int64_t)at;
}

static uint16_t pow2_floor(uint16_t v)
{
    while (v & (v - 1))
        v &= (uint16_t)(v - 1);
    return v;
}

int virtio_pci_setup_queue(struct virtio_pci *vp, struct virtqueue *vq, uint16_t index,
                           uint16_t size)
{
    uint16_t max = virtio_pci_queue_max(vp, index);
    if (max == 0)
        return -ENOENT;
    if (size == 0)
        return -EINVAL;

    uint16_t n = size < max ? size : max;
    if (n > VIRTQUEUE_MAX_SIZE)
        n = VIRTQUEUE_MAX_SIZE;
    /* Split rings index with a mask; a device reporting a non-power-of-two max gets less. */
    n = pow2_floor(n);

    /* virtio_pci_queue_max left the queue selected. */
    if (common_read16(vp, VIRTIO_PCI_COMMON_Q_ENABLE) != 0)
        return -EBUSY; /* already live: only a reset may take it down */
    int64_t notify_at = notify_offset(vp);
    if (notify_at < 0)
        return (int)notify_at;

    bool event_idx = (vp->features >> VIRTIO_F_EVENT_IDX) & 1;
    int rc = virtqueue_init(vq, vp->func, index, n, event_idx);
    if (rc < 0)
        return rc;

    /*
     * virtio 1.x, 4.1.4.3.2: "The driver MUST configure the other virtqueue fields before
     * enabling the virtqueue with queue_enable." Re-select in case anything moved it.
     */
    common_write16(vp, VIRTIO_PCI_COMMON_Q_SELECT, index);
    common_write16(vp, VIRTIO_PCI_COMMON_Q_SIZE, n);
    /* INTx only (uio_pci_generic): no MSI-X vector for the queue. */
    common_write16(vp, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
    common_write64(vp, VIRTIO_PCI_COMMON_Q_DESCLO, VIRTIO_PCI_COMMON_Q_DESCHI, vq->desc_iova);
    common_write64(vp, VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_AVAILHI, vq->avail_iova);
    common_write64(vp, VIRTIO_PCI_COMMON_Q_USEDLO, VIRTIO_PCI_COMMON_Q_USEDHI, vq->used_iova);
    common_write16(vp, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
    /* Validated once here, so a kick is a single register write. */
    vq->notify_offset = (uint64_t)notify_at;
    return 0;
}

void virtio_pci_notify(struct virtio_pci *vp, struct virtqueue *vq)
{
    /* virtio 1.x, 4.1.5.2: the driver notifies by writing the le16 virtqueue index. */
    reg_write(vp, &vp->notify, vq->notify_offset, 2, vq->index);
}

uint8_t virtio_pci_read_isr(struct virtio_pci *vp)
{
    /* A read clears the ISR and deasserts INTx (virtio 1.x, 4.1.4.5). */
    return (uint8_t)reg_read(vp, &vp->isr, 0, 1);
}

uint8_t virtio_pci_get_status(struct virtio_pci *vp)
{
    return common_read8(vp, VIRTIO_PCI_COMMON_STATUS);
}

void virtio_pci_add_status(struct virtio_pci *vp, uint8_t bits)
{
    /* virtio 1.x, 2.1.2: "The driver MUST NOT clear a device status bit." */
    common_write8(vp, VIRTIO_PCI_COMMON_STATUS, (uint8_t)(virtio_pci_get_status(vp) | bits));
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int virtio_pci_reset(struct virtio_pci *vp)
{
    common_write8(vp, VIRTIO_PCI_COMMON_STATUS, 0);
    /*
     * virtio 1.x, 4.1.4.3.2: "After writing 0 to device_status, the driver MUST wait for a
     * read of device_status to return 0 before reinitializing the device." The wait is bounded:
     * a device that never completes its reset is reported, not waited on forever.
     */
    int64_t deadline = now_ns() + RESET_TIMEOUT_NS;
    for (;;) {
        if (virtio_pci_get_status(vp) == 0)
            return 0;
        if (now_ns() > deadline)
            return -EIO;
        struct timespec pause = {0, RESET_POLL_NS};
        nanosleep(&pause, NULL);
    }
}
