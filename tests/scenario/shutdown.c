/* SPDX-License-Identifier: MIT */
/*
 * Shutdown in its corner cases: a peer's half-close (SHUTDOWN with SEND only) leaves our
 * sending open; SendShutdown while data waits for credit survives a peer SHUTDOWN and still
 * sends every byte, then SHUTDOWN; SendShutdown before the RESPONSE keeps the handshake; and
 * uvsock_close resets more connections than there are tx slots.
 */
#include "common.h"
#include "test.h"
#include "vsock_wire.h"

/* A packet from the host's (CID 2) side of connection {guest_port, 2, host_port}. */
static struct uvsock_sim_packet from_host(uint32_t host_port, uint32_t guest_port, uint16_t op,
                                          uint32_t flags, const struct uvsock_conn_info *ci)
{
    return (struct uvsock_sim_packet){.src_cid = 2,
                                      .dst_cid = 3,
                                      .src_port = host_port,
                                      .dst_port = guest_port,
                                      .type = 1,
                                      .op = op,
                                      .flags = flags,
                                      .buf_alloc = ci->peer_buf_alloc,
                                      .fwd_cnt = ci->peer_fwd_cnt};
}

TEST(peer_half_close)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_addr a = scn_addr(1700, 2, 6700);
    struct uvsock_conn_info ci;
    struct uvsock_sim_packet p;
    char reply[5];
    int fd, host_fd;
    uint32_t gport;

    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK_STATUS(uvsock_sim_listen(uvsock_sim(dev), 6700), UVSOCK_OK);
    CHECK(scn_connect(dev, q, 1700, 6700, &fd) == 0);
    CHECK_STATUS(uvsock_sim_accept(uvsock_sim(dev), 6700, SCN_TIMEOUT_MS, &host_fd, &gport),
                 UVSOCK_OK);
    CHECK_STATUS(uvsock_conn_info(dev, a, &ci), UVSOCK_OK);
    /* The peer shuts its sending side only, as shutdown(SHUT_WR) on Linux does. */
    p = from_host(6700, 1700, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_F_SEND, &ci);
    CHECK_STATUS(uvsock_sim_send_raw(uvsock_sim(dev), &p, NULL, 0), UVSOCK_OK);
    CHECK(expect_event(q, UVSOCK_EVENT_SHUTDOWN, &a, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_expect_eof(fd, SCN_TIMEOUT_MS, NULL) == 0);
    /* Our user answers: the bytes still reach the peer. */
    CHECK(scn_write_all(fd, "reply", 5, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(host_fd, reply, 5, SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(reply, "reply", 5) == 0);
    CHECK_STATUS(uvsock_conn_info(dev, a, &ci), UVSOCK_OK);
    CHECK_EQ(ci.state, UVSOCK_CONN_ACTIVE);
    CHECK_EQ(ci.peer_shutdown, VIRTIO_VSOCK_SHUTDOWN_F_SEND);
    /* And we can still close gracefully. */
    CHECK_STATUS(uvsock_send_shutdown(dev, a), UVSOCK_OK);
    close(host_fd);
    close(fd);
    scn_close(dev, q);
}

TEST(deferred_shutdown_survives_peer_shutdown)
{
    enum { CHUNK = 64 * 1024, TOTAL = 1 << 20 };
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_addr a = scn_addr(1701, 2, 6701);
    struct uvsock_conn_info ci;
    struct uvsock_sim_stats st;
    struct uvsock_sim_packet p;
    uint8_t *out = malloc(TOTAL), *in = malloc(TOTAL);
    int fd, host_fd, sndbuf = 2 * TOTAL;
    uint32_t gport;
    size_t written = 0;

    CHECK(out && in);
    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK_STATUS(uvsock_sim_set_host_credit(sim, 4096), UVSOCK_OK);
    CHECK_STATUS(uvsock_sim_listen(sim, 6701), UVSOCK_OK);
    CHECK(scn_connect(dev, q, 1701, 6701, &fd) == 0);
    CHECK_STATUS(uvsock_sim_accept(sim, 6701, SCN_TIMEOUT_MS, &host_fd, &gport), UVSOCK_OK);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    scn_fill(out, TOTAL, 71, 0);
    /* Nobody reads host_fd yet: most of this waits in the socket for credit. */
    while (written < TOTAL) {
        ssize_t w = send(fd, out + written, CHUNK, MSG_DONTWAIT);
        if (w <= 0)
            break;
        written += (size_t)w;
    }
    CHECK(written > 64 * 1024);
    CHECK_STATUS(uvsock_send_shutdown(dev, a), UVSOCK_OK);
    CHECK_STATUS(uvsock_conn_info(dev, a, &ci), UVSOCK_OK);
    CHECK_EQ(ci.state, UVSOCK_CONN_WILL_SHUT_DOWN);
    p = from_host(6701, 1701, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_F_SEND, &ci);
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, NULL, 0), UVSOCK_OK);
    CHECK(expect_event(q, UVSOCK_EVENT_SHUTDOWN, &a, SCN_TIMEOUT_MS, NULL) == 0);
    /* The host reads: every byte written before SendShutdown arrives, then our SHUTDOWN. */
    CHECK(scn_read_exact(host_fd, in, written, SCN_TIMEOUT_MS) == 0);
    CHECK_EQ(scn_pattern_mismatch(in, written, 71, 0), -1);
    CHECK(
        SCN_WAIT_UNTIL(scn_stats(sim, &st) == 0 && st.op_from_driver[VIRTIO_VSOCK_OP_SHUTDOWN] == 1,
                       SCN_TIMEOUT_MS));
    CHECK_EQ(st.credit_violations, 0);
    free(out);
    free(in);
    close(host_fd);
    close(fd);
    scn_close(dev, q);
}

