/* SPDX-License-Identifier: MIT */
/*
 * Packet capture as pcap, link type 271 (LINKTYPE_VSOCK), and the per-packet debug trace.
 *
 * A record is what Linux's vsockmon tap produces (reference/peers.md §8): a 32-byte
 * af_vsockmon header, the 44-byte virtio header, then the payload of RW packets only.
 * Records are built in a buffer under the device lock and written in large chunks, so the
 * data path pays a copy, not a system call, per packet. A failed write (a full disk) is
 * remembered, later packets are counted as dropped, and stop reports it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "device.h"

#define LINKTYPE_VSOCK   271
#define CAPTURE_BUF_SIZE (256u * 1024u)
#define VSOCKMON_HDR     32
/* Flush a partly filled buffer this often, so a reader following the file sees packets. */
#define CAPTURE_FLUSH_NS (200ull * 1000 * 1000)

enum vsockmon_op {
    AF_VSOCK_OP_UNKNOWN = 0,
    AF_VSOCK_OP_CONNECT = 1,
    AF_VSOCK_OP_DISCONNECT = 2,
    AF_VSOCK_OP_CONTROL = 3,
    AF_VSOCK_OP_PAYLOAD = 4,
};
#define AF_VSOCK_TRANSPORT_VIRTIO 2

struct af_vsockmon_hdr {
    uint64_t src_cid;
    uint64_t dst_cid;
    uint32_t src_port;
    uint32_t dst_port;
    uint16_t op;
    uint16_t transport;
    uint16_t len; /* transport header bytes that follow */
    uint8_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct af_vsockmon_hdr) == VSOCKMON_HDR, "af_vsockmon_hdr is 32 bytes");

