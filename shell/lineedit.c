/* SPDX-License-Identifier: MIT */
/*
 * The line editor behind a small interface (Lua's lua_readline idea): libedit on a terminal,
 * a plain line reader on pipes and files, so scripts, tests and CI need no tty.
 *
 * libedit runs with EL_UNBUFFERED: el_gets() returns after every key, which lets the main
 * loop poll() the keyboard together with the device's event fd and the sockets. The
 * readline-compatible API of libedit cannot redraw a line after printing above it (it
 * loses characters, see ../shared/reference/style-anchors.md §6), so the native API is used:
 * print "\r\033[K" + message, then EL_REFRESH redraws the prompt and the line intact.
 *
 * Between lines the editor is paused (EL_UNBUFFERED off restores the terminal's cooked
 * mode) so that commands print normally; turning it back on resets the line and draws the
 * prompt.
 */
#include <errno.h>
#include <histedit.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shell.h"

static const struct le_hooks *hooks;
static EditLine *el;
static History *hist;
static char hist_path[PATH_MAX];
static int editing;        /* prompt on screen, keys go to libedit */
static int cancel_pending; /* ^C read as a key (the terminal did not make it SIGINT) */

/* Plain reader. */
static char *pbuf;
static size_t plen, pcap;
static int peof;

static char *prompt_fn(EditLine *e)
{
    (void)e;
    return (char *)hooks->prompt();
}

static unsigned char complete_fn(EditLine *e, int ch)
{
    const LineInfo *li = el_line(e);
    size_t cur = (size_t)(li->cursor - li->buffer);
    char *line = strndup(li->buffer, cur);

    (void)ch;
    if (line) {
        hooks->complete(line, cur);
        free(line);
    }
    return CC_REFRESH;
}

static unsigned char cancel_fn(EditLine *e, int ch)
{
    (void)e;
    (void)ch;
    cancel_pending = 1;
    return CC_NORM;
}

static void history_setup(void)
{
    HistEvent ev;
    const char *p = getenv("UVSOCK_HISTORY"), *home = getenv("HOME");

    hist = history_init();
    if (!hist)
        return;
    history(hist, &ev, H_SETSIZE, 1000);
    history(hist, &ev, H_SETUNIQUE, 1);
    if (p && p[0])
        snprintf(hist_path, sizeof(hist_path), "%s", p);
    else if (home && home[0])
        snprintf(hist_path, sizeof(hist_path), "%s/.uvsock_history", home);
    if (hist_path[0])
        history(hist, &ev, H_LOAD, hist_path); /* a missing file is a first session */
    el_set(el, EL_HIST, history, hist);
}

int le_init(int use_editor, const struct le_hooks *h)
{
    hooks = h;
    if (!use_editor)
        return 0;
    el = el_init("uvsock", stdin, stdout, stderr);
    if (!el)
        return -1;
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, prompt_fn);
    el_set(el, EL_ADDFN, "uvsock-complete", "complete a command, argument or connection",
           complete_fn);
    el_set(el, EL_BIND, "^I", "uvsock-complete", NULL);
    el_set(el, EL_ADDFN, "uvsock-cancel", "cancel the line", cancel_fn);
    el_set(el, EL_BIND, "^C", "uvsock-cancel", NULL);
    history_setup();
    el_source(el, NULL); /* the user's ~/.editrc, if any */
    return 0;
}

void le_end(void)
{
    if (el) {
        if (editing) {
            fputs("\r\n", stdout);
            fflush(stdout);
        }
        el_set(el, EL_UNBUFFERED, 0);
        el_end(el);
        el = NULL;
    }
    if (hist)
        history_end(hist);
    hist = NULL;
    editing = 0;
    free(pbuf);
    pbuf = NULL;
}

int le_fd(void)
{
    return STDIN_FILENO;
}

int le_editing(void)
{
    return editing;
}

