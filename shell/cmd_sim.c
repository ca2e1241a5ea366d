/* SPDX-License-Identifier: MIT */
/*
 * The simulated device's host side (CID 2) and fault injection, plus capture and logging.
 * Host-side connections get ids h1, h2, ...: the shell then plays both ends, the driver's
 * user (c<N>) and the host program (h<N>).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shell.h"

static struct uvsock_sim *sim(void)
{
    return uvsock_sim(sh.dev); /* the table's CMD_SIM flag has checked it is there */
}

static int host_conn(int fd, uint32_t guest_port, uint32_t host_port, const char *how)
{
    struct uvsock_addr a = {guest_port, UVSOCK_CID_HOST, host_port};
    struct conn *h = cn_new(CONN_HOST, a, fd);

    if (!h)
        return fail(cur_cmd, UVSOCK_ERR_NO_MEMORY, "connection table");
    h->phase = PH_OPEN;
    out("%s %s  host 2:%u <-> guest port %u: %s", how, cn_name(h), host_port, guest_port,
        uvsock_status_str(UVSOCK_OK));
    return UVSOCK_OK;
}

int cmd_sim_connect(int argc, char **argv)
{
    uint32_t port, hp = 0, hpo = 0;
    int fd = -1, r;

    if ((r = arg_u32(argv[0], "port", &port)) ||
        (argc > 1 && (r = arg_u32(argv[1], "host port", &hp))))
        return r;
    r = uvsock_sim_connect(sim(), port, hp, &fd, &hpo);
    if (r != UVSOCK_OK)
        return fail(cur_cmd, r, "host connect to guest port %u", port);
    r = host_conn(fd, port, hpo, "sim connect");
    if (r == UVSOCK_OK)
        out("  a Request callback follows: accept it to open the connection");
    return r;
}

int cmd_sim_listen(int argc, char **argv)
{
    uint32_t port;
    int r;

    (void)argc;
    if ((r = arg_u32(argv[0], "port", &port)))
        return r;
    if ((r = uvsock_sim_listen(sim(), port)) != UVSOCK_OK)
        return fail(cur_cmd, r, "host port %u", port);
    out("sim listen 2:%u: %s (connect 2:%u, then sim accept %u)", port, uvsock_status_str(r), port,
        port);
    return r;
}

int cmd_sim_unlisten(int argc, char **argv)
{
    uint32_t port;
    int r;

    (void)argc;
    if ((r = arg_u32(argv[0], "port", &port)))
        return r;
    if ((r = uvsock_sim_unlisten(sim(), port)) != UVSOCK_OK)
        return fail(cur_cmd, r, "host port %u", port);
    out("sim unlisten 2:%u: %s", port, uvsock_status_str(r));
    return r;
}

int cmd_sim_accept(int argc, char **argv)
{
    uint32_t port, gport = 0;
    double t = sh.timeout_s;
    int fd = -1, r;

    if ((r = arg_u32(argv[0], "port", &port)) || (argc > 1 && (r = arg_seconds(argv[1], &t))))
        return r;
    r = uvsock_sim_accept(sim(), port, (int)(t * 1000), &fd, &gport);
    if (r != UVSOCK_OK)
        return fail(cur_cmd, r, "nothing accepted on host port %u", port);
    return host_conn(fd, gport, port, "sim accept");
}

int cmd_sim_send(int argc, char **argv)
{
    return send_words(CONN_HOST, argc, argv);
}

int cmd_sim_recv(int argc, char **argv)
{
    return show_received(CONN_HOST, argc, argv);
}

int cmd_sim_close(int argc, char **argv)
{
    struct conn *h = arg_conn(argv[0], CONN_HOST);

    (void)argc;
    if (!h)
        return UVSOCK_ERR_NOT_FOUND;
    if (h->phase == PH_CLOSED)
        return fail(cur_cmd, UVSOCK_ERR_BAD_STATE, "%s is already closed", cn_name(h));
    cn_close(h, "sim close");
    out("sim close %s: %s", cn_name(h), uvsock_status_str(UVSOCK_OK));
    return UVSOCK_OK;
}

int cmd_sim_reset(int argc, char **argv)
{
    uint32_t cid = 0;
    int r;

    if (argc > 0 && (r = arg_u32(argv[0], "cid", &cid)))
        return r;
    if ((r = uvsock_sim_transport_reset(sim(), cid)) != UVSOCK_OK)
        return fail(cur_cmd, r, "transport reset to cid %u", cid);
    out("sim reset%s%s: %s (a TransportReset callback follows)", argc ? " " : "",
        argc ? argv[0] : "", uvsock_status_str(r));
    return r;
}

int cmd_sim_setcid(int argc, char **argv)
{
    uint32_t cid;
    int r;

    (void)argc;
    if ((r = arg_u32(argv[0], "cid", &cid)))
        return r;
    if ((r = uvsock_sim_set_cid(sim(), cid)) != UVSOCK_OK)
        return fail(cur_cmd, r, "cid %u", cid);
    out("sim setcid %u: %s", cid, uvsock_status_str(r));
    return r;
}