TEST(shutdown_before_response)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_addr a = scn_addr(1702, 2, 6702);
    struct uvsock_dev_info info;
    int sv[2], host_fd;
    uint32_t gport;
    char c;

    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK_STATUS(uvsock_sim_listen(uvsock_sim(dev), 6702), UVSOCK_OK);
    CHECK(scn_socketpair(sv) == 0);
    CHECK_EQ(write(sv[0], "x", 1), 1);
    CHECK_STATUS(uvsock_send_request(dev, a, sv[1]), UVSOCK_OK);
    CHECK_STATUS(uvsock_send_shutdown(dev, a), UVSOCK_OK);
    /* The handshake completes all the same: Response, then the byte, then SHUTDOWN. */
    CHECK(expect_event(q, UVSOCK_EVENT_RESPONSE, &a, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK_STATUS(uvsock_sim_accept(uvsock_sim(dev), 6702, SCN_TIMEOUT_MS, &host_fd, &gport),
                 UVSOCK_OK);
    CHECK(scn_read_exact(host_fd, &c, 1, SCN_TIMEOUT_MS) == 0);
    CHECK_EQ(c, 'x');
    CHECK(scn_expect_eof(host_fd, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK_STATUS(uvsock_dev_info(dev, &info), UVSOCK_OK);
    CHECK_EQ(info.malformed_dropped, 0);
    close(host_fd);
    close(sv[0]);
    scn_close(dev, q);
}

static int rst_traced;

/* Counts the RSTs the debug trace reports (one line per packet sent). */
static void count_rst(void *ctx, enum uvsock_log_level level, const char *msg)
{
    (void)ctx;
    if (level == UVSOCK_LOG_DEBUG && !strncmp(msg, "tx RST", 6))
        __atomic_add_fetch(&rst_traced, 1, __ATOMIC_RELAXED);
}

TEST(close_resets_every_connection)
{
    enum { N = 300 }; /* more than the 128 tx slots */
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim_stats st;
    enum uvsock_log_level level = uvsock_get_log_level();
    int fds[N];

    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK_STATUS(uvsock_sim_listen(uvsock_sim(dev), 6703), UVSOCK_OK);
    for (int i = 0; i < N; i++)
        CHECK(scn_connect(dev, q, 3000 + (uint32_t)i, 6703, &fds[i]) == 0);
    CHECK(SCN_WAIT_UNTIL(scn_stats(uvsock_sim(dev), &st) == 0 && st.host_connections == N,
                         SCN_TIMEOUT_MS));
    /* Closing the device sends RST on every connection, though they outnumber the slots. */
    uvsock_set_log(count_rst, NULL);
    uvsock_set_log_level(UVSOCK_LOG_DEBUG);
    uvsock_close(dev);
    uvsock_set_log(NULL, NULL);
    uvsock_set_log_level(level);
    uvsock_event_queue_free(q);
    CHECK_EQ(__atomic_load_n(&rst_traced, __ATOMIC_RELAXED), N);
    for (int i = 0; i < N; i++)
        close(fds[i]);
}

int main(void)
{
    scn_init();
    RUN(peer_half_close);
    RUN(deferred_shutdown_survives_peer_shutdown);
    RUN(shutdown_before_response);
    RUN(close_resets_every_connection);
    TEST_EXIT();
}
