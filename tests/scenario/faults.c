/* SPDX-License-Identifier: MIT */
/*
 * A faulty or hostile device: each one-shot fault of the sim hits the echo reply of a "victim"
 * connection while a "bystander" connection runs next to it; then raw packets a hostile device
 * could send. Nothing may crash, the bystander must never notice, and the victim must see what
 * the protocol says (below, per fault).
 */
#include <stdlib.h>

#include "common.h"

#define VICTIM    1400u
#define BYSTANDER 1401u

struct fault_case {
    enum uvsock_sim_fault fault;
    enum {
        RESET,   /* the driver answers RST and reports Rst for the victim */
        DROPPED, /* the packet is rejected by validation: counted, no callback */
        LOST,    /* the device lost it: nothing the driver can notice */
        INTACT,  /* bogus used entries next to the packet: the packet still arrives */
        TWICE,   /* a duplicated RW: the victim may read its bytes twice */
    } outcome;
};

static const struct fault_case cases[] = {
    {UVSOCK_SIM_FAULT_DROP, LOST},
    {UVSOCK_SIM_FAULT_DUPLICATE, TWICE},
    {UVSOCK_SIM_FAULT_BAD_TYPE, RESET},
    {UVSOCK_SIM_FAULT_BAD_OP, DROPPED},
    {UVSOCK_SIM_FAULT_BAD_LEN, DROPPED},
    {UVSOCK_SIM_FAULT_SHORT, DROPPED},
    {UVSOCK_SIM_FAULT_BAD_DST_CID, DROPPED},
    {UVSOCK_SIM_FAULT_USED_BAD_ID, INTACT},
    {UVSOCK_SIM_FAULT_USED_BAD_LEN, DROPPED},
    {UVSOCK_SIM_FAULT_USED_DUP_ID, INTACT},
};

