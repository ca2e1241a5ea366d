/* SPDX-License-Identifier: MIT */
/*
 * Commands for the Device calls and for looking inside the core (list, why, stats). Every
 * call's status is shown by its Zircon name, success included, because watching what the
 * driver returns is what the shell is for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shell.h"

static int make_pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return fail(cur_cmd, UVSOCK_ERR_NO_RESOURCES, "socketpair: %s", strerror(errno));
    return UVSOCK_OK;
}

int cmd_start(int argc, char **argv)
{
    int r = uvsock_start_event_queue(sh.dev, sh.q);

    (void)argc;
    (void)argv;
    if (r != UVSOCK_OK)
        return fail("start", r, "Start");
    if (sh.started)
        cn_forget_all("start");
    sh.started = 1;
    out("Start: %s", uvsock_status_str(r));
    return r;
}

/* "from LPORT" at argv[i], or nothing. */
static int parse_from(int argc, char **argv, int i, uint32_t *lport)
{
    if (argc <= i)
        return UVSOCK_OK;
    if (argc != i + 2 || strcmp(argv[i], "from"))
        return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "expected 'from LOCALPORT' after %s",
                    argv[i - 1]);
    return arg_u32(argv[i + 1], "local port", lport);
}

int cmd_connect(int argc, char **argv)
{
    struct uvsock_addr a = {0};
    struct conn *c;
    int sv[2], r;

    if ((r = arg_addr(argv[0], &a)) || (r = parse_from(argc, argv, 1, &a.local_port)))
        return r;
    if (argc == 1)
        a.local_port = cn_free_port();
    if ((r = make_pair(sv)))
        return r;
    r = uvsock_send_request(sh.dev, a, sv[1]);
    if (r != UVSOCK_OK) {
        close(sv[0]);
        close(sv[1]);
        return fail(cur_cmd, r, "SendRequest %s", addr_str(a));
    }
    c = cn_new(CONN_GUEST, a, sv[0]);
    if (!c) {
        close(sv[0]);
        return fail(cur_cmd, UVSOCK_ERR_NO_MEMORY, "connection table");
    }
    c->phase = PH_CONNECTING;
    out("SendRequest %s  %s: %s", cn_name(c), addr_str(a), uvsock_status_str(r));
    return r;
}

int cmd_accept(int argc, char **argv)
{
    struct conn *c = NULL;
    int sv[2], r;

    if (argc == 0) {
        for (c = cn_first(); c && !(c->kind == CONN_GUEST && c->phase == PH_INCOMING);)
            c = c->next;
        if (!c)
            return fail(cur_cmd, UVSOCK_ERR_NOT_FOUND, "no Request is waiting to be accepted");
    } else if (!(c = arg_conn(argv[0], CONN_GUEST))) {
        return UVSOCK_ERR_NOT_FOUND;
    }
    if (c->phase != PH_INCOMING)
        return fail(cur_cmd, UVSOCK_ERR_BAD_STATE, "%s is %s, not a Request waiting to be accepted",
                    cn_name(c), cn_phase_str(c->phase));
    if ((r = make_pair(sv)))
        return r;
    r = uvsock_send_response(sh.dev, c->addr, sv[1]);
    if (r != UVSOCK_OK) {
        close(sv[0]);
        close(sv[1]);
        return fail(cur_cmd, r, "SendResponse %s  %s", cn_name(c), addr_str(c->addr));
    }
    c->fd = sv[0];
    c->phase = PH_OPEN;
    out("SendResponse %s  %s: %s", cn_name(c), addr_str(c->addr), uvsock_status_str(r));
    return r;
}

int cmd_shutdown(int argc, char **argv)
{
    struct conn *c = arg_conn(argv[0], CONN_GUEST);
    int r;

    (void)argc;
    if (!c)
        return UVSOCK_ERR_NOT_FOUND;
    r = uvsock_send_shutdown(sh.dev, c->addr);
    if (r != UVSOCK_OK)
        return fail(cur_cmd, r, "SendShutdown %s  %s", cn_name(c), addr_str(c->addr));
    out("SendShutdown %s  %s: %s", cn_name(c), addr_str(c->addr), uvsock_status_str(r));
    return r;
}

int cmd_rst(int argc, char **argv)
{
    struct uvsock_addr a = {0};
    struct conn *c = NULL;
    int r;

    if (argc > 1) {
        /* A bare RST to an address the shell may not know: the call allows it. */
        if ((r = arg_addr(argv[0], &a)) || (r = parse_from(argc, argv, 1, &a.local_port)))
            return r;
        c = cn_by_addr(a);
    } else if ((c = arg_conn(argv[0], CONN_GUEST))) {
        a = c->addr;
    } else {
        return UVSOCK_ERR_NOT_FOUND;
    }
    r = uvsock_send_rst(sh.dev, a);
    if (r != UVSOCK_OK)
        return fail(cur_cmd, r, "SendRst %s", addr_str(a));
    out("SendRst %s  %s: %s", c ? cn_name(c) : "-", addr_str(a), uvsock_status_str(r));
    if (c)
        cn_close(c, "rst sent");
    return r;
}

