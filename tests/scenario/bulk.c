/* SPDX-License-Identifier: MIT */
/*
 * Bulk data through the echo service, with plenty of credit and starved of it, and a long
 * read of the source service. A writer thread fills the guest socket while the main thread
 * reads the echo: the device's service thread must move data while the writer is blocked.
 */
#include <pthread.h>
#include <stdlib.h>

#include "common.h"

#if SCN_SANITIZED
#define BULK_BYTES (8ull << 20)
#else
#define BULK_BYTES (64ull << 20)
#endif

struct writer {
    int fd;
    uint64_t n, seed;
    int result;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    uint8_t buf[65536];
    uint64_t done = 0;

    w->result = 0;
    while (done < w->n) {
        size_t chunk = w->n - done < sizeof(buf) ? (size_t)(w->n - done) : sizeof(buf);

        scn_fill(buf, chunk, w->seed, done);
        if (scn_write_all(w->fd, buf, chunk, SCN_TIMEOUT_MS) < 0) {
            w->result = -1;
            break;
        }
        done += chunk;
    }
    return NULL;
}

/* Sends n pattern bytes through the echo on fd and checks every byte that comes back. */
static int echo_stream(int fd, uint64_t n, uint64_t seed)
{
    struct writer w = {.fd = fd, .n = n, .seed = seed};
    pthread_t t;
    uint8_t *buf = malloc(65536);
    uint64_t done = 0;
    int rc = 0;

    if (!buf || pthread_create(&t, NULL, writer_main, &w) != 0) {
        scn_fail("cannot start the writer");
        free(buf);
        return -1;
    }
    while (done < n) {
        size_t chunk = n - done < 65536 ? (size_t)(n - done) : 65536;
        long long bad;

        if (scn_read_exact(fd, buf, chunk, SCN_TIMEOUT_MS) < 0) {
            scn_fail("echo stream stalled at byte %llu of %llu", (unsigned long long)done,
                     (unsigned long long)n);
            rc = -1;
            shutdown(fd, SHUT_RDWR); /* unblocks the writer */
            break;
        }
        if ((bad = scn_pattern_mismatch(buf, chunk, seed, done)) >= 0) {
            scn_fail("echo stream: byte %lld differs", bad);
            rc = -1;
            shutdown(fd, SHUT_RDWR);
            break;
        }
        done += chunk;
    }
    pthread_join(t, NULL);
    free(buf);
    if (rc == 0 && w.result != 0) {
        scn_fail("the writer failed");
        rc = -1;
    }
    return rc;
}

TEST(echo_64m)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st;
    struct uvsock_conn_info ci;
    struct uvsock_addr a = scn_addr(1300, UVSOCK_CID_HOST, 7);
    int fd;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(scn_connect(dev, q, 1300, 7, &fd) == 0);
    CHECK(echo_stream(fd, BULK_BYTES, 21) == 0);
    CHECK_STATUS(uvsock_conn_info(dev, a, &ci), UVSOCK_OK);
    CHECK_EQ(ci.bytes_sent, BULK_BYTES);
    CHECK_EQ(ci.bytes_received, BULK_BYTES);
    CHECK(scn_stats(sim, &st) == 0);
    CHECK_EQ(st.credit_violations, 0);
    CHECK_EQ(st.bad_from_driver, 0);
    CHECK(expect_no_event(q, 0) == 0);
    close(fd);
    scn_close(dev, q);
}

