/* SPDX-License-Identifier: MIT */
/*
 * The simulated virtio-vsock device, internals shared by its files:
 *   sim_options.c   the "sim:" URI options
 *   sim_pci.c       PCI config space, BAR 4 registers, DMA address space, INTx/ISR, open/destroy
 *   sim_ring.c      the device side of the split virtqueue (untrusted driver rings)
 *   sim_device.c    the device thread: tx queue, rx queue, event queue, fault injection
 *   sim_host.c      the host vsock stack on CID 2: connections, credit, packets from the driver
 *   sim_services.c  echo/discard/source, host-program fds, listeners, the hybrid-vsock socket
 *   sim_control.c   the public uvsock_sim_* control surface
 *
 * Locking: one mutex (sim->lock) guards everything below. The device thread holds it while it
 * works on the rings and host fds and drops it while blocked in poll(); BAR accesses from the
 * driver's threads and the control API take it too. Ring memory is shared with the driver
 * without the lock: only its index fields are synchronised (vring_load/vring_store).
 */
#ifndef UVSOCK_SIM_INTERNAL_H
#define UVSOCK_SIM_INTERNAL_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../pci_func.h"
#include "../virtio_pci.h"
#include "../virtio_ring.h"
#include "sim.h"
#include "uvsock_sim.h"
#include "vsock_wire.h"

/* BAR 4 layout (all virtio structures in one memory BAR, as QEMU does). */
#define SIM_BAR               4
#define SIM_BAR_SIZE          0x4000u
#define SIM_COMMON_OFF        0x0000u
#define SIM_ISR_OFF           0x1000u
#define SIM_ISR_LEN           4u
#define SIM_DEVICE_OFF        0x2000u
#define SIM_DEVICE_LEN        8u
#define SIM_NOTIFY_OFF        0x3000u
#define SIM_NOTIFY_MULTIPLIER 4u
#define SIM_NOTIFY_LEN        (VSOCK_VQ_COUNT * SIM_NOTIFY_MULTIPLIER)

#define SIM_PAYLOAD_MAX    65536u      /* largest payload of one packet, either direction */
#define SIM_CTRL_MAX       4096u       /* control packets queued for the driver */
#define SIM_HELD_MAX       (64u << 20) /* hard cap of bytes held for one connection */
#define SIM_DMA_MAX        (64u << 20)
#define SIM_DEFAULT_CID    3u
#define SIM_DEFAULT_QSIZE  256u
#define SIM_DEFAULT_CREDIT 262144u
#define SIM_HOST_PORT_MIN  (1u << 30)
#define SIM_HOST_PORT_END  (1u << 31)
#define SIM_POLL_MS        50

/* One DMA allocation: [iova, iova + size) in the sim's private device address space. */
struct sim_dma {
    struct sim_dma *next;
    uint64_t iova;
    size_t size; /* rounded up to pages */
    void *cpu;
};

/* A translated piece of a descriptor chain. */
struct sim_seg {
    uint8_t *p;
    uint32_t len;
};

/* The descriptor chain the device is working on (one at a time per queue). */
struct sim_chain {
    uint16_t head;
    uint32_t nseg;  /* segments in vq->segs */
    uint64_t rlen;  /* device-readable bytes */
    uint64_t wlen;  /* device-writable bytes */
    bool has_write; /* some descriptor is device-writable */
    bool has_read;  /* some descriptor is device-readable */
};

struct sim_vq {
    uint16_t size; /* queue_size register: max until the driver writes a smaller one */
    bool enabled;
    uint64_t desc_iova, avail_iova, used_iova;
    struct vring_desc *desc; /* translated at queue_enable */
    struct vring_avail *avail;
    struct vring_used *used;
    uint16_t last_avail;  /* next avail entry the device reads */
    uint16_t used_idx;    /* shadow of used->idx, published by sim_vq_publish */
    uint16_t published;   /* used->idx the driver was last shown */
    struct sim_seg *segs; /* [size], the current chain */
};

enum sim_conn_kind { SIM_ECHO, SIM_DISCARD, SIM_SOURCE, SIM_FD };
enum sim_conn_state { SIM_REQUEST_SENT, SIM_ESTABLISHED, SIM_CLOSING, SIM_DRAINING };

