/* SPDX-License-Identifier: MIT */
/*
 * uvsock shell: internal interfaces between its subsystems.
 *
 *   main.c      options, modes (interactive, script, -c), the poll loop, timers, exit
 *   lineedit.c  libedit (interactive) or a plain line reader (pipes, scripts)
 *   print.c     every line the shell prints: above the prompt when one is shown, colours,
 *               time stamps, hexdump, the library's log messages from other threads
 *   conns.c     connections by short id (c1, h1), their data buffers, socket I/O
 *   commands.c  the command table (the single source of truth), parsing, help, completion
 *   cmd_*.c     command handlers, one group per file
 *
 * Everything runs on the main thread except the library's log callback (print.c).
 */
#ifndef UVSOCK_SHELL_H
#define UVSOCK_SHELL_H

#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "uvsock.h"
#include "uvsock_sim.h"

/* ========================================================================== state == */

enum data_mode {
    DATA_SHOW, /* print received bytes as they arrive (and keep the last 64 KiB) */
    DATA_HOLD, /* keep them for `recv` / `expect data` (up to 16 MiB, then stop reading) */
    DATA_OFF,  /* do not read the sockets at all: the data stays in the core */
};

struct shell {
    const char *uri;
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    int started;
    int interactive; /* a terminal with the line editor */
    int quit;
    int failed;       /* a command failed (exit status in scripts) */
    int keep_going;   /* scripts: continue after a failed command */
    int color, times; /* settings */
    enum data_mode data;
    double timeout_s;   /* default timeout of wait / expect / sendgen */
    uint64_t start_ns;  /* CLOCK_MONOTONIC at start, for time stamps */
    uint64_t seen[8];   /* events received, by type */
    uint64_t waited[8]; /* events consumed by `wait`, by type */
};

extern struct shell sh;

uint64_t now_ns(void);

/* ==================================================================== connections == */

enum conn_kind { CONN_GUEST, CONN_HOST };

enum conn_phase {
    PH_CONNECTING, /* we sent a Request */
    PH_INCOMING,   /* the peer sent a Request, not yet accepted */
    PH_OPEN,       /* Response received or sent */
    PH_CLOSED,     /* Rst, transport reset, Start, or the host end closed */
};

struct buf {
    uint8_t *p;
    size_t len, cap;
};

struct conn {
    struct conn *next;
    enum conn_kind kind;
    int id;                  /* c<id> for the driver's side, h<id> for the sim's host side */
    struct uvsock_addr addr; /* CONN_HOST: local = guest port, remote = host port */
    enum conn_phase phase;
    const char *closed_by; /* "rst", "transport reset", ... */
    int fd;                /* our end of the socketpair / the host program's fd; -1 */
    int eof;               /* read returned 0 */
    struct buf rx, tx;     /* received, not yet consumed; queued to write */
    uint64_t bytes_in, bytes_out;
    /* sendgen: verifying an echo */
    uint64_t gen_want, gen_got;
    int gen_active;
    char gen_error[128];
};

struct conn *cn_new(enum conn_kind kind, struct uvsock_addr addr, int fd);
void cn_close(struct conn *c, const char *why);
struct conn *cn_first(void);
/* The live (not closed) guest connection with this address, else NULL. */
struct conn *cn_by_addr(struct uvsock_addr addr);
/*
 * Resolves "c1", "1", "h2", "CID:PORT" or "CID:PORT/LPORT"; NULL with a message in err
 * (UVSOCK_ERR_NOT_FOUND or INVALID_ARGS in *status).
 */
struct conn *cn_find(const char *ref, enum conn_kind kind, int *status, char *err, size_t errlen);
const char *cn_name(const struct conn *c);  /* "c1" (static buffer, rotating) */
const char *addr_str(struct uvsock_addr a); /* "1025 -> 2:7" (static buffer, rotating) */
const char *cn_phase_str(enum conn_phase p);
uint32_t cn_free_port(void);         /* a local port no live connection uses, from 1024 */
void cn_forget_all(const char *why); /* Start, transport reset: all guest conns closed */
/* Queues bytes to write; written by the loop as the socket takes them. */
void cn_queue(struct conn *c, const void *p, size_t n);
/* Poll set up / handling for the loop. */
int cn_pollfds(struct pollfd *pfd, struct conn **who, int max);
void cn_io(struct conn *c, short revents);
void cn_free_all(void);

void buf_add(struct buf *b, const void *p, size_t n);
void buf_drop(struct buf *b, size_t n); /* removes the first n bytes */

/* ====================================================================== printing == */

enum color { C_NONE, C_EVENT, C_ERROR, C_DATA, C_HOST, C_DIM, C_OK };