static int run_case(const struct fault_case *fc)
{
    struct uvsock_dev *dev = NULL;
    struct uvsock_event_queue *q = NULL;
    struct uvsock_sim *sim;
    struct uvsock_dev_info d0, d1;
    struct uvsock_sim_stats st;
    struct uvsock_conn_info ci;
    struct uvsock_addr va = scn_addr(VICTIM, UVSOCK_CID_HOST, 7);
    const char msg[] = "victim-bytes";
    const size_t n = sizeof(msg) - 1;
    char got[64];
    int vfd = -1, bfd = -1, rc = -1;
    size_t count;

    if (scn_open("sim", &dev, &q) < 0)
        return -1;
    sim = uvsock_sim(dev);
    if (scn_connect(dev, q, VICTIM, 7, &vfd) < 0 || scn_connect(dev, q, BYSTANDER, 7, &bfd) < 0)
        goto out;
    /* Both work before the fault. */
    if (scn_echo_check(vfd, 1000, 1) < 0 || scn_echo_check(bfd, 1000, 2) < 0)
        goto out;
    if (uvsock_dev_info(dev, &d0) != UVSOCK_OK)
        goto out;
    if (uvsock_sim_inject(sim, fc->fault, VICTIM) != UVSOCK_OK || !uvsock_sim_fault_pending(sim)) {
        scn_fail("inject did not arm");
        goto out;
    }
    if (scn_write_all(vfd, msg, n, SCN_TIMEOUT_MS) < 0)
        goto out;
    if (!SCN_WAIT_UNTIL(!uvsock_sim_fault_pending(sim), SCN_TIMEOUT_MS)) {
        scn_fail("the fault never fired");
        goto out;
    }

    /* The bystander is unaffected, whatever happened to the victim. */
    if (scn_echo_check(bfd, 64 * 1024, 3) < 0) {
        scn_fail("bystander broken");
        goto out;
    }

    switch (fc->outcome) {
    case RESET:
        if (expect_event(q, UVSOCK_EVENT_RST, &va, SCN_TIMEOUT_MS, NULL) < 0)
            goto out;
        if (!SCN_WAIT_UNTIL(scn_stats(sim, &st) == 0 && st.last_rst_from_driver.src_port == VICTIM,
                            SCN_TIMEOUT_MS)) {
            scn_fail("the device saw no RST from port %u (last RST from %u to %u)", VICTIM,
                     st.last_rst_from_driver.src_port, st.last_rst_from_driver.dst_port);
            goto out;
        }
        if (st.last_rst_from_driver.dst_port != 7 || st.last_rst_from_driver.dst_cid != 2 ||
            st.last_rst_from_driver.op != 3 || st.last_rst_from_driver.type != 1) {
            scn_fail("RST to port %u cid %llu op %u type %u", st.last_rst_from_driver.dst_port,
                     (unsigned long long)st.last_rst_from_driver.dst_cid,
                     st.last_rst_from_driver.op, st.last_rst_from_driver.type);
            goto out;
        }
        if (uvsock_conn_info(dev, va, &ci) != UVSOCK_ERR_NOT_FOUND) {
            scn_fail("victim still listed after RST");
            goto out;
        }
        if (scn_expect_eof(vfd, SCN_TIMEOUT_MS, NULL) < 0)
            goto out;
        break;
    case DROPPED:
    case LOST:
        /* Nothing arrives for the victim, no callback, and the connection survives. */
        if (scn_expect_quiet(vfd, 100) < 0 || expect_no_event(q, 0) < 0)
            goto out;
        if (uvsock_dev_info(dev, &d1) != UVSOCK_OK)
            goto out;
        if (fc->outcome == DROPPED && d1.malformed_dropped == d0.malformed_dropped &&
            d1.vq[0].bad_used == d0.vq[0].bad_used) {
            scn_fail("the bad packet was not counted (malformed_dropped %llu, bad_used %llu)",
                     (unsigned long long)d1.malformed_dropped,
                     (unsigned long long)d1.vq[0].bad_used);
            goto out;
        }
        if (uvsock_conn_info(dev, va, &ci) != UVSOCK_OK || ci.state != UVSOCK_CONN_ACTIVE) {
            scn_fail("victim connection gone or not active");
            goto out;
        }
        /* Later bytes still echo intact (the lost ones are a hole in the stream). */
        if (scn_echo_check(vfd, 5000, 4) < 0)
            goto out;
        break;
    case INTACT:
        if (scn_read_exact(vfd, got, n, SCN_TIMEOUT_MS) < 0)
            goto out;
        if (memcmp(got, msg, n) != 0) {
            scn_fail("victim's bytes changed: \"%.*s\"", (int)n, got);
            goto out;
        }
        if (scn_expect_quiet(vfd, 50) < 0 || expect_no_event(q, 0) < 0)
            goto out;
        if (uvsock_dev_info(dev, &d1) != UVSOCK_OK)
            goto out;
        if (d1.vq[0].bad_used <= d0.vq[0].bad_used) {
            scn_fail("vq rx bad_used did not grow (%llu)", (unsigned long long)d1.vq[0].bad_used);
            goto out;
        }
        if (scn_echo_check(vfd, 5000, 4) < 0)
            goto out;
        break;
    case TWICE:
        /*
         * The driver has no sequence numbers to tell a duplicate: it may deliver the bytes once
         * or twice. What we assert: each copy is intact, at most two copies, nothing else, and
         * the connection keeps working.
         */
        if (scn_read_exact(vfd, got, n, SCN_TIMEOUT_MS) < 0 || memcmp(got, msg, n) != 0) {
            scn_fail("victim's first copy wrong");
            goto out;
        }
        {
            struct pollfd pfd = {.fd = vfd, .events = POLLIN};
            if (poll(&pfd, 1, 100) > 0) {
                if (scn_read_exact(vfd, got, n, SCN_TIMEOUT_MS) < 0 || memcmp(got, msg, n) != 0) {
                    scn_fail("victim's second copy wrong");
                    goto out;
                }
            }
        }
        if (scn_expect_quiet(vfd, 50) < 0)
            goto out;
        /*
         * Not asserted: that the victim keeps working. Having consumed the bytes twice, the
         * driver reports a fwd_cnt beyond what the host sent, and the host (computing credit
         * mod 2^32 as Linux does) sees no credit left on that connection.
         */
        break;
    }
    /* The bystander again, after the victim's outcome; and it is still listed. */
    if (scn_echo_check(bfd, 64 * 1024, 5) < 0)
        goto out;
    if (uvsock_conn_info(dev, scn_addr(BYSTANDER, 2, 7), &ci) != UVSOCK_OK ||
        ci.state != UVSOCK_CONN_ACTIVE) {
        scn_fail("bystander not active");
        goto out;
    }
    if (uvsock_conn_list(dev, NULL, 0, &count) != UVSOCK_OK)
        goto out;
    if (expect_no_event(q, 0) < 0)
        goto out;
    if (scn_stats(sim, &st) < 0 || st.bad_from_driver != 0 || st.credit_violations != 0) {
        scn_fail("the driver sent bad packets (%llu) or beyond credit (%llu)",
                 (unsigned long long)st.bad_from_driver, (unsigned long long)st.credit_violations);
        goto out;
    }
    rc = 0;
out:
    if (vfd >= 0)
        close(vfd);
    if (bfd >= 0)
        close(bfd);
    scn_close(dev, q);
    return rc;
}

TEST(each_fault)
{
    int failed = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (run_case(&cases[i]) < 0) {
            fprintf(stderr, "  fault %s failed\n", uvsock_sim_fault_str(cases[i].fault));
            failed++;
        }
    }
    CHECK_EQ(failed, 0);
}

