/* SPDX-License-Identifier: MIT */
/*
 * Introspection: per-connection counters after traffic, what blocks a connection (peer credit,
 * our user not reading) and the credit packets around it, and the device/virtqueue counters.
 */
#include <pthread.h>
#include <stdlib.h>

#include "common.h"

static int info(struct uvsock_dev *dev, struct uvsock_addr a, struct uvsock_conn_info *ci)
{
    int r = uvsock_conn_info(dev, a, ci);

    if (r != UVSOCK_OK)
        scn_fail("uvsock_conn_info({%u, %u, %u}) = %s", a.local_port, a.remote_cid, a.remote_port,
                 uvsock_status_str(r));
    return r == UVSOCK_OK;
}

TEST(counters)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_conn_info ci;
    struct uvsock_addr a = scn_addr(1600, UVSOCK_CID_HOST, 6300);
    static uint8_t out[300000], in[300000];
    const size_t x = 300000, y = 123457;
    int fd, host_fd;
    uint32_t gport;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK_STATUS(uvsock_conn_info(dev, a, &ci), UVSOCK_ERR_NOT_FOUND);
    CHECK_STATUS(uvsock_sim_listen(sim, 6300), UVSOCK_OK);
    CHECK(scn_connect(dev, q, 1600, 6300, &fd) == 0);
    CHECK_STATUS(uvsock_sim_accept(sim, 6300, SCN_TIMEOUT_MS, &host_fd, &gport), UVSOCK_OK);
    CHECK(info(dev, a, &ci));
    CHECK(scn_addr_eq(ci.addr, a));
    CHECK_EQ(ci.state, UVSOCK_CONN_ACTIVE);
    CHECK(ci.created_ns != 0);
    CHECK(ci.buf_alloc > 0);
    CHECK_EQ(ci.peer_buf_alloc, 262144);
    CHECK_EQ(ci.bytes_sent, 0);
    CHECK_EQ(ci.bytes_received, 0);

    scn_fill(out, x, 51, 0);
    CHECK(scn_write_all(fd, out, x, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(host_fd, in, x, SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(in, out, x) == 0);
    scn_fill(out, y, 52, 0);
    CHECK(scn_write_all(host_fd, out, y, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(fd, in, y, SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(in, out, y) == 0);

    CHECK(info(dev, a, &ci));
    CHECK_EQ(ci.bytes_sent, x);
    CHECK_EQ(ci.tx_cnt, (uint32_t)x);
    CHECK_EQ(ci.bytes_received, y);
    CHECK_EQ(ci.rx_cnt, (uint32_t)y);
    CHECK_EQ(ci.fwd_cnt, (uint32_t)y); /* all of it went into our user's socket */
    CHECK_EQ(ci.held, 0);
    CHECK_EQ(ci.sock_unread, 0); /* and we read it all */
    CHECK(ci.in_flight <= ci.peer_buf_alloc);
    CHECK_EQ(ci.in_flight, (uint32_t)(ci.tx_cnt - ci.peer_fwd_cnt));
    CHECK(ci.peer_free <= ci.peer_buf_alloc);
    CHECK_EQ(ci.vmo_remaining, 0);
    CHECK_EQ(ci.peer_shutdown, 0);
    CHECK_EQ(ci.blocked_on, UVSOCK_BLOCKED_NOTHING);
    CHECK(strcmp(uvsock_conn_state_str(ci.state), "") != 0);
    CHECK(strcmp(uvsock_blocked_on_str(ci.blocked_on), "") != 0);

    /*
     * Unread bytes in our user's socket show in sock_unread. It comes from SIOCOUTQ, which for
     * AF_UNIX counts socket memory (skb truesize, 768 for these 5 bytes on Linux 6.x), not
     * bytes: only "at least the bytes" and "0 once read" are asserted.
     */
    CHECK(scn_write_all(host_fd, "12345", 5, SCN_TIMEOUT_MS) == 0);
    CHECK(SCN_WAIT_UNTIL(info(dev, a, &ci) && ci.sock_unread >= 5, SCN_TIMEOUT_MS));
    CHECK_EQ(ci.rx_cnt, (uint32_t)y + 5);
    CHECK(scn_read_exact(fd, in, 5, SCN_TIMEOUT_MS) == 0);
    CHECK(SCN_WAIT_UNTIL(info(dev, a, &ci) && ci.sock_unread == 0, SCN_TIMEOUT_MS));
    close(fd);
    close(host_fd);
    scn_close(dev, q);
}

struct writer {
    int fd;
    size_t n;
    int result;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    uint8_t *buf = malloc(w->n);

    if (!buf) {
        w->result = -1;
        return NULL;
    }
    scn_fill(buf, w->n, 53, 0);
    w->result = scn_write_all(w->fd, buf, w->n, 3 * SCN_TIMEOUT_MS);
    free(buf);
    return NULL;
}

TEST(blocked_on_peer_credit)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st;
    struct uvsock_conn_info ci;
    struct uvsock_addr a = scn_addr(1610, UVSOCK_CID_HOST, 6310);
    struct writer w;
    pthread_t t;
    uint8_t *got;
    int fd, host_fd;
    uint32_t gport;
    long long bad;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK_STATUS(uvsock_sim_set_host_credit(sim, 4096), UVSOCK_OK);
    CHECK_STATUS(uvsock_sim_listen(sim, 6310), UVSOCK_OK);
    CHECK(scn_connect(dev, q, 1610, 6310, &fd) == 0);
    CHECK_STATUS(uvsock_sim_accept(sim, 6310, SCN_TIMEOUT_MS, &host_fd, &gport), UVSOCK_OK);
    w = (struct writer){.fd = fd, .n = 1u << 20};
    CHECK(pthread_create(&t, NULL, writer_main, &w) == 0);
    /* Nobody reads host_fd: the host stops consuming, its credit runs out. The driver asks for
     * credit while it waits. */
    if (!SCN_WAIT_UNTIL(info(dev, a, &ci) && ci.blocked_on == UVSOCK_BLOCKED_PEER_CREDIT &&
                            ci.credit_request_sent_ns != 0,
                        SCN_TIMEOUT_MS)) {
        scn_fail("blocked_on %s, peer_free %u, credit_request_sent_ns %llu",
                 uvsock_blocked_on_str(ci.blocked_on), ci.peer_free,
                 (unsigned long long)ci.credit_request_sent_ns);
        shutdown(host_fd, SHUT_RDWR);
        shutdown(fd, SHUT_RDWR);
        pthread_join(t, NULL);
        CHECK(0);
    }
    CHECK_EQ(ci.peer_free, 0);
    CHECK_EQ(ci.peer_buf_alloc, 4096);
    CHECK(ci.blocked_since_ns != 0);
    CHECK(ci.in_flight <= ci.peer_buf_alloc);
    CHECK(ci.sock_unsent > 0); /* the writer's bytes wait in the socket, not in our buffers */
    /* The CREDIT_REQUEST reaches the wire (the device may not have taken it yet). */
    CHECK(SCN_WAIT_UNTIL(scn_stats(sim, &st) == 0 && st.op_from_driver[7] > 0, SCN_TIMEOUT_MS));
    CHECK_EQ(st.credit_violations, 0);
    /* Now the host reads: everything arrives, in order. */
    got = malloc(w.n);
    CHECK(got != NULL);
    CHECK(scn_read_exact(host_fd, got, w.n, SCN_TIMEOUT_MS) == 0);
    pthread_join(t, NULL);
    CHECK_EQ(w.result, 0);
    bad = scn_pattern_mismatch(got, w.n, 53, 0);
    CHECK_EQ(bad, -1);
    free(got);
    CHECK(SCN_WAIT_UNTIL(info(dev, a, &ci) && ci.blocked_on == UVSOCK_BLOCKED_NOTHING,
                         SCN_TIMEOUT_MS));
    CHECK_EQ(ci.bytes_sent, 1u << 20);
    CHECK(scn_stats(sim, &st) == 0);
    CHECK_EQ(st.credit_violations, 0);
    close(fd);
    close(host_fd);
    scn_close(dev, q);
}

TEST(blocked_on_user_read)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_conn_info ci;
    struct uvsock_addr a = scn_addr(1620, UVSOCK_CID_HOST, 19);
    uint8_t *buf = malloc(65536);
    uint64_t off = 0, first_update;
    int fd;

    CHECK(buf != NULL);
    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK(scn_connect(dev, q, 1620, 19, &fd) == 0);
    if (!SCN_WAIT_UNTIL(info(dev, a, &ci) && ci.blocked_on == UVSOCK_BLOCKED_USER_READ &&
                            ci.held > 0,
                        SCN_TIMEOUT_MS)) {
        scn_fail("blocked_on %s, held %u", uvsock_blocked_on_str(ci.blocked_on), ci.held);
        CHECK(0);
    }
    /* The source keeps pushing; we never hold more than we advertised. */
    for (int i = 0; i < 20; i++) {
        CHECK(info(dev, a, &ci));
        CHECK(ci.held <= ci.buf_alloc);
        CHECK((uint32_t)(ci.rx_cnt - ci.fwd_cnt) <= ci.buf_alloc);
        CHECK_EQ(ci.held, (uint32_t)(ci.rx_cnt - ci.fwd_cnt));
        CHECK(ci.sock_unread > 0);
        scn_sleep_ms(10);
    }
    CHECK_EQ(ci.blocked_on, UVSOCK_BLOCKED_USER_READ);
    first_update = ci.credit_update_sent_ns;
    /* Reading everything lets the stream go on: the driver tells the peer about the space. */
    while (off < (4u << 20)) {
        CHECK(scn_read_exact(fd, buf, 65536, SCN_TIMEOUT_MS) == 0);
        for (size_t i = 0; i < 65536; i++) {
            if (buf[i] != uvsock_sim_source_byte(off + i)) {
                scn_fail("source byte %llu wrong", (unsigned long long)(off + i));
                CHECK(0);
            }
        }
        off += 65536;
    }
    CHECK(info(dev, a, &ci));
    CHECK(ci.credit_update_sent_ns != 0);
    CHECK(ci.credit_update_sent_ns >= first_update);
    CHECK(ci.bytes_received >= off);
    free(buf);
    close(fd);
    scn_close(dev, q);
}

TEST(device_info)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_dev_info d;
    int fd;

    CHECK(scn_open("sim:cid=9", &dev, &q) == 0);
    CHECK(scn_connect(dev, q, 1630, 7, &fd) == 0);
    CHECK(scn_echo_check(fd, 100000, 54) == 0);
    CHECK_STATUS(uvsock_dev_info(dev, &d), UVSOCK_OK);
    CHECK(strncmp(d.uri, "sim", 3) == 0);
    CHECK_EQ(d.cid, 9);
    CHECK(d.started);
    CHECK(d.features & (1ull << 32)); /* VIRTIO_F_VERSION_1 */
    CHECK_EQ(d.connections, 1);
    CHECK(d.packets_sent > 0);
    CHECK(d.packets_received > 0);
    CHECK(d.interrupts > 0);
    CHECK_EQ(d.malformed_dropped, 0);
    CHECK(strcmp(d.vq[0].name, "rx") == 0);
    CHECK(strcmp(d.vq[1].name, "tx") == 0);
    CHECK(strcmp(d.vq[2].name, "event") == 0);
    for (int i = 0; i < 3; i++) {
        CHECK(d.vq[i].size > 0);
        CHECK(d.vq[i].kicks > 0);
        CHECK(d.vq[i].num_free <= d.vq[i].size);
        CHECK_EQ(d.vq[i].bad_used, 0);
    }
    CHECK(d.vq[0].interrupts > 0);
    CHECK(d.vq[0].size >= 32);
    close(fd);
    scn_close(dev, q);
}

int main(void)
{
    scn_init();
    RUN(counters);
    RUN(blocked_on_peer_credit);
    RUN(blocked_on_user_read);
    RUN(device_info);
    TEST_EXIT();
}
