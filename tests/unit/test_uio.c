/* SPDX-License-Identifier: MIT */
/*
 * The UIO PCI function (driver/uio.c, driver/uio_dma.c) on a fake sysfs and /dev tree built in
 * a temporary directory: every open error, config space and BAR access, interrupts and poll
 * mode. DMA memory is tested for real through /proc/self/pagemap (the tests run as root):
 * each device address must be the physical address the pagemap gives for the CPU address.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pci_func.h"
#include "test.h"
#include "uio.h"
#include "uvsock.h"
#include "virtio_pci.h"

#define BDF      "0000:00:04.0"
#define BAR_SIZE 0x4000u

static char root[64];
static char sysfs[128], devroot[128], devdir[256], uri_base[512];

static void put_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fwrite(data, 1, len, f);
    fclose(f);
}

static void put_text(const char *dir, const char *name, const char *text)
{
    put_file(dir, name, text, strlen(text));
}

static void sh(const char *fmt, const char *a)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), fmt, a, a, a);
    if (system(cmd) != 0) {
        fprintf(stderr, "failed: %s\n", cmd);
        exit(2);
    }
}

static void set_driver(const char *name)
{
    char link[512], target[256];
    snprintf(link, sizeof(link), "%s/driver", devdir);
    unlink(link);
    if (name) {
        snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", name);
        if (symlink(target, link) < 0)
            exit(2);
    }
}

static void set_ids(const char *vendor, const char *device)
{
    put_text(devdir, "vendor", vendor);
    put_text(devdir, "device", device);
}

/* A virtio socket device at BDF, bound to uio_pci_generic, with BAR 4 of 16 KiB. */
static void build_tree(void)
{
    uint8_t cfg[256] = {0};
    char dir[512];

    sh("rm -rf %s", root);
    snprintf(devdir, sizeof(devdir), "%s/bus/pci/devices/" BDF, sysfs);
    sh("mkdir -p %s", devdir);
    snprintf(dir, sizeof(dir), "%s/uio/uio0", devdir);
    sh("mkdir -p %s", dir);
    snprintf(dir, sizeof(dir), "%s/kernel/mm/hugepages/hugepages-2048kB", sysfs);
    sh("mkdir -p %s", dir);
    put_text(dir, "free_hugepages", "0\n");
    sh("mkdir -p %s", devroot);
    put_text(devroot, "uio0", "");

    set_ids("0x1af4\n", "0x1053\n");
    cfg[0] = 0xf4, cfg[1] = 0x1a, cfg[2] = 0x53, cfg[3] = 0x10;
    put_file(devdir, "config", cfg, sizeof(cfg));
    put_text(devdir, "resource",
             "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
             "0x00000000fe001000 0x00000000fe001fff 0x0000000000040200\n"
             "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
             "0x000000000000c000 0x000000000000c03f 0x0000000000040101\n"
             "0x00000000fe000000 0x00000000fe003fff 0x000000000014220c\n"
             "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
             "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    static uint8_t bar[BAR_SIZE];
    put_file(devdir, "resource4", bar, sizeof(bar));
    put_file(devdir, "resource1", bar, 4096);
    set_driver("uio_pci_generic");
}

static void setup_root(void)
{
    strcpy(root, "/tmp/uvsock-uio-XXXXXX");
    if (!mkdtemp(root))
        exit(2);
    snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
    snprintf(devroot, sizeof(devroot), "%s/dev", root);
    snprintf(uri_base, sizeof(uri_base), "sysfs=%s,dev=%s", sysfs, devroot);
}

/* Opens "uio:<bdf>,sysfs=..,dev=..<extra>"; returns the error, and the sentence in *why. */
static int open_fake(const char *bdf, const char *extra, struct pci_func **f, const char **why)
{
    char uri[1024];
    snprintf(uri, sizeof(uri), "uio:%s,%s%s", bdf, uri_base, extra ? extra : "");
    return pci_func_open(uri, f, why);
}

static bool contains(const char *s, const char *part)
{
    return s && strstr(s, part);
}

static int read_at(const char *name, off_t off, void *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", devdir, name);
    int fd = open(path, O_RDONLY);
    int n = (int)pread(fd, buf, len, off);
    close(fd);
    return n;
}

TEST(open_and_access)
{
    struct pci_func *f;
    const char *why = NULL;
    uint16_t ids[2], cmd;

    build_tree();
    CHECK_EQ(open_fake(BDF, NULL, &f, &why), 0);
    CHECK(!strcmp(f->name, "uio:" BDF));
    CHECK_EQ(f->dma_max_contig, 4096); /* no hugepages in the fake tree */

    CHECK_EQ(f->ops->cfg_read(f, 0, ids, sizeof(ids)), 0);
    CHECK_EQ(ids[0], 0x1af4);
    CHECK_EQ(ids[1], 0x1053);
    /* Open turned on memory decoding and bus mastering. */
    CHECK_EQ(read_at("config", PCI_COMMAND, &cmd, 2), 2);
    CHECK_EQ(cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
             PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    uint8_t b = 0x5a;
    CHECK_EQ(f->ops->cfg_write(f, 0x40, &b, 1), 0);
    CHECK_EQ(read_at("config", 0x40, &b, 1), 1);
    CHECK_EQ(b, 0x5a);
    CHECK_EQ(f->ops->cfg_read(f, 255, ids, 2), -EINVAL);
    CHECK_EQ(f->ops->cfg_read(f, 0xffffffffu, ids, 2), -EINVAL);
    CHECK_EQ(f->ops->cfg_write(f, 256, ids, 1), -EINVAL);

    /* Memory BARs 1 and 4 are mapped; the I/O BAR 3 and absent ones are not. */
    CHECK_EQ(f->ops->bar_size(f, 4), BAR_SIZE);
    CHECK_EQ(f->ops->bar_size(f, 1), 4096);
    CHECK_EQ(f->ops->bar_size(f, 3), 0);
    CHECK_EQ(f->ops->bar_size(f, 0), 0);
    CHECK_EQ(f->ops->bar_size(f, 6), 0);
    CHECK_EQ(f->ops->bar_size(f, -1), 0);

    f->ops->bar_write(f, 4, 0x10, 1, 0xab);
    f->ops->bar_write(f, 4, 0x12, 2, 0xcdef);
    f->ops->bar_write(f, 4, 0x14, 4, 0x01234567);
    f->ops->bar_write(f, 4, 0x18, 8, 0x1122334455667788ull);
    f->ops->bar_write(f, 4, BAR_SIZE - 8, 8, 0xfeedfacecafebeefull);
    CHECK_EQ(f->ops->bar_read(f, 4, 0x10, 1), 0xab);
    CHECK_EQ(f->ops->bar_read(f, 4, 0x12, 2), 0xcdef);
    CHECK_EQ(f->ops->bar_read(f, 4, 0x14, 4), 0x01234567);
    CHECK(f->ops->bar_read(f, 4, 0x18, 8) == 0x1122334455667788ull);
    /* The stores went to the file behind the mapping, with their widths' byte order. */
    uint8_t raw[16];
    CHECK_EQ(read_at("resource4", 0x10, raw, sizeof(raw)), 16);
    CHECK_EQ(raw[0], 0xab);
    CHECK_EQ(raw[2] | raw[3] << 8, 0xcdef);
    CHECK_EQ(raw[8], 0x88);
    CHECK_EQ(raw[15], 0x11);
    /* Out of range, misaligned or odd widths: all ones, and writes are dropped. */
    CHECK(f->ops->bar_read(f, 4, BAR_SIZE - 4, 8) == ~0ull);
    CHECK(f->ops->bar_read(f, 4, BAR_SIZE, 1) == ~0ull);
    CHECK(f->ops->bar_read(f, 4, 0x11, 2) == ~0ull);
    CHECK(f->ops->bar_read(f, 4, 0x10, 3) == ~0ull);
    CHECK(f->ops->bar_read(f, 3, 0, 4) == ~0ull);
    CHECK(f->ops->bar_read(f, 9, 0, 4) == ~0ull);
    f->ops->bar_write(f, 4, UINT64_MAX - 1, 2, 0);
    f->ops->bar_write(f, 0, 0, 4, 0);

    /* INTx: the fd is /dev/uio0; an ack writes a 4-byte 1 to re-enable the line. */
    CHECK(f->ops->irq_fd(f) >= 0);
    f->ops->irq_ack(f);
    int32_t on = 0;
    char path[512];
    snprintf(path, sizeof(path), "%s/uio0", devroot);
    int fd = open(path, O_RDONLY);
    CHECK_EQ(read(fd, &on, sizeof(on)), 4);
    close(fd);
    CHECK_EQ(on, 1);

    pci_func_destroy(f);
    /* Destroy turned bus mastering off before giving the DMA memory back. */
    CHECK_EQ(read_at("config", PCI_COMMAND, &cmd, 2), 2);
    CHECK_EQ(cmd & PCI_COMMAND_MASTER, 0);
}

/*
 * uio_pci_generic has no irqcontrol: the write of 1 to /dev/uioN fails, and the ack must clear
 * Interrupt Disable in the command register itself (the kernel set it when the line fired).
 */
TEST(intx_unmask_through_config)
{
    struct pci_func *f;
    const char *why = NULL;
    char path[512];
    uint16_t cmd;

    build_tree();
    /* A node whose writes fail, as /dev/uioN does without irqcontrol. */
    snprintf(path, sizeof(path), "%s/uio0", devroot);
    unlink(path);
    CHECK(symlink("/dev/full", path) == 0);
    CHECK_EQ(open_fake("0000:00:04.0", NULL, &f, &why), 0);
    cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
    CHECK_EQ(f->ops->cfg_write(f, PCI_COMMAND, &cmd, 2), 0);
    f->ops->irq_ack(f);
    CHECK_EQ(f->ops->cfg_read(f, PCI_COMMAND, &cmd, 2), 0);
    CHECK_EQ(cmd, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    pci_func_destroy(f);
    unlink(path);
    build_tree();
}

TEST(short_bdf)
{
    struct pci_func *f;
    const char *why;

    build_tree();
    CHECK_EQ(open_fake("00:04.0", NULL, &f, &why), 0);
    CHECK(!strcmp(f->name, "uio:" BDF));
    pci_func_destroy(f);
}

/* One open that must fail with `err` and a sentence containing `part`. */
static bool fails(const char *bdf, const char *extra, int err, const char *part)
{
    struct pci_func *f = (struct pci_func *)1;
    const char *why = NULL;
    int rc = open_fake(bdf, extra, &f, &why);
    if (rc != err || f || !contains(why, part)) {
        fprintf(stderr, "  open %s%s: rc %d (want %d), why '%s' (want '%s')\n", bdf,
                extra ? extra : "", rc, err, why ? why : "(null)", part);
        return false;
    }
    return true;
}

TEST(open_errors)
{
    char path[512];

    build_tree();
    CHECK(fails("0000:00:05.0", NULL, -ENODEV, "no PCI device 0000:00:05.0"));
    CHECK(fails("zz:04.0", NULL, -EINVAL, "bad PCI address"));
    CHECK(fails("00:20.0", NULL, -EINVAL, "bad PCI address"));
    CHECK(fails("00:04.8", NULL, -EINVAL, "bad PCI address"));
    CHECK(fails("00:04.0x", NULL, -EINVAL, "bad PCI address"));
    CHECK(fails(BDF, ",speed=9", -EINVAL, "unknown uio option 'speed'"));
    CHECK(fails(BDF, ",poll", -EINVAL, "needs a value"));
    CHECK(fails(BDF, ",poll=2", -EINVAL, "poll takes 0 or 1"));
    CHECK(fails(BDF, ",poll_us=-1", -EINVAL, "poll_us takes"));
    CHECK(fails(BDF, ",poll_us=x", -EINVAL, "poll_us takes"));
    CHECK(fails(BDF, ",dma=lots", -EINVAL, "dma takes"));

    set_ids("0x8086\n", "0x100e\n");
    CHECK(fails(BDF, NULL, -ENOTSUP, "is not a virtio socket device (8086:100e"));
    set_ids("0x1af4\n", "0x1041\n");
    CHECK(fails(BDF, NULL, -ENOTSUP, "is not a virtio socket device (1af4:1041"));
    set_ids("junk\n", "0x1053\n");
    CHECK(fails(BDF, NULL, -EIO, "cannot read the vendor and device ids"));
    set_ids("0x1af4\n", "0x1053\n");

    set_driver("virtio-pci");
    CHECK(fails(BDF, NULL, -EBUSY, "is bound to virtio-pci, not uio_pci_generic: run uvsock-bind"));
    set_driver(NULL);
    CHECK(fails(BDF, NULL, -EBUSY, "is not bound to any driver"));
    set_driver("uio_pci_generic");

    snprintf(path, sizeof(path), "rm -rf %s/uio/uio0", devdir);
    sh("%s", path);
    CHECK(fails(BDF, NULL, -ENODEV, "has no uio device"));
    build_tree();

    snprintf(path, sizeof(path), "%s/uio0", devroot);
    unlink(path);
    CHECK(fails(BDF, NULL, -ENODEV, "does not exist"));
    build_tree();

    snprintf(path, sizeof(path), "%s/config", devdir);
    unlink(path);
    CHECK(fails(BDF, NULL, -ENOENT, "cannot open"));
    build_tree();

    /* A resource file shorter than the BAR would SIGBUS on access: refused. */
    snprintf(path, sizeof(path), "%s/resource4", devdir);
    CHECK_EQ(truncate(path, 4096), 0);
    CHECK(fails(BDF, NULL, -EIO, "is smaller than BAR 4"));
    build_tree();
    put_text(devdir, "resource", "garbage\n");
    CHECK(fails(BDF, NULL, -EIO, "cannot parse line 1"));
    build_tree();

    /* An IOMMU translating for the device: physical addresses would not reach memory. */
    snprintf(path, sizeof(path), "%s/iommu_group", devdir);
    mkdir(path, 0755);
    put_text(path, "type", "DMA-FQ\n");
    CHECK(fails(BDF, NULL, -ENOTSUP, "an IOMMU translates DMA"));
    put_text(path, "type", "identity\n");
    struct pci_func *f;
    const char *why;
    CHECK_EQ(open_fake(BDF, NULL, &f, &why), 0);
    pci_func_destroy(f);
    build_tree();

    /* DMA memory: hugepages asked for but none reserved; a pagemap that hides PFNs. */
    CHECK(fails(BDF, ",dma=huge", -ENOMEM, "no 2 MiB hugepages are free"));
    char pm[600];
    snprintf(pm, sizeof(pm), ",pagemap=%s/nonexistent", root);
    CHECK(fails(BDF, pm, -ENOENT, "cannot open"));
    /* A pagemap with holes where our pages are: "not present", never a wild address. */
    snprintf(path, sizeof(path), "%s/pagemap", root);
    int pfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(pfd >= 0);
    bool sparse = ftruncate(pfd, (off_t)1 << 38) == 0; /* 8 bytes per page of 2^47 bytes */
    close(pfd);
    if (sparse) {
        snprintf(pm, sizeof(pm), ",pagemap=%s", path);
        CHECK(fails(BDF, pm, -ENOMEM, "not present"));
    }
    unlink(path);
}

/* Without CAP_SYS_ADMIN the pagemap reads PFN 0: a clear refusal (in a child that drops
 * root, since setuid cannot be undone). */
TEST(dma_unprivileged)
{
    int pipefd[2];
    char msg[512] = "";

    if (geteuid() != 0) {
        printf("     (not root: the unprivileged case is what every run sees)\n");
        return;
    }
    CHECK_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct uio_dma *d;
        const char *why = "";
        close(pipefd[0]);
        /* A process that changed its uid is not dumpable, which makes /proc/self root's:
         * become an ordinary process again. */
        if (setgid(65534) < 0 || setuid(65534) < 0 || prctl(PR_SET_DUMPABLE, 1) < 0)
            _exit(3);
        int rc = uio_dma_create(UIO_DMA_PAGES, NULL, NULL, &d, &why);
        if (write(pipefd[1], why, strlen(why)) < 0)
            _exit(4);
        _exit(rc == -EPERM ? 0 : rc == -ENOMEM ? 5 : 1);
    }
    close(pipefd[1]);
    ssize_t n = read(pipefd[0], msg, sizeof(msg) - 1);
    msg[n > 0 ? n : 0] = 0;
    close(pipefd[0]);
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status) == 5) {
        /* RLIMIT_MEMLOCK too small for nobody: that refusal must be clear too. */
        CHECK(contains(msg, "RLIMIT_MEMLOCK"));
        return;
    }
    if (WEXITSTATUS(status) != 0)
        fprintf(stderr, "  child: status %d, '%s'\n", WEXITSTATUS(status), msg);
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK(contains(msg, "PFN 0"));
    CHECK(contains(msg, "CAP_SYS_ADMIN"));
}

