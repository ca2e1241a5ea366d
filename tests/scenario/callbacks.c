/* SPDX-License-Identifier: MIT */
/*
 * Every Callback, with the Addr it must carry: Response, Request (host-initiated connect),
 * Rst (refused connect, host abort), Shutdown (host closes), TransportReset (event and CID
 * change), SendVmoComplete.
 */
#include "common.h"

TEST(response_from_echo)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_event ev;
    struct uvsock_addr a = scn_addr(1200, UVSOCK_CID_HOST, 7);
    int sv[2];

    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK(scn_socketpair(sv) == 0);
    CHECK_STATUS(uvsock_send_request(dev, a, sv[1]), UVSOCK_OK);
    CHECK(expect_event(q, UVSOCK_EVENT_RESPONSE, &a, SCN_TIMEOUT_MS, &ev) == 0);
    CHECK_EQ(ev.seq, 1);
    CHECK(ev.time_ns != 0);
    CHECK(scn_echo_check(sv[0], 3000, 1) == 0);
    CHECK(expect_no_event(q, 50) == 0);
    close(sv[0]);
    scn_close(dev, q);
}

TEST(request_from_host)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_addr a;
    uint32_t hport = 0;
    int host_fd = -1, sv[2];
    char buf[64];

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK_STATUS(uvsock_sim_connect(sim, 4000, 0, &host_fd, &hport), UVSOCK_OK);
    CHECK(hport >= (1u << 30) && hport < (1u << 31));
    a = scn_addr(4000, UVSOCK_CID_HOST, hport);
    CHECK(expect_event(q, UVSOCK_EVENT_REQUEST, &a, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_socketpair(sv) == 0);
    CHECK_STATUS(uvsock_send_response(dev, a, sv[1]), UVSOCK_OK);
    /* Host -> guest. */
    CHECK(scn_write_all(host_fd, "hello guest", 11, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(sv[0], buf, 11, SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(buf, "hello guest", 11) == 0);
    /* Guest -> host. */
    CHECK(scn_write_all(sv[0], "hello host!", 11, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(host_fd, buf, 11, SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(buf, "hello host!", 11) == 0);
    /* A chosen host port is used as given. */
    {
        int fd2;
        uint32_t hp2 = 0;
        struct uvsock_addr b = scn_addr(4001, UVSOCK_CID_HOST, 6543);
        CHECK_STATUS(uvsock_sim_connect(sim, 4001, 6543, &fd2, &hp2), UVSOCK_OK);
        CHECK_EQ(hp2, 6543);
        CHECK(expect_event(q, UVSOCK_EVENT_REQUEST, &b, SCN_TIMEOUT_MS, NULL) == 0);
        /* Refusing it: the host program sees EOF. */
        CHECK_STATUS(uvsock_send_rst(dev, b), UVSOCK_OK);
        CHECK(scn_expect_eof(fd2, SCN_TIMEOUT_MS, NULL) == 0);
        close(fd2);
    }
    CHECK(expect_no_event(q, 50) == 0);
    close(host_fd);
    close(sv[0]);
    scn_close(dev, q);
}

TEST(rst_refused)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_addr a = scn_addr(1210, UVSOCK_CID_HOST, 4444);
    size_t count = 9;
    int sv[2];

    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK(scn_socketpair(sv) == 0);
    CHECK_STATUS(uvsock_send_request(dev, a, sv[1]), UVSOCK_OK);
    CHECK(expect_event(q, UVSOCK_EVENT_RST, &a, SCN_TIMEOUT_MS, NULL) == 0);
    /* The connection is gone and its socket closed by the device. */
    CHECK_STATUS(uvsock_conn_list(dev, NULL, 0, &count), UVSOCK_OK);
    CHECK_EQ(count, 0);
    CHECK(scn_expect_eof(sv[0], SCN_TIMEOUT_MS, NULL) == 0);
    close(sv[0]);
    scn_close(dev, q);
}

/* The host program closes its end: SHUTDOWN -> Shutdown callback, EOF after the data; SendRst. */
TEST(shutdown_from_host_then_rst)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st;
    struct uvsock_conn_info ci;
    struct uvsock_addr a = scn_addr(1220, UVSOCK_CID_HOST, 6000);
    int fd, host_fd;
    uint32_t gport;
    uint8_t data[20000], got[20000];

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK_STATUS(uvsock_sim_listen(sim, 6000), UVSOCK_OK);
    CHECK(scn_connect(dev, q, 1220, 6000, &fd) == 0);
    CHECK_STATUS(uvsock_sim_accept(sim, 6000, SCN_TIMEOUT_MS, &host_fd, &gport), UVSOCK_OK);
    CHECK_EQ(gport, 1220);
    scn_fill(data, sizeof(data), 5, 0);
    CHECK(scn_write_all(host_fd, data, sizeof(data), SCN_TIMEOUT_MS) == 0);
    close(host_fd);
    CHECK(expect_event(q, UVSOCK_EVENT_SHUTDOWN, &a, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_read_exact(fd, got, sizeof(got), SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    CHECK(scn_expect_eof(fd, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK_STATUS(uvsock_conn_info(dev, a, &ci), UVSOCK_OK);
    CHECK_EQ(ci.state, UVSOCK_CONN_PEER_SHUT_DOWN);
    CHECK_EQ(ci.peer_shutdown, 3);
    /* A second Shutdown of our own is refused now, SendRst ends it. */
    CHECK_STATUS(uvsock_send_shutdown(dev, a), UVSOCK_ERR_BAD_STATE);
    CHECK_STATUS(uvsock_send_rst(dev, a), UVSOCK_OK);
    CHECK_STATUS(uvsock_conn_info(dev, a, &ci), UVSOCK_ERR_NOT_FOUND);
    CHECK(SCN_WAIT_UNTIL(scn_stats(sim, &st) == 0 && st.host_connections == 0, SCN_TIMEOUT_MS));
    CHECK_EQ(st.last_rst_from_driver.src_port, 1220);
    CHECK_EQ(st.last_rst_from_driver.dst_port, 6000);
    CHECK_EQ(st.last_rst_from_driver.dst_cid, 2);
    CHECK_EQ(st.last_rst_from_driver.src_cid, 3);
    /* SendRst raises no callback of its own. */
    CHECK(expect_no_event(q, 100) == 0);
    close(fd);
    scn_close(dev, q);
}

/* Host-initiated connection whose host program closes: Shutdown with the Request's addr. */
TEST(shutdown_host_initiated)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_addr a;
    uint32_t hport;
    int host_fd, sv[2];
    char buf[8];

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK_STATUS(uvsock_sim_connect(sim, 4100, 0, &host_fd, &hport), UVSOCK_OK);
    a = scn_addr(4100, UVSOCK_CID_HOST, hport);
    CHECK(expect_event(q, UVSOCK_EVENT_REQUEST, &a, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_socketpair(sv) == 0);
    CHECK_STATUS(uvsock_send_response(dev, a, sv[1]), UVSOCK_OK);
    CHECK(scn_write_all(host_fd, "bye!", 4, SCN_TIMEOUT_MS) == 0);
    /* Make sure the connection is up before closing: echo one byte guest -> host. */
    CHECK(scn_write_all(sv[0], "x", 1, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(host_fd, buf, 1, SCN_TIMEOUT_MS) == 0);
    close(host_fd);
    CHECK(expect_event(q, UVSOCK_EVENT_SHUTDOWN, &a, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_read_exact(sv[0], buf, 4, SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(buf, "bye!", 4) == 0);
    CHECK(scn_expect_eof(sv[0], SCN_TIMEOUT_MS, NULL) == 0);
    CHECK_STATUS(uvsock_send_rst(dev, a), UVSOCK_OK);
    close(sv[0]);
    scn_close(dev, q);
}

TEST(transport_reset)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_event ev;
    struct uvsock_dev_info di;
    size_t count = 99;
    int fd1, fd2, fd3, host_fd, sv[2];
    uint32_t hport;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(scn_connect(dev, q, 1230, 7, &fd1) == 0);
    CHECK(scn_connect(dev, q, 1231, 19, &fd2) == 0);
    CHECK_STATUS(uvsock_sim_connect(sim, 4200, 0, &host_fd, &hport), UVSOCK_OK);
    {
        struct uvsock_addr a = scn_addr(4200, UVSOCK_CID_HOST, hport);
        CHECK(expect_event(q, UVSOCK_EVENT_REQUEST, &a, SCN_TIMEOUT_MS, NULL) == 0);
        CHECK(scn_socketpair(sv) == 0);
        CHECK_STATUS(uvsock_send_response(dev, a, sv[1]), UVSOCK_OK);
    }
    CHECK(scn_echo_check(fd1, 1000, 2) == 0);
    CHECK_STATUS(uvsock_sim_transport_reset(sim, 1), UVSOCK_ERR_INVALID_ARGS);
    CHECK_STATUS(uvsock_sim_transport_reset(sim, 2), UVSOCK_ERR_INVALID_ARGS);
    CHECK_STATUS(uvsock_sim_transport_reset(sim, 77), UVSOCK_OK);
    CHECK(expect_event(q, UVSOCK_EVENT_TRANSPORT_RESET, NULL, SCN_TIMEOUT_MS, &ev) == 0);
    CHECK_EQ(ev.new_cid, 77);
    CHECK_EQ(uvsock_get_cid(dev), 77);
    CHECK_STATUS(uvsock_conn_list(dev, NULL, 0, &count), UVSOCK_OK);
    CHECK_EQ(count, 0);
    CHECK_STATUS(uvsock_dev_info(dev, &di), UVSOCK_OK);
    CHECK_EQ(di.cid, 77);
    CHECK(di.transport_resets >= 1);
    /* Old user sockets end (the source may leave unread bytes before the EOF). */
    CHECK(scn_expect_eof(fd1, SCN_TIMEOUT_MS, NULL) == 0);
    {
        size_t extra;
        CHECK(scn_expect_eof(fd2, SCN_TIMEOUT_MS, &extra) == 0);
        CHECK(scn_expect_eof(sv[0], SCN_TIMEOUT_MS, NULL) == 0);
    }
    /* The host side dropped its connections too. */
    CHECK(scn_expect_eof(host_fd, SCN_TIMEOUT_MS, NULL) == 0);
    /* No per-connection callback. */
    CHECK(expect_no_event(q, 100) == 0);
    /* A new connection works, even on an old addr. */
    CHECK(scn_connect(dev, q, 1230, 7, &fd3) == 0);
    CHECK(scn_echo_check(fd3, 50000, 3) == 0);
    /* new_cid 0 keeps the CID. */
    CHECK_STATUS(uvsock_sim_transport_reset(sim, 0), UVSOCK_OK);
    CHECK(expect_event(q, UVSOCK_EVENT_TRANSPORT_RESET, NULL, SCN_TIMEOUT_MS, &ev) == 0);
    CHECK_EQ(ev.new_cid, 77);
    CHECK(scn_expect_eof(fd3, SCN_TIMEOUT_MS, NULL) == 0);
    close(fd1);
    close(fd2);
    close(fd3);
    close(sv[0]);
    close(host_fd);
    scn_close(dev, q);
}

TEST(cid_change_is_reset)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_event ev;
    size_t count = 99;
    int fd, fd2;

    CHECK(scn_open("sim:cid=5", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(scn_connect(dev, q, 1240, 7, &fd) == 0);
    CHECK_STATUS(uvsock_sim_set_cid(sim, 42), UVSOCK_OK);
    CHECK(expect_event(q, UVSOCK_EVENT_TRANSPORT_RESET, NULL, SCN_TIMEOUT_MS, &ev) == 0);
    CHECK_EQ(ev.new_cid, 42);
    CHECK_EQ(uvsock_get_cid(dev), 42);
    CHECK_STATUS(uvsock_conn_list(dev, NULL, 0, &count), UVSOCK_OK);
    CHECK_EQ(count, 0);
    CHECK(scn_expect_eof(fd, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_connect(dev, q, 1241, 7, &fd2) == 0);
    CHECK(scn_echo_check(fd2, 10000, 8) == 0);
    close(fd);
    close(fd2);
    scn_close(dev, q);
}

TEST(send_vmo_complete)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_addr a = scn_addr(1250, UVSOCK_CID_HOST, 6100);
    const size_t n = 300000;
    uint8_t *got = malloc(n);
    int fd, host_fd, vmo;
    uint32_t gport;
    long long bad;

    CHECK(got != NULL);
    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK_STATUS(uvsock_sim_listen(sim, 6100), UVSOCK_OK);
    CHECK(scn_connect(dev, q, 1250, 6100, &fd) == 0);
    CHECK_STATUS(uvsock_sim_accept(sim, 6100, SCN_TIMEOUT_MS, &host_fd, &gport), UVSOCK_OK);
    vmo = scn_memfd_pattern(n, 11);
    CHECK(vmo >= 0);
    CHECK_STATUS(uvsock_send_vmo(dev, a, vmo, 0, n), UVSOCK_OK);
    close(vmo); /* the device has its own reference */
    CHECK(scn_read_exact(host_fd, got, n, SCN_TIMEOUT_MS) == 0);
    bad = scn_pattern_mismatch(got, n, 11, 0);
    CHECK_EQ(bad, -1);
    CHECK(expect_event(q, UVSOCK_EVENT_SEND_VMO_COMPLETE, &a, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_expect_quiet(host_fd, 50) == 0);
    free(got);
    close(fd);
    close(host_fd);
    scn_close(dev, q);
}

int main(void)
{
    scn_init();
    RUN(response_from_echo);
    RUN(request_from_host);
    RUN(rst_refused);
    RUN(shutdown_from_host_then_rst);
    RUN(shutdown_host_initiated);
    RUN(transport_reset);
    RUN(cid_change_is_reset);
    RUN(send_vmo_complete);
    TEST_EXIT();
}