int cmd_cid(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    out("%u", uvsock_get_cid(sh.dev));
    return UVSOCK_OK;
}

int cmd_sendvmo(int argc, char **argv)
{
    struct conn *c = arg_conn(argv[0], CONN_GUEST);
    uint64_t off = 0, len;
    struct stat st;
    int fd, r;

    if (!c)
        return UVSOCK_ERR_NOT_FOUND;
    if (argc == 3)
        return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "give both OFF and LEN, or neither");
    if (argc == 4 &&
        ((r = arg_u64(argv[2], "offset", &off)) || (r = arg_u64(argv[3], "length", &len))))
        return r;
    fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return fail(cur_cmd, UVSOCK_ERR_NOT_FOUND, "%s: %s", argv[1], strerror(errno));
    }
    if (argc == 2)
        len = (uint64_t)st.st_size > off ? (uint64_t)st.st_size - off : 0;
    r = uvsock_send_vmo(sh.dev, c->addr, fd, off, len);
    close(fd); /* the device keeps its own reference */
    if (r != UVSOCK_OK)
        return fail(cur_cmd, r, "SendVmo %s  %llu bytes from %llu", cn_name(c),
                    (unsigned long long)len, (unsigned long long)off);
    out("SendVmo %s  %llu bytes of %s from %llu: %s", cn_name(c), (unsigned long long)len, argv[1],
        (unsigned long long)off, uvsock_status_str(r));
    return r;
}

/* ================================================================== introspection == */

int cmd_list(int argc, char **argv)
{
    int any = 0;

    (void)argc;
    (void)argv;
    for (struct conn *c = cn_first(); c; c = c->next) {
        struct uvsock_conn_info ci;

        if (!any++)
            out("%-4s %-24s %-22s %-12s %9s %9s %10s %10s %8s", "id", "address", "state", "blocked",
                "peer_free", "in_flight", "sent", "received", "kept");
        if (c->kind == CONN_HOST) {
            out("%-4s %-24s %-22s %-12s %9s %9s %10llu %10llu %8zu", cn_name(c), addr_str(c->addr),
                c->phase == PH_CLOSED ? "closed"
                : c->eof              ? "eof"
                                      : "host",
                "-", "-", "-", (unsigned long long)c->bytes_out, (unsigned long long)c->bytes_in,
                c->rx.len);
        } else if (c->phase != PH_CLOSED && c->phase != PH_INCOMING &&
                   uvsock_conn_info(sh.dev, c->addr, &ci) == UVSOCK_OK) {
            out("%-4s %-24s %-22s %-12s %9u %9u %10llu %10llu %8zu", cn_name(c), addr_str(c->addr),
                uvsock_conn_state_str(ci.state), uvsock_blocked_on_str(ci.blocked_on), ci.peer_free,
                ci.in_flight, (unsigned long long)ci.bytes_sent,
                (unsigned long long)ci.bytes_received, c->rx.len);
        } else {
            char st[40];

            snprintf(st, sizeof(st), "%s%s%s", cn_phase_str(c->phase), c->closed_by ? ":" : "",
                     c->closed_by ? c->closed_by : "");
            out("%-4s %-24s %-22s %-12s %9s %9s %10llu %10llu %8zu", cn_name(c), addr_str(c->addr),
                st, "-", "-", "-", (unsigned long long)c->bytes_out,
                (unsigned long long)c->bytes_in, c->rx.len);
        }
    }
    if (!any)
        out("no connections (try: connect 2:7, the host's echo service)");
    return UVSOCK_OK;
}

static void ago(char *s, size_t n, uint64_t t_ns)
{
    if (!t_ns)
        snprintf(s, n, "never");
    else
        snprintf(s, n, "%.1f s ago", (double)(now_ns() - t_ns) / 1e9);
}

