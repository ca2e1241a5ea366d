/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci, modern (virtio 1.x) devices only, over the PCI-function interface.
 * Knows virtio, not vsock.
 */
#ifndef UVSOCK_VIRTIO_PCI_H
#define UVSOCK_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "pci_func.h"
#include "virtqueue.h"

/* Device status bits (virtio 1.x, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED             128

/* ISR status bits. */
#define VIRTIO_ISR_QUEUE  1
#define VIRTIO_ISR_CONFIG 2

/* PCI capability types (virtio 1.x, 4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

/* struct virtio_pci_common_cfg offsets (virtio 1.x, 4.1.4.3). */
#define VIRTIO_PCI_COMMON_DFSELECT      0x00 /* le32 rw */
#define VIRTIO_PCI_COMMON_DF            0x04 /* le32 ro */
#define VIRTIO_PCI_COMMON_GFSELECT      0x08 /* le32 rw */
#define VIRTIO_PCI_COMMON_GF            0x0c /* le32 rw */
#define VIRTIO_PCI_COMMON_MSIX          0x10 /* le16 rw */
#define VIRTIO_PCI_COMMON_NUMQ          0x12 /* le16 ro */
#define VIRTIO_PCI_COMMON_STATUS        0x14 /* u8 rw */
#define VIRTIO_PCI_COMMON_CFGGENERATION 0x15 /* u8 ro */
#define VIRTIO_PCI_COMMON_Q_SELECT      0x16 /* le16 rw */
#define VIRTIO_PCI_COMMON_Q_SIZE        0x18 /* le16 rw */
#define VIRTIO_PCI_COMMON_Q_MSIX        0x1a /* le16 rw */
#define VIRTIO_PCI_COMMON_Q_ENABLE      0x1c /* le16 rw */
#define VIRTIO_PCI_COMMON_Q_NOFF        0x1e /* le16 ro */
#define VIRTIO_PCI_COMMON_Q_DESCLO      0x20 /* le32 rw */
#define VIRTIO_PCI_COMMON_Q_DESCHI      0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO     0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI     0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO      0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI      0x34
#define VIRTIO_PCI_COMMON_CFG_SIZE      0x38

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* PCI config space. */
#define PCI_VENDOR_ID            0x00
#define PCI_DEVICE_ID            0x02
#define PCI_COMMAND              0x04
#define PCI_STATUS               0x06
#define PCI_CAPABILITY_LIST      0x34
#define PCI_STATUS_CAP_LIST      0x10
#define PCI_COMMAND_MEMORY       0x2
#define PCI_COMMAND_MASTER       0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_CAP_ID_VNDR          0x09
#define PCI_CAP_ID_MSIX          0x11

/* A region a virtio capability points at, validated once against its BAR. */
struct virtio_pci_region {
    int bar;
    uint64_t off;
    uint64_t len;
};

struct virtio_pci {
    struct pci_func *func;
    struct virtio_pci_region common, notify, isr, device;
    uint32_t notify_off_multiplier;
    uint64_t device_features;
    uint64_t features; /* negotiated */
    uint16_t num_queues;
};

/*
 * Checks vendor/device ids (1af4:1053), walks the capability list and
 * validates the common/notify/ISR/device regions, resets the device and sets ACKNOWLEDGE and
 * DRIVER. -ENODEV (not a modern virtio socket device), -EPROTO (bad or missing capability),
 * -EIO (device did not reset).
 */
int virtio_pci_init(struct virtio_pci *vp, struct pci_func *f);

/*
 * Offers (device_features & wanted) and sets FEATURES_OK, then checks the device kept it.
 * -ENOTSUP if a `required` bit is not offered (the device is marked FAILED), -EIO if the device
 * refuses FEATURES_OK. *negotiated gets the accepted set.
 */
int virtio_pci_negotiate(struct virtio_pci *vp, uint64_t wanted, uint64_t required,
                         uint64_t *negotiated);

/*
 * Reads device-specific config [off, off+len) consistently: retries until config_generation
 * is the same before and after. -EINVAL if the range is outside the device region, -EIO if the
 * generation never settles.
 */
int virtio_pci_read_config(struct virtio_pci *vp, uint32_t off, void *buf, size_t len);

/* The queue's maximum size, 0 if the queue does not exist. */
uint16_t virtio_pci_queue_max(struct virtio_pci *vp, uint16_t index);

/*
 * Sets up queue `index` with min(size, device max) entries (rounded down to a power of two),
 * allocates its rings, programs the addresses and enables it. -ENOENT if the device has no
 * such queue.
 */
int virtio_pci_setup_queue(struct virtio_pci *vp, struct virtqueue *vq, uint16_t index,
                           uint16_t size);

/* Writes the queue's notify register (only call when virtqueue_kick_prepare said so). */
void virtio_pci_notify(struct virtio_pci *vp, struct virtqueue *vq);

/* Reads (and so clears) the ISR status: VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG. */
uint8_t virtio_pci_read_isr(struct virtio_pci *vp);

uint8_t virtio_pci_get_status(struct virtio_pci *vp);
/* ORs `bits` into the device status. */
void virtio_pci_add_status(struct virtio_pci *vp, uint8_t bits);
/* Writes 0 and waits until the device reads back 0 (all queues forgotten). -EIO on timeout. */
int virtio_pci_reset(struct virtio_pci *vp);

#endif /* UVSOCK_VIRTIO_PCI_H */
