/* SPDX-License-Identifier: MIT */
/*
 * uvsock: an interactive shell on the Device protocol, in the spirit of bluetoothctl and
 * testpmd. Issue Device calls by hand and watch the Callbacks arrive above the prompt.
 *
 *   uvsock [--device URI] [--pcap FILE] [--no-start] [-c 'cmd; cmd'] [script]
 *
 * One thread does everything: a poll() loop over the keyboard, the event queue's fd, the
 * connections' sockets, the library's log pipe, a Ctrl-C pipe and timers (`after`). The
 * same loop runs under the interactive prompt and under blocking script commands (wait,
 * expect, sendgen), so Callbacks and data are shown in the order they arrive either way.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shell.h"

struct shell sh = {.uri = "sim", .data = DATA_SHOW, .timeout_s = 5.0};

static int sigint_pipe[2] = {-1, -1};

uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Signals become bytes in a pipe the loop polls: 'i' cancels, 'q' (SIGTERM, SIGHUP) leaves
 * cleanly, with the open connections reset, as Ctrl-D does. */
static void on_signal(int sig)
{
    int saved = errno;
    char c = sig == SIGINT ? 'i' : 'q';

    if (write(sigint_pipe[1], &c, 1) < 0) {
    }
    errno = saved;
}

/* ========================================================================= timers == */

struct timer {
    struct timer *next;
    uint64_t due_ns;
    char line[];
};

static struct timer *timers;
static int in_timer;

void timer_add(double after_s, const char *line)
{
    size_t n = strlen(line) + 1;
    struct timer *t = malloc(sizeof(*t) + n), **pp = &timers;

    if (!t) {
        fail(cur_cmd, UVSOCK_ERR_NO_MEMORY, "timer");
        return;
    }
    t->due_ns = now_ns() + (uint64_t)(after_s * 1e9);
    memcpy(t->line, line, n);
    while (*pp && (*pp)->due_ns <= t->due_ns)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
}

static void run_timers(void)
{
    while (timers && timers->due_ns <= now_ns() && !in_timer && !sh.quit) {
        struct timer *t = timers;

        timers = t->next;
        in_timer = 1;
        note(C_DIM, "after: %s", t->line);
        run_line(t->line);
        in_timer = 0;
        free(t);
    }
}

/* ========================================================================= events == */

void handle_event(const struct uvsock_event *ev)
{
    const char *name = uvsock_event_type_str(ev->type);
    struct conn *c = NULL;

    if ((unsigned)ev->type < 8)
        sh.seen[ev->type]++;
    if (ev->type != UVSOCK_EVENT_TRANSPORT_RESET) {
        c = cn_by_addr(ev->addr);
        if (!c && ev->type == UVSOCK_EVENT_REQUEST && (c = cn_new(CONN_GUEST, ev->addr, -1)))
            c->phase = PH_INCOMING;
    }
    switch (ev->type) {
    case UVSOCK_EVENT_REQUEST:
        note(C_EVENT, "callback %-17s %s  %s  (accept %s or rst %s)", name, c ? cn_name(c) : "-",
             addr_str(ev->addr), c ? cn_name(c) : "", c ? cn_name(c) : "");
        return;
    case UVSOCK_EVENT_TRANSPORT_RESET:
        note(C_EVENT, "callback %-17s new_cid=%u  (every connection dropped)", name, ev->new_cid);
        cn_forget_all("transport reset");
        return;
    case UVSOCK_EVENT_RESPONSE:
        if (c)
            c->phase = PH_OPEN;
        break;
    default:
        break;
    }
    note(C_EVENT, "callback %-17s %s  %s", name, c ? cn_name(c) : "-", addr_str(ev->addr));
    if (c && ev->type == UVSOCK_EVENT_RST)
        cn_close(c, "rst");
}

static void drain_events(void)
{
    struct uvsock_event ev;

    while (uvsock_event_queue_pop(sh.q, &ev, 0) == UVSOCK_OK)
        handle_event(&ev);
}

/* =========================================================================== loop == */

