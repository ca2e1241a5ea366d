/* SPDX-License-Identifier: MIT */
/*
 * Many concurrent connections to the echo service, multiplexed with poll() from one thread:
 * every Response with the right addr, every stream echoed intact, then a graceful shutdown of
 * all of them, which the host answers with RST.
 */
#include <stdlib.h>

#include "common.h"

#define NCONN     128
#define PER_CONN  (SCN_SANITIZED ? (64u * 1024u) : (256u * 1024u))
#define BASE_PORT 20000u

struct stream {
    int fd;
    uint32_t sent, recvd;
};

static int find_port(const uint8_t *seen, uint32_t port)
{
    return port >= BASE_PORT && port < BASE_PORT + NCONN && !seen[port - BASE_PORT];
}

/* Collects NCONN events of `type`, one per connection, in any order. */
static int collect(struct uvsock_event_queue *q, enum uvsock_event_type type, uint32_t remote_port)
{
    uint8_t seen[NCONN] = {0};
    char desc[96];

    for (int i = 0; i < NCONN; i++) {
        struct uvsock_event ev;
        int r = uvsock_event_queue_pop(q, &ev, SCN_TIMEOUT_MS);

        if (r != UVSOCK_OK) {
            scn_fail("only %d of %d %s events arrived", i, NCONN, uvsock_event_type_str(type));
            return -1;
        }
        if (ev.type != type || ev.addr.remote_cid != UVSOCK_CID_HOST ||
            ev.addr.remote_port != remote_port || !find_port(seen, ev.addr.local_port)) {
            scn_fail("event %d: expected %s of a new connection, got %s", i,
                     uvsock_event_type_str(type), scn_event_desc(&ev, desc, sizeof(desc)));
            return -1;
        }
        seen[ev.addr.local_port - BASE_PORT] = 1;
    }
    return 0;
}

static int pump(struct stream *s)
{
    struct pollfd pfd[NCONN];
    uint8_t buf[16384];
    int left = NCONN;
    uint64_t last_progress = scn_now_ms();

    while (left) {
        int n = 0;
        for (int i = 0; i < NCONN; i++) {
            pfd[i].fd = s[i].recvd < PER_CONN ? s[i].fd : -1;
            pfd[i].events = POLLIN | (s[i].sent < PER_CONN ? POLLOUT : 0);
            pfd[i].revents = 0;
        }
        n = poll(pfd, NCONN, 1000);
        if (n < 0 && errno != EINTR) {
            scn_fail("poll: %s", strerror(errno));
            return -1;
        }
        if (n <= 0) {
            if (scn_now_ms() - last_progress > SCN_TIMEOUT_MS) {
                for (int i = 0; i < NCONN; i++) {
                    if (s[i].recvd < PER_CONN) {
                        scn_fail("conn %d stalled: sent %u, echoed %u of %u", i, s[i].sent,
                                 s[i].recvd, PER_CONN);
                        break;
                    }
                }
                return -1;
            }
            continue;
        }
        last_progress = scn_now_ms();
        for (int i = 0; i < NCONN; i++) {
            struct stream *c = &s[i];
            if (pfd[i].revents & POLLOUT) {
                size_t chunk = PER_CONN - c->sent < sizeof(buf) ? PER_CONN - c->sent : sizeof(buf);
                ssize_t w;
                scn_fill(buf, chunk, (uint64_t)i + 1000, c->sent);
                w = send(c->fd, buf, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) {
                    scn_fail("conn %d: write: %s", i, strerror(errno));
                    return -1;
                }
                if (w > 0)
                    c->sent += (uint32_t)w;
            }
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
                long long bad;
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    scn_fail("conn %d: EOF/error after %u echoed bytes", i, c->recvd);
                    return -1;
                }
                if (r < 0)
                    continue;
                if (c->recvd + (uint32_t)r > c->sent) {
                    scn_fail("conn %d: echoed %u bytes, only %u sent", i, c->recvd + (uint32_t)r,
                             c->sent);
                    return -1;
                }
                if ((bad = scn_pattern_mismatch(buf, (size_t)r, (uint64_t)i + 1000, c->recvd)) >=
                    0) {
                    scn_fail("conn %d: echoed byte %lld differs (crossed streams?)", i, bad);
                    return -1;
                }
                c->recvd += (uint32_t)r;
                if (c->recvd == PER_CONN)
                    left--;
            }
        }
    }
    return 0;
}

