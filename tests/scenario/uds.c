/* SPDX-License-Identifier: MIT */
/*
 * The hybrid vsock convention (Firecracker / cloud-hypervisor) on the sim's unix socket:
 * guest -> host connects to "<uds>_<port>", host -> guest writes "CONNECT <port>\n" and reads
 * "OK <hostport>\n".
 */
#include <stdlib.h>
#include <sys/un.h>

#include "common.h"

static char uds_path[96];

static int unix_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    unlink(path);
    if (strlen(path) >= sizeof(sa.sun_path)) {
        scn_fail("path too long: %s", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
        scn_fail("listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int unix_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        scn_fail("path too long: %s", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        scn_fail("connect to %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int accept_timeout(int lfd, int ms)
{
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};

    if (poll(&pfd, 1, ms) != 1) {
        scn_fail("no connection on the listener within %d ms", ms);
        return -1;
    }
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Reads one '\n'-terminated line (without it) byte by byte, so nothing after it is taken. */
static int read_line(int fd, char *buf, size_t cap, int ms)
{
    size_t n = 0;

    while (n + 1 < cap) {
        if (scn_read_exact(fd, buf + n, 1, ms) < 0)
            return -1;
        if (buf[n] == '\n') {
            buf[n] = 0;
            return 0;
        }
        n++;
    }
    scn_fail("line too long");
    return -1;
}

static char *uri(char *buf, size_t n)
{
    snprintf(buf, n, "sim:uds=%s", uds_path);
    return buf;
}

TEST(guest_to_host)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    char u[160], path[128], buf[64];
    int lfd, fd, hfd;
    uint8_t big[200000], got[200000];

    CHECK(scn_open(uri(u, sizeof(u)), &dev, &q) == 0);
    snprintf(path, sizeof(path), "%s_5000", uds_path);
    lfd = unix_listen(path);
    CHECK(lfd >= 0);
    CHECK(scn_connect(dev, q, 1030, 5000, &fd) == 0);
    hfd = accept_timeout(lfd, SCN_TIMEOUT_MS);
    CHECK(hfd >= 0);
    CHECK(scn_write_all(fd, "ping", 4, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(hfd, buf, 4, SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK(scn_write_all(hfd, "pong", 4, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(fd, buf, 4, SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(buf, "pong", 4) == 0);
    /* More than a credit window each way (one direction at a time: both sides are us). */
    scn_fill(big, sizeof(big), 41, 0);
    CHECK(scn_write_all(hfd, big, sizeof(big), SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(fd, got, sizeof(got), SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(big, got, sizeof(big)) == 0);
    CHECK(scn_write_all(fd, big, sizeof(big), SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(hfd, got, sizeof(got), SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(big, got, sizeof(big)) == 0);
    /* The host program closes: Shutdown for our addr. */
    close(hfd);
    {
        struct uvsock_addr a = scn_addr(1030, 2, 5000);
        CHECK(expect_event(q, UVSOCK_EVENT_SHUTDOWN, &a, SCN_TIMEOUT_MS, NULL) == 0);
        CHECK(scn_expect_eof(fd, SCN_TIMEOUT_MS, NULL) == 0);
        CHECK_STATUS(uvsock_send_rst(dev, a), UVSOCK_OK);
    }
    /* No listener at "<uds>_5001": refused. */
    {
        struct uvsock_addr b = scn_addr(1031, 2, 5001);
        int sv[2];
        CHECK(scn_socketpair(sv) == 0);
        CHECK_STATUS(uvsock_send_request(dev, b, sv[1]), UVSOCK_OK);
        CHECK(expect_event(q, UVSOCK_EVENT_RST, &b, SCN_TIMEOUT_MS, NULL) == 0);
        close(sv[0]);
    }
    close(fd);
    close(lfd);
    unlink(path);
    scn_close(dev, q);
}

TEST(host_to_guest)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_event ev;
    char u[160], line[64], buf[64];
    int hfd, sv[2];
    unsigned long hport;
    char *end;

    CHECK(scn_open(uri(u, sizeof(u)), &dev, &q) == 0);
    hfd = unix_connect(uds_path);
    CHECK(hfd >= 0);
    CHECK(scn_write_all(hfd, "CONNECT 6000\n", 13, SCN_TIMEOUT_MS) == 0);
    CHECK(expect_event(q, UVSOCK_EVENT_REQUEST, NULL, SCN_TIMEOUT_MS, &ev) == 0);
    CHECK_EQ(ev.addr.local_port, 6000);
    CHECK_EQ(ev.addr.remote_cid, 2);
    CHECK(ev.addr.remote_port >= (1u << 30));
    CHECK(scn_socketpair(sv) == 0);
    CHECK_STATUS(uvsock_send_response(dev, ev.addr, sv[1]), UVSOCK_OK);
    CHECK(read_line(hfd, line, sizeof(line), SCN_TIMEOUT_MS) == 0);
    CHECK(strncmp(line, "OK ", 3) == 0);
    hport = strtoul(line + 3, &end, 10);
    CHECK(*end == 0);
    CHECK_EQ(hport, ev.addr.remote_port);
    CHECK(hport >= (1ul << 30));
    CHECK(scn_write_all(hfd, "from host", 9, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(sv[0], buf, 9, SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(buf, "from host", 9) == 0);
    CHECK(scn_write_all(sv[0], "from guest", 10, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(hfd, buf, 10, SCN_TIMEOUT_MS) == 0);
    CHECK(memcmp(buf, "from guest", 10) == 0);
    /* We end it: SHUTDOWN, the host program reads EOF, the host answers RST. */
    CHECK_STATUS(uvsock_send_shutdown(dev, ev.addr), UVSOCK_OK);
    CHECK(scn_expect_eof(hfd, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(expect_event(q, UVSOCK_EVENT_RST, &ev.addr, SCN_TIMEOUT_MS, NULL) == 0);
    close(hfd);
    close(sv[0]);

    /* A refused CONNECT: the host program's socket is closed without "OK". */
    hfd = unix_connect(uds_path);
    CHECK(hfd >= 0);
    CHECK(scn_write_all(hfd, "CONNECT 6001\n", 13, SCN_TIMEOUT_MS) == 0);
    CHECK(expect_event(q, UVSOCK_EVENT_REQUEST, NULL, SCN_TIMEOUT_MS, &ev) == 0);
    CHECK_EQ(ev.addr.local_port, 6001);
    CHECK_STATUS(uvsock_send_rst(dev, ev.addr), UVSOCK_OK);
    CHECK(scn_expect_eof(hfd, SCN_TIMEOUT_MS, NULL) == 0);
    close(hfd);

    /* A malformed line: closed, no Request. */
    hfd = unix_connect(uds_path);
    CHECK(hfd >= 0);
    CHECK(scn_write_all(hfd, "HELLO 6002\n", 11, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_expect_eof(hfd, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(expect_no_event(q, 50) == 0);
    close(hfd);
    scn_close(dev, q);
}

int main(void)
{
    char path[128];

    scn_init();
    snprintf(uds_path, sizeof(uds_path), "/tmp/uvsock-test-%d.sock", (int)getpid());
    RUN(guest_to_host);
    RUN(host_to_guest);
    unlink(uds_path);
    snprintf(path, sizeof(path), "%s_5000", uds_path);
    unlink(path);
    TEST_EXIT();
}
