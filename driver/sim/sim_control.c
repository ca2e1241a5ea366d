/* SPDX-License-Identifier: MIT */
/*
 * The public control surface of the simulated device (core/include/uvsock_sim.h): its host
 * side on CID 2, transport resets, fault injection, raw packets and statistics. Every call
 * takes the sim lock and wakes the device thread when it left work for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim_internal.h"

#define SIM_PORT_ECHO    7u
#define SIM_PORT_DISCARD 9u
#define SIM_PORT_SOURCE  19u

static int status_of(int err)
{
    switch (err) {
    case 0:
        return UVSOCK_OK;
    case -ENOMEM:
        return UVSOCK_ERR_NO_MEMORY;
    case -ENOBUFS:
    case -EMFILE:
    case -ENFILE:
        return UVSOCK_ERR_NO_RESOURCES;
    default:
        return UVSOCK_ERR_INTERNAL;
    }
}

/* Reserved CIDs (virtio 1.x, 5.10.4): 0, 1, 2 and 0xffffffff; the device MUST NOT use them. */
static bool cid_ok(uint32_t cid)
{
    return cid > VSOCK_CID_HOST && cid != UVSOCK_CID_ANY;
}

int uvsock_sim_transport_reset(struct uvsock_sim *sim, uint32_t new_cid)
{
    if (!sim || (new_cid && !cid_ok(new_cid)))
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&sim->lock);
    /* As a migration does: connections vanish without RST, queued packets with them. */
    sim_host_reset(sim);
    sim_set_guest_cid(sim, new_cid ? new_cid : sim->guest_cid);
    sim->pending_events++;
    sim_wake(sim);
    pthread_mutex_unlock(&sim->lock);
    return UVSOCK_OK;
}

int uvsock_sim_set_cid(struct uvsock_sim *sim, uint32_t new_cid)
{
    if (!sim || !cid_ok(new_cid))
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&sim->lock);
    sim_set_guest_cid(sim, new_cid);
    /* "The device MUST send a configuration change notification" when config changes. */
    sim_raise_irq(sim, VIRTIO_ISR_CONFIG);
    pthread_mutex_unlock(&sim->lock);
    return UVSOCK_OK;
}

int uvsock_sim_connect(struct uvsock_sim *sim, uint32_t guest_port, uint32_t host_port,
                       int *host_fd, uint32_t *host_port_out)
{
    struct sim_conn *c;
    int sv[2], rc;

    if (!sim || !host_fd)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&sim->lock);
    if (!host_port)
        host_port = sim_pick_host_port(sim, guest_port);
    if (sim_conn_find(sim, host_port, guest_port)) {
        pthread_mutex_unlock(&sim->lock);
        return UVSOCK_ERR_ALREADY_EXISTS;
    }
    rc = sim_socketpair(sv);
    if (rc < 0) {
        pthread_mutex_unlock(&sim->lock);
        return status_of(rc);
    }
    c = sim_conn_new(sim, host_port, guest_port, SIM_FD, sv[0]);
    if (!c) {
        close(sv[0]);
        close(sv[1]);
        pthread_mutex_unlock(&sim->lock);
        return UVSOCK_ERR_NO_MEMORY;
    }
    c->state = SIM_REQUEST_SENT;
    rc = sim_send_ctrl(sim, host_port, guest_port, VIRTIO_VSOCK_OP_REQUEST, 0);
    if (rc < 0) {
        sim_conn_forget(sim, c);
        close(sv[1]);
        pthread_mutex_unlock(&sim->lock);
        return status_of(rc);
    }
    *host_fd = sv[1];
    if (host_port_out)
        *host_port_out = host_port;
    sim_wake(sim);
    pthread_mutex_unlock(&sim->lock);
    return UVSOCK_OK;
}

int uvsock_sim_listen(struct uvsock_sim *sim, uint32_t host_port)
{
    struct sim_listener *l;
    int rc = UVSOCK_OK;

    if (!sim || host_port == SIM_PORT_ECHO || host_port == SIM_PORT_DISCARD ||
        host_port == SIM_PORT_SOURCE)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&sim->lock);
    if (sim_listener_find(sim, host_port)) {
        rc = UVSOCK_ERR_ALREADY_BOUND;
    } else if (!(l = calloc(1, sizeof(*l)))) {
        rc = UVSOCK_ERR_NO_MEMORY;
    } else {
        l->port = host_port;
        l->tail = &l->head;
        l->next = sim->listeners;
        sim->listeners = l;
    }
    pthread_mutex_unlock(&sim->lock);
    return rc;
}

int uvsock_sim_unlisten(struct uvsock_sim *sim, uint32_t host_port)
{
    int rc = UVSOCK_ERR_NOT_FOUND;

    if (!sim)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&sim->lock);
    for (struct sim_listener **pp = &sim->listeners; *pp; pp = &(*pp)->next) {
        struct sim_listener *l = *pp;
        if (l->port == host_port) {
            *pp = l->next;
            sim_listener_free(l);
            rc = UVSOCK_OK;
            break;
        }
    }
    pthread_cond_broadcast(&sim->accept_cv); /* a waiting accept learns it is gone */
    pthread_mutex_unlock(&sim->lock);
    return rc;
}