/* A host-side connection, keyed by (host_port, guest_port). */
struct sim_conn {
    struct sim_conn *next;
    uint32_t host_port, guest_port;
    enum sim_conn_kind kind;
    enum sim_conn_state state;
    int fd;      /* host program's socket (SIM_FD), -1 otherwise */
    bool hybrid; /* opened by "CONNECT <port>": answer "OK <hostport>" */
    bool fd_eof; /* the host program sent EOF */
    bool fd_maybe_readable;
    bool fd_broken; /* the host program is gone (or the echo backlog overflowed): RST */
    bool shut_wr_done;
    uint32_t drv_shutdown; /* SHUTDOWN flags received from the driver */

    /* Host side of the credit (what the host can hold of the driver's bytes). */
    uint32_t rx_cnt;        /* RW bytes received from the driver */
    uint32_t fwd_cnt;       /* of which consumed */
    uint32_t last_fwd_sent; /* fwd_cnt and buf_alloc the driver last saw */
    uint32_t last_alloc_sent;
    bool credit_update_queued;
    /* The driver's credit. */
    uint32_t drv_buf_alloc, drv_fwd_cnt;
    uint32_t tx_cnt; /* RW bytes sent to the driver */

    /* Bytes received but not consumed yet: the echo backlog or what the fd did not take. */
    uint8_t *held;
    size_t held_off, held_len, held_cap;
    uint64_t source_off;
};

/* A packet waiting in the control FIFO for an rx buffer. */
struct sim_pkt {
    struct sim_pkt *next;
    struct virtio_vsock_hdr hdr;
    bool stamp; /* fill buf_alloc/fwd_cnt from the connection when delivered */
    uint32_t len;
    uint8_t data[];
};

/* A connection accepted on a uvsock_sim_listen() port, waiting for uvsock_sim_accept(). */
struct sim_accepted {
    struct sim_accepted *next;
    int fd;
    uint32_t guest_port;
};

struct sim_listener {
    struct sim_listener *next;
    uint32_t port;
    struct sim_accepted *head, **tail;
};

/* A host program connected to the hybrid socket that has not sent "CONNECT <port>\n" yet. */
#define SIM_CONNECT_MAX 32 /* longest "CONNECT <port>\n" line accepted, as Firecracker */
struct sim_uds_client {
    struct sim_uds_client *next;
    int fd;
    size_t len;
    char line[SIM_CONNECT_MAX];
};

struct uvsock_sim {
    struct pci_func func;
    pthread_mutex_t lock;
    pthread_cond_t accept_cv;
    pthread_t thread;
    bool thread_started;
    bool stop;
    int wake_fd; /* eventfd: queue notifications and control requests */
    int irq_fd;  /* eventfd: the INTx line */

    /* Options. */
    uint16_t max_queue_size;
    bool refuse_features;
    char *uds_path;
    uint64_t device_features;

    /* Config space and the common configuration registers. */
    uint8_t cfg[256];
    uint32_t dfselect, gfselect;
    uint64_t driver_features;
    uint8_t status;
    uint8_t generation;
    uint8_t isr;
    uint16_t queue_select;
    uint64_t guest_cid;
    struct sim_vq vq[VSOCK_VQ_COUNT];

    /* DMA address space. */
    struct sim_dma *dma;
    uint64_t next_iova;

    /* Host stack. */
    struct sim_conn *conns;
    struct sim_conn *rr_next; /* round robin of data to the driver */
    uint32_t host_buf_alloc;
    uint32_t last_host_port;
    struct sim_pkt *ctrl_head, **ctrl_tail;
    uint32_t ctrl_count;
    uint64_t ctrl_overflow;
    uint32_t pending_events;
    struct sim_listener *listeners;
    int uds_fd;
    struct sim_uds_client *uds_clients;

    /* Faults. */
    enum uvsock_sim_fault fault;
    uint32_t fault_port;

    struct uvsock_sim_stats st;
    uint8_t scratch[VSOCK_HDR_SIZE + SIM_PAYLOAD_MAX]; /* one packet being built/gathered */
};

