/* SPDX-License-Identifier: MIT */
/*
 * Records a known session on the simulated device into a pcap file, for check-capture.sh to
 * decode with tshark:
 *   port 1200 -> echo (7): REQUEST, RESPONSE, RW "hello capture" both ways, SHUTDOWN, RST
 *   port 1201 -> source (19): 1 MiB read, which makes us send CREDIT_UPDATE
 *   port 1300 -> echo: the echo of "bad" arrives with hdr.len 4096 too large (BAD_LEN fault)
 *   port 1301 -> echo: the echo of "short" arrives 20 bytes long (SHORT fault)
 *   port 1302 -> echo: the echo of "type" arrives with type 0x7777: we answer RST
 * Usage: capture-session FILE
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uvsock.h"
#include "uvsock_sim.h"

static struct uvsock_dev *dev;
static struct uvsock_event_queue *q;

static int fail(const char *what, int status)
{
    fprintf(stderr, "capture-session: %s: %s %s\n", what, uvsock_status_str(status),
            uvsock_last_error());
    return 1;
}

static int wait_event(enum uvsock_event_type type, uint32_t port)
{
    struct uvsock_event ev;

    while (uvsock_event_queue_pop(q, &ev, 5000) == UVSOCK_OK)
        if (ev.type == type && ev.addr.local_port == port)
            return 0;
    fprintf(stderr, "capture-session: no %s on port %u\n", uvsock_event_type_str(type), port);
    return -1;
}

static int open_conn(uint32_t local, uint32_t remote, int *fd)
{
    struct uvsock_addr a = {local, UVSOCK_CID_HOST, remote};
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || uvsock_send_request(dev, a, sv[1]))
        return -1;
    *fd = sv[0];
    return wait_event(UVSOCK_EVENT_RESPONSE, local);
}

/* Reads exactly n bytes within 5 s. */
static int read_n(int fd, void *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t k;
        if (poll(&p, 1, 5000) <= 0 || (k = read(fd, (char *)buf + got, n - got)) <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Sends `text` on a fresh echo connection whose reply gets `fault`, and waits till it fired. */
static int faulted_echo(uint32_t port, const char *text, enum uvsock_sim_fault fault)
{
    int fd;

    if (open_conn(port, 7, &fd))
        return -1;
    uvsock_sim_inject(uvsock_sim(dev), fault, port);
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        return -1;
    for (int i = 0; i < 500 && uvsock_sim_fault_pending(uvsock_sim(dev)); i++)
        usleep(10000);
    usleep(50000); /* let the service thread take the faulted packet */
    close(fd);
    return uvsock_sim_fault_pending(uvsock_sim(dev)) ? -1 : 0;
}

int main(int argc, char **argv)
{
    static char big[1 << 20];
    char echo[13];
    int fd, r;

    if (argc != 2) {
        fprintf(stderr, "usage: capture-session FILE\n");
        return 2;
    }
    if ((r = uvsock_open("sim", &dev)) || (r = uvsock_event_queue_new(&q)) ||
        (r = uvsock_start_event_queue(dev, q)))
        return fail("open", r);
    if ((r = uvsock_capture_start(dev, argv[1])))
        return fail("capture start", r);

    if (open_conn(1200, 7, &fd) || write(fd, "hello capture", 13) != 13 || read_n(fd, echo, 13) ||
        memcmp(echo, "hello capture", 13))
        return fail("echo session", UVSOCK_ERR_IO);
    if ((r = uvsock_send_shutdown(dev, (struct uvsock_addr){1200, 2, 7})) ||
        wait_event(UVSOCK_EVENT_RST, 1200))
        return fail("shutdown", r ? r : UVSOCK_ERR_TIMED_OUT);
    close(fd);

    if (open_conn(1201, 19, &fd) || read_n(fd, big, sizeof(big)))
        return fail("source session", UVSOCK_ERR_IO);
    uvsock_send_rst(dev, (struct uvsock_addr){1201, 2, 19});
    close(fd);

    if (faulted_echo(1300, "bad", UVSOCK_SIM_FAULT_BAD_LEN) ||
        faulted_echo(1301, "short", UVSOCK_SIM_FAULT_SHORT) ||
        faulted_echo(1302, "type", UVSOCK_SIM_FAULT_BAD_TYPE))
        return fail("faults", UVSOCK_ERR_IO);

    if ((r = uvsock_capture_stop(dev)))
        return fail("capture stop", r);
    uvsock_close(dev);
    uvsock_event_queue_free(q);
    return 0;
}
