/* SPDX-License-Identifier: MIT */
/*
 * The protocol engine's internal types. One struct uvsock_dev per opened device; every field
 * below `lock` is guarded by it. The service thread (service.c) is the only one that waits
 * on fds and delivers Callbacks; the Device calls (device.c) run on the caller's thread and
 * take the lock for as long as they touch state.
 */
#ifndef UVSOCK_DEVICE_H
#define UVSOCK_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "uvsock.h"
#include "virtio_pci.h"
#include "virtqueue.h"
#include "vsock_wire.h"

/* What we advertise per connection (buf_alloc) and hold for a slow user. */
#define CONN_BUF_ALLOC (256u * 1024u)
/* Send an unsolicited CREDIT_UPDATE once the peer's view of our free space drops below this. */
#define CREDIT_LOW_WATER (64u * 1024u)
/* Re-send CREDIT_REQUEST while starved for this long. */
#define CREDIT_RETRY_NS (1000ull * 1000 * 1000)
/* Largest payload of one packet we send (Linux: VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define TX_PAYLOAD_MAX (64u * 1024u - VSOCK_HDR_SIZE)
/* tx slots kept back from data so control packets (RST, CREDIT_UPDATE) rarely wait. */
#define TX_CONTROL_RESERVE 8
/* Pending RSTs to addresses without a connection (answers to stray packets). */
#define RAW_RST_MAX 1024
/* Credit the peer offered in REQUESTs not answered yet, remembered for SendResponse. */
#define REQUEST_MEMO_MAX 256
#define EVENT_BUFS       8

enum pending_op {
    PENDING_REQUEST = 1u << 0,
    PENDING_RESPONSE = 1u << 1,
    PENDING_SHUTDOWN = 1u << 2,
    PENDING_CREDIT_UPDATE = 1u << 3,
    PENDING_CREDIT_REQUEST = 1u << 4,
};

/* Bytes received for the user that its socket could not take yet: a ring of CONN_BUF_ALLOC. */
struct hold_buf {
    uint8_t *data; /* allocated on first use */
    uint32_t head; /* read offset */
    uint32_t len;  /* bytes held */
};

struct vmo_tx {
    int fd; /* -1 if no VMO is pending */
    uint64_t off;
    uint64_t remaining; /* not yet put in a tx packet */
    uint64_t in_ring;   /* chunks made available, not yet used by the device */
};

struct conn {
    struct uvsock_addr addr;
    struct conn *hash_next;
    uint64_t id; /* unique per device, so a late tx completion finds the right connection */
    int fd;      /* our end of the user's socketpair, nonblocking */
    enum uvsock_conn_state state;
    unsigned pending; /* enum pending_op bits still to send */

    /* Our receive side. */
    uint32_t buf_alloc, fwd_cnt, rx_cnt, last_fwd_cnt_sent;
    struct hold_buf hold;
    uint64_t hold_since_ns;

    /* The peer's receive side and our sending. */
    uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
    uint32_t peer_shutdown;
    bool opened;         /* RESPONSE received, or we sent one: data may flow */
    bool user_eof;       /* our user shut its write side: nothing more to send */
    bool readable;       /* the socket polled readable and was not drained since */
    bool credit_starved; /* saw bytes to send with no peer credit; wait for an update */
    uint64_t starved_since_ns;
    uint64_t shutdown_remaining; /* WILL_SHUT_DOWN: bytes still to send before SHUTDOWN */
    bool eof_delivered;          /* SHUT_WR done on the user's socket after peer SHUTDOWN */
    struct vmo_tx vmo;

    uint64_t bytes_sent, bytes_received;
    uint64_t credit_update_sent_ns, credit_update_recv_ns;
    uint64_t credit_request_sent_ns, credit_request_recv_ns;
    uint64_t created_ns;
};