/* sim_pci.c */
void *sim_dma_translate(struct uvsock_sim *s, uint64_t iova, uint64_t len);
void sim_raise_irq(struct uvsock_sim *s, uint8_t isr_bit);
void sim_wake(struct uvsock_sim *s);
bool sim_event_idx(const struct uvsock_sim *s);
bool sim_live(const struct uvsock_sim *s);
void sim_needs_reset(struct uvsock_sim *s);
void sim_set_guest_cid(struct uvsock_sim *s, uint64_t cid);

/* sim_options.c */
int sim_parse_options(struct uvsock_sim *s, const char *args, const char **why);

/* sim_ring.c */
int sim_vq_enable(struct uvsock_sim *s, struct sim_vq *q);
void sim_vq_reset(struct sim_vq *q, uint16_t max_size);
bool sim_vq_overlaps(const struct sim_vq *q, uint64_t iova, uint64_t size);
bool sim_vq_has_avail(struct uvsock_sim *s, struct sim_vq *q);
int sim_vq_pop(struct uvsock_sim *s, struct sim_vq *q, struct sim_chain *c);
void sim_vq_unpop(struct sim_vq *q);
void sim_vq_add_used(struct sim_vq *q, uint32_t id, uint32_t len);
void sim_vq_publish(struct uvsock_sim *s, struct sim_vq *q);
size_t sim_chain_gather(const struct sim_vq *q, const struct sim_chain *c, void *buf, size_t len);
size_t sim_chain_scatter(const struct sim_vq *q, const struct sim_chain *c, const void *buf,
                         size_t len);

/* sim_device.c */
int sim_thread_start(struct uvsock_sim *s);
void sim_thread_stop(struct uvsock_sim *s);

/* sim_host.c */
void sim_host_from_driver(struct uvsock_sim *s, const struct virtio_vsock_hdr *h,
                          const uint8_t *payload);
struct sim_conn *sim_conn_find(struct uvsock_sim *s, uint32_t host_port, uint32_t guest_port);
struct sim_conn *sim_conn_new(struct uvsock_sim *s, uint32_t host_port, uint32_t guest_port,
                              enum sim_conn_kind kind, int fd);
void sim_conn_forget(struct uvsock_sim *s, struct sim_conn *c);
void sim_conn_free_all(struct uvsock_sim *s);
int64_t sim_conn_drv_credit(const struct sim_conn *c);
void sim_conn_consumed(struct uvsock_sim *s, struct sim_conn *c, uint32_t n);
int sim_send_ctrl(struct uvsock_sim *s, uint32_t host_port, uint32_t guest_port, uint16_t op,
                  uint32_t flags);
int sim_queue_pkt(struct uvsock_sim *s, struct sim_pkt *p, bool at_head);
struct sim_pkt *sim_pkt_new(const struct virtio_vsock_hdr *h, const void *data, uint32_t len);
void sim_ctrl_clear(struct uvsock_sim *s);
void sim_stamp(struct uvsock_sim *s, struct virtio_vsock_hdr *h);
void sim_host_reset(struct uvsock_sim *s);
uint32_t sim_pick_host_port(struct uvsock_sim *s, uint32_t guest_port);

/* sim_services.c */
int sim_service_request(struct uvsock_sim *s, struct sim_conn **out, uint32_t host_port,
                        uint32_t guest_port);
void sim_service_data(struct uvsock_sim *s, struct sim_conn *c, const uint8_t *p, uint32_t n);
void sim_service_established(struct uvsock_sim *s, struct sim_conn *c);
bool sim_service_has_data(const struct sim_conn *c);
uint32_t sim_service_produce(struct uvsock_sim *s, struct sim_conn *c, uint8_t *buf, uint32_t max);
void sim_service_io(struct uvsock_sim *s);
size_t sim_service_pollfds(struct uvsock_sim *s, struct pollfd *pfd, size_t cap, bool rx_space);
void sim_service_mark_readable(struct uvsock_sim *s);
int sim_uds_listen(struct uvsock_sim *s);
void sim_services_free(struct uvsock_sim *s);
int sim_held_append(struct sim_conn *c, const uint8_t *p, size_t n);
void sim_fd_shutdown_send(struct uvsock_sim *s, struct sim_conn *c);
struct sim_listener *sim_listener_find(struct uvsock_sim *s, uint32_t port);
void sim_listener_free(struct sim_listener *l);
int sim_socketpair(int sv[2]);

#endif /* UVSOCK_SIM_INTERNAL_H */
