/* SPDX-License-Identifier: MIT */
/*
 * Scripting and settings: wait, expect, sleep, after, print, set, quit. The waits run the
 * main loop, so Callbacks and data keep being shown while a script waits; a failed check
 * fails the command, which makes a script's exit status non-zero.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell.h"

static int event_type(const char *name)
{
    for (int t = UVSOCK_EVENT_REQUEST; t <= UVSOCK_EVENT_SEND_VMO_COMPLETE; t++)
        if (!strcmp(name, uvsock_event_type_str((enum uvsock_event_type)t)))
            return t;
    return -1;
}

static int seen_new(void *arg)
{
    int t = *(int *)arg;

    return sh.seen[t] > sh.waited[t];
}

int cmd_wait(int argc, char **argv)
{
    double timeout = sh.timeout_s;
    int t = event_type(argv[0]), r;

    if (t < 0)
        return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "'%s' is not a Callback (help wait)",
                    argv[0]);
    if (argc > 1 && (r = arg_seconds(argv[1], &timeout)))
        return r;
    r = loop_until(seen_new, &t, timeout);
    if (r != UVSOCK_OK)
        return fail(cur_cmd, r, "no %s callback in %g s", argv[0], timeout);
    sh.waited[t]++;
    out("wait %s: %s", argv[0], uvsock_status_str(r));
    return r;
}

struct data_match {
    struct conn *c;
    const char *text;
    size_t n;
};

static int data_seen(void *arg)
{
    struct data_match *m = arg;

    return m->c->rx.len >= m->n && memmem(m->c->rx.p, m->c->rx.len, m->text, m->n);
}

int cmd_expect_data(int argc, char **argv)
{
    struct data_match m = {.c = arg_conn(argv[0], argv[0][0] == 'h' ? CONN_HOST : CONN_GUEST)};
    char text[4096] = "";
    int r;

    if (!m.c)
        return UVSOCK_ERR_NOT_FOUND;
    for (int i = 1; i < argc; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", i > 1 ? " " : "",
                 argv[i]);
    m.text = text;
    m.n = strlen(text);
    r = loop_until(data_seen, &m, sh.timeout_s);
    if (r != UVSOCK_OK)
        return fail(cur_cmd, r, "%s did not receive \"%s\" in %g s (%zu bytes unread)",
                    cn_name(m.c), text, sh.timeout_s, m.c->rx.len);
    /* Consume up to the end of the match, so the next expect looks further on. */
    buf_drop(&m.c->rx,
             (size_t)((const uint8_t *)memmem(m.c->rx.p, m.c->rx.len, text, m.n) - m.c->rx.p) +
                 m.n);
    out("expect data %s: %s", cn_name(m.c), uvsock_status_str(r));
    return r;
}

struct state_match {
    struct conn *c;
    const char *want;
    char now[32];
};

static int state_is(void *arg)
{
    struct state_match *m = arg;
    struct uvsock_conn_info ci;

    snprintf(m->now, sizeof(m->now), "%s", cn_phase_str(m->c->phase));
    if (!strcmp(m->now, m->want))
        return 1;
    if (m->c->kind == CONN_GUEST && m->c->phase != PH_CLOSED &&
        uvsock_conn_info(sh.dev, m->c->addr, &ci) == UVSOCK_OK) {
        snprintf(m->now, sizeof(m->now), "%s", uvsock_conn_state_str(ci.state));
        return !strcmp(m->now, m->want);
    }
    return 0;
}

int cmd_expect_state(int argc, char **argv)
{
    static const char *const names[] = {"connecting",     "incoming",      "open",
                                        "closed",         "wait_response", "active",
                                        "will_shut_down", "shutting_down", "peer_shut_down"};
    struct state_match m = {.c = arg_conn(argv[0], argv[0][0] == 'h' ? CONN_HOST : CONN_GUEST),
                            .want = argv[1]};
    int known = 0, r;

    (void)argc;
    if (!m.c)
        return UVSOCK_ERR_NOT_FOUND;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        known |= !strcmp(names[i], argv[1]);
    if (!known)
        return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "'%s' is not a state (help expect state)",
                    argv[1]);
    r = loop_until(state_is, &m, sh.timeout_s);
    if (r != UVSOCK_OK)
        return fail(cur_cmd, r, "%s is %s, not %s", cn_name(m.c), m.now, argv[1]);
    out("expect state %s %s: %s", cn_name(m.c), argv[1], uvsock_status_str(r));
    return r;
}

