/* SPDX-License-Identifier: MIT */
/*
 * Every Device call's status codes, as the Fuchsia driver returns them (reference/peers.md
 * §1.4) plus uvsock's checks of the fds it is handed, and uvsock_open's errors.
 */
#include <netinet/in.h>
#include <stdlib.h>

#include "common.h"

TEST(before_start)
{
    struct uvsock_dev *dev = NULL;
    struct uvsock_addr a = scn_addr(1100, UVSOCK_CID_HOST, 7);
    int sv[2], vmo;

    CHECK_STATUS(uvsock_open("sim", &dev), UVSOCK_OK);
    CHECK(scn_socketpair(sv) == 0);
    vmo = scn_memfd_pattern(4096, 1);
    CHECK(vmo >= 0);
    CHECK_EQ(uvsock_get_cid(dev), 3);
    CHECK_STATUS(uvsock_send_request(dev, a, sv[1]), UVSOCK_ERR_BAD_STATE);
    CHECK_STATUS(uvsock_send_response(dev, a, sv[1]), UVSOCK_ERR_BAD_STATE);
    CHECK_STATUS(uvsock_send_shutdown(dev, a), UVSOCK_ERR_BAD_STATE);
    CHECK_STATUS(uvsock_send_vmo(dev, a, vmo, 0, 4096), UVSOCK_ERR_BAD_STATE);
    CHECK_STATUS(uvsock_send_rst(dev, a), UVSOCK_OK);
    /* The caller keeps its fd on error. */
    CHECK(scn_fd_is_open(sv[1]));
    close(sv[0]);
    close(sv[1]);
    close(vmo);
    uvsock_close(dev);
}

TEST(cid_option)
{
    struct uvsock_dev *dev = NULL;

    CHECK_STATUS(uvsock_open("sim:cid=5", &dev), UVSOCK_OK);
    CHECK_EQ(uvsock_get_cid(dev), 5);
    uvsock_close(dev);
}

TEST(already_bound)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_addr a = scn_addr(1101, UVSOCK_CID_HOST, 7);
    int fd, sv[2];

    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK(scn_connect(dev, q, 1101, 7, &fd) == 0);
    CHECK(scn_socketpair(sv) == 0);
    CHECK_STATUS(uvsock_send_request(dev, a, sv[1]), UVSOCK_ERR_ALREADY_BOUND);
    CHECK_STATUS(uvsock_send_response(dev, a, sv[1]), UVSOCK_ERR_ALREADY_BOUND);
    CHECK(scn_fd_is_open(sv[1]));
    /* The existing connection is untouched. */
    CHECK(scn_echo_check(fd, 1000, 3) == 0);
    /* An accepted host-initiated connection: a second SendResponse/SendRequest is refused. */
    {
        struct uvsock_sim *sim = uvsock_sim(dev);
        struct uvsock_addr b;
        uint32_t hport;
        int host_fd, sv2[2];
        char c;
        CHECK_STATUS(uvsock_sim_connect(sim, 1103, 0, &host_fd, &hport), UVSOCK_OK);
        b = scn_addr(1103, UVSOCK_CID_HOST, hport);
        CHECK(expect_event(q, UVSOCK_EVENT_REQUEST, &b, SCN_TIMEOUT_MS, NULL) == 0);
        CHECK(scn_socketpair(sv2) == 0);
        CHECK_STATUS(uvsock_send_response(dev, b, sv2[1]), UVSOCK_OK);
        CHECK_STATUS(uvsock_send_response(dev, b, sv[1]), UVSOCK_ERR_ALREADY_BOUND);
        CHECK_STATUS(uvsock_send_request(dev, b, sv[1]), UVSOCK_ERR_ALREADY_BOUND);
        CHECK(scn_write_all(host_fd, "h", 1, SCN_TIMEOUT_MS) == 0);
        CHECK(scn_read_exact(sv2[0], &c, 1, SCN_TIMEOUT_MS) == 0);
        close(host_fd);
        CHECK(expect_event(q, UVSOCK_EVENT_SHUTDOWN, &b, SCN_TIMEOUT_MS, NULL) == 0);
        CHECK_STATUS(uvsock_send_rst(dev, b), UVSOCK_OK);
        close(sv2[0]);
    }
    /* SendResponse to a Request never seen is accepted (as in Fuchsia); the host, which knows
     * no such connection, answers RST. */
    {
        struct uvsock_addr b = scn_addr(1102, UVSOCK_CID_HOST, 4321);
        int sv2[2];
        CHECK(scn_socketpair(sv2) == 0);
        CHECK_STATUS(uvsock_send_response(dev, b, sv2[1]), UVSOCK_OK);
        CHECK(expect_event(q, UVSOCK_EVENT_RST, &b, SCN_TIMEOUT_MS, NULL) == 0);
        close(sv2[0]);
    }
    close(sv[0]);
    close(sv[1]);
    close(fd);
    scn_close(dev, q);
}