void le_pause(void)
{
    if (el && editing) {
        editing = 0;
        el_set(el, EL_UNBUFFERED, 0);
    }
}

void le_resume(void)
{
    if (el && !editing) {
        editing = 1;
        el_set(el, EL_UNBUFFERED, 1); /* resets the line and draws the prompt */
    }
}

/*
 * Clears the prompt and the half-typed line before printing above them. A line longer than
 * the terminal wraps: go up to its first row, then clear to the end of the screen.
 */
void le_clear(void)
{
    const LineInfo *li = el_line(el);
    int cols = 0;
    size_t pos = strlen(hooks->prompt()) + (size_t)(li->cursor - li->buffer);

    if (el_get(el, EL_GETTC, "co", &cols) != 0 || cols <= 0)
        cols = 80;
    if (pos / (size_t)cols > 0)
        fprintf(stdout, "\033[%zuA", pos / (size_t)cols);
    fputs("\r\033[J", stdout);
}

void le_redraw(void)
{
    if (el && editing)
        el_set(el, EL_REFRESH);
}

void le_cancel(void)
{
    if (!el || !editing)
        return;
    cancel_pending = 0;
    fputs("^C\r\n", stdout);
    fflush(stdout);
    le_pause();
    le_resume();
}

void le_add_history(const char *line)
{
    HistEvent ev;

    if (!hist || !line[strspn(line, " \t")])
        return;
    history(hist, &ev, H_ENTER, line);
    if (hist_path[0])
        history(hist, &ev, H_SAVE, hist_path);
}

void le_insert(const char *s)
{
    if (el)
        el_insertstr(el, s);
}

void le_list_candidates(const char *const *c, size_t n)
{
    char line[2048] = "";
    size_t k = 0;

    for (size_t i = 0; i < n && k < sizeof(line) - 64; i++)
        k += (size_t)snprintf(line + k, sizeof(line) - k, "%s%s", i ? "  " : "", c[i]);
    out("%s", line);
}

/* ---------------------------------------------------------------- plain reader -- */

static int plain_take(char **line, int at_eof)
{
    char *nl = plen ? memchr(pbuf, '\n', plen) : NULL;
    size_t n;

    if (!nl && !(at_eof && plen))
        return 0;
    n = nl ? (size_t)(nl - pbuf) : plen;
    *line = strndup(pbuf, n);
    if (!*line)
        return -1;
    n = nl ? n + 1 : n;
    memmove(pbuf, pbuf + n, plen - n);
    plen -= n;
    return 1;
}

static int plain_read(char **line)
{
    ssize_t n;
    int r = plain_take(line, peof);

    if (r || peof)
        return r ? r : -1;
    if (pcap - plen < 4096) {
        char *p = realloc(pbuf, pcap + 65536);

        if (!p)
            return -1;
        pbuf = p;
        pcap += 65536;
    }
    n = read(STDIN_FILENO, pbuf + plen, pcap - plen);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0)
        peof = 1;
    plen += (size_t)n;
    r = plain_take(line, peof);
    return r ? r : (peof ? -1 : 0);
}

/* A complete line already buffered: the loop must not wait for the fd. */
int le_pending(void)
{
    return !el && ((plen && memchr(pbuf, '\n', plen)) || peof);
}

int le_read(char **line)
{
    const char *s;
    int count = 0;

    if (!el)
        return plain_read(line);
    if (!editing)
        le_resume();
    s = el_gets(el, &count);
    if (cancel_pending) {
        le_cancel();
        return 0;
    }
    if (!s || count <= 0)
        return count < 0 && errno != EINTR && errno != EAGAIN ? -1 : 0;
    if (s[count - 1] == 4) { /* Ctrl-D on an empty line */
        fputs("\r\n", stdout);
        fflush(stdout);
        le_pause();
        return -1;
    }
    if (s[count - 1] != '\n')
        return 0;
    *line = strndup(s, (size_t)count - 1);
    le_pause();
    return *line ? 1 : -1;
}