/* One tx buffer: header + payload contiguous, one descriptor. */
struct tx_slot {
    struct pci_dma dma;
    struct tx_slot *next_free;
    uint64_t conn_id; /* 0 for packets of no connection */
    uint32_t payload; /* bytes of payload carried */
    bool vmo_last;    /* the last chunk of a SendVmo: completion triggers SendVmoComplete */
    bool vmo_chunk;   /* a SendVmo chunk */
    struct uvsock_addr addr;
};

struct rx_buf {
    struct pci_dma dma;
    bool repost; /* came back from the device, must be made available again */
};

/* A Callback produced under the lock, run after it is released. */
struct pending_cb {
    enum uvsock_event_type type;
    struct uvsock_addr addr;
    uint32_t new_cid;
};

struct request_memo {
    struct uvsock_addr addr;
    uint32_t buf_alloc, fwd_cnt;
    bool used;
};

struct uvsock_dev {
    pthread_mutex_t lock;
    char uri[128];
    struct pci_func *pci;
    struct virtio_pci vp;
    struct virtqueue vq[VSOCK_VQ_COUNT];
    uint32_t cid;

    bool started;
    struct uvsock_callbacks cb;
    void *cb_ctx;

    /* Receive buffers (rx queue) and event buffers. */
    struct rx_buf *rx;
    uint16_t rx_count;
    uint32_t rx_buf_size;
    bool rx_posted;
    struct pci_dma event_dma;

    /* Transmit slots. */
    struct tx_slot *tx;
    uint16_t tx_count;
    uint16_t tx_free_count;
    uint16_t tx_reserve; /* slots data may not take (TX_CONTROL_RESERVE on normal rings) */
    struct tx_slot *tx_free;
    uint32_t tx_payload_max;
    bool tx_dirty; /* packets added since the last kick decision */
    uint64_t tx_ring_full_since_ns;

    /* Connections: a hash table of chains, grown when full. */
    struct conn **table;
    uint32_t table_size; /* power of two */
    uint32_t conn_count;
    uint64_t next_conn_id;

    struct uvsock_addr raw_rst[RAW_RST_MAX];
    uint32_t raw_rst_head, raw_rst_len;
    struct request_memo memo[REQUEST_MEMO_MAX];
    uint32_t memo_next;

    /* Fds the service thread closes after its poll returns (it may be polling on them). */
    int *close_fds;
    uint32_t close_len, close_cap;

    struct pending_cb *cbq;
    uint32_t cbq_len, cbq_cap;
    struct uvsock_callbacks cbq_cb; /* callbacks current when cbq was filled */
    void *cbq_ctx;

    pthread_t thread;
    bool thread_running;
    bool stopping;
    int wake_fd; /* eventfd: a Device call changed something the service thread must see */

    struct capture *capture; /* NULL unless a capture is running */

    struct uvsock_dev_info stats; /* counters; the rest is filled on query */
};

/* ---- core internals shared between the files of core/ ---- */

uint64_t uvsock_now_ns(void);
void uvsock_wake(struct uvsock_dev *dev);

/* conn.c: the connection table. */
int conn_table_init(struct uvsock_dev *dev);
void conn_table_fini(struct uvsock_dev *dev);
struct conn *conn_find(struct uvsock_dev *dev, struct uvsock_addr addr);
struct conn *conn_find_id(struct uvsock_dev *dev, struct uvsock_addr addr, uint64_t id);
/* Creates a connection owning `fd`. NULL on memory exhaustion. */
struct conn *conn_create(struct uvsock_dev *dev, struct uvsock_addr addr, int fd,
                         enum uvsock_conn_state state);
/* Changes c's state (and traces it at UVSOCK_LOG_DEBUG). */
void conn_set_state(struct conn *c, enum uvsock_conn_state state);
/* Unlinks and frees `c`; its fd is closed by the service thread. */
void conn_destroy(struct uvsock_dev *dev, struct conn *c);
/* Calls fn for every connection; fn may destroy the connection it is given. */
void conn_for_each(struct uvsock_dev *dev, void (*fn)(struct uvsock_dev *, struct conn *, void *),
                   void *arg);