TEST(shutdown_codes)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_addr a = scn_addr(1110, UVSOCK_CID_HOST, 7);
    int fd;

    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK_STATUS(uvsock_send_shutdown(dev, scn_addr(999, 2, 7)), UVSOCK_ERR_BAD_STATE);
    CHECK(scn_connect(dev, q, 1110, 7, &fd) == 0);
    CHECK_STATUS(uvsock_send_shutdown(dev, a), UVSOCK_OK);
    CHECK_STATUS(uvsock_send_shutdown(dev, a), UVSOCK_ERR_BAD_STATE);
    /* The host answers SHUTDOWN(RCV|SEND) with RST. */
    CHECK(expect_event(q, UVSOCK_EVENT_RST, &a, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK_STATUS(uvsock_send_shutdown(dev, a), UVSOCK_ERR_BAD_STATE);
    CHECK(scn_expect_eof(fd, SCN_TIMEOUT_MS, NULL) == 0);
    close(fd);
    scn_close(dev, q);
}

TEST(vmo_codes)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_addr a;
    const size_t big = 4u << 20;
    int fd = -1, host_fd = -1, vmo, p[2], udp;
    uint32_t gport = 0;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(sim != NULL);
    vmo = scn_memfd_pattern(big, 7);
    CHECK(vmo >= 0);
    CHECK_STATUS(uvsock_send_vmo(dev, scn_addr(1, 2, 7), vmo, 0, 10), UVSOCK_ERR_NOT_FOUND);

    /* A listener whose host fd nobody reads, and credit 4096: the VMO stays pending. */
    CHECK_STATUS(uvsock_sim_set_host_credit(sim, 4096), UVSOCK_OK);
    CHECK_STATUS(uvsock_sim_listen(sim, 5555), UVSOCK_OK);
    CHECK(scn_connect(dev, q, 1120, 5555, &fd) == 0);
    a = scn_addr(1120, UVSOCK_CID_HOST, 5555);
    CHECK_STATUS(uvsock_sim_accept(sim, 5555, SCN_TIMEOUT_MS, &host_fd, &gport), UVSOCK_OK);
    CHECK_EQ(gport, 1120);

    CHECK_STATUS(uvsock_send_vmo(dev, a, vmo, 0, 0), UVSOCK_ERR_INVALID_ARGS);
    CHECK_STATUS(uvsock_send_vmo(dev, a, vmo, UINT64_MAX - 5, 10), UVSOCK_ERR_INVALID_ARGS);
    CHECK_STATUS(uvsock_send_vmo(dev, a, vmo, big - 10, 11), UVSOCK_ERR_OUT_OF_RANGE);
    CHECK_STATUS(uvsock_send_vmo(dev, a, vmo, big + 1, 1), UVSOCK_ERR_OUT_OF_RANGE);
    CHECK_STATUS(uvsock_send_vmo(dev, a, -1, 0, 10), UVSOCK_ERR_BAD_HANDLE);
    /* The handle is checked first, as the FIDL transport would, before the address. */
    CHECK_STATUS(uvsock_send_vmo(dev, scn_addr(9, 2, 9), -1, 0, 0), UVSOCK_ERR_BAD_HANDLE);
    CHECK(pipe(p) == 0);
    CHECK_STATUS(uvsock_send_vmo(dev, a, p[0], 0, 10), UVSOCK_ERR_WRONG_TYPE);
    CHECK(scn_fd_is_open(p[0]));
    {
        int closed = dup(p[0]);
        close(closed);
        CHECK_STATUS(uvsock_send_vmo(dev, a, closed, 0, 10), UVSOCK_ERR_BAD_HANDLE);
    }
    udp = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(udp >= 0);
    CHECK_STATUS(uvsock_send_vmo(dev, a, udp, 0, 10), UVSOCK_ERR_WRONG_TYPE);
    close(udp);

    CHECK_STATUS(uvsock_send_vmo(dev, a, vmo, 0, big), UVSOCK_OK);
    CHECK_STATUS(uvsock_send_vmo(dev, a, vmo, 0, 100), UVSOCK_ERR_BAD_STATE);
    /* The device duplicated the fd: the caller's fd stays ours. */
    CHECK(scn_fd_is_open(vmo));
    CHECK(expect_no_event(q, 200) == 0);

    close(p[0]);
    close(p[1]);
    close(vmo);
    close(host_fd);
    close(fd);
    scn_close(dev, q);
}

