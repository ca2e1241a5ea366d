/* SPDX-License-Identifier: MIT */
/*
 * Data commands: bytes go through the connection's socket like any user's would (the
 * device owns the other end), so the shell exercises the same data path as a program.
 * The same helpers serve the sim's host side (`sim send`, `sim recv`).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell.h"

#define SEND_MAX (64u * 1024 * 1024) /* one command's bytes, held in memory */

/* The connection must have a socket to write to. */
static struct conn *writable(const char *ref, enum conn_kind kind)
{
    struct conn *c = arg_conn(ref, kind);

    if (c && c->fd < 0) {
        fail(cur_cmd, UVSOCK_ERR_BAD_STATE, "%s is %s%s%s", cn_name(c), cn_phase_str(c->phase),
             c->closed_by ? " by " : "",
             c->phase == PH_INCOMING ? " (accept it first)"
             : c->closed_by          ? c->closed_by
                                     : "");
        return NULL;
    }
    return c;
}

static int queue_bytes(struct conn *c, const void *p, size_t n)
{
    cn_queue(c, p, n);
    out("%s >> %zu bytes%s", cn_name(c), n, c->tx.len ? " (some queued)" : "");
    return UVSOCK_OK;
}

/* The words after the connection, joined by single spaces. */
int send_words(enum conn_kind kind, int argc, char **argv)
{
    struct conn *c = writable(argv[0], kind);
    char *text;
    size_t n = 0;
    int r;

    if (!c)
        return UVSOCK_ERR_BAD_STATE;
    for (int i = 1; i < argc; i++)
        n += strlen(argv[i]) + 1;
    text = malloc(n + 1);
    if (!text)
        return fail(cur_cmd, UVSOCK_ERR_NO_MEMORY, "%zu bytes", n);
    text[0] = '\0';
    for (int i = 1; i < argc; i++) {
        if (i > 1)
            strcat(text, " ");
        strcat(text, argv[i]);
    }
    r = queue_bytes(c, text, strlen(text));
    free(text);
    return r;
}

int show_received(enum conn_kind kind, int argc, char **argv)
{
    struct conn *c = arg_conn(argv[0], kind);
    int hex = 0;

    if (!c)
        return UVSOCK_ERR_NOT_FOUND;
    if (argc > 1) {
        if (strcmp(argv[1], "hex") && strcmp(argv[1], "text"))
            return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS, "'%s': say text or hex", argv[1]);
        hex = !strcmp(argv[1], "hex");
    }
    if (!c->rx.len) {
        out("%s: nothing received%s", cn_name(c), c->eof ? " (end of stream)" : "");
        return UVSOCK_OK;
    }
    if (hex) {
        out("%s << %zu bytes", cn_name(c), c->rx.len);
        hexdump("  ", c->rx.p, c->rx.len);
    } else {
        out("%s << %zu bytes", cn_name(c), c->rx.len);
        out("  %.*s", (int)c->rx.len, (const char *)c->rx.p);
    }
    buf_drop(&c->rx, c->rx.len);
    return UVSOCK_OK;
}

int cmd_send(int argc, char **argv)
{
    return send_words(CONN_GUEST, argc, argv);
}

int cmd_recv(int argc, char **argv)
{
    return show_received(CONN_GUEST, argc, argv);
}

int cmd_sendhex(int argc, char **argv)
{
    struct conn *c = writable(argv[0], CONN_GUEST);
    uint8_t *bytes;
    size_t n = 0, cap = 0;
    int r;

    if (!c)
        return UVSOCK_ERR_BAD_STATE;
    for (int i = 1; i < argc; i++)
        cap += strlen(argv[i]) / 2 + 1;
    bytes = malloc(cap);
    if (!bytes)
        return fail(cur_cmd, UVSOCK_ERR_NO_MEMORY, "%zu bytes", cap);
    for (int i = 1; i < argc; i++) {
        const char *p = argv[i];

        if (!strncmp(p, "0x", 2))
            p += 2;
        if (strlen(p) % 2 || strspn(p, "0123456789abcdefABCDEF") != strlen(p)) {
            free(bytes);
            return fail(cur_cmd, UVSOCK_ERR_INVALID_ARGS,
                        "'%s' is not hex bytes (pairs of digits: 68 69 or 6869)", argv[i]);
        }
        for (; *p; p += 2) {
            unsigned v;

            sscanf(p, "%2x", &v);
            bytes[n++] = (uint8_t)v;
        }
    }
    r = queue_bytes(c, bytes, n);
    free(bytes);
    return r;
}

