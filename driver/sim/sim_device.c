/* SPDX-License-Identifier: MIT */
/*
 * The device thread: takes packets off the tx queue, fills the driver's rx and event buffers,
 * applies armed faults to packets on their way to the driver, and waits in poll() for queue
 * notifications, host program sockets and control requests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_internal.h"

/* Chains handled per queue in one pass, so one busy queue cannot starve the others. */
#define SIM_BUDGET(q) ((unsigned)(q)->size)

static void rst_reply(struct uvsock_sim *s, const struct virtio_vsock_hdr *h)
{
    if (h->op != VIRTIO_VSOCK_OP_RST)
        sim_send_ctrl(s, h->dst_port, h->src_port, VIRTIO_VSOCK_OP_RST, 0);
}

/* One packet from the driver: gathered, validated, handed to the host stack. */
static void tx_packet(struct uvsock_sim *s, const struct sim_vq *q, const struct sim_chain *c)
{
    struct virtio_vsock_hdr h;
    uint8_t *buf = s->scratch;
    uint32_t plen;

    /* A tx chain is device-readable only; a header split across descriptors is gathered. */
    if (c->has_write || c->rlen < VSOCK_HDR_SIZE || c->rlen > sizeof(s->scratch)) {
        s->st.bad_from_driver++;
        return;
    }
    sim_chain_gather(q, c, buf, (size_t)c->rlen);
    memcpy(&h, buf, sizeof(h));
    plen = (uint32_t)c->rlen - VSOCK_HDR_SIZE;
    if (h.src_cid != s->guest_cid || h.dst_cid != VSOCK_CID_HOST) {
        s->st.bad_from_driver++;
        return;
    }
    if (h.op <= VIRTIO_VSOCK_OP_MAX)
        s->st.op_from_driver[h.op]++;
    if (h.type != VIRTIO_VSOCK_TYPE_STREAM) {
        /* The peer "MUST send an RST reply for a packet with an unknown type". */
        s->st.bad_from_driver++;
        rst_reply(s, &h);
        return;
    }
    if (h.len != plen || h.op == VIRTIO_VSOCK_OP_INVALID || h.op > VIRTIO_VSOCK_OP_MAX) {
        s->st.bad_from_driver++;
        return;
    }
    if (h.op == VIRTIO_VSOCK_OP_RST) {
        struct uvsock_sim_packet *r = &s->st.last_rst_from_driver;
        r->src_cid = h.src_cid;
        r->dst_cid = h.dst_cid;
        r->src_port = h.src_port;
        r->dst_port = h.dst_port;
        r->hdr_len = h.len;
        r->type = h.type;
        r->op = h.op;
        r->flags = h.flags;
        r->buf_alloc = h.buf_alloc;
        r->fwd_cnt = h.fwd_cnt;
    }
    sim_host_from_driver(s, &h, buf + VSOCK_HDR_SIZE);
}

/* Returns true if chains are left for another pass. */
static bool process_tx(struct uvsock_sim *s)
{
    struct sim_vq *q = &s->vq[VSOCK_VQ_TX];
    struct sim_chain c;
    bool more = true;

    for (unsigned budget = SIM_BUDGET(q); budget; budget--) {
        int rc = sim_vq_pop(s, q, &c);
        if (rc == -EAGAIN) {
            more = false;
            break;
        }
        s->st.packets_from_driver++;
        if (rc == -ENOENT) {
            s->st.bad_from_driver++;
            continue;
        }
        if (rc == 0)
            tx_packet(s, q, &c);
        else
            s->st.bad_from_driver++;
        /* tx buffers are only read: "used len 0" tells the driver nothing was written. */
        sim_vq_add_used(q, c.head, 0);
    }
    sim_vq_publish(s, q);
    return more && q->enabled;
}

static enum uvsock_sim_fault take_fault(struct uvsock_sim *s, uint32_t dst_port)
{
    enum uvsock_sim_fault f = s->fault;

    if (f == UVSOCK_SIM_FAULT_NONE || (s->fault_port && s->fault_port != dst_port))
        return UVSOCK_SIM_FAULT_NONE;
    s->fault = UVSOCK_SIM_FAULT_NONE;
    return f;
}

/*
 * Writes one packet into the popped rx chain `c`: the header then up to `plen` payload bytes
 * (payload may already sit at scratch + 44). Applies an armed fault on the way.
 */
