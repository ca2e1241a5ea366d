/* SPDX-License-Identifier: MIT */
/*
 * Every line the shell prints goes through emit(), so that while the user is typing, output
 * lands above the prompt and the half-typed line is redrawn intact (the tested libedit
 * technique: "\r\033[K" + message, then EL_REFRESH; lineedit.c also clears wrapped lines).
 *
 * The library's log function may run on any thread with device locks held, so it only
 * queues the message and wakes the main loop through a pipe; the loop prints it.
 */
#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shell.h"

static const char *const color_code[] = {
    [C_NONE] = "",         [C_EVENT] = "\033[1;36m", [C_ERROR] = "\033[1;31m",
    [C_DATA] = "\033[32m", [C_HOST] = "\033[35m",    [C_DIM] = "\033[2m",
    [C_OK] = "\033[1;32m",
};

/* Writes text that may hold several lines, above the prompt when one is on screen. */
static void emit(FILE *f, const char *text)
{
    if (le_editing()) {
        /* In the editor's raw mode "\n" may not return the carriage: say "\r\n". */
        le_clear();
        for (const char *p = text; *p; p++) {
            if (*p == '\n')
                fputc('\r', stdout);
            fputc(*p, stdout);
        }
        fflush(stdout);
        le_redraw();
        return;
    }
    fputs(text, f);
    fflush(f);
}

static void vemit(FILE *f, enum color c, const char *stamp, const char *fmt, va_list ap)
{
    int on = sh.color && c != C_NONE;
    char *msg = NULL, *line = NULL;

    /* One emit per call, however many lines: above the prompt it is redrawn only once. */
    if (vasprintf(&msg, fmt, ap) >= 0 &&
        asprintf(&line, "%s%s%s%s\n", stamp, on ? color_code[c] : "", msg, on ? "\033[0m" : "") >=
            0)
        emit(f, line);
    free(msg);
    free(line);
}

void out(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vemit(stdout, C_NONE, "", fmt, ap);
    va_end(ap);
}

void outc(enum color c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vemit(stdout, c, "", fmt, ap);
    va_end(ap);
}

void note(enum color c, const char *fmt, ...)
{
    char stamp[32] = "";
    va_list ap;

    if (sh.times) {
        double t = (double)(now_ns() - sh.start_ns) / 1e9;

        snprintf(stamp, sizeof(stamp), "[%8.3f] ", t);
    }
    va_start(ap, fmt);
    vemit(stdout, c, stamp, fmt, ap);
    va_end(ap);
}

int fail(const char *cmd, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Errors go to stderr in scripts (so a caller can tell them apart), to the screen
     * otherwise; either way one line naming the status. */
    {
        char line[1200];
        int on = sh.color;

        snprintf(line, sizeof(line), "%serror: %s%s%s%s%s%s\n", on ? color_code[C_ERROR] : "",
                 cmd ? cmd : "", cmd ? ": " : "", uvsock_status_str(status), msg[0] ? ": " : "",
                 msg, on ? "\033[0m" : "");
        fflush(stdout);
        emit(sh.interactive ? stdout : stderr, line);
    }
    sh.failed = 1;
    return status ? status : UVSOCK_ERR_INTERNAL;
}

/* Appends a classic hexdump (offset, 16 bytes, ASCII) of p to b, one line per 16 bytes. */
static void hexdump_to(struct buf *b, const char *prefix, const uint8_t *p, size_t n)
{
    for (size_t off = 0; off < n; off += 16) {
        char line[128];
        int k = snprintf(line, sizeof(line), "%s%08zx  ", prefix, off);

        for (size_t i = 0; i < 16; i++) {
            if (off + i < n)
                k += snprintf(line + k, sizeof(line) - (size_t)k, "%02x ", p[off + i]);
            else
                k += snprintf(line + k, sizeof(line) - (size_t)k, "   ");
            if (i == 7)
                line[k++] = ' ';
        }
        line[k++] = '|';
        for (size_t i = 0; i < 16 && off + i < n; i++)
            line[k++] = isprint(p[off + i]) ? (char)p[off + i] : '.';
        line[k++] = '|';
        line[k++] = '\n';
        buf_add(b, line, (size_t)k);
    }
}

void hexdump(const char *prefix, const uint8_t *p, size_t n)
{
    struct buf b = {0};

    hexdump_to(&b, prefix, p, n);
    if (b.len) {
        b.p[b.len - 1] = '\0'; /* the last newline: out() adds its own */
        out("%s", (const char *)b.p);
    }
    free(b.p);
}

/* Text if every byte is printable (or a newline / tab), else a hexdump; one note. */
void print_data(const char *who, const uint8_t *p, size_t n, int as_hex)
{
    struct buf b = {0};
    char head[96];
    int text = !as_hex;
    size_t shown = n > 4096 ? 4096 : n;

    for (size_t i = 0; i < n && text; i++)
        if (!isprint(p[i]) && p[i] != '\n' && p[i] != '\t' && p[i] != '\r')
            text = 0;
    snprintf(head, sizeof(head), "%s << %zu bytes%s\n", who, n,
             n > shown ? " (first 4096 shown)" : "");
    buf_add(&b, head, strlen(head));
    if (text) {
        /* Each line indented; a trailing newline is not an extra empty line. */
        for (size_t start = 0; start < shown;) {
            size_t end = start;

            while (end < shown && p[end] != '\n')
                end++;
            buf_add(&b, "  ", 2);
            buf_add(&b, p + start, end - start);
            buf_add(&b, "\n", 1);
            start = end + 1;
        }
    } else {
        hexdump_to(&b, "  ", p, shown);
    }
    b.p[b.len - 1] = '\0';
    note(C_DATA, "%s", (const char *)b.p);
    free(b.p);
}

/* ============================================================= the library's log == */

struct log_line {
    struct log_line *next;
    enum uvsock_log_level level;
    char msg[];
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_line *log_head, **log_tail = &log_head;
static int log_pipe[2] = {-1, -1};

static void log_fn(void *ctx, enum uvsock_log_level level, const char *msg)
{
    size_t n = strlen(msg) + 1;
    struct log_line *l = malloc(sizeof(*l) + n);

    (void)ctx;
    if (!l)
        return;
    l->next = NULL;
    l->level = level;
    memcpy(l->msg, msg, n);
    pthread_mutex_lock(&log_lock);
    *log_tail = l;
    log_tail = &l->next;
    pthread_mutex_unlock(&log_lock);
    /* Non-blocking: a full pipe already means "wake up". */
    if (write(log_pipe[1], "", 1) < 0) {
    }
}

void print_log_install(void)
{
    if (pipe2(log_pipe, O_CLOEXEC | O_NONBLOCK) == 0)
        uvsock_set_log(log_fn, NULL);
}

int print_log_fd(void)
{
    return log_pipe[0];
}

void print_log_drain(void)
{
    char junk[256];
    struct log_line *l;

    while (read(log_pipe[0], junk, sizeof(junk)) > 0) {
    }
    pthread_mutex_lock(&log_lock);
    l = log_head;
    log_head = NULL;
    log_tail = &log_head;
    pthread_mutex_unlock(&log_lock);
    while (l) {
        struct log_line *next = l->next;

        note(l->level <= UVSOCK_LOG_WARN ? C_ERROR : C_DIM, "log %s: %s",
             uvsock_log_level_str(l->level), l->msg);
        free(l);
        l = next;
    }
}

void print_init(void)
{
    const char *nc = getenv("NO_COLOR");

    sh.color = isatty(STDOUT_FILENO) && !(nc && nc[0]);
}