TEST(through_uvsock_open)
{
    char uri[1024];
    struct uvsock_dev *dev = NULL;

    build_tree();
    set_driver("virtio-pci");
    snprintf(uri, sizeof(uri), "uio:" BDF ",%s", uri_base);
    CHECK_STATUS(uvsock_open(uri, &dev), UVSOCK_ERR_UNAVAILABLE);
    CHECK(contains(uvsock_last_error(), "uvsock-bind"));
    CHECK_STATUS(uvsock_open("uio:0000:00:1f.7,sysfs=/nonexistent", &dev), UVSOCK_ERR_NOT_FOUND);
    CHECK(contains(uvsock_last_error(), "no PCI device"));
    CHECK(!dev);
}

static bool readable_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

TEST(poll_modes)
{
    struct pci_func *f;
    const char *why;

    build_tree();
    /* A timer every 50 µs: readable at once after a tick, and again after an ack. */
    CHECK_EQ(open_fake(BDF, ",poll=1", &f, &why), 0);
    int fd = f->ops->irq_fd(f);
    CHECK(readable_within(fd, 100));
    f->ops->irq_ack(f);
    CHECK(readable_within(fd, 100));
    pci_func_destroy(f);

    /* poll_us=0 spins: always readable, even right after an ack. */
    CHECK_EQ(open_fake(BDF, ",poll=1,poll_us=0", &f, &why), 0);
    fd = f->ops->irq_fd(f);
    CHECK(readable_within(fd, 0));
    f->ops->irq_ack(f);
    CHECK(readable_within(fd, 0));
    pci_func_destroy(f);

    /* Without poll mode the fd is the uio node's. */
    CHECK_EQ(open_fake(BDF, ",poll=0", &f, &why), 0);
    CHECK(f->ops->irq_fd(f) >= 0);
    pci_func_destroy(f);
}

