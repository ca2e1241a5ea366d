/* SPDX-License-Identifier: MIT */
/*
 * uvsock: a userspace virtio-vsock driver offering the fuchsia.hardware.vsock.Device protocol.
 *
 * The calls mirror the FIDL protocol one to one (Start, SendRequest, SendShutdown, SendRst,
 * SendResponse, GetCid, SendVmo) and return what the Fuchsia driver returns in the same
 * situation, except where that driver is wrong; docs/api.md lists every deviation.
 *
 * Threading: every function here is thread-safe. Each device runs one service thread that
 * moves data and runs the Callbacks. Callbacks run without any device lock held, so they may
 * make Device calls (answer a Request with SendResponse, say), but they hold up all traffic
 * while they run, so they must not block, and they must not call uvsock_close on their own
 * device. The event queue below hands them to another thread instead.
 */
#ifndef UVSOCK_H
#define UVSOCK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility: what this header declares is its API. */
#pragma GCC visibility push(default)

/* ====================================================================== status codes == */

/* Zircon's zx_status_t names and values (zircon/errors.h). */
enum uvsock_status {
    UVSOCK_OK = 0,
    UVSOCK_ERR_INTERNAL = -1,
    UVSOCK_ERR_NOT_SUPPORTED = -2,
    UVSOCK_ERR_NO_RESOURCES = -3,
    UVSOCK_ERR_NO_MEMORY = -4,
    UVSOCK_ERR_INVALID_ARGS = -10,
    UVSOCK_ERR_BAD_HANDLE = -11,
    UVSOCK_ERR_WRONG_TYPE = -12,
    UVSOCK_ERR_OUT_OF_RANGE = -14,
    UVSOCK_ERR_BUFFER_TOO_SMALL = -15,
    UVSOCK_ERR_BAD_STATE = -20,
    UVSOCK_ERR_TIMED_OUT = -21,
    UVSOCK_ERR_SHOULD_WAIT = -22,
    UVSOCK_ERR_CANCELED = -23,
    UVSOCK_ERR_PEER_CLOSED = -24,
    UVSOCK_ERR_NOT_FOUND = -25,
    UVSOCK_ERR_ALREADY_EXISTS = -26,
    UVSOCK_ERR_ALREADY_BOUND = -27,
    UVSOCK_ERR_UNAVAILABLE = -28,
    UVSOCK_ERR_ACCESS_DENIED = -30,
    UVSOCK_ERR_IO = -40,
};

/* "ZX_OK", "ZX_ERR_BAD_STATE", ...; "ZX_ERR_<unknown>" for values outside the table. */
const char *uvsock_status_str(int status);

/* ============================================================================ types == */

/* fuchsia.hardware.vsock.Addr: "local" is this driver, "remote" is the device's side. */
struct uvsock_addr {
    uint32_t local_port;
    uint32_t remote_cid;
    uint32_t remote_port;
};

/* Well-known CIDs (fuchsia.hardware.vsock, @available(added=HEAD)). */
#define UVSOCK_CID_HYPERVISOR 0u
#define UVSOCK_CID_LOCAL      1u
#define UVSOCK_CID_HOST       2u
#define UVSOCK_CID_ANY        0xffffffffu

struct uvsock_dev;

/*
 * fuchsia.hardware.vsock.Callbacks. Every member is optional (NULL is skipped). They run on
 * the device's service thread, in the order the device produced them.
 */
struct uvsock_callbacks {
    void (*request)(void *ctx, struct uvsock_addr addr);
    void (*response)(void *ctx, struct uvsock_addr addr);
    void (*rst)(void *ctx, struct uvsock_addr addr);
    void (*shutdown)(void *ctx, struct uvsock_addr addr);
    void (*transport_reset)(void *ctx, uint32_t new_cid);
    void (*send_vmo_complete)(void *ctx, struct uvsock_addr addr);
};

/* ====================================================================== device life == */

/*
 * Open a device from a URI:
 *   "sim" or ""                the built-in simulated device (CID 3), see uvsock_sim.h
 *   "sim:cid=5,uds=/run/v.sock" options, comma separated (see docs/api.md)
 *   "uio:0000:00:04.0"         a virtio-vsock PCI function bound to uio_pci_generic
 * The device is reset, negotiated and made ready (DRIVER_OK); rx buffers are posted by Start.
 * Returns UVSOCK_ERR_INVALID_ARGS for a malformed URI, NOT_SUPPORTED for an unknown scheme or a
 * device that lacks VIRTIO_F_VERSION_1 or refuses FEATURES_OK, IO for transport errors.
 * uvsock_last_error() then says why in words.
 */
