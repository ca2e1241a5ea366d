/* SPDX-License-Identifier: MIT */
/*
 * The simulated device's control surface: its host side (CID 2) and fault injection.
 *
 * The simulated device is a software virtio-pci vsock function (driver/sim/) plus a small
 * host vsock stack. Built-in host services on CID 2:
 *   port 7   echo: every byte received is sent back
 *   port 9   discard: every byte received is consumed and dropped
 *   port 19  source: sends the byte stream uvsock_sim_source_byte(0), (1), ... forever
 * Other ports: a listener made with uvsock_sim_listen(), or with the URI option uds=PATH the
 * hybrid convention: a REQUEST to host port P connects to the unix socket "PATH_P", and a host
 * program connecting to PATH and writing "CONNECT <port>\n" opens a connection to the driver
 * (it reads back "OK <hostport>\n"). Anything else is refused with RST.
 *
 * All functions return uvsock status codes; they are thread-safe.
 */
#ifndef UVSOCK_SIM_H
#define UVSOCK_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "uvsock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility: what this header declares is its API. */
#pragma GCC visibility push(default)

struct uvsock_sim;

/* The sim behind a device opened with a "sim" URI, NULL for any other device. */
struct uvsock_sim *uvsock_sim(struct uvsock_dev *dev);

/* The byte at stream offset `off` of the source service on port 19. */
static inline uint8_t uvsock_sim_source_byte(uint64_t off)
{
    return (uint8_t)(off * 7u + (off >> 8));
}

/*
 * Transport reset: the device changes its guest_cid to new_cid (config generation bumps),
 * drops every host-side connection without RST (as a migration does) and sends
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue. new_cid 0 keeps the CID.
 * INVALID_ARGS for a reserved CID (1, 2, 0xffffffff).
 */
int uvsock_sim_transport_reset(struct uvsock_sim *sim, uint32_t new_cid);

/*
 * Change guest_cid in config space (config-change interrupt) without a reset event.
 * The driver must treat this as a transport reset too.
 */
int uvsock_sim_set_cid(struct uvsock_sim *sim, uint32_t new_cid);

/*
 * Host-initiated connection: the host sends REQUEST from (CID 2, host_port) to guest_port.
 * host_port 0 picks one from [1<<30, 1<<31). *host_fd receives the host program's end of the
 * connection (an AF_UNIX stream socket, owned by the caller): bytes written to it go to the
 * driver once the driver answers with SendResponse; bytes the driver sends can be read from
 * it; EOF when the connection ends. *host_port_out (may be NULL) receives the port used.
 */
int uvsock_sim_connect(struct uvsock_sim *sim, uint32_t guest_port, uint32_t host_port,
                       int *host_fd, uint32_t *host_port_out);

/* Host listener on host_port (not 7, 9 or 19): driver REQUESTs to it are answered RESPONSE. */
int uvsock_sim_listen(struct uvsock_sim *sim, uint32_t host_port);
int uvsock_sim_unlisten(struct uvsock_sim *sim, uint32_t host_port);
/*
 * Takes the next connection accepted on host_port: *host_fd as in uvsock_sim_connect,
 * *guest_port (may be NULL) the driver's port. TIMED_OUT after timeout_ms (<0 forever),
 * NOT_FOUND if host_port has no listener.
 */
int uvsock_sim_accept(struct uvsock_sim *sim, uint32_t host_port, int timeout_ms, int *host_fd,
                      uint32_t *guest_port);

/*
 * The buf_alloc the host advertises from now on, on new and existing connections (default
 * 256 KiB). A small value starves the driver of credit. INVALID_ARGS for 0.
 */
int uvsock_sim_set_host_credit(struct uvsock_sim *sim, uint32_t buf_alloc);

/*
 * One-shot faults, applied to the next packet the device delivers to the driver (rx) whose
 * dst_port is the armed guest_port (0: the next packet of any connection).
 */
enum uvsock_sim_fault {
    UVSOCK_SIM_FAULT_NONE = 0,
    UVSOCK_SIM_FAULT_DROP,         /* the packet is lost */
    UVSOCK_SIM_FAULT_DUPLICATE,    /* the packet is delivered twice */
    UVSOCK_SIM_FAULT_BAD_TYPE,     /* hdr.type = 0x7777 (driver must answer RST) */
    UVSOCK_SIM_FAULT_BAD_OP,       /* hdr.op = 0x99 */
    UVSOCK_SIM_FAULT_BAD_LEN,      /* hdr.len larger than the bytes written */
    UVSOCK_SIM_FAULT_SHORT,        /* used length 20: shorter than a header */
    UVSOCK_SIM_FAULT_BAD_DST_CID,  /* hdr.dst_cid = another CID */
    UVSOCK_SIM_FAULT_USED_BAD_ID,  /* used ring entry with an id the driver never made available */
    UVSOCK_SIM_FAULT_USED_BAD_LEN, /* used length beyond the buffer's size */
    UVSOCK_SIM_FAULT_USED_DUP_ID,  /* the same descriptor id reported used twice */
};
const char *uvsock_sim_fault_str(enum uvsock_sim_fault fault);

/*
 * Arms `fault` for the next rx packet to guest_port (0: any); a second call before it fires
 * replaces it. UVSOCK_SIM_FAULT_NONE disarms. INVALID_ARGS for an unknown fault.
 * DROP/DUPLICATE/BAD_* and USED_BAD_LEN affect that packet itself; USED_BAD_ID and
 * USED_DUP_ID publish an extra bogus used entry next to it and deliver it intact.
 */
int uvsock_sim_inject(struct uvsock_sim *sim, enum uvsock_sim_fault fault, uint32_t guest_port);

/* True while an armed fault has not fired yet. */
int uvsock_sim_fault_pending(struct uvsock_sim *sim);

/*
 * Delivers an arbitrary packet to the driver, as a hostile device would: the 44-byte header
 * fields as given (little-endian on the wire) followed by `len` payload bytes. hdr_len is what
 * goes in hdr.len (normally len).
 */
struct uvsock_sim_packet {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port;
    uint32_t hdr_len;
    uint16_t type, op;
    uint32_t flags, buf_alloc, fwd_cnt;
};
int uvsock_sim_send_raw(struct uvsock_sim *sim, const struct uvsock_sim_packet *pkt,
                        const void *payload, size_t len);

/* What the host side has seen, for tests to check the driver's behaviour on the wire. */
struct uvsock_sim_stats {
    uint64_t packets_from_driver;   /* tx queue */
    uint64_t packets_to_driver;     /* rx queue */
    uint64_t op_from_driver[8];     /* by op: INVALID .. CREDIT_REQUEST */
    uint64_t bad_from_driver;       /* malformed packets the driver sent (should stay 0) */
    uint64_t credit_violations;     /* RW bytes the driver sent beyond the host's credit */
    uint64_t notifies;              /* queue notifications received */
    uint64_t interrupts;            /* interrupts raised */
    uint64_t interrupts_suppressed; /* interrupts skipped per used_event (EVENT_IDX) */
    uint64_t rx_waits;              /* times the device had a packet but no rx buffer */
    uint32_t host_connections;      /* open host-side connections */
    struct uvsock_sim_packet last_rst_from_driver; /* zero if none */
};
int uvsock_sim_get_stats(struct uvsock_sim *sim, struct uvsock_sim_stats *st);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* UVSOCK_SIM_H */