int loop_once(int timeout_ms, int with_input)
{
    struct pollfd pfd[260];
    struct conn *who[256];
    int n = 0, in = -1, first_conn, nc, cancelled = 0;

    pfd[n++] = (struct pollfd){.fd = uvsock_event_queue_fd(sh.q), .events = POLLIN};
    pfd[n++] = (struct pollfd){.fd = print_log_fd(), .events = POLLIN};
    pfd[n++] = (struct pollfd){.fd = sigint_pipe[0], .events = POLLIN};
    if (with_input && !le_pending()) {
        in = n;
        pfd[n++] = (struct pollfd){.fd = le_fd(), .events = POLLIN};
    }
    first_conn = n;
    nc = cn_pollfds(pfd + n, who, 256);
    n += nc;
    if (with_input && le_pending())
        timeout_ms = 0;
    if (timers) {
        uint64_t now = now_ns();
        int t = timers->due_ns <= now ? 0 : (int)((timers->due_ns - now) / 1000000 + 1);

        if (timeout_ms < 0 || t < timeout_ms)
            timeout_ms = t;
    }
    if (poll(pfd, (nfds_t)n, timeout_ms) < 0 && errno != EINTR)
        return 0;
    if (pfd[2].revents & POLLIN) {
        char sigs[64];
        ssize_t k;

        while ((k = read(sigint_pipe[0], sigs, sizeof(sigs))) > 0)
            if (memchr(sigs, 'q', (size_t)k))
                sh.quit = 1;
        cancelled = 1;
        if (le_editing())
            le_cancel();
        else if (!sh.interactive)
            sh.quit = sh.failed = 1; /* a script stops at Ctrl-C */
    }
    if (pfd[0].revents & POLLIN)
        drain_events();
    if (pfd[1].revents & POLLIN)
        print_log_drain();
    for (int i = 0; i < nc; i++)
        if (pfd[first_conn + i].revents)
            cn_io(who[i], pfd[first_conn + i].revents);
    run_timers();
    if (!cancelled && with_input && !sh.quit && (le_pending() || (in >= 0 && pfd[in].revents))) {
        char *line = NULL;
        int r = le_read(&line);

        if (r < 0) {
            sh.quit = 1;
        } else if (r > 0) {
            le_add_history(line);
            if (run_line(line) != UVSOCK_OK && !sh.interactive && !sh.keep_going)
                sh.quit = 1;
            free(line);
            if (sh.interactive && !sh.quit)
                le_resume();
        }
    }
    return cancelled;
}

int loop_until(int (*done)(void *), void *arg, double timeout_s)
{
    uint64_t deadline = now_ns() + (uint64_t)(timeout_s * 1e9);

    /* What already arrived counts: events queued before the wait started. */
    drain_events();
    while (!done(arg)) {
        uint64_t now = now_ns();

        if (now >= deadline)
            return UVSOCK_ERR_TIMED_OUT;
        if (loop_once((int)((deadline - now) / 1000000) + 1, 0))
            return UVSOCK_ERR_CANCELED;
        if (sh.quit)
            return UVSOCK_ERR_CANCELED;
    }
    return UVSOCK_OK;
}

/* ========================================================================== modes == */

static const char *prompt(void)
{
    static char p[160];

    snprintf(p, sizeof(p), "uvsock [%s cid %u]> ", sh.uri[0] ? sh.uri : "sim",
             uvsock_get_cid(sh.dev));
    return p;
}

static const struct le_hooks hooks = {.prompt = prompt, .complete = complete_line};