static void rx_deliver(struct uvsock_sim *s, struct sim_vq *q, const struct sim_chain *c,
                       struct virtio_vsock_hdr h, const uint8_t *payload, uint32_t plen, bool stamp)
{
    uint64_t space = c->wlen - VSOCK_HDR_SIZE;
    uint32_t used_len;
    enum uvsock_sim_fault f;

    if (plen > space)
        plen = (uint32_t)space;
    if (stamp)
        sim_stamp(s, &h);
    f = take_fault(s, h.dst_port);
    used_len = VSOCK_HDR_SIZE + plen;
    switch (f) {
    case UVSOCK_SIM_FAULT_DROP:
        sim_vq_unpop(q);
        return;
    case UVSOCK_SIM_FAULT_DUPLICATE: {
        struct sim_pkt *dup = sim_pkt_new(&h, payload, plen);
        if (dup)
            sim_queue_pkt(s, dup, true);
        break;
    }
    case UVSOCK_SIM_FAULT_BAD_TYPE:
        h.type = 0x7777;
        break;
    case UVSOCK_SIM_FAULT_BAD_OP:
        h.op = 0x99;
        break;
    case UVSOCK_SIM_FAULT_BAD_LEN:
        h.len = plen + 4096;
        break;
    case UVSOCK_SIM_FAULT_SHORT:
        used_len = 20;
        break;
    case UVSOCK_SIM_FAULT_BAD_DST_CID:
        h.dst_cid = s->guest_cid < 0xfffffffeu ? s->guest_cid + 1 : 3;
        break;
    case UVSOCK_SIM_FAULT_USED_BAD_LEN:
        used_len = c->wlen + 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(c->wlen + 1000);
        break;
    default:
        break;
    }
    memcpy(s->scratch, &h, sizeof(h));
    if (plen && payload != s->scratch + VSOCK_HDR_SIZE)
        memcpy(s->scratch + VSOCK_HDR_SIZE, payload, plen);
    sim_chain_scatter(q, c, s->scratch, VSOCK_HDR_SIZE + plen);
    sim_vq_add_used(q, c->head, used_len);
    /* The bogus entry goes out in the same used->idx update as the real one. */
    if (f == UVSOCK_SIM_FAULT_USED_BAD_ID)
        sim_vq_add_used(q, q->size, VSOCK_HDR_SIZE); /* an id no driver ever made available */
    else if (f == UVSOCK_SIM_FAULT_USED_DUP_ID)
        sim_vq_add_used(q, c->head, used_len);
    s->st.packets_to_driver++;
}

/* The next connection with data for the driver, round robin. */
static struct sim_conn *next_data_conn(struct uvsock_sim *s)
{
    struct sim_conn *start = s->rr_next ? s->rr_next : s->conns;
    struct sim_conn *c = start;

    if (!c)
        return NULL;
    do {
        if (sim_service_has_data(c)) {
            s->rr_next = c->next;
            return c;
        }
        c = c->next ? c->next : s->conns;
    } while (c != start);
    return NULL;
}

/* One RW packet from `conn` into chain `c`; false if the connection had nothing after all. */
static bool rx_data(struct uvsock_sim *s, struct sim_vq *q, const struct sim_chain *c,
                    struct sim_conn *conn)
{
    uint64_t max = c->wlen - VSOCK_HDR_SIZE;
    int64_t credit = sim_conn_drv_credit(conn);
    struct virtio_vsock_hdr h;
    uint32_t n;

    if (max > SIM_PAYLOAD_MAX)
        max = SIM_PAYLOAD_MAX;
    if ((uint64_t)credit < max)
        max = (uint64_t)credit;
    n = sim_service_produce(s, conn, s->scratch + VSOCK_HDR_SIZE, (uint32_t)max);
    if (n == 0)
        return false;
    memset(&h, 0, sizeof(h));
    h.src_cid = VSOCK_CID_HOST;
    h.dst_cid = s->guest_cid;
    h.src_port = conn->host_port;
    h.dst_port = conn->guest_port;
    h.len = n;
    h.type = VIRTIO_VSOCK_TYPE_STREAM;
    h.op = VIRTIO_VSOCK_OP_RW;
    rx_deliver(s, q, c, h, s->scratch + VSOCK_HDR_SIZE, n, true);
    return true;
}

/*
 * Fills rx buffers: control packets first (a RESPONSE must precede the data that follows it),
 * then data round robin over the connections. Returns true if work is left for another pass.
 */
