/* SPDX-License-Identifier: MIT */
/*
 * SendVmo: a large memfd, a window in the middle of a file, a VMO followed by socket data on
 * the same connection, and credit-starved VMO transfer. The host reads exactly what was sent.
 */
#include <stdlib.h>

#include "common.h"

struct listener_conn {
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_addr addr;
    int fd, host_fd;
};

static int open_listener_conn(struct listener_conn *lc, uint32_t local_port, uint32_t host_port)
{
    uint32_t gport = 0;
    int r;

    lc->fd = lc->host_fd = -1;
    if (scn_open("sim", &lc->dev, &lc->q) < 0)
        return -1;
    lc->sim = uvsock_sim(lc->dev);
    lc->addr = scn_addr(local_port, UVSOCK_CID_HOST, host_port);
    if ((r = uvsock_sim_listen(lc->sim, host_port)) != UVSOCK_OK) {
        scn_fail("uvsock_sim_listen = %s", uvsock_status_str(r));
        return -1;
    }
    if (scn_connect(lc->dev, lc->q, local_port, host_port, &lc->fd) < 0)
        return -1;
    r = uvsock_sim_accept(lc->sim, host_port, SCN_TIMEOUT_MS, &lc->host_fd, &gport);
    if (r != UVSOCK_OK || gport != local_port) {
        scn_fail("uvsock_sim_accept = %s, guest port %u", uvsock_status_str(r), gport);
        return -1;
    }
    return 0;
}

static void close_listener_conn(struct listener_conn *lc)
{
    if (lc->fd >= 0)
        close(lc->fd);
    if (lc->host_fd >= 0)
        close(lc->host_fd);
    scn_close(lc->dev, lc->q);
}

/* Reads n bytes from fd and compares them with the pattern (seed) from stream offset off. */
static int read_pattern(int fd, uint64_t n, uint64_t seed, uint64_t off)
{
    uint8_t *buf = malloc(65536);
    uint64_t done = 0;
    int rc = 0;

    while (buf && done < n) {
        size_t chunk = n - done < 65536 ? (size_t)(n - done) : 65536;
        long long bad;

        if (scn_read_exact(fd, buf, chunk, SCN_TIMEOUT_MS) < 0) {
            scn_fail("after %llu of %llu bytes", (unsigned long long)done, (unsigned long long)n);
            rc = -1;
            break;
        }
        if ((bad = scn_pattern_mismatch(buf, chunk, seed, off + done)) >= 0) {
            scn_fail("byte at pattern offset %lld differs (stream byte %llu)", bad,
                     (unsigned long long)((uint64_t)bad - off));
            rc = -1;
            break;
        }
        done += chunk;
    }
    free(buf);
    return buf ? rc : -1;
}

