/* SPDX-License-Identifier: MIT */
/*
 * The virtio-vsock wire format (virtio spec, "Socket Device"): the only thing the driver
 * core and the simulated device share. Everything on the wire is little-endian; uvsock
 * builds only for little-endian hosts (checked below), so the fields are used as they are.
 */
#ifndef UVSOCK_VSOCK_WIRE_H
#define UVSOCK_VSOCK_WIRE_H

#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "uvsock supports little-endian hosts only (virtio 1.x structures are little-endian)"
#endif

#define VIRTIO_ID_VSOCK      19
#define VIRTIO_PCI_VENDOR_ID 0x1af4
#define VIRTIO_PCI_VSOCK_ID  (0x1040 + VIRTIO_ID_VSOCK) /* modern devices only: 0x1053 */

/* Virtqueues of a socket device. */
#define VSOCK_VQ_RX    0
#define VSOCK_VQ_TX    1
#define VSOCK_VQ_EVENT 2
#define VSOCK_VQ_COUNT 3

/* Feature bits. */
#define VIRTIO_VSOCK_F_STREAM            0
#define VIRTIO_VSOCK_F_SEQPACKET         1
#define VIRTIO_VSOCK_F_NO_IMPLIED_STREAM 2

struct virtio_vsock_hdr {
    uint64_t src_cid;
    uint64_t dst_cid;
    uint32_t src_port;
    uint32_t dst_port;
    uint32_t len; /* payload bytes after the header */
    uint16_t type;
    uint16_t op;
    uint32_t flags;
    uint32_t buf_alloc;
    uint32_t fwd_cnt;
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_vsock_hdr) == 44, "virtio_vsock_hdr is 44 bytes");
#define VSOCK_HDR_SIZE 44u

enum virtio_vsock_type {
    VIRTIO_VSOCK_TYPE_STREAM = 1,
    VIRTIO_VSOCK_TYPE_SEQPACKET = 2,
};

enum virtio_vsock_op {
    VIRTIO_VSOCK_OP_INVALID = 0,
    VIRTIO_VSOCK_OP_REQUEST = 1,
    VIRTIO_VSOCK_OP_RESPONSE = 2,
    VIRTIO_VSOCK_OP_RST = 3,
    VIRTIO_VSOCK_OP_SHUTDOWN = 4,
    VIRTIO_VSOCK_OP_RW = 5,
    VIRTIO_VSOCK_OP_CREDIT_UPDATE = 6,
    VIRTIO_VSOCK_OP_CREDIT_REQUEST = 7,
};
#define VIRTIO_VSOCK_OP_MAX VIRTIO_VSOCK_OP_CREDIT_REQUEST

#define VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE 1u
#define VIRTIO_VSOCK_SHUTDOWN_F_SEND    2u

/* Device configuration: le64 guest_cid, upper 32 bits reserved (zero). */
struct virtio_vsock_config {
    uint64_t guest_cid;
} __attribute__((packed));

/* Event queue element. */
struct virtio_vsock_event {
    uint32_t id;
} __attribute__((packed));
#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0

/* The well-known host CID. */
#define VSOCK_CID_HOST 2u

/* "REQUEST", "RW", ...; "OP?" outside the table. */
static inline const char *vsock_op_name(unsigned op)
{
    static const char *const names[] = {
        "INVALID",  "REQUEST", "RESPONSE",      "RST",
        "SHUTDOWN", "RW",      "CREDIT_UPDATE", "CREDIT_REQUEST",
    };
    return op <= VIRTIO_VSOCK_OP_MAX ? names[op] : "OP?";
}

#endif /* UVSOCK_VSOCK_WIRE_H */