int cmd_sendfile(int argc, char **argv)
{
    struct conn *c = writable(argv[0], CONN_GUEST);
    FILE *f;
    uint8_t *data = NULL;
    size_t n = 0, cap = 0, got;
    int r;

    (void)argc;
    if (!c)
        return UVSOCK_ERR_BAD_STATE;
    f = fopen(argv[1], "rb");
    if (!f)
        return fail(cur_cmd, UVSOCK_ERR_NOT_FOUND, "%s: %s", argv[1], strerror(errno));
    do {
        if (n == cap) {
            uint8_t *p = cap < SEND_MAX ? realloc(data, cap ? cap * 2 : 65536) : NULL;

            if (!p) {
                free(data);
                fclose(f);
                return fail(cur_cmd, UVSOCK_ERR_NO_MEMORY, "%s: larger than %u MiB (use sendvmo)",
                            argv[1], SEND_MAX >> 20);
            }
            data = p;
            cap = cap ? cap * 2 : 65536;
        }
        got = fread(data + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    r = ferror(f);
    fclose(f);
    if (r) {
        free(data);
        return fail(cur_cmd, UVSOCK_ERR_IO, "%s: read error", argv[1]);
    }
    r = queue_bytes(c, data, n);
    free(data);
    return r;
}

static int gen_done(void *arg)
{
    const struct conn *c = arg;

    return !c->gen_active || c->gen_error[0];
}

int cmd_sendgen(int argc, char **argv)
{
    struct conn *c = writable(argv[0], CONN_GUEST);
    uint64_t n;
    double timeout;
    uint8_t chunk[4096];
    uint64_t t0;
    int r;

    if (!c)
        return UVSOCK_ERR_BAD_STATE;
    if ((r = arg_u64(argv[1], "byte count", &n)))
        return r;
    if (n == 0 || n > SEND_MAX)
        return fail(cur_cmd, UVSOCK_ERR_OUT_OF_RANGE, "byte count from 1 to %u", SEND_MAX);
    /* Long transfers get time in proportion (1 MiB/s is far below what the sim does). */
    timeout = sh.timeout_s + (double)n / (1024 * 1024);
    if (argc > 2 && (r = arg_seconds(argv[2], &timeout)))
        return r;
    c->gen_want = n;
    c->gen_got = 0;
    c->gen_error[0] = '\0';
    c->gen_active = 1;
    t0 = now_ns();
    for (uint64_t off = 0; off < n;) {
        size_t k = n - off < sizeof(chunk) ? (size_t)(n - off) : sizeof(chunk);

        for (size_t i = 0; i < k; i++)
            chunk[i] = uvsock_sim_source_byte(off + i);
        buf_add(&c->tx, chunk, k);
        off += k;
    }
    cn_io(c, POLLOUT);
    r = loop_until(gen_done, c, timeout);
    if (c->gen_error[0]) {
        c->gen_active = 0;
        return fail(cur_cmd, UVSOCK_ERR_IO, "%s: %s", cn_name(c), c->gen_error);
    }
    if (r != UVSOCK_OK || c->gen_got < n) {
        c->gen_active = 0;
        return fail(cur_cmd, r != UVSOCK_OK ? r : UVSOCK_ERR_PEER_CLOSED,
                    "%s: %llu of %llu bytes came back", cn_name(c), (unsigned long long)c->gen_got,
                    (unsigned long long)n);
    }
    out("%s: %llu bytes sent and echoed intact in %.3f s", cn_name(c), (unsigned long long)n,
        (double)(now_ns() - t0) / 1e9);
    return UVSOCK_OK;
}