int cmd_why(int argc, char **argv)
{
    struct conn *c = arg_conn(argv[0], CONN_GUEST);
    struct uvsock_conn_info ci;
    const char *n;
    double since;
    char upd[32], req[32];
    int r;

    (void)argc;
    if (!c)
        return UVSOCK_ERR_NOT_FOUND;
    n = cn_name(c);
    if (c->phase == PH_INCOMING) {
        out("%s waits for you: the peer's Request has no answer yet (accept %s or rst %s).", n, n,
            n);
        return UVSOCK_OK;
    }
    if (c->phase != PH_CLOSED && uvsock_conn_info(sh.dev, c->addr, &ci) != UVSOCK_OK)
        loop_once(0, 0); /* the driver dropped it: its Callback may be queued, show it */
    if (c->phase == PH_CLOSED) {
        out("%s is closed (%s): the driver no longer knows it.", n, c->closed_by);
        return UVSOCK_OK;
    }
    if ((r = uvsock_conn_info(sh.dev, c->addr, &ci)) != UVSOCK_OK) {
        out("%s is gone from the driver; its closing Callback has not arrived yet.", n);
        return UVSOCK_OK;
    }
    since = ci.blocked_since_ns ? (double)(now_ns() - ci.blocked_since_ns) / 1e9 : 0;
    ago(upd, sizeof(upd), ci.credit_update_recv_ns);
    ago(req, sizeof(req), ci.credit_request_sent_ns);
    switch (ci.blocked_on) {
    case UVSOCK_BLOCKED_RESPONSE:
        out("%s has waited %.1f s for the peer's Response to its Request.", n, since);
        break;
    case UVSOCK_BLOCKED_PEER_CREDIT:
        out("%s has bytes to send but no peer credit for %.1f s (peer buf_alloc %u, %u in "
            "flight; last credit update from the peer %s, credit request sent %s).",
            n, since, ci.peer_buf_alloc, ci.in_flight, upd, req);
        break;
    case UVSOCK_BLOCKED_TX_RING:
        out("%s has bytes and credit but no free tx descriptor for %.1f s: the device is not "
            "taking packets.",
            n, since);
        break;
    case UVSOCK_BLOCKED_USER_READ:
        out("%s holds %u received bytes our user has not read, for %.1f s (%s).", n, ci.held, since,
            sh.data == DATA_OFF ? "the shell is not reading: set data show"
                                : "the shell's buffer is full: recv it");
        break;
    default:
        switch (ci.state) {
        case UVSOCK_CONN_WILL_SHUT_DOWN:
            out("%s is not blocked: it sends what was queued before shutdown, then SHUTDOWN.", n);
            break;
        case UVSOCK_CONN_SHUTTING_DOWN:
            out("%s sent SHUTDOWN and waits for the peer's RST.", n);
            break;
        case UVSOCK_CONN_PEER_SHUT_DOWN:
            out("%s was shut down by the peer (flags %u): rst %s to finish.", n, ci.peer_shutdown,
                n);
            break;
        default:
            out("%s is not blocked: nothing waits to be sent or read (%llu bytes sent, %llu "
                "received).",
                n, (unsigned long long)ci.bytes_sent, (unsigned long long)ci.bytes_received);
        }
    }
    return UVSOCK_OK;
}

int cmd_stats(int argc, char **argv)
{
    struct uvsock_dev_info d;
    struct uvsock_capture_stats cs;
    int r;

    (void)argc;
    (void)argv;
    if ((r = uvsock_dev_info(sh.dev, &d)) != UVSOCK_OK)
        return fail(cur_cmd, r, "dev_info");
    out("device %s  cid %u  %s  features 0x%llx  connections %u", d.uri, d.cid,
        d.started ? "started" : "not started", (unsigned long long)d.features, d.connections);
    out("packets sent %llu  received %llu  rst sent %llu  malformed dropped %llu  "
        "rst for unknown %llu",
        (unsigned long long)d.packets_sent, (unsigned long long)d.packets_received,
        (unsigned long long)d.rst_sent, (unsigned long long)d.malformed_dropped,
        (unsigned long long)d.unknown_conn_rst);
    out("interrupts %llu  config changes %llu  transport resets %llu",
        (unsigned long long)d.interrupts, (unsigned long long)d.config_changes,
        (unsigned long long)d.transport_resets);
    out("%-6s %5s %5s %6s %6s %6s %10s %10s %10s", "queue", "size", "free", "avail", "used",
        "kicks", "suppressed", "interrupts", "bad_used");
    for (int i = 0; i < 3; i++) {
        const struct uvsock_vq_info *v = &d.vq[i];

        out("%-6s %5u %5u %6u %6u %6llu %10llu %10llu %10llu", v->name, v->size, v->num_free,
            v->avail_idx, v->used_idx, (unsigned long long)v->kicks,
            (unsigned long long)v->kicks_suppressed, (unsigned long long)v->interrupts,
            (unsigned long long)v->bad_used);
    }
    out("event queue: %zu waiting, %llu overflowed", uvsock_event_queue_len(sh.q),
        (unsigned long long)uvsock_event_queue_overflows(sh.q));
    if (uvsock_capture_stats(sh.dev, &cs) == UVSOCK_OK)
        out("capture: %s  packets %llu  bytes %llu  dropped %llu", cs.active ? "on" : "off",
            (unsigned long long)cs.packets, (unsigned long long)cs.bytes,
            (unsigned long long)cs.dropped);
    return UVSOCK_OK;
}
