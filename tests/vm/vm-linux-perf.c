/* SPDX-License-Identifier: MIT */
/*
 * vm-linux-perf: the yardstick. Runs in level 2 while the device is bound to the Linux
 * kernel's own virtio-vsock driver and measures, with AF_VSOCK sockets, exactly the workloads
 * vm-scenarios measures on uvsock (vm-proto.h): guest->host and host->guest throughput with
 * 64 KiB writes, and 1-byte round trips.
 *
 *   vm-linux-perf MIB ROUNDS
 *
 * Prints "PERF linux tx|rx <MB/s>" and "PERF linux rtt <median us> <p99 us>", or
 * "FAIL linux-perf: why".
 */
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdarg.h>

#include "vm-proto.h"

static int vsock_connect(uint32_t port)
{
    struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port};
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return vm_fail("socket(AF_VSOCK): %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        vm_fail("connect to 2:%u: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    uint64_t bytes;
    int rounds, fd;
    double secs = 0, med = 0, p99 = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: vm-linux-perf MIB ROUNDS\n");
        return 2;
    }
    bytes = strtoull(argv[1], NULL, 0) << 20;
    rounds = atoi(argv[2]);
    signal(SIGPIPE, SIG_IGN);

    if ((fd = vsock_connect(VM_PORT_SINK)) < 0 || vm_sink_send(fd, bytes, 1, 0, &secs) < 0)
        goto fail;
    close(fd);
    printf("PERF linux tx %.2f MB/s (%llu MiB in %.3f s)\n", (double)bytes / secs / 1e6,
           (unsigned long long)(bytes >> 20), secs);

    if ((fd = vsock_connect(VM_PORT_SOURCE)) < 0 || vm_source_recv(fd, bytes, 0, &secs) < 0)
        goto fail;
    close(fd);
    printf("PERF linux rx %.2f MB/s (%llu MiB in %.3f s)\n", (double)bytes / secs / 1e6,
           (unsigned long long)(bytes >> 20), secs);

    if ((fd = vsock_connect(VM_PORT_ECHO)) < 0 || vm_rtt(fd, rounds, &med, &p99) < 0)
        goto fail;
    close(fd);
    printf("PERF linux rtt %.1f %.1f us (median, p99 of %d)\n", med, p99, rounds);
    fflush(stdout);
    return 0;
fail:
    printf("FAIL linux-perf: %s\n", vm_why);
    fflush(stdout);
    return 1;
}