TEST(bad_sockets)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_addr a = scn_addr(1130, UVSOCK_CID_HOST, 7);
    int p[2], udp, tcp, closed, dgram[2], fd;

    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK(pipe(p) == 0);
    CHECK_STATUS(uvsock_send_request(dev, a, p[1]), UVSOCK_ERR_WRONG_TYPE);
    CHECK_STATUS(uvsock_send_response(dev, a, p[0]), UVSOCK_ERR_WRONG_TYPE);
    CHECK(scn_fd_is_open(p[0]) && scn_fd_is_open(p[1]));
    udp = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(udp >= 0);
    CHECK_STATUS(uvsock_send_request(dev, a, udp), UVSOCK_ERR_WRONG_TYPE);
    CHECK(scn_fd_is_open(udp));
    tcp = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(tcp >= 0);
    CHECK_STATUS(uvsock_send_request(dev, a, tcp), UVSOCK_ERR_WRONG_TYPE);
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, dgram) == 0);
    CHECK_STATUS(uvsock_send_request(dev, a, dgram[1]), UVSOCK_ERR_WRONG_TYPE);
    closed = dup(p[0]);
    close(closed);
    CHECK_STATUS(uvsock_send_request(dev, a, closed), UVSOCK_ERR_BAD_HANDLE);
    CHECK_STATUS(uvsock_send_request(dev, a, -1), UVSOCK_ERR_BAD_HANDLE);
    CHECK_STATUS(uvsock_send_response(dev, a, -1), UVSOCK_ERR_BAD_HANDLE);
    /* None of these bound the addr: a good socket still connects. */
    CHECK(expect_no_event(q, 100) == 0);
    CHECK(scn_connect(dev, q, 1130, 7, &fd) == 0);
    CHECK(scn_echo_check(fd, 100, 9) == 0);
    close(fd);
    close(p[0]);
    close(p[1]);
    close(udp);
    close(tcp);
    close(dgram[0]);
    close(dgram[1]);
    scn_close(dev, q);
}

TEST(start_twice_resets)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q, *q2;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st0, st1;
    size_t count = 99;
    int fd1, fd2, fd3;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(scn_connect(dev, q, 1140, 7, &fd1) == 0);
    CHECK(scn_connect(dev, q, 1141, 7, &fd2) == 0);
    CHECK(scn_stats(sim, &st0) == 0);
    CHECK_EQ(st0.host_connections, 2);
    CHECK_STATUS(uvsock_event_queue_new(&q2), UVSOCK_OK);
    CHECK_STATUS(uvsock_start_event_queue(dev, q2), UVSOCK_OK);
    CHECK_STATUS(uvsock_conn_list(dev, NULL, 0, &count), UVSOCK_OK);
    CHECK_EQ(count, 0);
    /* The peer saw an RST for each. */
    CHECK(SCN_WAIT_UNTIL(scn_stats(sim, &st1) == 0 &&
                             st1.op_from_driver[3] >= st0.op_from_driver[3] + 2 &&
                             st1.host_connections == 0,
                         SCN_TIMEOUT_MS));
    CHECK(scn_expect_eof(fd1, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_expect_eof(fd2, SCN_TIMEOUT_MS, NULL) == 0);
    /* Events go to the new queue now; the same addr can be used again. */
    CHECK(scn_connect(dev, q2, 1140, 7, &fd3) == 0);
    CHECK(scn_echo_check(fd3, 5000, 4) == 0);
    CHECK_EQ(uvsock_event_queue_len(q), 0);
    close(fd1);
    close(fd2);
    close(fd3);
    uvsock_close(dev);
    uvsock_event_queue_free(q);
    uvsock_event_queue_free(q2);
}