TEST(vmo_8m)
{
    struct listener_conn lc;
    struct uvsock_conn_info ci;
    const uint64_t n = 8u << 20;
    int vmo;

    CHECK(open_listener_conn(&lc, 1500, 6200) == 0);
    vmo = scn_memfd_pattern(n, 31);
    CHECK(vmo >= 0);
    CHECK_STATUS(uvsock_send_vmo(lc.dev, lc.addr, vmo, 0, n), UVSOCK_OK);
    close(vmo);
    CHECK(read_pattern(lc.host_fd, n, 31, 0) == 0);
    CHECK(expect_event(lc.q, UVSOCK_EVENT_SEND_VMO_COMPLETE, &lc.addr, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_expect_quiet(lc.host_fd, 50) == 0);
    CHECK_STATUS(uvsock_conn_info(lc.dev, lc.addr, &ci), UVSOCK_OK);
    CHECK_EQ(ci.vmo_remaining, 0);
    CHECK_EQ(ci.bytes_sent, n);
    /* The next VMO is accepted once the first completed. */
    vmo = scn_memfd_pattern(1000, 32);
    CHECK_STATUS(uvsock_send_vmo(lc.dev, lc.addr, vmo, 0, 1000), UVSOCK_OK);
    close(vmo);
    CHECK(read_pattern(lc.host_fd, 1000, 32, 0) == 0);
    CHECK(expect_event(lc.q, UVSOCK_EVENT_SEND_VMO_COMPLETE, &lc.addr, SCN_TIMEOUT_MS, NULL) == 0);
    close_listener_conn(&lc);
}

TEST(vmo_window)
{
    struct listener_conn lc;
    const uint64_t size = 1u << 20, off = 123457, len = 500001;
    int vmo;

    CHECK(open_listener_conn(&lc, 1510, 6210) == 0);
    vmo = scn_memfd_pattern(size, 33);
    CHECK(vmo >= 0);
    CHECK_EQ(lseek(vmo, 77, SEEK_SET), 77);
    CHECK_STATUS(uvsock_send_vmo(lc.dev, lc.addr, vmo, off, len), UVSOCK_OK);
    CHECK(read_pattern(lc.host_fd, len, 33, off) == 0);
    CHECK(expect_event(lc.q, UVSOCK_EVENT_SEND_VMO_COMPLETE, &lc.addr, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_expect_quiet(lc.host_fd, 50) == 0);
    /* The last byte of the file exactly, one byte long. */
    CHECK_STATUS(uvsock_send_vmo(lc.dev, lc.addr, vmo, size - 1, 1), UVSOCK_OK);
    CHECK(read_pattern(lc.host_fd, 1, 33, size - 1) == 0);
    CHECK(expect_event(lc.q, UVSOCK_EVENT_SEND_VMO_COMPLETE, &lc.addr, SCN_TIMEOUT_MS, NULL) == 0);
    /* The VMO's file position is not used or moved. */
    CHECK_EQ(lseek(vmo, 0, SEEK_CUR), 77);
    close(vmo);
    close_listener_conn(&lc);
}

TEST(vmo_then_socket_data)
{
    struct listener_conn lc;
    const uint64_t n = 2u << 20;
    uint8_t data[30000];
    int vmo;

    CHECK(open_listener_conn(&lc, 1520, 6220) == 0);
    vmo = scn_memfd_pattern(n, 34);
    CHECK(vmo >= 0);
    CHECK_STATUS(uvsock_send_vmo(lc.dev, lc.addr, vmo, 0, n), UVSOCK_OK);
    close(vmo);
    /* Sequential: socket bytes written after SendVmoComplete come after the VMO's. The host
     * reads the VMO while we wait for the completion (its credit is smaller than n). */
    CHECK(read_pattern(lc.host_fd, n, 34, 0) == 0);
    CHECK(expect_event(lc.q, UVSOCK_EVENT_SEND_VMO_COMPLETE, &lc.addr, SCN_TIMEOUT_MS, NULL) == 0);
    scn_fill(data, sizeof(data), 35, 0);
    CHECK(scn_write_all(lc.fd, data, sizeof(data), SCN_TIMEOUT_MS) == 0);
    CHECK(read_pattern(lc.host_fd, sizeof(data), 35, 0) == 0);
    CHECK(scn_expect_quiet(lc.host_fd, 50) == 0);
    close_listener_conn(&lc);
}

/* Both pending at once: order is undefined (FIDL), but each part arrives whole and in order. */
TEST(vmo_and_socket_concurrent)
{
    struct listener_conn lc;
    const uint64_t n = 1u << 20;
    const size_t m = 100000;
    uint8_t *vbuf = malloc(n), *sbuf = malloc(m), *all = malloc(n + m);
    int vmo;

    CHECK(vbuf && sbuf && all);
    CHECK(open_listener_conn(&lc, 1530, 6230) == 0);
    vmo = scn_memfd_pattern(n, 36);
    CHECK(vmo >= 0);
    scn_fill(vbuf, n, 36, 0);
    scn_fill(sbuf, m, 37, 0);
    CHECK(scn_write_all(lc.fd, sbuf, m / 2, SCN_TIMEOUT_MS) == 0);
    CHECK_STATUS(uvsock_send_vmo(lc.dev, lc.addr, vmo, 0, n), UVSOCK_OK);
    close(vmo);
    CHECK(scn_write_all(lc.fd, sbuf + m / 2, m - m / 2, SCN_TIMEOUT_MS) == 0);
    CHECK(scn_read_exact(lc.host_fd, all, n + m, SCN_TIMEOUT_MS) == 0);
    CHECK(expect_event(lc.q, UVSOCK_EVENT_SEND_VMO_COMPLETE, &lc.addr, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_expect_quiet(lc.host_fd, 50) == 0);
    /* The stream is the VMO's bytes interleaved with the socket's, each in its own order: a
     * merge must take each byte from one of the two sequences. The VMO pattern and the socket
     * pattern are distinct enough that a greedy merge (VMO preferred) with a fallback works for
     * whole chunks; check it by splitting on runs. */
    {
        size_t vi = 0, si = 0, i = 0;
        while (i < n + m) {
            size_t run = 0;
            /* Longest match of the VMO at vi, then of the socket at si. */
            while (vi + run < n && i + run < n + m && all[i + run] == vbuf[vi + run])
                run++;
            if (run >= 64 || (run > 0 && vi + run == n)) {
                vi += run;
                i += run;
                continue;
            }
            run = 0;
            while (si + run < m && i + run < n + m && all[i + run] == sbuf[si + run])
                run++;
            if (run == 0) {
                scn_fail("stream byte %zu belongs to neither part (vmo at %zu, socket at %zu)", i,
                         vi, si);
                CHECK(0);
            }
            si += run;
            i += run;
        }
        CHECK_EQ(vi, n);
        CHECK_EQ(si, m);
    }
    free(vbuf);
    free(sbuf);
    free(all);
    close_listener_conn(&lc);
}

/* With the host starved to 4 KiB of credit, the VMO still arrives whole, within the credit. */
TEST(vmo_credit_starved)
{
    struct listener_conn lc;
    struct uvsock_sim_stats st;
    const uint64_t n = 1u << 20;
    int vmo;

    CHECK(open_listener_conn(&lc, 1540, 6240) == 0);
    CHECK_STATUS(uvsock_sim_set_host_credit(lc.sim, 4096), UVSOCK_OK);
    vmo = scn_memfd_pattern(n, 38);
    CHECK(vmo >= 0);
    CHECK_STATUS(uvsock_send_vmo(lc.dev, lc.addr, vmo, 0, n), UVSOCK_OK);
    close(vmo);
    CHECK(read_pattern(lc.host_fd, n, 38, 0) == 0);
    CHECK(expect_event(lc.q, UVSOCK_EVENT_SEND_VMO_COMPLETE, &lc.addr, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(scn_stats(lc.sim, &st) == 0);
    CHECK_EQ(st.credit_violations, 0);
    close_listener_conn(&lc);
}

/* SendShutdown while a VMO is pending: the VMO's bytes still go out first. */
TEST(vmo_then_shutdown)
{
    struct listener_conn lc;
    const uint64_t n = 600000;
    int vmo;

    CHECK(open_listener_conn(&lc, 1550, 6250) == 0);
    vmo = scn_memfd_pattern(n, 39);
    CHECK(vmo >= 0);
    CHECK_STATUS(uvsock_send_vmo(lc.dev, lc.addr, vmo, 0, n), UVSOCK_OK);
    close(vmo);
    CHECK_STATUS(uvsock_send_shutdown(lc.dev, lc.addr), UVSOCK_OK);
    CHECK(read_pattern(lc.host_fd, n, 39, 0) == 0);
    CHECK(scn_expect_eof(lc.host_fd, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(expect_event(lc.q, UVSOCK_EVENT_SEND_VMO_COMPLETE, &lc.addr, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK(expect_event(lc.q, UVSOCK_EVENT_RST, &lc.addr, SCN_TIMEOUT_MS, NULL) == 0);
    close_listener_conn(&lc);
}

int main(void)
{
    scn_init();
    RUN(vmo_8m);
    RUN(vmo_window);
    RUN(vmo_then_socket_data);
    RUN(vmo_and_socket_concurrent);
    RUN(vmo_credit_starved);
    RUN(vmo_then_shutdown);
    TEST_EXIT();
}