static int cid_is(void *arg)
{
    return uvsock_get_cid(sh.dev) == *(uint32_t *)arg;
}

int cmd_expect_cid(int argc, char **argv)
{
    uint32_t cid;
    int r;

    (void)argc;
    if ((r = arg_u32(argv[0], "cid", &cid)))
        return r;
    r = loop_until(cid_is, &cid, sh.timeout_s);
    if (r != UVSOCK_OK)
        return fail(cur_cmd, r, "cid is %u, not %u", uvsock_get_cid(sh.dev), cid);
    out("expect cid %u: %s", cid, uvsock_status_str(r));
    return r;
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

int cmd_sleep(int argc, char **argv)
{
    double s;
    int r;

    (void)argc;
    if ((r = arg_seconds(argv[0], &s)))
        return r;
    r = loop_until(never, NULL, s);
    return r == UVSOCK_ERR_TIMED_OUT ? UVSOCK_OK : fail(cur_cmd, r, "interrupted");
}

/* Joins words back into a command line, quoting each so it parses to the same words. */
static void requote(char *dst, size_t cap, int argc, char **argv)
{
    size_t k = 0;

    dst[0] = '\0';
    for (int i = 0; i < argc && k + 8 < cap; i++) {
        int plain = argv[i][0] && !argv[i][strcspn(argv[i], " \t'\"\\;#")];

        if (i)
            dst[k++] = ' ';
        if (plain) {
            k += (size_t)snprintf(dst + k, cap - k, "%s", argv[i]);
            if (k >= cap)
                k = cap - 1;
            continue;
        }
        dst[k++] = '\'';
        for (const char *p = argv[i]; *p && k + 8 < cap; p++) {
            if (*p == '\'') {
                memcpy(dst + k, "'\\''", 4);
                k += 4;
            } else {
                dst[k++] = *p;
            }
        }
        dst[k++] = '\'';
        dst[k] = '\0';
    }
}

int cmd_after(int argc, char **argv)
{
    char line[4096];
    double s;
    int r;

    if ((r = arg_seconds(argv[0], &s)))
        return r;
    requote(line, sizeof(line), argc - 1, argv + 1);
    timer_add(s, line);
    out("after %g s: %s", s, line);
    return UVSOCK_OK;
}

int cmd_print(int argc, char **argv)
{
    char line[4096] = "";

    for (int i = 0; i < argc; i++)
        snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s", i ? " " : "", argv[i]);
    out("%s", line);
    return UVSOCK_OK;
}

static const char *onoff(int v)
{
    return v ? "on" : "off";
}

static int parse_onoff(const char *v, int *out_v)
{
    if (!strcmp(v, "on") || !strcmp(v, "off")) {
        *out_v = !strcmp(v, "on");
        return UVSOCK_OK;
    }
    return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "'%s': say on or off", v);
}

int cmd_set(int argc, char **argv)
{
    static const char *const modes[] = {"show", "hold", "off"};

    if (argc == 0) {
        out("data %s\ntime %s\ncolor %s\ntimeout %g\nerrors %s", modes[sh.data], onoff(sh.times),
            onoff(sh.color), sh.timeout_s, sh.keep_going ? "continue" : "stop");
        return UVSOCK_OK;
    }
    if (argc != 2)
        return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "usage: set <name> <value>");
    if (!strcmp(argv[0], "data")) {
        for (int i = 0; i < 3; i++)
            if (!strcmp(argv[1], modes[i])) {
                sh.data = (enum data_mode)i;
                return UVSOCK_OK;
            }
        return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "'%s': say show, hold or off", argv[1]);
    }
    if (!strcmp(argv[0], "time"))
        return parse_onoff(argv[1], &sh.times);
    if (!strcmp(argv[0], "color"))
        return parse_onoff(argv[1], &sh.color);
    if (!strcmp(argv[0], "timeout"))
        return arg_seconds(argv[1], &sh.timeout_s);
    if (!strcmp(argv[0], "errors")) {
        if (strcmp(argv[1], "stop") && strcmp(argv[1], "continue"))
            return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "'%s': say stop or continue", argv[1]);
        sh.keep_going = !strcmp(argv[1], "continue");
        return UVSOCK_OK;
    }
    return fail(cur_cmd, UVSOCK_ERR_NOT_FOUND,
                "no setting '%s' (data, time, color, timeout, errors)", argv[0]);
}

int cmd_quit(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sh.quit = 1;
    return UVSOCK_OK;
}