TEST(status_names)
{
    CHECK(strcmp(uvsock_status_str(UVSOCK_OK), "ZX_OK") == 0);
    CHECK(strcmp(uvsock_status_str(UVSOCK_ERR_BAD_STATE), "ZX_ERR_BAD_STATE") == 0);
    CHECK(strcmp(uvsock_status_str(UVSOCK_ERR_ALREADY_BOUND), "ZX_ERR_ALREADY_BOUND") == 0);
    CHECK(strcmp(uvsock_status_str(UVSOCK_ERR_NOT_FOUND), "ZX_ERR_NOT_FOUND") == 0);
    CHECK(strcmp(uvsock_status_str(UVSOCK_ERR_INVALID_ARGS), "ZX_ERR_INVALID_ARGS") == 0);
    CHECK(strcmp(uvsock_status_str(UVSOCK_ERR_BAD_HANDLE), "ZX_ERR_BAD_HANDLE") == 0);
    CHECK(strcmp(uvsock_status_str(UVSOCK_ERR_WRONG_TYPE), "ZX_ERR_WRONG_TYPE") == 0);
    CHECK(strcmp(uvsock_status_str(UVSOCK_ERR_OUT_OF_RANGE), "ZX_ERR_OUT_OF_RANGE") == 0);
    CHECK(strcmp(uvsock_status_str(UVSOCK_ERR_NOT_SUPPORTED), "ZX_ERR_NOT_SUPPORTED") == 0);
    CHECK(strcmp(uvsock_status_str(UVSOCK_ERR_IO), "ZX_ERR_IO") == 0);
    CHECK(strcmp(uvsock_status_str(UVSOCK_ERR_TIMED_OUT), "ZX_ERR_TIMED_OUT") == 0);
    CHECK(strncmp(uvsock_status_str(-12345), "ZX_ERR_", 7) == 0);
    CHECK(strcmp(uvsock_event_type_str(UVSOCK_EVENT_SEND_VMO_COMPLETE), "send_vmo_complete") == 0);
    CHECK(strcmp(uvsock_event_type_str(UVSOCK_EVENT_TRANSPORT_RESET), "transport_reset") == 0);
}

TEST(open_errors)
{
    struct uvsock_dev *dev = NULL;
    int r;

    CHECK_STATUS(uvsock_open("bogus:", &dev), UVSOCK_ERR_NOT_SUPPORTED);
    CHECK(dev == NULL);
    r = uvsock_open("sim:cid=1", &dev);
    CHECK(r != UVSOCK_OK);
    CHECK(dev == NULL);
    CHECK(uvsock_last_error()[0] != '\0');
    r = uvsock_open("sim:cid=2", &dev);
    CHECK(r != UVSOCK_OK);
    CHECK_STATUS(uvsock_open("sim:refuse_features=1", &dev), UVSOCK_ERR_NOT_SUPPORTED);
    CHECK(dev == NULL);
    CHECK(uvsock_last_error()[0] != '\0');
    CHECK_STATUS(uvsock_open("sim:nonsense_option=3", &dev), UVSOCK_ERR_INVALID_ARGS);
    /* uio: a PCI address that cannot exist, and one that is not an address (the UIO
     * transport's own cases are in tests/unit/test_uio.c). */
    CHECK_STATUS(uvsock_open("uio:00ff:ff:1f.7", &dev), UVSOCK_ERR_NOT_FOUND);
    CHECK(dev == NULL);
    CHECK(strstr(uvsock_last_error(), "no PCI device 00ff:ff:1f.7") != NULL);
    CHECK_STATUS(uvsock_open("uio:", &dev), UVSOCK_ERR_INVALID_ARGS);
    CHECK(dev == NULL);
    /* A good open afterwards works. */
    CHECK_STATUS(uvsock_open("sim", &dev), UVSOCK_OK);
    uvsock_close(dev);
    uvsock_close(NULL);
}

int main(void)
{
    scn_init();
    RUN(before_start);
    RUN(cid_option);
    RUN(already_bound);
    RUN(shutdown_codes);
    RUN(vmo_codes);
    RUN(bad_sockets);
    RUN(start_twice_resets);
    RUN(status_names);
    RUN(open_errors);
    TEST_EXIT();
}