/* The physical address of the page holding `p`, from our own pagemap; 0 if unknown. */
static uint64_t phys(const void *p)
{
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (pread(fd, &e, 8, (off_t)((uintptr_t)p / 4096) * 8) != 8)
        e = 0;
    close(fd);
    return (e >> 63) ? (e & ((1ull << 55) - 1)) * 4096 : 0;
}

TEST(dma_pages)
{
    struct uio_dma *d;
    const char *why = NULL;
    static struct pci_dma objs[300];
    size_t n = sizeof(objs) / sizeof(objs[0]);

    int rc = uio_dma_create(UIO_DMA_PAGES, NULL, NULL, &d, &why);
    if (rc == -EPERM) {
        /* Not root: the refusal must say why. */
        CHECK(contains(why, "CAP_SYS_ADMIN"));
        printf("     (not root: DMA translation untested)\n");
        return;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(uio_dma_max_contig(d), 4096);
    CHECK(!uio_dma_is_huge(d));
    struct pci_dma big;
    CHECK_EQ(uio_dma_alloc(d, 4097, &big), -E2BIG);
    CHECK_EQ(uio_dma_alloc(d, 0, &big), -EINVAL);

    for (size_t i = 0; i < n; i++) {
        size_t size = 1 + (i * 977) % 4096;
        CHECK_EQ(uio_dma_alloc(d, size, &objs[i]), 0);
        uint8_t *c = objs[i].cpu;
        CHECK(((uintptr_t)c & 4095) == 0);
        CHECK((objs[i].iova & 4095) == 0);
        CHECK(objs[i].size >= size && objs[i].size <= 4096);
        /* The device address is the physical address of that very page. */
        CHECK(objs[i].iova == phys(c));
        for (size_t k = 0; k < objs[i].size; k++)
            CHECK(c[k] == 0);
        memset(c, 0xee, objs[i].size);
    }
    /* No two objects share a page. */
    for (size_t i = 1; i < n; i++)
        CHECK(objs[i].iova != objs[i - 1].iova);
    uio_dma_free(d, NULL);
    for (size_t i = 0; i < n; i++) {
        uio_dma_free(d, &objs[i]);
        CHECK(!objs[i].cpu);
    }
    /* Freed memory is reused (nothing went back to the kernel) and comes back zeroed. */
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(uio_dma_alloc(d, 4096, &objs[i]), 0);
        CHECK(objs[i].iova == phys(objs[i].cpu));
        for (size_t k = 0; k < 4096; k += 512)
            CHECK(((uint8_t *)objs[i].cpu)[k] == 0);
    }
    uio_dma_destroy(d);
}