TEST(inject_api)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(!uvsock_sim_fault_pending(sim));
    CHECK_STATUS(uvsock_sim_inject(sim, (enum uvsock_sim_fault)99, 0), UVSOCK_ERR_INVALID_ARGS);
    CHECK(!uvsock_sim_fault_pending(sim));
    CHECK_STATUS(uvsock_sim_inject(sim, UVSOCK_SIM_FAULT_DROP, 12345), UVSOCK_OK);
    CHECK(uvsock_sim_fault_pending(sim));
    CHECK_STATUS(uvsock_sim_inject(sim, UVSOCK_SIM_FAULT_NONE, 0), UVSOCK_OK);
    CHECK(!uvsock_sim_fault_pending(sim));
    CHECK(strcmp(uvsock_sim_fault_str(UVSOCK_SIM_FAULT_USED_DUP_ID), "") != 0);
    scn_close(dev, q);
}

/* A fault on "any port" (0) hits whatever comes next; the device must survive that too. */
TEST(fault_any_port)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    int fd;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(scn_connect(dev, q, 1410, 7, &fd) == 0);
    CHECK_STATUS(uvsock_sim_inject(sim, UVSOCK_SIM_FAULT_USED_DUP_ID, 0), UVSOCK_OK);
    CHECK(scn_echo_check(fd, 20000, 6) == 0);
    CHECK(!uvsock_sim_fault_pending(sim));
    CHECK_STATUS(uvsock_sim_inject(sim, UVSOCK_SIM_FAULT_USED_BAD_ID, 0), UVSOCK_OK);
    CHECK(scn_echo_check(fd, 20000, 7) == 0);
    CHECK(!uvsock_sim_fault_pending(sim));
    close(fd);
    scn_close(dev, q);
}

static struct uvsock_sim_packet raw_pkt(uint32_t src_port, uint32_t dst_port, uint16_t op)
{
    struct uvsock_sim_packet p = {.src_cid = 2,
                                  .dst_cid = 3,
                                  .src_port = src_port,
                                  .dst_port = dst_port,
                                  .type = 1,
                                  .op = op,
                                  .buf_alloc = 262144};
    return p;
}