TEST(many_echo)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st;
    static struct stream s[NCONN];
    static struct uvsock_addr list[NCONN + 8];
    size_t count = 0;
    uint8_t seen[NCONN] = {0};

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    for (int i = 0; i < NCONN; i++) {
        int sv[2];
        CHECK(scn_socketpair(sv) == 0);
        CHECK_STATUS(uvsock_send_request(dev, scn_addr(BASE_PORT + (uint32_t)i, 2, 7), sv[1]),
                     UVSOCK_OK);
        s[i] = (struct stream){.fd = sv[0]};
    }
    CHECK(collect(q, UVSOCK_EVENT_RESPONSE, 7) == 0);
    CHECK_STATUS(uvsock_conn_list(dev, list, NCONN + 8, &count), UVSOCK_OK);
    CHECK_EQ(count, NCONN);
    for (size_t i = 0; i < count; i++) {
        CHECK(list[i].remote_cid == 2 && list[i].remote_port == 7);
        CHECK(find_port(seen, list[i].local_port));
        seen[list[i].local_port - BASE_PORT] = 1;
    }
    /* A short list: count is still the total. */
    CHECK_STATUS(uvsock_conn_list(dev, list, 3, &count), UVSOCK_OK);
    CHECK_EQ(count, NCONN);

    CHECK(pump(s) == 0);
    CHECK(expect_no_event(q, 0) == 0);

    for (int i = 0; i < NCONN; i++)
        CHECK_STATUS(uvsock_send_shutdown(dev, scn_addr(BASE_PORT + (uint32_t)i, 2, 7)), UVSOCK_OK);
    CHECK(collect(q, UVSOCK_EVENT_RST, 7) == 0);
    CHECK_STATUS(uvsock_conn_list(dev, NULL, 0, &count), UVSOCK_OK);
    CHECK_EQ(count, 0);
    for (int i = 0; i < NCONN; i++) {
        CHECK(scn_expect_eof(s[i].fd, SCN_TIMEOUT_MS, NULL) == 0);
        close(s[i].fd);
    }
    CHECK(scn_stats(sim, &st) == 0);
    CHECK_EQ(st.host_connections, 0);
    CHECK_EQ(st.credit_violations, 0);
    CHECK_EQ(st.bad_from_driver, 0);
    CHECK_EQ(st.op_from_driver[4], NCONN); /* one SHUTDOWN each */
    scn_close(dev, q);
}

/* Connect and disconnect repeatedly on the same ports: nothing leaks, ports are reusable. */
TEST(churn)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st;
    size_t count = 9;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    for (int round = 0; round < 20; round++) {
        int fds[16];
        for (int i = 0; i < 16; i++)
            CHECK(scn_connect(dev, q, 30000 + (uint32_t)i, 7, &fds[i]) == 0);
        for (int i = 0; i < 16; i++) {
            CHECK(scn_echo_check(fds[i], 100, (uint64_t)round * 16 + (uint64_t)i) == 0);
            if (i % 2) {
                CHECK_STATUS(uvsock_send_rst(dev, scn_addr(30000 + (uint32_t)i, 2, 7)), UVSOCK_OK);
            } else {
                struct uvsock_addr a = scn_addr(30000 + (uint32_t)i, 2, 7);
                CHECK_STATUS(uvsock_send_shutdown(dev, a), UVSOCK_OK);
                CHECK(expect_event(q, UVSOCK_EVENT_RST, &a, SCN_TIMEOUT_MS, NULL) == 0);
            }
            CHECK(scn_expect_eof(fds[i], SCN_TIMEOUT_MS, NULL) == 0);
            close(fds[i]);
        }
    }
    CHECK_STATUS(uvsock_conn_list(dev, NULL, 0, &count), UVSOCK_OK);
    CHECK_EQ(count, 0);
    CHECK(SCN_WAIT_UNTIL(scn_stats(sim, &st) == 0 && st.host_connections == 0, SCN_TIMEOUT_MS));
    CHECK(expect_no_event(q, 50) == 0);
    scn_close(dev, q);
}

int main(void)
{
    scn_init();
    RUN(many_echo);
    RUN(churn);
    TEST_EXIT();
}