/* Hugepages only if this machine has some reserved; the unit test does not reserve them. */
TEST(dma_huge)
{
    struct uio_dma *d;
    const char *why = NULL;
    struct pci_dma a, b, c;
    const char *dir = "/sys/kernel/mm/hugepages/hugepages-2048kB";

    int rc = uio_dma_create(UIO_DMA_HUGE, dir, NULL, &d, &why);
    if (rc == -ENOMEM && contains(why, "hugepage")) {
        printf("     (no free 2 MiB hugepages here: %s)\n", why);
        return;
    }
    CHECK_EQ(rc, 0);
    CHECK(uio_dma_is_huge(d));
    CHECK_EQ(uio_dma_max_contig(d), 2u << 20);
    CHECK_EQ(uio_dma_alloc(d, 16384, &a), 0);
    CHECK_EQ(uio_dma_alloc(d, 65536, &b), 0);
    CHECK_EQ(uio_dma_alloc(d, 2u << 20, &c), 0); /* a whole page: a second hugepage */
    CHECK(a.iova == phys(a.cpu));
    CHECK(b.iova == phys(b.cpu));
    CHECK(c.iova == phys(c.cpu));
    /* Inside one hugepage the physical addresses follow the virtual ones. */
    CHECK(phys((uint8_t *)b.cpu + 61440) == b.iova + 61440);
    CHECK_EQ(uio_dma_alloc(d, (2u << 20) + 1, &a), -E2BIG);
    uio_dma_free(d, &a);
    uio_dma_free(d, &b);
    uio_dma_free(d, &c);
    uio_dma_destroy(d);
}

int main(void)
{
    setup_root();
    RUN(open_and_access);
    RUN(intx_unmask_through_config);
    RUN(short_bdf);
    RUN(open_errors);
    RUN(through_uvsock_open);
    RUN(poll_modes);
    RUN(dma_unprivileged);
    RUN(dma_pages);
    RUN(dma_huge);
    sh("rm -rf %s", root);
    TEST_EXIT();
}