struct pcap_file_hdr {
    uint32_t magic;
    uint16_t version_major, version_minor;
    int32_t thiszone;
    uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec_hdr {
    uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

struct capture {
    int fd;
    char path[256];
    uint8_t *buf;
    uint32_t used;
    uint32_t buffered_packets; /* in buf, not yet written */
    uint64_t file_size;        /* bytes in the file */
    uint64_t last_flush_ns;
    struct uvsock_capture_stats st;
};

/* Linux's mapping (virtio_transport_build_skb). */
static uint16_t vsockmon_op(uint16_t op)
{
    switch (op) {
    case VIRTIO_VSOCK_OP_REQUEST:
    case VIRTIO_VSOCK_OP_RESPONSE:
        return AF_VSOCK_OP_CONNECT;
    case VIRTIO_VSOCK_OP_RST:
    case VIRTIO_VSOCK_OP_SHUTDOWN:
        return AF_VSOCK_OP_DISCONNECT;
    case VIRTIO_VSOCK_OP_RW:
        return AF_VSOCK_OP_PAYLOAD;
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
        return AF_VSOCK_OP_CONTROL;
    }
    return AF_VSOCK_OP_UNKNOWN;
}

/* Writes n bytes; returns 0 or errno, with *done the bytes that did reach the file. */
static int write_all(int fd, const uint8_t *p, size_t n, size_t *done)
{
    *done = 0;
    while (*done < n) {
        ssize_t w = write(fd, p + *done, n - *done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        if (w == 0)
            return EIO;
        *done += (size_t)w;
    }
    return 0;
}

/* Records wholly inside the first `bytes` of the buffer, and where the last of them ends. */
static uint32_t whole_records(const struct capture *cap, size_t bytes, size_t *end)
{
    struct pcap_rec_hdr rec;
    uint32_t n = 0;
    size_t at = 0;

    while (at + sizeof(rec) <= bytes) {
        memcpy(&rec, cap->buf + at, sizeof(rec));
        if (at + sizeof(rec) + rec.incl_len > bytes)
            break;
        at += sizeof(rec) + rec.incl_len;
        n++;
    }
    *end = at;
    return n;
}

static void capture_flush(struct capture *cap)
{
    size_t done = 0, end;
    uint32_t kept;
    int err;

    if (!cap->used)
        return;
    if (!cap->st.error && (err = write_all(cap->fd, cap->buf, cap->used, &done))) {
        cap->st.error = err;
        uvsock_log(UVSOCK_LOG_ERROR, "capture %s: %s: later packets are dropped", cap->path,
                   strerror(err));
        /* Cut a record the failure split, so the file stays a valid capture. */
        kept = whole_records(cap, done, &end);
        if (ftruncate(cap->fd, (off_t)(cap->file_size + end)) < 0)
            uvsock_log(UVSOCK_LOG_ERROR, "capture %s: cannot cut a partial record: %s", cap->path,
                       strerror(errno));
        cap->file_size += end;
        cap->st.bytes = cap->file_size;
        cap->st.packets -= cap->buffered_packets - kept;
        cap->st.dropped += cap->buffered_packets - kept;
    } else if (cap->st.error) {
        cap->st.packets -= cap->buffered_packets;
        cap->st.dropped += cap->buffered_packets;
        cap->st.bytes = cap->file_size;
    } else {
        cap->file_size += cap->used;
    }
    cap->used = 0;
    cap->buffered_packets = 0;
    cap->last_flush_ns = uvsock_now_ns();
}

static void capture_record(struct capture *cap, const uint8_t *pkt, uint32_t len)
{
    struct virtio_vsock_hdr h = {0};
    struct af_vsockmon_hdr mon = {.transport = AF_VSOCK_TRANSPORT_VIRTIO};
    struct pcap_rec_hdr rec;
    struct timespec ts;
    uint32_t hdr_bytes = len < VSOCK_HDR_SIZE ? len : VSOCK_HDR_SIZE;
    uint32_t payload = 0, total;

    if (cap->st.error) {
        cap->st.dropped++;
        return;
    }
    memcpy(&h, pkt, hdr_bytes);
    if (hdr_bytes == VSOCK_HDR_SIZE && h.op == VIRTIO_VSOCK_OP_RW) {
        payload = len - VSOCK_HDR_SIZE;
        if (h.len < payload)
            payload = h.len;
    }
    mon.src_cid = h.src_cid;
    mon.dst_cid = h.dst_cid;
    mon.src_port = h.src_port;
    mon.dst_port = h.dst_port;
    mon.op = hdr_bytes == VSOCK_HDR_SIZE ? vsockmon_op(h.op) : AF_VSOCK_OP_UNKNOWN;
    mon.len = (uint16_t)hdr_bytes; /* a short packet is recorded as it came: truncated */

    total = VSOCKMON_HDR + hdr_bytes + payload;
    if (cap->used + sizeof(rec) + total > CAPTURE_BUF_SIZE)
        capture_flush(cap);
    if (cap->st.error) {
        cap->st.dropped++;
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    rec = (struct pcap_rec_hdr){.ts_sec = (uint32_t)ts.tv_sec,
                                .ts_usec = (uint32_t)(ts.tv_nsec / 1000),
                                .incl_len = total,
                                .orig_len = total};
    memcpy(cap->buf + cap->used, &rec, sizeof(rec));
    memcpy(cap->buf + cap->used + sizeof(rec), &mon, sizeof(mon));
    memcpy(cap->buf + cap->used + sizeof(rec) + VSOCKMON_HDR, pkt, hdr_bytes + payload);
    cap->used += (uint32_t)sizeof(rec) + total;
    cap->buffered_packets++;
    cap->st.packets++;
    cap->st.bytes += sizeof(rec) + total;
}

/* The debug trace: one line per packet. */
static void trace_packet(bool tx, const uint8_t *pkt, uint32_t len)
{
    struct virtio_vsock_hdr h;

    if (len < VSOCK_HDR_SIZE) {
        uvsock_log(UVSOCK_LOG_DEBUG, "%s %u-byte packet (shorter than a header)", tx ? "tx" : "rx",
                   len);
        return;
    }
    memcpy(&h, pkt, sizeof(h));
    uvsock_log(UVSOCK_LOG_DEBUG,
               "%s %-14s %llu:%u -> %llu:%u len %u type %u flags %u buf_alloc %u fwd_cnt %u",
               tx ? "tx" : "rx", vsock_op_name(h.op), (unsigned long long)h.src_cid, h.src_port,
               (unsigned long long)h.dst_cid, h.dst_port, h.len, h.type, h.flags, h.buf_alloc,
               h.fwd_cnt);
}

void capture_packet(struct uvsock_dev *dev, bool tx, const void *pkt, uint32_t len)
{
    if (dev->capture)
        capture_record(dev->capture, pkt, len);
    if (uvsock_log_on(UVSOCK_LOG_DEBUG))
        trace_packet(tx, pkt, len);
}

void capture_tick(struct uvsock_dev *dev)
{
    struct capture *cap = dev->capture;

    if (cap && cap->used && uvsock_now_ns() - cap->last_flush_ns >= CAPTURE_FLUSH_NS)
        capture_flush(cap);
}

int uvsock_capture_start(struct uvsock_dev *dev, const char *path)
{
    struct pcap_file_hdr fh = {
        .magic = 0xa1b2c3d4,
        .version_major = 2,
        .version_minor = 4,
        .snaplen = VSOCKMON_HDR + VSOCK_HDR_SIZE + 64 * 1024,
        .linktype = LINKTYPE_VSOCK,
    };
    struct capture *cap;
    size_t done;
    int err;

    if (!dev || !path || !*path)
        return uvsock_fail(UVSOCK_ERR_INVALID_ARGS, "capture needs a file name");
    cap = calloc(1, sizeof(*cap));
    if (!cap || !(cap->buf = malloc(CAPTURE_BUF_SIZE))) {
        free(cap);
        return uvsock_fail(UVSOCK_ERR_NO_MEMORY, "capture: out of memory");
    }
    snprintf(cap->path, sizeof(cap->path), "%s", path);
    cap->st.active = 1;
    cap->last_flush_ns = uvsock_now_ns();

    pthread_mutex_lock(&dev->lock);
    if (dev->capture) {
        /* Name the running capture before unlocking: a concurrent stop may free it. */
        snprintf(cap->path, sizeof(cap->path), "%s", dev->capture->path);
        pthread_mutex_unlock(&dev->lock);
        uvsock_fail(UVSOCK_ERR_BAD_STATE, "a capture is already running (to %s)", cap->path);
        free(cap->buf);
        free(cap);
        return UVSOCK_ERR_BAD_STATE;
    }
    cap->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    err = cap->fd < 0 ? errno : write_all(cap->fd, (const uint8_t *)&fh, sizeof(fh), &done);
    if (err) {
        pthread_mutex_unlock(&dev->lock);
        if (cap->fd >= 0)
            close(cap->fd);
        free(cap->buf);
        free(cap);
        return uvsock_fail(UVSOCK_ERR_IO, "capture %s: %s", path, strerror(err));
    }
    cap->st.bytes = cap->file_size = sizeof(fh);
    dev->capture = cap;
    pthread_mutex_unlock(&dev->lock);
    return UVSOCK_OK;
}

int uvsock_capture_stop(struct uvsock_dev *dev)
{
    struct capture *cap;
    int r = UVSOCK_OK;

    if (!dev)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&dev->lock);
    cap = dev->capture;
    dev->capture = NULL;
    if (cap)
        capture_flush(cap);
    pthread_mutex_unlock(&dev->lock);
    if (!cap)
        return uvsock_fail(UVSOCK_ERR_BAD_STATE, "no capture is running");
    if (close(cap->fd) < 0 && !cap->st.error)
        cap->st.error = errno;
    if (cap->st.error)
        r = uvsock_fail(UVSOCK_ERR_IO, "capture %s: %s; %llu packets dropped", cap->path,
                        strerror(cap->st.error), (unsigned long long)cap->st.dropped);
    free(cap->buf);
    free(cap);
    return r;
}

int uvsock_capture_stats(struct uvsock_dev *dev, struct uvsock_capture_stats *st)
{
    if (!dev || !st)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&dev->lock);
    if (dev->capture)
        *st = dev->capture->st;
    else
        *st = (struct uvsock_capture_stats){0};
    pthread_mutex_unlock(&dev->lock);
    return UVSOCK_OK;
}

void capture_close(struct uvsock_dev *dev)
{
    if (dev->capture)
        uvsock_capture_stop(dev);
}