int uvsock_open(const char *uri, struct uvsock_dev **out);

/* Resets every connection (RST to the peer), stops the device and frees it. NULL is a no-op. */
void uvsock_close(struct uvsock_dev *dev);

/* Why the last failed uvsock_open() or uvsock_capture_*() on this thread failed, "" if none. */
const char *uvsock_last_error(void);

/* ======================================================== fuchsia.hardware.vsock.Device == */

/*
 * Start(cb): installs the callbacks and starts receiving. A second Start replaces the
 * callbacks after resetting every existing connection (as the Fuchsia driver does).
 * Always UVSOCK_OK for a valid device and callbacks.
 */
int uvsock_start(struct uvsock_dev *dev, const struct uvsock_callbacks *cb, void *ctx);

/*
 * SendRequest(addr, socket): connect. `sock` is one end of an AF_UNIX SOCK_STREAM socketpair;
 * the device owns it on UVSOCK_OK (and closes it when the connection ends), the caller keeps it
 * on error. BAD_HANDLE if `sock` is not an open fd, WRONG_TYPE if it is not an AF_UNIX stream
 * socket, BAD_STATE before Start, ALREADY_BOUND if addr is in use.
 */
int uvsock_send_request(struct uvsock_dev *dev, struct uvsock_addr addr, int sock);

/* SendResponse(addr, socket): accept a Request. Same ownership and codes as send_request. */
int uvsock_send_response(struct uvsock_dev *dev, struct uvsock_addr addr, int sock);

/*
 * SendShutdown(addr): graceful close. Bytes already written into the socket when this is
 * called are still sent, then SHUTDOWN(RCV|SEND); later bytes are not. BAD_STATE before Start,
 * for an unknown addr, or a connection already shutting down.
 */
int uvsock_send_shutdown(struct uvsock_dev *dev, struct uvsock_addr addr);

/* SendRst(addr): abort; sends RST whether or not addr is known. Always UVSOCK_OK. */
int uvsock_send_rst(struct uvsock_dev *dev, struct uvsock_addr addr);

/* GetCid(): the device's guest_cid as last read (re-read on TRANSPORT_RESET). */
uint32_t uvsock_get_cid(struct uvsock_dev *dev);

/*
 * SendVmo(addr, vmo, off, len): send `len` bytes of the readable fd `vmo` from `off`, before any
 * socket data still queued. The device duplicates `vmo`; the caller may close its fd at once.
 * SendVmoComplete(addr) follows when the device has consumed the last byte.
 * BAD_STATE before Start or while another VMO is pending on the connection; NOT_FOUND for an
 * unknown addr; INVALID_ARGS for len 0 or off+len overflowing; BAD_HANDLE if `vmo` is not an open
 * fd; WRONG_TYPE if it cannot be read at an offset (pread); OUT_OF_RANGE when off+len is past
 * the end of a regular file.
 */
int uvsock_send_vmo(struct uvsock_dev *dev, struct uvsock_addr addr, int vmo, uint64_t off,
                    uint64_t len);

/* =========================================================== event-queue Callbacks == */

/*
 * The Callbacks implementation the bindings and the shell use: callbacks become events in a
 * queue with a pollable fd (readable while the queue is not empty).
 */
enum uvsock_event_type {
    UVSOCK_EVENT_REQUEST = 1,
    UVSOCK_EVENT_RESPONSE,
    UVSOCK_EVENT_RST,
    UVSOCK_EVENT_SHUTDOWN,
    UVSOCK_EVENT_TRANSPORT_RESET,
    UVSOCK_EVENT_SEND_VMO_COMPLETE,
};

struct uvsock_event {
    enum uvsock_event_type type;
    struct uvsock_addr addr; /* all but TRANSPORT_RESET */
    uint32_t new_cid;        /* TRANSPORT_RESET only */
    uint64_t seq;            /* 1, 2, ... in the order the callbacks ran */
    uint64_t time_ns;        /* CLOCK_MONOTONIC when the callback ran */
};

struct uvsock_event_queue;

/* "request", "response", "rst", "shutdown", "transport_reset", "send_vmo_complete". */
const char *uvsock_event_type_str(enum uvsock_event_type type);

