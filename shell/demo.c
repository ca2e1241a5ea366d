/* SPDX-License-Identifier: MIT */
/*
 * uvsock-demo: the smallest complete use of the Device protocol. Opens a device (default:
 * the simulated one), connects to the host's echo service (CID 2, port 7), sends a message,
 * prints every Callback as it arrives and the bytes echoed back, then closes gracefully.
 *
 *   uvsock-demo [--device URI] [--port N] [--message TEXT]
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "uvsock.h"

static void log_to_stderr(void *ctx, enum uvsock_log_level level, const char *msg)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    (void)ctx;
    fprintf(stderr, "uvsock %s: %s\n", names[level], msg);
}

static void print_event(const struct uvsock_event *ev)
{
    if (ev->type == UVSOCK_EVENT_TRANSPORT_RESET)
        printf("callback %-17s new_cid=%u\n", uvsock_event_type_str(ev->type), ev->new_cid);
    else
        printf("callback %-17s local_port=%u remote_cid=%u remote_port=%u\n",
               uvsock_event_type_str(ev->type), ev->addr.local_port, ev->addr.remote_cid,
               ev->addr.remote_port);
    fflush(stdout);
}

/* Waits for an event of `type`, printing every event on the way. */
static int wait_event(struct uvsock_event_queue *q, enum uvsock_event_type type, int timeout_ms)
{
    struct uvsock_event ev;
    int r;

    while ((r = uvsock_event_queue_pop(q, &ev, timeout_ms)) == UVSOCK_OK) {
        print_event(&ev);
        if (ev.type == type)
            return UVSOCK_OK;
        if (ev.type == UVSOCK_EVENT_RST)
            return UVSOCK_ERR_PEER_CLOSED;
    }
    return r;
}

static int die(const char *what, int status)
{
    fprintf(stderr, "uvsock-demo: %s: %s%s%s\n", what, uvsock_status_str(status),
            uvsock_last_error()[0] ? ": " : "", uvsock_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"device", required_argument, NULL, 'd'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"message", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *uri = "sim", *message = "hello, vsock";
    struct uvsock_addr addr = {.local_port = 1025, .remote_cid = UVSOCK_CID_HOST, .remote_port = 7};
    struct uvsock_event_queue *q;
    struct uvsock_dev *dev;
    char echo[4096];
    size_t got = 0, want;
    int sv[2], opt, r;

    while ((opt = getopt_long(argc, argv, "d:p:m:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            uri = optarg;
            break;
        case 'p':
            addr.remote_port = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 'm':
            message = optarg;
            break;
        default:
            fprintf(stderr, "usage: %s [--device URI] [--port N] [--message TEXT]\n", argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    want = strlen(message);
    if (want > sizeof(echo)) {
        fprintf(stderr, "uvsock-demo: message longer than %zu bytes\n", sizeof(echo));
        return 2;
    }
    uvsock_set_log(log_to_stderr, NULL);

    if ((r = uvsock_open(uri, &dev)))
        return die("open", r);
    printf("device %s: guest CID %u\n", uri, uvsock_get_cid(dev));
    if ((r = uvsock_event_queue_new(&q)) || (r = uvsock_start_event_queue(dev, q)))
        return die("start", r);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("socketpair");
        return 1;
    }
    printf("SendRequest to %u:%u from port %u\n", addr.remote_cid, addr.remote_port,
           addr.local_port);
    if ((r = uvsock_send_request(dev, addr, sv[1])))
        return die("SendRequest", r);
    if ((r = wait_event(q, UVSOCK_EVENT_RESPONSE, 5000)))
        return die("waiting for Response", r);

    printf("sending %zu bytes: %s\n", want, message);
    if (write(sv[0], message, want) != (ssize_t)want) {
        perror("write");
        return 1;
    }
    while (got < want) {
        struct pollfd pfd = {.fd = sv[0], .events = POLLIN};
        ssize_t n;

        if (poll(&pfd, 1, 5000) <= 0) {
            fprintf(stderr, "uvsock-demo: no echo after 5 s (%zu of %zu bytes)\n", got, want);
            return 1;
        }
        n = read(sv[0], echo + got, want - got);
        if (n <= 0) {
            fprintf(stderr, "uvsock-demo: connection ended after %zu bytes\n", got);
            return 1;
        }
        got += (size_t)n;
    }
    printf("echoed %zu bytes: %.*s\n", got, (int)got, echo);
    if (memcmp(echo, message, want) != 0) {
        fprintf(stderr, "uvsock-demo: the echo differs from what was sent\n");
        return 1;
    }

    printf("SendShutdown\n");
    if ((r = uvsock_send_shutdown(dev, addr)))
        return die("SendShutdown", r);
    /* The host answers a full SHUTDOWN with RST: the connection is then gone. */
    r = wait_event(q, UVSOCK_EVENT_RST, 5000);
    if (r != UVSOCK_ERR_PEER_CLOSED && r != UVSOCK_OK)
        return die("waiting for the host's Rst", r);
    close(sv[0]);
    uvsock_close(dev);
    uvsock_event_queue_free(q);
    printf("closed\n");
    return 0;
}