int cmd_sim_credit(int argc, char **argv)
{
    uint32_t n;
    int r;

    (void)argc;
    if ((r = arg_u32(argv[0], "buf_alloc", &n)))
        return r;
    if ((r = uvsock_sim_set_host_credit(sim(), n)) != UVSOCK_OK)
        return fail(cur_cmd, r, "host buf_alloc %u", n);
    out("sim credit %u: %s", n, uvsock_status_str(r));
    return r;
}

int cmd_sim_corrupt(int argc, char **argv)
{
    uint32_t port = 0;
    int fault = -1, r;

    for (int f = UVSOCK_SIM_FAULT_NONE; f <= UVSOCK_SIM_FAULT_USED_DUP_ID; f++)
        if (!strcasecmp(argv[0], uvsock_sim_fault_str((enum uvsock_sim_fault)f)))
            fault = f;
    if (fault < 0)
        return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "unknown fault '%s' (help sim corrupt)",
                    argv[0]);
    if (argc > 1 && (r = arg_u32(argv[1], "port", &port)))
        return r;
    if ((r = uvsock_sim_inject(sim(), (enum uvsock_sim_fault)fault, port)) != UVSOCK_OK)
        return fail(cur_cmd, r, "%s", argv[0]);
    out("sim corrupt %s on the next packet to %s%s: %s", argv[0], port ? "guest port " : "any port",
        port ? argv[1] : "", uvsock_status_str(r));
    return r;
}

int cmd_sim_stats(int argc, char **argv)
{
    static const char *const ops[8] = {"invalid",  "request", "response",      "rst",
                                       "shutdown", "rw",      "credit_update", "credit_request"};
    struct uvsock_sim_stats st;
    char line[512];
    size_t k = 0;
    int r;

    (void)argc;
    (void)argv;
    if ((r = uvsock_sim_get_stats(sim(), &st)) != UVSOCK_OK)
        return fail(cur_cmd, r, "stats");
    out("host: packets from driver %llu  to driver %llu  host connections %u",
        (unsigned long long)st.packets_from_driver, (unsigned long long)st.packets_to_driver,
        st.host_connections);
    for (int i = 1; i < 8; i++)
        k += (size_t)snprintf(line + k, sizeof(line) - k, "%s %llu  ", ops[i],
                              (unsigned long long)st.op_from_driver[i]);
    out("from driver by op: %s", line);
    out("bad packets from driver %llu  credit violations %llu  rx waits %llu",
        (unsigned long long)st.bad_from_driver, (unsigned long long)st.credit_violations,
        (unsigned long long)st.rx_waits);
    out("notifies %llu  interrupts %llu  suppressed %llu  fault pending %s",
        (unsigned long long)st.notifies, (unsigned long long)st.interrupts,
        (unsigned long long)st.interrupts_suppressed,
        uvsock_sim_fault_pending(sim()) ? "yes" : "no");
    return UVSOCK_OK;
}

/* ============================================================= capture and log == */

int cmd_capture(int argc, char **argv)
{
    struct uvsock_capture_stats cs;
    int r;

    if (!strcmp(cur_cmd, "capture start")) {
        (void)argc;
        if ((r = uvsock_capture_start(sh.dev, argv[0])) != UVSOCK_OK)
            return fail(cur_cmd, r, "%s", uvsock_last_error()[0] ? uvsock_last_error() : argv[0]);
        out("capture start %s: %s", argv[0], uvsock_status_str(r));
        return r;
    }
    if (!strcmp(cur_cmd, "capture stop")) {
        uvsock_capture_stats(sh.dev, &cs);
        if ((r = uvsock_capture_stop(sh.dev)) != UVSOCK_OK)
            return fail(cur_cmd, r, "%s",
                        r == UVSOCK_ERR_BAD_STATE ? "no capture is running" : uvsock_last_error());
        out("capture stop: %s (%llu packets, %llu bytes)", uvsock_status_str(r),
            (unsigned long long)cs.packets, (unsigned long long)cs.bytes);
        return r;
    }
    if ((r = uvsock_capture_stats(sh.dev, &cs)) != UVSOCK_OK)
        return fail(cur_cmd, r, "stats");
    out("capture %s  packets %llu  bytes %llu  dropped %llu%s", cs.active ? "on" : "off",
        (unsigned long long)cs.packets, (unsigned long long)cs.bytes,
        (unsigned long long)cs.dropped, cs.error ? "  (write errors)" : "");
    return UVSOCK_OK;
}

int cmd_log(int argc, char **argv)
{
    int level;

    if (argc == 0) {
        out("log level %s", uvsock_log_level_str(uvsock_get_log_level()));
        return UVSOCK_OK;
    }
    level = uvsock_log_level_parse(argv[0]);
    if (level < 0)
        return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "'%s' is not error, warn, info or debug",
                    argv[0]);
    uvsock_set_log_level((enum uvsock_log_level)level);
    out("log level %s", uvsock_log_level_str((enum uvsock_log_level)level));
    return UVSOCK_OK;
}