int uvsock_event_queue_new(struct uvsock_event_queue **out);
void uvsock_event_queue_free(struct uvsock_event_queue *q);

/* Callbacks that append to the queue passed as their ctx. */
extern const struct uvsock_callbacks uvsock_event_queue_callbacks;

/* uvsock_start() with the queue's callbacks. */
int uvsock_start_event_queue(struct uvsock_dev *dev, struct uvsock_event_queue *q);

/* Readable (POLLIN) while at least one event is queued. Owned by the queue. */
int uvsock_event_queue_fd(const struct uvsock_event_queue *q);

/*
 * Pops the oldest event. timeout_ms: 0 polls, <0 waits forever. UVSOCK_OK, or
 * UVSOCK_ERR_SHOULD_WAIT (timeout 0) / UVSOCK_ERR_TIMED_OUT when none arrived.
 */
int uvsock_event_queue_pop(struct uvsock_event_queue *q, struct uvsock_event *ev, int timeout_ms);

/* Events queued now, and events refused because the queue was at its limit (1M events). */
size_t uvsock_event_queue_len(const struct uvsock_event_queue *q);
uint64_t uvsock_event_queue_overflows(const struct uvsock_event_queue *q);

/* ================================================================== introspection == */

enum uvsock_conn_state {
    UVSOCK_CONN_WAIT_RESPONSE = 1, /* REQUEST sent, no RESPONSE yet */
    UVSOCK_CONN_ACTIVE,            /* established */
    UVSOCK_CONN_WILL_SHUT_DOWN,    /* SendShutdown called; draining bytes queued before it */
    UVSOCK_CONN_SHUTTING_DOWN,     /* SHUTDOWN sent, waiting for the peer's RST */
    UVSOCK_CONN_PEER_SHUT_DOWN,    /* peer sent SHUTDOWN; waiting for SendRst */
};
const char *uvsock_conn_state_str(enum uvsock_conn_state state);

/* What keeps a connection's data from moving, most important first. */
enum uvsock_blocked_on {
    UVSOCK_BLOCKED_NOTHING = 0,
    UVSOCK_BLOCKED_RESPONSE,    /* waiting for the peer's RESPONSE */
    UVSOCK_BLOCKED_PEER_CREDIT, /* we have bytes to send, the peer has no free buffer */
    UVSOCK_BLOCKED_TX_RING,     /* we have bytes and credit, no free tx descriptor */
    UVSOCK_BLOCKED_USER_READ,   /* received bytes wait for our user to read the socket */
};
const char *uvsock_blocked_on_str(enum uvsock_blocked_on b);

struct uvsock_conn_info {
    struct uvsock_addr addr;
    enum uvsock_conn_state state;
    enum uvsock_blocked_on blocked_on;
    /* Our receive side, as we advertise it. */
    uint32_t buf_alloc;         /* bytes we can hold for the user */
    uint32_t fwd_cnt;           /* free-running count of bytes our user consumed */
    uint32_t rx_cnt;            /* free-running count of payload bytes received */
    uint32_t last_fwd_cnt_sent; /* fwd_cnt in the last header we sent */
    uint32_t held;              /* bytes received, not yet taken by our user's socket */
    uint32_t sock_unread;       /* kernel memory of data our user has not read (SIOCOUTQ:
                                   on AF_UNIX it counts buffer memory, not bytes) */
    /* The peer's receive side, as it last told us. */
    uint32_t peer_buf_alloc;
    uint32_t peer_fwd_cnt;  /* = bytes the peer has consumed (mod 2^32) */
    uint32_t tx_cnt;        /* free-running count of payload bytes we sent */
    uint32_t in_flight;     /* tx_cnt - peer_fwd_cnt */
    uint32_t peer_free;     /* credit we may still use, clamped to [0, peer_buf_alloc] */
    uint32_t peer_shutdown; /* SHUTDOWN flags received: 1 RCV, 2 SEND */
    uint64_t bytes_sent;    /* 64-bit totals */
    uint64_t bytes_received;
    uint64_t vmo_remaining; /* bytes of a pending SendVmo not yet sent, 0 if none */
    /* CLOCK_MONOTONIC ns of the last such packet, 0 for never. */
    uint64_t credit_update_sent_ns;
    uint64_t credit_update_recv_ns;
    uint64_t credit_request_sent_ns;
    uint64_t credit_request_recv_ns;
    uint64_t blocked_since_ns; /* when blocked_on last changed to its current value */
    uint64_t created_ns;
    uint32_t sock_unsent; /* bytes our user wrote into the socket that we have not sent yet */
};