int uvsock_sim_accept(struct uvsock_sim *sim, uint32_t host_port, int timeout_ms, int *host_fd,
                      uint32_t *guest_port)
{
    struct timespec deadline;
    struct sim_listener *l;
    struct sim_accepted *a;
    int rc = UVSOCK_OK;

    if (!sim || !host_fd)
        return UVSOCK_ERR_INVALID_ARGS;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&sim->lock);
    for (;;) {
        l = sim_listener_find(sim, host_port);
        if (!l) {
            rc = UVSOCK_ERR_NOT_FOUND;
            break;
        }
        if (l->head)
            break;
        if (sim->stop) {
            rc = UVSOCK_ERR_BAD_STATE; /* the device is going away */
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&sim->accept_cv, &sim->lock);
        } else if (timeout_ms == 0 ||
                   pthread_cond_timedwait(&sim->accept_cv, &sim->lock, &deadline) == ETIMEDOUT) {
            l = sim_listener_find(sim, host_port);
            if (!l || !l->head) {
                rc = l ? UVSOCK_ERR_TIMED_OUT : UVSOCK_ERR_NOT_FOUND;
                break;
            }
        }
    }
    if (rc == UVSOCK_OK) {
        a = l->head;
        l->head = a->next;
        if (!l->head)
            l->tail = &l->head;
        *host_fd = a->fd;
        if (guest_port)
            *guest_port = a->guest_port;
        free(a);
    }
    pthread_mutex_unlock(&sim->lock);
    return rc;
}

int uvsock_sim_set_host_credit(struct uvsock_sim *sim, uint32_t buf_alloc)
{
    if (!sim || buf_alloc == 0)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&sim->lock);
    sim->host_buf_alloc = buf_alloc;
    /* Existing connections hear of it at once; the update carries the new buf_alloc. */
    for (struct sim_conn *c = sim->conns; c; c = c->next) {
        if (c->state == SIM_ESTABLISHED || c->state == SIM_CLOSING) {
            if (sim_send_ctrl(sim, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0) ==
                0)
                c->credit_update_queued = true;
        }
    }
    sim_wake(sim);
    pthread_mutex_unlock(&sim->lock);
    return UVSOCK_OK;
}

const char *uvsock_sim_fault_str(enum uvsock_sim_fault fault)
{
    static const char *const names[] = {
        [UVSOCK_SIM_FAULT_NONE] = "NONE",
        [UVSOCK_SIM_FAULT_DROP] = "DROP",
        [UVSOCK_SIM_FAULT_DUPLICATE] = "DUPLICATE",
        [UVSOCK_SIM_FAULT_BAD_TYPE] = "BAD_TYPE",
        [UVSOCK_SIM_FAULT_BAD_OP] = "BAD_OP",
        [UVSOCK_SIM_FAULT_BAD_LEN] = "BAD_LEN",
        [UVSOCK_SIM_FAULT_SHORT] = "SHORT",
        [UVSOCK_SIM_FAULT_BAD_DST_CID] = "BAD_DST_CID",
        [UVSOCK_SIM_FAULT_USED_BAD_ID] = "USED_BAD_ID",
        [UVSOCK_SIM_FAULT_USED_BAD_LEN] = "USED_BAD_LEN",
        [UVSOCK_SIM_FAULT_USED_DUP_ID] = "USED_DUP_ID",
    };

    if ((unsigned)fault >= sizeof(names) / sizeof(names[0]))
        return "FAULT?";
    return names[fault];
}

int uvsock_sim_inject(struct uvsock_sim *sim, enum uvsock_sim_fault fault, uint32_t guest_port)
{
    if (!sim || (unsigned)fault > UVSOCK_SIM_FAULT_USED_DUP_ID)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&sim->lock);
    sim->fault = fault;
    sim->fault_port = guest_port;
    pthread_mutex_unlock(&sim->lock);
    return UVSOCK_OK;
}

int uvsock_sim_fault_pending(struct uvsock_sim *sim)
{
    int pending;

    if (!sim)
        return 0;
    pthread_mutex_lock(&sim->lock);
    pending = sim->fault != UVSOCK_SIM_FAULT_NONE;
    pthread_mutex_unlock(&sim->lock);
    return pending;
}

int uvsock_sim_send_raw(struct uvsock_sim *sim, const struct uvsock_sim_packet *pkt,
                        const void *payload, size_t len)
{
    struct virtio_vsock_hdr h;
    struct sim_pkt *p;
    int rc;

    if (!sim || !pkt || len > SIM_PAYLOAD_MAX || (len && !payload))
        return UVSOCK_ERR_INVALID_ARGS;
    h.src_cid = pkt->src_cid;
    h.dst_cid = pkt->dst_cid;
    h.src_port = pkt->src_port;
    h.dst_port = pkt->dst_port;
    h.len = pkt->hdr_len;
    h.type = pkt->type;
    h.op = pkt->op;
    h.flags = pkt->flags;
    h.buf_alloc = pkt->buf_alloc;
    h.fwd_cnt = pkt->fwd_cnt;
    p = sim_pkt_new(&h, payload, (uint32_t)len);
    if (!p)
        return UVSOCK_ERR_NO_MEMORY;
    pthread_mutex_lock(&sim->lock);
    rc = sim_queue_pkt(sim, p, false); /* sent as given: no credit stamping */
    sim_wake(sim);
    pthread_mutex_unlock(&sim->lock);
    return status_of(rc);
}

int uvsock_sim_get_stats(struct uvsock_sim *sim, struct uvsock_sim_stats *st)
{
    uint32_t n = 0;

    if (!sim || !st)
        return UVSOCK_ERR_INVALID_ARGS;
    pthread_mutex_lock(&sim->lock);
    *st = sim->st;
    for (struct sim_conn *c = sim->conns; c; c = c->next)
        n += c->state != SIM_DRAINING;
    st->host_connections = n;
    pthread_mutex_unlock(&sim->lock);
    return UVSOCK_OK;
}