/* Command output: one or more lines. */
void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void outc(enum color c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Asynchronous notes (callbacks, data, log): with a time stamp when `set time on`. */
void note(enum color c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "error: CMD: ZX_ERR_X: message" on one line; marks the command failed; returns status. */
int fail(const char *cmd, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void hexdump(const char *prefix, const uint8_t *p, size_t n);
/* Prints bytes as text when printable, else as a hexdump. */
void print_data(const char *who, const uint8_t *p, size_t n, int as_hex);

void print_init(void);
void print_log_install(void); /* the library's log messages go through the loop */
int print_log_fd(void);       /* readable when log lines are waiting */
void print_log_drain(void);

/* ===================================================================== line editor == */

struct le_hooks {
    const char *(*prompt)(void);
    /* Completion: candidates for the word at [start, end) of line. */
    void (*complete)(const char *line, size_t cursor);
};

int le_init(int use_editor, const struct le_hooks *hooks);
void le_end(void);
int le_fd(void);
/*
 * Call when le_fd() is readable. Returns 1 with a complete line in *line (caller frees),
 * 0 when more input is needed, -1 at end of input (Ctrl-D, EOF).
 */
int le_read(char **line);
int le_pending(void); /* a complete line is buffered (plain reader) */
int le_editing(void); /* a prompt and a half-typed line are on screen */
void le_pause(void);  /* a command runs: the terminal back to normal */
void le_resume(void); /* draws the prompt again */
void le_clear(void);  /* before printing above the line */
void le_redraw(void); /* after printing above the line */
void le_cancel(void); /* Ctrl-C: drop the half-typed line */
void le_add_history(const char *line);
/* Completion helpers, used by the complete hook. */
void le_insert(const char *s);
void le_list_candidates(const char *const *c, size_t n);

/* ====================================================================== commands == */

/* A command handler: argc/argv after the command's name. Returns a uvsock status. */
typedef int (*cmd_fn)(int argc, char **argv);

struct command {
    const char *name; /* "connect", or two words for groups: "sim connect" */
    const char *args; /* "<cid:port> [from <lport>]": drives help, checks and completion */
    cmd_fn fn;
    const char *help; /* one line */
    unsigned flags;
};

#define CMD_SIM  1u /* only on a sim device */
#define CMD_ADDR 2u /* the first argument may be typed "CID PORT" as well as "CID:PORT" */

extern const struct command commands[];
extern const size_t n_commands;

/* Runs one line (several commands separated by ';'). Returns 0 or the first failure. */
int run_line(const char *line);
void complete_line(const char *line, size_t cursor);

/* Handlers (cmd_device.c, cmd_data.c, cmd_sim.c, cmd_misc.c). */
int cmd_start(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_accept(int argc, char **argv);
int cmd_shutdown(int argc, char **argv);
int cmd_rst(int argc, char **argv);
int cmd_cid(int argc, char **argv);
int cmd_sendvmo(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_why(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_sendhex(int argc, char **argv);
int cmd_sendfile(int argc, char **argv);
int cmd_sendgen(int argc, char **argv);
int cmd_recv(int argc, char **argv);
int cmd_sim_connect(int argc, char **argv);
int cmd_sim_listen(int argc, char **argv);
int cmd_sim_unlisten(int argc, char **argv);
int cmd_sim_accept(int argc, char **argv);
int cmd_sim_send(int argc, char **argv);
int cmd_sim_recv(int argc, char **argv);
int cmd_sim_close(int argc, char **argv);
int cmd_sim_reset(int argc, char **argv);
int cmd_sim_setcid(int argc, char **argv);
int cmd_sim_credit(int argc, char **argv);
int cmd_sim_corrupt(int argc, char **argv);
int cmd_sim_stats(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_expect_data(int argc, char **argv);
int cmd_expect_state(int argc, char **argv);
int cmd_expect_cid(int argc, char **argv);
int cmd_sleep(int argc, char **argv);
int cmd_after(int argc, char **argv);
int cmd_print(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_quit(int argc, char **argv);

/* Data helpers shared by the driver's and the host's side (cmd_data.c). */
int send_words(enum conn_kind kind, int argc, char **argv);
int show_received(enum conn_kind kind, int argc, char **argv);

/* The name of the command running now, for error messages. */
extern const char *cur_cmd;

/* Argument parsing with uniform errors (they call fail()). */
int arg_u32(const char *s, const char *what, uint32_t *out);
int arg_u64(const char *s, const char *what, uint64_t *out);
int arg_seconds(const char *s, double *out);
/* "CID:PORT" into addr (local_port untouched). */
int arg_addr(const char *s, struct uvsock_addr *addr);
struct conn *arg_conn(const char *ref, enum conn_kind kind);
struct uvsock_sim *need_sim(void);

/* =========================================================================== loop == */

/*
 * One round of the loop: waits up to timeout_ms (-1: forever) for events, socket data, log
 * lines, timers and (when with_input) the user's keys, and handles them.
 * Returns 1 if Ctrl-C was pressed.
 */
int loop_once(int timeout_ms, int with_input);
/* Runs loop rounds until done() or the timeout; UVSOCK_OK, TIMED_OUT or CANCELED. */
int loop_until(int (*done)(void *), void *arg, double timeout_s);
void timer_add(double after_s, const char *line);
void handle_event(const struct uvsock_event *ev);

#endif /* UVSOCK_SHELL_H */