/* Connections, in no particular order. *count is set to the total; at most `max` are written. */
int uvsock_conn_list(struct uvsock_dev *dev, struct uvsock_addr *addrs, size_t max, size_t *count);
/* NOT_FOUND for an unknown addr. */
int uvsock_conn_info(struct uvsock_dev *dev, struct uvsock_addr addr,
                     struct uvsock_conn_info *info);

struct uvsock_vq_info {
    char name[8]; /* "rx", "tx", "event" */
    uint16_t size;
    uint16_t num_free;
    uint16_t avail_idx;     /* next avail index we will publish */
    uint16_t used_idx;      /* device's used index as last read */
    uint16_t last_used_idx; /* next used entry we will consume */
    uint16_t used_event;    /* what we asked the device for (EVENT_IDX) */
    uint16_t avail_event;   /* what the device asked us for (EVENT_IDX) */
    uint64_t kicks;         /* notifications written */
    uint64_t kicks_suppressed;
    uint64_t interrupts; /* interrupts that found work on this queue */
    uint64_t bad_used;   /* used entries rejected (bad id or length) */
};

struct uvsock_dev_info {
    char uri[128];
    uint32_t cid;
    int started;
    uint64_t features; /* negotiated */
    uint32_t connections;
    uint64_t interrupts;
    uint64_t config_changes;
    uint64_t transport_resets;
    uint64_t packets_sent;
    uint64_t packets_received;
    uint64_t rst_sent;
    uint64_t malformed_dropped; /* received packets rejected by validation */
    uint64_t unknown_conn_rst;  /* RST sent for a packet of no connection */
    struct uvsock_vq_info vq[3];
};

int uvsock_dev_info(struct uvsock_dev *dev, struct uvsock_dev_info *info);

/* ========================================================================== logging == */

enum uvsock_log_level { UVSOCK_LOG_ERROR = 0, UVSOCK_LOG_WARN, UVSOCK_LOG_INFO, UVSOCK_LOG_DEBUG };

/*
 * The library never prints: messages go to this process-wide function (default: none).
 * Called from any thread, possibly with device locks held: it must not call into uvsock.
 * At UVSOCK_LOG_DEBUG the core traces one line per packet sent or received and per
 * connection state change.
 */
typedef void (*uvsock_log_fn)(void *ctx, enum uvsock_log_level level, const char *msg);
void uvsock_set_log(uvsock_log_fn fn, void *ctx);

/*
 * Messages up to `level` reach the log function. The initial level comes from the UVSOCK_LOG
 * environment variable (error, warn, info, debug, or 0..3), else warn.
 */
void uvsock_set_log_level(enum uvsock_log_level level);
enum uvsock_log_level uvsock_get_log_level(void);
/* "error", "warn", "info", "debug" or "0".."3" to a level; -1 for anything else. */
int uvsock_log_level_parse(const char *name);
const char *uvsock_log_level_str(enum uvsock_log_level level);

/* ======================================================================== capture == */

/*
 * Packet capture: every packet the driver sends and receives (malformed ones included, as
 * received), time-stamped, written as a pcap file of link type 271 (LINKTYPE_VSOCK: the
 * 32-byte af_vsockmon header, the 44-byte virtio header, then the payload of RW packets) that
 * tshark and Wireshark decode. One capture per device at a time; writes are buffered.
 * start: BAD_STATE if a capture is running, IO if the file cannot be created (reason in
 * uvsock_last_error()). stop: BAD_STATE if none is running, IO if any write failed (the
 * capture then holds what was written before the failure; the rest is counted as dropped).
 */
int uvsock_capture_start(struct uvsock_dev *dev, const char *path);
int uvsock_capture_stop(struct uvsock_dev *dev);

struct uvsock_capture_stats {
    int active;
    uint64_t packets; /* written (or buffered to be written) */
    uint64_t bytes;   /* file bytes, headers included */
    uint64_t dropped; /* packets lost to write errors */
    int error;        /* errno of the first failed write, 0 if none */
};
int uvsock_capture_stats(struct uvsock_dev *dev, struct uvsock_capture_stats *st);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* UVSOCK_H */
