/* SPDX-License-Identifier: MIT */
/*
 * The capture API: status codes, the file's framing (counted against what the core reports),
 * and a write failure mid-capture (a file size limit standing in for a full disk): the data
 * path is unharmed, stop says why, and the packets lost are counted.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "test.h"

/* Counts the records of a pcap file; -1 if the framing is broken. */
static long pcap_records(const char *path, uint32_t *linktype)
{
    uint32_t hdr[6], rec[4];
    long n = 0;
    int fd = open(path, O_RDONLY);

    if (fd < 0 || read(fd, hdr, sizeof(hdr)) != sizeof(hdr) || hdr[0] != 0xa1b2c3d4) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *linktype = hdr[5];
    for (;;) {
        ssize_t k = read(fd, rec, sizeof(rec));
        if (k == 0)
            break;
        if (k != sizeof(rec) || rec[2] < 32 || rec[2] != rec[3] ||
            lseek(fd, rec[2], SEEK_CUR) < 0) {
            n = -1;
            break;
        }
        n++;
    }
    /* A record cut short by the end of the file shows as a seek past the end. */
    if (n >= 0) {
        struct stat st;
        off_t pos = lseek(fd, 0, SEEK_CUR);
        if (fstat(fd, &st) < 0 || pos != st.st_size)
            n = -1;
    }
    close(fd);
    return n;
}

TEST(capture_status_codes)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    char path[] = "/tmp/uvsock-capture-XXXXXX";
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    close(fd);
    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK_STATUS(uvsock_capture_stop(dev), UVSOCK_ERR_BAD_STATE);
    CHECK_STATUS(uvsock_capture_start(dev, NULL), UVSOCK_ERR_INVALID_ARGS);
    CHECK_STATUS(uvsock_capture_start(dev, "/nonexistent-dir/x.pcap"), UVSOCK_ERR_IO);
    CHECK(strstr(uvsock_last_error(), "No such file") != NULL);
    CHECK_STATUS(uvsock_capture_start(dev, path), UVSOCK_OK);
    CHECK_STATUS(uvsock_capture_start(dev, path), UVSOCK_ERR_BAD_STATE);
    CHECK_STATUS(uvsock_capture_stop(dev), UVSOCK_OK);
    CHECK_STATUS(uvsock_capture_stop(dev), UVSOCK_ERR_BAD_STATE);
    /* A capture whose first write fails does not start. */
    CHECK_STATUS(uvsock_capture_start(dev, "/dev/full"), UVSOCK_ERR_IO);
    CHECK(strstr(uvsock_last_error(), "No space") != NULL);
    scn_close(dev, q);
    unlink(path);
}

TEST(capture_counts_every_packet)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_capture_stats st;
    struct uvsock_dev_info info;
    char path[] = "/tmp/uvsock-capture-XXXXXX";
    uint32_t linktype = 0;
    int fd = mkstemp(path), user;

    CHECK(fd >= 0);
    close(fd);
    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK_STATUS(uvsock_capture_start(dev, path), UVSOCK_OK);
    CHECK(scn_connect(dev, q, 1400, 7, &user) == 0);
    CHECK(scn_echo_check(user, 1 << 20, 7) == 0);
    CHECK_STATUS(uvsock_send_rst(dev, scn_addr(1400, 2, 7)), UVSOCK_OK);
    scn_sleep_ms(100);
    CHECK_STATUS(uvsock_capture_stats(dev, &st), UVSOCK_OK);
    CHECK_STATUS(uvsock_dev_info(dev, &info), UVSOCK_OK);
    CHECK(st.active);
    CHECK_EQ(st.dropped, 0);
    CHECK_EQ(st.error, 0);
    /* Every packet sent and every packet received (all valid here) is in the capture. */
    CHECK_EQ(st.packets, info.packets_sent + info.packets_received);
    CHECK_STATUS(uvsock_capture_stop(dev), UVSOCK_OK);
    CHECK_EQ(pcap_records(path, &linktype), (long)st.packets);
    CHECK_EQ(linktype, 271);
    close(user);
    scn_close(dev, q);
    unlink(path);
}

TEST(capture_write_failure)
{
    struct uvsock_dev *dev;
    struct uvsock_event_queue *q;
    struct uvsock_capture_stats st;
    struct rlimit old, small = {.rlim_cur = 64 * 1024, .rlim_max = RLIM_INFINITY};
    char path[] = "/tmp/uvsock-capture-XXXXXX";
    uint32_t linktype = 0;
    long records;
    int fd = mkstemp(path), user, r;

    CHECK(fd >= 0);
    close(fd);
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    small.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead */
    CHECK(scn_open("sim", &dev, &q) == 0);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    CHECK_STATUS(uvsock_capture_start(dev, path), UVSOCK_OK);
    CHECK(scn_connect(dev, q, 1401, 7, &user) == 0);
    /* 4 MiB each way: far more than 64 KiB of capture; the data must still arrive intact. */
    CHECK(scn_echo_check(user, 4 << 20, 9) == 0);
    CHECK_STATUS(uvsock_capture_stats(dev, &st), UVSOCK_OK);
    r = uvsock_capture_stop(dev);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_STATUS(r, UVSOCK_ERR_IO);
    CHECK(strstr(uvsock_last_error(), "too large") != NULL);
    CHECK(strstr(uvsock_last_error(), "dropped") != NULL);
    CHECK_EQ(st.error, EFBIG);
    CHECK(st.dropped > 0);
    /* What was written before the failure is a valid capture of whole records. */
    records = pcap_records(path, &linktype);
    CHECK(records > 0);
    CHECK_EQ(linktype, 271);
    close(user);
    scn_close(dev, q);
    unlink(path);
}

int main(void)
{
    scn_init();
    RUN(capture_status_codes);
    RUN(capture_counts_every_packet);
    RUN(capture_write_failure);
    TEST_EXIT();
}