TEST(raw_packets)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_sim *sim;
    struct uvsock_sim_stats st;
    struct uvsock_dev_info d0, d1;
    struct uvsock_sim_packet p;
    struct uvsock_conn_info ci;
    struct uvsock_addr a;
    int bfd, vfd;
    uint64_t rst0;

    CHECK(scn_open("sim", &dev, &q) == 0);
    sim = uvsock_sim(dev);
    CHECK(scn_connect(dev, q, 1420, 7, &bfd) == 0);

    /* RW for no connection: RST back to its sender, no callback. */
    CHECK_STATUS(uvsock_dev_info(dev, &d0), UVSOCK_OK);
    CHECK(scn_stats(sim, &st) == 0);
    rst0 = st.op_from_driver[3];
    p = raw_pkt(8888, 5555, 5);
    p.hdr_len = 5;
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, "hello", 5), UVSOCK_OK);
    CHECK(SCN_WAIT_UNTIL(scn_stats(sim, &st) == 0 && st.op_from_driver[3] > rst0, SCN_TIMEOUT_MS));
    CHECK_EQ(st.last_rst_from_driver.src_port, 5555);
    CHECK_EQ(st.last_rst_from_driver.dst_port, 8888);
    CHECK_EQ(st.last_rst_from_driver.dst_cid, 2);
    CHECK_EQ(st.last_rst_from_driver.src_cid, 3);
    CHECK_STATUS(uvsock_dev_info(dev, &d1), UVSOCK_OK);
    CHECK(d1.unknown_conn_rst > d0.unknown_conn_rst);
    CHECK(expect_no_event(q, 50) == 0);

    /* REQUEST then RST for the same addr: Request, then Rst (the request was withdrawn). */
    a = scn_addr(5556, 2, 8889);
    p = raw_pkt(8889, 5556, 1);
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, NULL, 0), UVSOCK_OK);
    CHECK(expect_event(q, UVSOCK_EVENT_REQUEST, &a, SCN_TIMEOUT_MS, NULL) == 0);
    p = raw_pkt(8889, 5556, 3);
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, NULL, 0), UVSOCK_OK);
    CHECK(expect_event(q, UVSOCK_EVENT_RST, &a, SCN_TIMEOUT_MS, NULL) == 0);
    /* The same RST again (as Linux repeats it when its socket closes): no news, no event. */
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, NULL, 0), UVSOCK_OK);
    CHECK(expect_no_event(q, 200) == 0);

    /* hdr.len beyond the payload: dropped, counted, no Request. */
    CHECK_STATUS(uvsock_dev_info(dev, &d0), UVSOCK_OK);
    p = raw_pkt(8890, 5557, 1);
    p.hdr_len = 1000;
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, "abc", 3), UVSOCK_OK);
    CHECK(SCN_WAIT_UNTIL(uvsock_dev_info(dev, &d1) == UVSOCK_OK &&
                             d1.malformed_dropped > d0.malformed_dropped,
                         SCN_TIMEOUT_MS));
    CHECK(expect_no_event(q, 50) == 0);

    /* A REQUEST for another CID, and with the reserved upper CID bits: dropped. */
    p = raw_pkt(8891, 5558, 1);
    p.dst_cid = 4;
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, NULL, 0), UVSOCK_OK);
    p = raw_pkt(8891, 5558, 1);
    p.dst_cid = 3 | (1ull << 32);
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, NULL, 0), UVSOCK_OK);
    CHECK(expect_no_event(q, 100) == 0);

    /* RESPONSE for a connection never requested: RST, no callback. */
    CHECK(scn_stats(sim, &st) == 0);
    rst0 = st.op_from_driver[3];
    p = raw_pkt(8892, 5559, 2);
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, NULL, 0), UVSOCK_OK);
    CHECK(SCN_WAIT_UNTIL(scn_stats(sim, &st) == 0 && st.op_from_driver[3] > rst0, SCN_TIMEOUT_MS));
    CHECK_EQ(st.last_rst_from_driver.src_port, 5559);
    CHECK_EQ(st.last_rst_from_driver.dst_port, 8892);
    CHECK(expect_no_event(q, 50) == 0);

    /* Unknown type for no connection: RST (5.10.6.6). */
    rst0 = st.op_from_driver[3];
    p = raw_pkt(8893, 5560, 5);
    p.type = 9;
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, NULL, 0), UVSOCK_OK);
    CHECK(SCN_WAIT_UNTIL(scn_stats(sim, &st) == 0 && st.op_from_driver[3] > rst0, SCN_TIMEOUT_MS));
    CHECK_EQ(st.last_rst_from_driver.src_port, 5560);
    CHECK(expect_no_event(q, 50) == 0);

    /* An unknown op for an open connection: ignored; the connection lives. */
    CHECK(scn_connect(dev, q, 1421, 7, &vfd) == 0);
    /* Raw packets carry credit too: give the host's true fwd_cnt (all echoed bytes consumed). */
    CHECK_STATUS(uvsock_conn_info(dev, scn_addr(1421, 2, 7), &ci), UVSOCK_OK);
    p = raw_pkt(7, 1421, 0x55);
    p.fwd_cnt = ci.tx_cnt;
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, NULL, 0), UVSOCK_OK);
    CHECK(expect_no_event(q, 100) == 0);
    CHECK(scn_echo_check(vfd, 3000, 12) == 0);

    /*
     * A raw RW within credit, between two echoes: the user reads it as is. (This puts the
     * driver's fwd_cnt ahead of what the sim's host stack believes it sent, which starves that
     * connection of credit for good, so it is done on a connection that ends right after.)
     */
    a = scn_addr(1421, 2, 7);
    CHECK_STATUS(uvsock_conn_info(dev, a, &ci), UVSOCK_OK);
    p = raw_pkt(7, 1421, 5);
    p.fwd_cnt = ci.tx_cnt;
    p.hdr_len = 4;
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, "RAW!", 4), UVSOCK_OK);
    {
        char got[4];
        CHECK(scn_read_exact(vfd, got, 4, SCN_TIMEOUT_MS) == 0);
        CHECK(memcmp(got, "RAW!", 4) == 0);
    }

    /* SHUTDOWN with flags 0 on an open connection: read as both directions. */
    p = raw_pkt(7, 1421, 4);
    p.flags = 0;
    CHECK_STATUS(uvsock_sim_send_raw(sim, &p, NULL, 0), UVSOCK_OK);
    CHECK(expect_event(q, UVSOCK_EVENT_SHUTDOWN, &a, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK_STATUS(uvsock_conn_info(dev, a, &ci), UVSOCK_OK);
    CHECK_EQ(ci.state, UVSOCK_CONN_PEER_SHUT_DOWN);
    CHECK_EQ(ci.peer_shutdown, 3);
    CHECK(scn_expect_eof(vfd, SCN_TIMEOUT_MS, NULL) == 0);
    CHECK_STATUS(uvsock_send_rst(dev, a), UVSOCK_OK);
    close(vfd);

    CHECK(scn_echo_check(bfd, 64 * 1024, 13) == 0);
    CHECK(expect_no_event(q, 50) == 0);
    CHECK(scn_stats(sim, &st) == 0);
    CHECK_EQ(st.bad_from_driver, 0);
    close(bfd);
    scn_close(dev, q);
}

int main(void)
{
    scn_init();
    RUN(each_fault);
    RUN(inject_api);
    RUN(fault_any_port);
    RUN(raw_packets);
    TEST_EXIT();
}