TEST(echo_credit_starved)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st;
    struct uvsock_conn_info ci;
    struct uvsock_addr a = scn_addr(1310, UVSOCK_CID_HOST, 7);
    const uint64_t n = BULK_BYTES;
    int fd;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK_STATUS(uvsock_sim_set_host_credit(sim, 0), UVSOCK_ERR_INVALID_ARGS);
    CHECK_STATUS(uvsock_sim_set_host_credit(sim, 4096), UVSOCK_OK);
    CHECK(scn_connect(dev, q, 1310, 7, &fd) == 0);
    CHECK(echo_stream(fd, n, 22) == 0);
    CHECK_STATUS(uvsock_conn_info(dev, a, &ci), UVSOCK_OK);
    CHECK_EQ(ci.peer_buf_alloc, 4096);
    CHECK_EQ(ci.bytes_sent, n);
    CHECK_EQ(ci.bytes_received, n);
    CHECK(scn_stats(sim, &st) == 0);
    CHECK_EQ(st.credit_violations, 0);
    CHECK_EQ(st.bad_from_driver, 0);
    close(fd);
    scn_close(dev, q);
}

/* Credit shrinks under an existing, busy connection. */
TEST(echo_credit_shrinks)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st;
    int fd;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(scn_connect(dev, q, 1320, 7, &fd) == 0);
    CHECK(echo_stream(fd, 1u << 20, 23) == 0);
    CHECK_STATUS(uvsock_sim_set_host_credit(sim, 8192), UVSOCK_OK);
    CHECK(echo_stream(fd, 4u << 20, 24) == 0);
    CHECK_STATUS(uvsock_sim_set_host_credit(sim, 1u << 20), UVSOCK_OK);
    CHECK(echo_stream(fd, 4u << 20, 25) == 0);
    CHECK(scn_stats(sim, &st) == 0);
    CHECK_EQ(st.bad_from_driver, 0);
    close(fd);
    scn_close(dev, q);
}

TEST(source_4m)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st;
    const uint64_t n = 4u << 20;
    uint8_t *buf = malloc(65536);
    uint64_t off = 0;
    int fd;

    CHECK(buf != NULL);
    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(scn_connect(dev, q, 1330, 19, &fd) == 0);
    while (off < n) {
        size_t chunk = 65536;
        CHECK(scn_read_exact(fd, buf, chunk, SCN_TIMEOUT_MS) == 0);
        for (size_t i = 0; i < chunk; i++) {
            if (buf[i] != uvsock_sim_source_byte(off + i)) {
                scn_fail("source byte %llu is 0x%02x, want 0x%02x", (unsigned long long)(off + i),
                         buf[i], uvsock_sim_source_byte(off + i));
                CHECK(0);
            }
        }
        off += chunk;
    }
    CHECK(scn_stats(sim, &st) == 0);
    CHECK_EQ(st.bad_from_driver, 0);
    free(buf);
    close(fd);
    scn_close(dev, q);
}

/* Discard takes everything; the driver must keep up without any reply traffic but credit. */
TEST(discard_16m)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st;
    struct uvsock_conn_info ci;
    struct uvsock_addr a = scn_addr(1340, UVSOCK_CID_HOST, 9);
    const uint64_t n = BULK_BYTES / 4;
    struct writer w;
    int fd;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(scn_connect(dev, q, 1340, 9, &fd) == 0);
    w = (struct writer){.fd = fd, .n = n, .seed = 26};
    writer_main(&w);
    CHECK_EQ(w.result, 0);
    CHECK(SCN_WAIT_UNTIL(uvsock_conn_info(dev, a, &ci) == UVSOCK_OK && ci.bytes_sent == n,
                         SCN_TIMEOUT_MS));
    /* The host's fwd_cnt reaches us only with its next packet: it may lag, never lead. */
    CHECK(ci.in_flight <= ci.peer_buf_alloc);
    CHECK(scn_expect_quiet(fd, 50) == 0);
    CHECK(scn_stats(sim, &st) == 0);
    CHECK_EQ(st.credit_violations, 0);
    close(fd);
    scn_close(dev, q);
}

int main(void)
{
    scn_init();
    RUN(echo_64m);
    RUN(echo_credit_starved);
    RUN(echo_credit_shrinks);
    RUN(source_4m);
    RUN(discard_16m);
    TEST_EXIT();
}
