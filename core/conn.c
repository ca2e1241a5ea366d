/* SPDX-License-Identifier: MIT */
/*
 * The connection table: connections keyed by their Addr in a chained hash table that
 * doubles when it is full, and the deferred closing of user sockets.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device.h"

#define TABLE_INITIAL 64

/* The trace names connections as local port -> remote cid:port. */
#define CONN_FMT     "%u -> %u:%u"
#define CONN_ARGS(c) (c)->addr.local_port, (c)->addr.remote_cid, (c)->addr.remote_port

bool addr_eq(struct uvsock_addr a, struct uvsock_addr b)
{
    return a.local_port == b.local_port && a.remote_cid == b.remote_cid &&
           a.remote_port == b.remote_port;
}

/* Mixes all three fields, unlike the Fuchsia driver's sum, which collides on swapped ports. */
static uint32_t addr_hash(struct uvsock_addr a)
{
    uint64_t h = ((uint64_t)a.local_port << 32 | a.remote_port) ^ ((uint64_t)a.remote_cid << 17);

    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

int conn_table_init(struct uvsock_dev *dev)
{
    dev->table = calloc(TABLE_INITIAL, sizeof(*dev->table));
    if (!dev->table)
        return UVSOCK_ERR_NO_MEMORY;
    dev->table_size = TABLE_INITIAL;
    dev->next_conn_id = 1;
    return UVSOCK_OK;
}

static void conn_free(struct conn *c)
{
    free(c->hold.data);
    free(c);
}

void conn_table_fini(struct uvsock_dev *dev)
{
    for (uint32_t i = 0; i < dev->table_size; i++) {
        struct conn *c = dev->table[i], *next;
        for (; c; c = next) {
            next = c->hash_next;
            if (c->fd >= 0)
                close(c->fd);
            if (c->vmo.fd >= 0)
                close(c->vmo.fd);
            conn_free(c);
        }
    }
    free(dev->table);
    dev->table = NULL;
    for (uint32_t i = 0; i < dev->close_len; i++)
        close(dev->close_fds[i]);
    free(dev->close_fds);
    dev->close_fds = NULL;
    dev->close_len = dev->close_cap = 0;
}

struct conn *conn_find(struct uvsock_dev *dev, struct uvsock_addr addr)
{
    struct conn *c = dev->table[addr_hash(addr) & (dev->table_size - 1)];

    while (c && !addr_eq(c->addr, addr))
        c = c->hash_next;
    return c;
}

struct conn *conn_find_id(struct uvsock_dev *dev, struct uvsock_addr addr, uint64_t id)
{
    struct conn *c = conn_find(dev, addr);

    return c && c->id == id ? c : NULL;
}

/* Doubling keeps chains short; on allocation failure the table just stays denser. */
static void table_grow(struct uvsock_dev *dev)
{
    uint32_t size = dev->table_size * 2;
    struct conn **table = calloc(size, sizeof(*table));

    if (!table)
        return;
    for (uint32_t i = 0; i < dev->table_size; i++) {
        struct conn *c = dev->table[i], *next;
        for (; c; c = next) {
            uint32_t b = addr_hash(c->addr) & (size - 1);
            next = c->hash_next;
            c->hash_next = table[b];
            table[b] = c;
        }
    }
    free(dev->table);
    dev->table = table;
    dev->table_size = size;
}

struct conn *conn_create(struct uvsock_dev *dev, struct uvsock_addr addr, int fd,
                         enum uvsock_conn_state state)
{
    struct conn *c = calloc(1, sizeof(*c));
    uint32_t b;

    if (!c)
        return NULL;
    if (dev->conn_count >= dev->table_size)
        table_grow(dev);
    c->addr = addr;
    c->id = dev->next_conn_id++;
    c->fd = fd;
    c->state = state;
    c->buf_alloc = CONN_BUF_ALLOC;
    c->vmo.fd = -1;
    c->created_ns = uvsock_now_ns();
    if (uvsock_log_on(UVSOCK_LOG_DEBUG))
        uvsock_log(UVSOCK_LOG_DEBUG, "conn " CONN_FMT ": new, %s", CONN_ARGS(c),
                   uvsock_conn_state_str(state));
    b = addr_hash(addr) & (dev->table_size - 1);
    c->hash_next = dev->table[b];
    dev->table[b] = c;
    dev->conn_count++;
    return c;
}

void conn_set_state(struct conn *c, enum uvsock_conn_state state)
{
    if (uvsock_log_on(UVSOCK_LOG_DEBUG))
        uvsock_log(UVSOCK_LOG_DEBUG, "conn " CONN_FMT ": %s -> %s", CONN_ARGS(c),
                   uvsock_conn_state_str(c->state), uvsock_conn_state_str(state));
    c->state = state;
}

void conn_destroy(struct uvsock_dev *dev, struct conn *c)
{
    if (uvsock_log_on(UVSOCK_LOG_DEBUG))
        uvsock_log(UVSOCK_LOG_DEBUG,
                   "conn " CONN_FMT ": %s -> closed (%llu bytes sent, %llu received)", CONN_ARGS(c),
                   uvsock_conn_state_str(c->state), (unsigned long long)c->bytes_sent,
                   (unsigned long long)c->bytes_received);

    struct conn **pp = &dev->table[addr_hash(c->addr) & (dev->table_size - 1)];

    while (*pp && *pp != c)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = c->hash_next;
    dev->conn_count--;
    tx_conn_gone(dev, c);
    if (c->fd >= 0)
        conn_defer_close(dev, c->fd);
    conn_free(c);
}

void conn_for_each(struct uvsock_dev *dev, void (*fn)(struct uvsock_dev *, struct conn *, void *),
                   void *arg)
{
    for (uint32_t i = 0; i < dev->table_size; i++) {
        struct conn *c = dev->table[i], *next;
        for (; c; c = next) {
            next = c->hash_next;
            fn(dev, c, arg);
        }
    }
}

/*
 * The service thread may be inside poll() on this fd; closing it now could let the number be
 * reused under it. So the fd is parked and closed after that poll returns.
 */
void conn_defer_close(struct uvsock_dev *dev, int fd)
{
    if (dev->close_len == dev->close_cap) {
        uint32_t cap = dev->close_cap ? dev->close_cap * 2 : 16;
        int *fds = realloc(dev->close_fds, cap * sizeof(*fds));
        if (!fds) {
            /* Out of memory: shut the socket so the user sees the end; leak the number. */
            shutdown(fd, SHUT_RDWR);
            return;
        }
        dev->close_fds = fds;
        dev->close_cap = cap;
    }
    dev->close_fds[dev->close_len++] = fd;
    uvsock_wake(dev);
}

void conn_close_deferred(struct uvsock_dev *dev)
{
    for (uint32_t i = 0; i < dev->close_len; i++)
        close(dev->close_fds[i]);
    dev->close_len = 0;
}

/*
 * Credit we may still use: peer_buf_alloc - (tx_cnt - peer_fwd_cnt), computed in 64 bits and
 * clamped, so a peer that shrinks its buffer below what is in flight (or reports a fwd_cnt
 * beyond what we sent) yields 0 instead of a wrapped-around huge window.
 */
uint32_t conn_peer_free(const struct conn *c)
{
    uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
    int64_t free_space = (int64_t)c->peer_buf_alloc - (int64_t)in_flight;

    if (free_space < 0)
        return 0;
    return (uint32_t)free_space;
}