/* Scripts: one command line after another; events in between are shown as they come. */
static int run_script(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, r = UVSOCK_OK;

    if (!f) {
        fprintf(stderr, "uvsock: %s: %s\n", path, strerror(errno));
        sh.failed = 1;
        return UVSOCK_ERR_IO;
    }
    while (!sh.quit && getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        loop_once(0, 0);
        r = run_line(line);
        if (r != UVSOCK_OK && !sh.keep_going) {
            fprintf(stderr, "uvsock: %s:%d: stopped: %s\n", path, lineno, uvsock_status_str(r));
            break;
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return r;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: uvsock [--device URI] [--pcap FILE] [--no-start] [-c 'cmd; cmd'] "
               "[script]\n"
               "  -d, --device URI  the device: sim (default), sim:cid=5, uio:0000:00:04.0\n"
               "  -p, --pcap FILE   capture every packet to FILE (pcap, LINKTYPE_VSOCK)\n"
               "  -c 'CMDS'         run commands (';' separated) and exit\n"
               "      --no-start    do not call Start (to try the calls before it)\n"
               "  script            run the commands in a file ('-': stdin) and exit\n"
               "Interactive when stdin is a terminal; commands are read from stdin otherwise.\n"
               "Exit status: 0, or 1 when a command failed, 2 for bad options or no device.\n");
}

static void leave(void)
{
    /* Ctrl-D / quit: RST what is still open so the peer knows, then close the device. */
    for (struct conn *c = cn_first(); c; c = c->next) {
        if (c->kind != CONN_GUEST || c->phase == PH_CLOSED)
            continue;
        uvsock_send_rst(sh.dev, c->addr);
        note(C_DIM, "rst %s  %s (leaving)", cn_name(c), addr_str(c->addr));
        cn_close(c, "left");
    }
    uvsock_close(sh.dev);
    uvsock_event_queue_free(sh.q);
    cn_free_all();
    while (timers) {
        struct timer *t = timers;

        timers = t->next;
        free(t);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"device", required_argument, NULL, 'd'},
                                         {"pcap", required_argument, NULL, 'p'},
                                         {"no-start", no_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *pcap = NULL, *cmds = NULL, *script = NULL;
    int opt, r, no_start = 0;
    struct sigaction sa = {.sa_handler = on_signal};

    while ((opt = getopt_long(argc, argv, "d:p:c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            sh.uri = optarg;
            break;
        case 'p':
            pcap = optarg;
            break;
        case 'c':
            cmds = optarg;
            break;
        case 'S':
            no_start = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        script = argv[optind++];
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    sh.interactive = !cmds && !script && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    sh.start_ns = now_ns();
    sh.times = sh.interactive;
    print_init();
    print_log_install();
    if (pipe2(sigint_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        perror("uvsock: pipe");
        return 2;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((r = uvsock_open(sh.uri, &sh.dev)) != UVSOCK_OK) {
        fprintf(stderr, "error: open %s: %s%s%s\n", sh.uri, uvsock_status_str(r),
                uvsock_last_error()[0] ? ": " : "", uvsock_last_error());
        return 2;
    }
    if ((r = uvsock_event_queue_new(&sh.q)) != UVSOCK_OK ||
        (!no_start && (r = uvsock_start_event_queue(sh.dev, sh.q)) != UVSOCK_OK)) {
        fprintf(stderr, "error: start: %s\n", uvsock_status_str(r));
        uvsock_close(sh.dev);
        return 2;
    }
    sh.started = !no_start;
    if (pcap && (r = uvsock_capture_start(sh.dev, pcap)) != UVSOCK_OK) {
        fprintf(stderr, "error: --pcap %s: %s%s%s\n", pcap, uvsock_status_str(r),
                uvsock_last_error()[0] ? ": " : "", uvsock_last_error());
        leave();
        return 2;
    }

    if (cmds || script) {
        if (cmds) {
            loop_once(0, 0);
            r = run_line(cmds);
        }
        if (script && (r == UVSOCK_OK || sh.keep_going) && !sh.quit)
            r = run_script(script);
        loop_once(0, 0); /* show what arrived during the last command */
    } else {
        le_init(sh.interactive, &hooks);
        if (sh.interactive) {
            out("uvsock shell on %s, guest CID %u%s. Type help; TAB completes; Ctrl-D leaves.",
                sh.uri, uvsock_get_cid(sh.dev), sh.started ? "" : " (not started)");
            le_resume();
        }
        while (!sh.quit)
            loop_once(-1, 1);
        le_end();
    }
    if (pcap)
        uvsock_capture_stop(sh.dev);
    leave();
    return sh.failed && !sh.interactive ? 1 : 0;
}