void conn_defer_close(struct uvsock_dev *dev, int fd);
void conn_close_deferred(struct uvsock_dev *dev);
uint32_t conn_peer_free(const struct conn *c);
bool addr_eq(struct uvsock_addr a, struct uvsock_addr b);

/* callbacks: queue one for delivery after the lock is dropped. */
void cb_queue(struct uvsock_dev *dev, enum uvsock_event_type type, struct uvsock_addr addr,
              uint32_t new_cid);
/* Runs the queued callbacks; called without the lock, by the thread that queued them. */
void cb_deliver(struct uvsock_dev *dev);

/* tx.c */
int tx_init(struct uvsock_dev *dev);
void tx_fini(struct uvsock_dev *dev);
/* Sends a header-only packet of `op` on c (credit fields filled in). false if no slot. */
bool tx_control(struct uvsock_dev *dev, struct conn *c, uint16_t op, uint32_t flags);
/* Queues op bits on c and sends what it can now. */
void tx_queue_op(struct uvsock_dev *dev, struct conn *c, unsigned ops);
/* RST to an address with no connection; queued if the ring is full. */
void tx_raw_rst(struct uvsock_dev *dev, struct uvsock_addr addr);
/* Moves what can move: pending ops, raw RSTs, VMO chunks and socket data. */
void tx_pump(struct uvsock_dev *dev);
/* Reclaims used tx slots; runs SendVmoComplete. */
void tx_reap(struct uvsock_dev *dev);
/* Kicks the tx queue if packets were added and the device wants to hear of them. */
void tx_kick(struct uvsock_dev *dev);
/* True if c could send data now if its socket had some (credit, state, slot). */
bool tx_conn_wants_data(struct uvsock_dev *dev, const struct conn *c);
/* Drops the state a connection has in tx (pending VMO). */
void tx_conn_gone(struct uvsock_dev *dev, struct conn *c);
/* Sends an unsolicited CREDIT_UPDATE if the peer's view of our space is low. */
void tx_maybe_credit_update(struct uvsock_dev *dev, struct conn *c);

/* rx.c */
int rx_init(struct uvsock_dev *dev);
void rx_fini(struct uvsock_dev *dev);
void rx_post_all(struct uvsock_dev *dev);
void rx_process(struct uvsock_dev *dev);
void rx_process_events(struct uvsock_dev *dev);
/* Moves held bytes into the user's socket; tears the connection down if the user is gone. */
void rx_flush_hold(struct uvsock_dev *dev, struct conn *c);
/* Drops every connection and re-reads the CID (TRANSPORT_RESET or a CID change). */
void rx_transport_reset(struct uvsock_dev *dev);
/* Forgets an unanswered REQUEST from addr, copying its credit to *out if out; false if none. */
bool take_request(struct uvsock_dev *dev, struct uvsock_addr addr, struct request_memo *out);
/* Ends c with RST to the peer and an Rst callback (a local fault, not the peer's RST). */
void conn_abort(struct uvsock_dev *dev, struct conn *c, bool callback);

/* service.c */
int service_start(struct uvsock_dev *dev);
void service_stop(struct uvsock_dev *dev);

/* capture.c: every packet sent (tx) or received (rx), for the pcap file and the trace. */
void capture_packet(struct uvsock_dev *dev, bool tx, const void *pkt, uint32_t len);
/* Writes out a partly filled capture buffer now and then. */
void capture_tick(struct uvsock_dev *dev);
void capture_close(struct uvsock_dev *dev);

/* device.c: CIDs a device must not report (0, 1, 2, 0xffffffff, upper 32 bits set). */
bool cid_reserved(uint64_t cid);
/* device.c: sets uvsock_last_error() and returns status. */
int uvsock_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log.c */
void uvsock_log(enum uvsock_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True if a message of `level` would reach a log function: check before costly formatting. */
bool uvsock_log_on(enum uvsock_log_level level);

#endif /* UVSOCK_DEVICE_H */