static bool fill_rx(struct uvsock_sim *s)
{
    struct sim_vq *q = &s->vq[VSOCK_VQ_RX];
    struct sim_chain c;
    bool more = false;

    for (unsigned budget = SIM_BUDGET(q); budget; budget--) {
        struct sim_pkt *p = s->ctrl_head;
        struct sim_conn *conn = p ? NULL : next_data_conn(s);
        int rc;

        if (!p && !conn)
            break;
        rc = sim_vq_pop(s, q, &c);
        if (rc == -EAGAIN) {
            /* Nothing is lost: the packet waits for the driver to post a buffer. */
            s->st.rx_waits++;
            break;
        }
        if (rc == -ENOENT) {
            s->st.bad_from_driver++;
            continue;
        }
        if (rc || c.has_read || c.wlen < VSOCK_HDR_SIZE) {
            s->st.bad_from_driver++;
            sim_vq_add_used(q, c.head, 0);
            continue;
        }
        if (p) {
            s->ctrl_head = p->next;
            if (!s->ctrl_head)
                s->ctrl_tail = &s->ctrl_head;
            s->ctrl_count--;
            rx_deliver(s, q, &c, p->hdr, p->data, p->len, p->stamp);
            free(p);
        } else if (!rx_data(s, q, &c, conn)) {
            sim_vq_unpop(q);
        }
        more = budget == 1;
    }
    sim_vq_publish(s, q);
    return more;
}

/* TRANSPORT_RESET events, each into the next event buffer the driver posted. */
static void fill_event(struct uvsock_sim *s)
{
    struct sim_vq *q = &s->vq[VSOCK_VQ_EVENT];
    struct virtio_vsock_event ev = {.id = VIRTIO_VSOCK_EVENT_TRANSPORT_RESET};
    struct sim_chain c;

    while (s->pending_events) {
        int rc = sim_vq_pop(s, q, &c);
        if (rc == -EAGAIN)
            break;
        if (rc == -ENOENT) {
            s->st.bad_from_driver++;
            continue;
        }
        if (rc || c.has_read || c.wlen < sizeof(ev)) {
            s->st.bad_from_driver++;
            sim_vq_add_used(q, c.head, 0);
            continue;
        }
        sim_chain_scatter(q, &c, &ev, sizeof(ev));
        sim_vq_add_used(q, c.head, sizeof(ev));
        s->pending_events--;
    }
    sim_vq_publish(s, q);
}

static void *sim_thread(void *arg)
{
    struct uvsock_sim *s = arg;
    struct pollfd *pfd = NULL, wake_only;
    size_t cap = 0;

    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        uint64_t v;
        bool more = false, rx_space;
        size_t n;

        while (read(s->wake_fd, &v, sizeof(v)) > 0) {
        }
        sim_service_io(s);
        if (sim_live(s)) {
            more |= process_tx(s);
            more |= fill_rx(s);
            fill_event(s);
        }
        rx_space = sim_live(s) && sim_vq_has_avail(s, &s->vq[VSOCK_VQ_RX]);
        for (;;) {
            n = cap ? sim_service_pollfds(s, pfd + 1, cap - 1, rx_space) + 1
                    : sim_service_pollfds(s, NULL, 0, rx_space) + 1;
            if (n <= cap)
                break;
            struct pollfd *bigger = realloc(pfd, (n + 16) * sizeof(*pfd));
            if (!bigger) {
                n = cap; /* poll what fits; the rest is retried on the next pass */
                more = true;
                break;
            }
            pfd = bigger;
            cap = n + 16;
        }
        if (!pfd) {
            pfd = &wake_only; /* out of memory: wait for wake-ups and retry */
            n = 1;
        }
        pfd[0].fd = s->wake_fd;
        pfd[0].events = POLLIN;
        pthread_mutex_unlock(&s->lock);
        /* Never blocked while holding the lock: the driver's BAR accesses must get through. */
        poll(pfd, (nfds_t)n, more ? 0 : SIM_POLL_MS);
        if (pfd == &wake_only)
            pfd = NULL;
        pthread_mutex_lock(&s->lock);
        sim_service_mark_readable(s);
    }
    pthread_mutex_unlock(&s->lock);
    free(pfd);
    return NULL;
}

int sim_thread_start(struct uvsock_sim *s)
{
    int rc = pthread_create(&s->thread, NULL, sim_thread, s);

    if (rc)
        return -rc;
    s->thread_started = true;
    return 0;
}

void sim_thread_stop(struct uvsock_sim *s)
{
    if (!s->thread_started)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    sim_wake(s);
    pthread_cond_broadcast(&s->accept_cv);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    s->thread_started = false;
}
